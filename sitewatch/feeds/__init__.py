"""Refreshes the advisory snapshots (``vulnerabilities:``) in the background and hands them to checks.

Each source is downloaded on its own schedule, verified (size cap, optional sha256, and
it must parse as its format with at least one record) and only then written to the cache
directory and published into the :class:`~sitewatch.advisories.AdvisoryBook` that checks
read. A failed, corrupt, truncated or oversized download changes nothing but the
source's ``problem``: the last good snapshot stays, on disk and in memory, and its age
keeps growing, so checks can say "stale" instead of "no vulnerabilities".

Cache layout per source: ``<name>-<sha256[:16]>.data`` (the verified bytes) and
``<name>.json`` (which data file, its sha256, when). The data file is written first under
a temporary name and renamed; the ``.json`` rename is the commit point, so a crash at any
moment leaves the old snapshot or the new one, never a mix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.feeds.cache import FetchError
    from sitewatch.feeds.refresher import FeedRefresher

__all__ = ["FeedRefresher", "FetchError"]

__getattr__ = lazy_exports(
    __name__,
    {
        "cache": ("FetchError",),
        "refresher": ("FeedRefresher",),
    },
)

"""The 30-day availability of every site for ``/metrics``, kept cheap by caching whole hours.

A 60 s check has 43 200 samples in 30 days; reading them on every scrape would make
/metrics slow and hold the GIL for the event loop. Instead :class:`AvailabilityCache`
keeps, per site, the buckets (:class:`~sitewatch.availability.Availability`) of every
whole UTC hour of the window once that hour has *settled*, and on each refresh reads
only the partial hour at the start of the window and the unsettled time at its end.
The arithmetic is additive over time, so the sum of the pieces is exactly what
:func:`~sitewatch.availability.site_availability` says for the whole window.

An hour has settled when every run that started in it is in the store: a run lasts
at most its timeout (plus the scheduler's grace) and the agent flushes history every
few seconds, so ``SETTLE_SLACK`` plus the site's longest timeout is enough.

:meth:`AvailabilityCache.refresh` blocks (SQLite, arithmetic): the agent calls it in a
worker thread about once a minute with its own read-only connection, and a scrape only
reads :attr:`AvailabilityCache.ratios`, a dict replaced whole after each refresh.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sitewatch.availability import (
    EMPTY,
    Availability,
    Interval,
    Span,
    maintenance_intervals,
    site_rows,
    site_spans,
    tally_by,
    windows_of,
)
from sitewatch.config import SiteSpec
from sitewatch.store import Store

__all__ = ["HOUR", "SETTLE_SLACK", "WINDOW", "WINDOW_LABEL", "AvailabilityCache"]

HOUR = 3600.0
#: The metric's window, and its `window` label.
WINDOW = 30 * 86400.0
WINDOW_LABEL = "30d"
#: Beyond a check's timeout: the scheduler's grace, the history flush period, and margin.
SETTLE_SLACK = 30.0


@dataclass
class _Site:
    fingerprint: object
    hours: dict[int, Availability] = field(default_factory=dict)  # hour number (start // 3600) → buckets


def _fingerprint(site: SiteSpec) -> object:
    """Everything the arithmetic depends on: a change (on reload) invalidates the cached hours."""
    checks = tuple((c.name, c.type, c.interval, c.timeout, c.policy.error_is_failure) for c in site.checks)
    return (checks, windows_of(site))


class AvailabilityCache:
    """Per-site availability over the last ``window`` seconds, refreshed incrementally."""

    def __init__(self, path: Path, window: float = WINDOW) -> None:
        self.path = path
        self.window = window
        self._sites: dict[str, _Site] = {}
        #: Site → ratio over the window; sites with nothing observed are absent. Replaced whole.
        self.ratios: Mapping[str, float] = {}
        #: Site → the window's buckets as of the last refresh (for tests and the curious).
        self.totals: Mapping[str, Availability] = {}
        self._stop = threading.Event()

    def stop(self) -> None:
        """Make a refresh running in another thread give up after the site it is on."""
        self._stop.set()

    def refresh(self, sites: Sequence[SiteSpec], now: float) -> None:
        """Recompute every site's window ending at ``now`` (blocking: call it in a thread)."""
        if not self.path.is_file():
            return
        store = Store.open_readonly(self.path)
        totals: dict[str, Availability] = {}
        try:
            for site in sites:
                if self._stop.is_set():
                    return
                totals[site.info.name] = self._site(store, site, now)
        finally:
            store.close()
        self._sites = {name: cached for name, cached in self._sites.items() if name in totals}
        self.totals = totals
        self.ratios = {name: a.ratio for name, a in totals.items() if a.ratio is not None}

    def _site(self, store: Store, site: SiteSpec, now: float) -> Availability:
        fingerprint = _fingerprint(site)
        cached = self._sites.get(site.info.name)
        if cached is None or cached.fingerprint != fingerprint:
            cached = self._sites[site.info.name] = _Site(fingerprint)
        start = now - self.window
        settle = max((c.timeout for c in site.checks), default=0.0) + SETTLE_SLACK
        first_hour = math.ceil(start / HOUR)
        settled_hour = math.floor((now - settle) / HOUR)  # hours before this one are final
        for hour in [h for h in cached.hours if h < first_hour]:
            del cached.hours[hour]
        missing = [h for h in range(first_hour, settled_hour) if h not in cached.hours]
        if missing:
            # Usually one hour; after a start or a reload, the whole window in one query.
            lo, hi = missing[0] * HOUR, (missing[-1] + 1) * HOUR
            edges = [h * HOUR for h in range(missing[0], missing[-1] + 2)]
            buckets = tally_by(*self._spans(store, site, lo, hi), edges)
            for hour, bucket in zip(range(missing[0], missing[-1] + 1), buckets, strict=True):
                if hour in missing:
                    cached.hours[hour] = bucket
        total = EMPTY
        head_end = min(first_hour * HOUR, now)
        tail_start = max(settled_hour * HOUR, head_end)
        for lo, hi in ((start, head_end), (tail_start, now)):
            if hi > lo:
                total += sum(tally_by(*self._spans(store, site, lo, hi), [lo, hi]), EMPTY)
        for hour in range(first_hour, settled_hour):
            total += cached.hours[hour]
        return total

    @staticmethod
    def _spans(store: Store, site: SiteSpec, lo: float, hi: float) -> tuple[list[Span], list[Interval]]:
        rows = site_rows(store, site, lo, hi)
        return site_spans(site, rows, lo, hi), maintenance_intervals(windows_of(site), lo, hi)

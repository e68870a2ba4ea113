"""The status page's figures: uptime per window and a latency sparkline per site, computed off the loop.

Uptime figures read up to 30 days of history and sparklines a day of it: they are computed
in a worker thread on a read-only connection of their own (so a page view never stalls the
scheduler) and cached, uptime until its window has moved on by 1/1440 of itself, sparklines
for a minute (their buckets are half an hour). Separate from :mod:`sitewatch.web.statuspage`,
which only reads the cache when it builds a view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from sitewatch.config.specs import SiteSpec
from sitewatch.store.database import Store
from sitewatch.web.scope import Scope
from sitewatch.web.sparkline import Sparkline, sparkline

__all__ = ["DAY", "UPTIME_WINDOWS", "AvailabilityFn", "PageFigures", "Ratio"]

DAY = 86400.0
#: The uptime columns: label and window length in seconds.
UPTIME_WINDOWS: tuple[tuple[str, float], ...] = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY))


class Ratio(Protocol):
    """What the page needs of an availability figure: up / (up + down), None when nothing was observed."""

    @property
    def ratio(self) -> float | None: ...


AvailabilityFn = Callable[[Store, SiteSpec, float, float], Ratio]


class PageFigures:
    """The cached uptime figures and sparklines of the configured sites (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        sites: Callable[[], Sequence[SiteSpec]],
        availability: AvailabilityFn,
        shared: Mapping[str, Callable[[], Mapping[str, float]]] | None = None,
    ) -> None:
        self._store = store
        self._sites = sites
        self._availability = availability
        # Windows someone else keeps current (label -> site -> ratio; a site absent has no data):
        # the agent's 30-day cache behind sitewatch_availability_ratio, so page and Grafana agree.
        self._shared = dict(shared or {})
        # (site, window label) -> (computed at, ratio)
        self._uptime: dict[tuple[str, str], tuple[float, float | None]] = {}
        self._sparks: dict[str, tuple[float, Sparkline | None]] = {}  # site -> (computed at, line)
        self._lock = asyncio.Lock()  # one computation at a time; the others wait for its cache
        self._reader: Store | None = None

    async def refresh(self, now: float, scope: Scope | None = None, extra: tuple[tuple[str, float], ...] = ()) -> None:
        """Recompute the uptime figures and sparklines that are due, off the event loop.

        Only the sites in ``scope``; ``extra`` windows (label, length) too, e.g. a client's month so far.
        """
        async with self._lock:
            configured = list(self._sites())
            names = {s.info.name for s in configured}
            for key in [k for k in self._uptime if k[0] not in names]:
                del self._uptime[key]  # sites removed by a reload
            for name in [n for n in self._sparks if n not in names]:
                del self._sparks[name]
            sites = scope.sites(configured) if scope is not None else configured
            due = [
                (site, label, length)
                for site in sites
                for label, length in (*UPTIME_WINDOWS, *extra)
                if label not in self._shared and _stale(self._uptime.get((site.info.name, label)), now, length)
            ]
            lines = [site for site in sites if _stale(self._sparks.get(site.info.name), now, DAY)]
            if due or lines:
                uptime, sparks = await asyncio.to_thread(self._compute, due, lines, now)
                self._uptime.update(uptime)
                self._sparks.update(sparks)

    def _compute(
        self, due: list[tuple[SiteSpec, str, float]], lines: list[SiteSpec], now: float
    ) -> tuple[dict[tuple[str, str], tuple[float, float | None]], dict[str, tuple[float, Sparkline | None]]]:
        # Runs in a worker thread: only the reader connection is touched here.
        if self._reader is None:
            self._reader = Store.open_readonly(self._store.path)
        reader = self._reader
        uptime = {
            (site.info.name, label): (now, self._availability(reader, site, now - length, now).ratio)
            for site, label, length in due
        }
        return uptime, {site.info.name: (now, _latency_line(reader, site, now)) for site in lines}

    def ratio(self, site: str, label: str, now: float) -> float | None:
        """The site's uptime over the window ``label`` as last computed (None: no data, or not yet)."""
        if label in self._shared:
            return self._shared[label]().get(site)
        return self._uptime.get((site, label), (now, None))[1]

    def spark(self, site: str, now: float) -> Sparkline | None:
        """The site's latency sparkline as last computed (None: no data, or not yet)."""
        return self._sparks.get(site, (now, None))[1]

    def close(self) -> None:
        """Close the reader connection, if one was opened."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _latency_line(store: Store, site: SiteSpec, now: float) -> Sparkline | None:
    """The last day's durations of the site's http check (other types, heartbeat or backup, time local work)."""
    lead = next((c for c in site.checks if c.type == "http"), site.checks[0] if site.checks else None)
    if lead is None:
        return None
    rows = store.history(site.info.name, now - DAY)
    return sparkline(((at, took) for check, at, _, took in rows if check == lead.name), now - DAY, now)


def _stale(cached: tuple[float, object] | None, now: float, length: float) -> bool:
    # A day's figure is at most a minute old, a month's at most half an hour: 0.07 % of the window.
    return cached is None or now - cached[0] >= length / 1440 or now < cached[0]

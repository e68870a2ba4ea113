"""The 30-day availability of every site for ``/metrics``, kept as one running total per site.

Reading 30 days of history on every refresh would make the agent slow (a 10 s check has
259 200 samples in 30 days), and so did keeping one bucket per site per hour (7.2 million
objects at 10 000 sites). Instead :class:`AvailabilityCache` keeps, per site, the four
buckets (:class:`~sitewatch.reports.availability.Availability`) of one range ``[lo, hi)``: ``lo``
is the start of the window, ``hi`` the *settled* point. Each refresh slides that range:

* it **adds** ``[hi, new_hi)``: the samples that settled since the last refresh (read with
  the lookback of the longest ``interval + timeout``, for the sample covering ``hi``);
* it **subtracts** ``[lo, new_lo)``: the minute that left the window, 30 days ago;
* it computes the **tail** ``[new_hi, now)`` afresh and adds it to the published total only.

The arithmetic is additive over time, so the result is exactly what
:func:`~sitewatch.reports.availability.site_availability` says for ``[now - window, now)`` (up to
float rounding, far below a microsecond). A steady refresh reads about two minutes of
samples per site; the memory is a fixed handful of floats per site, whatever the history.

Time without samples is never materialised: the first fill asks the store where the
site's first sample after ``lo`` is and counts everything before it as ``no_data`` (minus
maintenance) in one step, so a fresh agent with minutes of history fills in one query.
Where there are samples, the first fill reads at most :data:`FILL_CHUNK` seconds per site
per step, so every step is bounded work.

A point has settled when every run that started before it is in the store: a run lasts
at most its timeout (plus the scheduler's grace) and the agent flushes history every
few seconds, so ``SETTLE_SLACK`` plus the site's longest timeout is enough.

:meth:`AvailabilityCache.refresh` blocks (SQLite, arithmetic); the agent uses
:meth:`AvailabilityCache.refresh_in_batches`, which runs the same steps in worker threads
:data:`BATCH` sites at a time and yields to the event loop between batches. A scrape
only reads :attr:`AvailabilityCache.ratios`, a dict replaced whole after each pass.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

from sitewatch.config.specs import SiteSpec
from sitewatch.reports.availability import EMPTY, Availability, Interval, maintenance_intervals, tally, tally_by
from sitewatch.reports.history import counted_checks, reach, site_rows, site_spans, windows_of
from sitewatch.store.database import Store

__all__ = ["BATCH", "FILL_CHUNK", "SETTLE_SLACK", "WINDOW", "WINDOW_LABEL", "AvailabilityCache"]

#: The metric's window, and its `window` label.
WINDOW = 30 * 86400.0
WINDOW_LABEL = "30d"
#: Beyond a check's timeout: the scheduler's grace, the history flush period, and margin.
SETTLE_SLACK = 30.0
#: The most history one step of the first fill reads for one site (360 samples of a 10 s check).
FILL_CHUNK = 3600.0
#: Sites per worker-thread call in :meth:`AvailabilityCache.refresh_in_batches`.
BATCH = 200
#: Bucket values below this many seconds after a subtraction are rounding noise, not time.
_NOISE = 1e-6


class _Site:
    """One site's running buckets of ``[lo, hi)``: a fixed size, whatever the history."""

    __slots__ = ("down", "fingerprint", "hi", "lo", "maintenance", "no_data", "up")

    def __init__(self, fingerprint: object, at: float) -> None:
        self.fingerprint = fingerprint
        self.lo = self.hi = at
        self.up = self.down = self.maintenance = self.no_data = 0.0

    def add(self, a: Availability, sign: float = 1.0) -> None:
        """Add (or with ``sign=-1`` take out) the buckets of an adjacent range."""
        # Subtracting what was added long ago leaves float residue; a residue is not time.
        self.up = _clean(self.up + sign * a.up)
        self.down = _clean(self.down + sign * a.down)
        self.maintenance = _clean(self.maintenance + sign * a.maintenance)
        self.no_data = _clean(self.no_data + sign * a.no_data)

    def total(self) -> Availability:
        """The buckets of ``[lo, hi)``."""
        return Availability(self.up, self.down, self.maintenance, self.no_data)


def _clean(seconds: float) -> float:
    return 0.0 if seconds < _NOISE else seconds


def _fingerprint(site: SiteSpec) -> object:
    """Everything the arithmetic depends on: a change (on reload) resets the site's total."""
    checks = tuple((c.name, c.type, c.interval, c.timeout, c.policy.error_is_failure) for c in site.checks)
    return (checks, windows_of(site))


class _Pass:
    """What one refresh shares between sites: the store, ``now``, and maintenance intervals."""

    def __init__(self, store: Store, now: float) -> None:
        self.store = store
        self.now = now
        # Most sites share the global windows and the same piece bounds: compute each once.
        self._maintenance: dict[tuple[Hashable, float, float], list[Interval]] = {}

    def maintenance(self, site: SiteSpec, lo: float, hi: float) -> list[Interval]:
        windows = windows_of(site)
        key = (windows, lo, hi)
        found = self._maintenance.get(key)
        if found is None:
            if len(self._maintenance) > 4096:  # sites with windows of their own: keep it bounded
                self._maintenance.clear()
            found = self._maintenance[key] = maintenance_intervals(windows, lo, hi)
        return found

    def piece(self, site: SiteSpec, edges: Sequence[float]) -> list[Availability]:
        """The buckets of each ``[edges[i], edges[i + 1])``, from one query."""
        lo, hi = edges[0], edges[-1]
        if hi <= lo:
            return [EMPTY] * (len(edges) - 1)
        rows = site_rows(self.store, site, lo, hi)
        return tally_by(site_spans(site, rows, lo, hi), self.maintenance(site, lo, hi), edges)

    def first_sample(self, site: SiteSpec, since: float) -> float | None:
        """When the site's first sample at or after ``since`` is (index lookup, no rows read)."""
        row = self.store.db.execute(
            "SELECT MIN(at) FROM results WHERE site = ? AND at >= ?", (site.info.name, since)
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])


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
        """Bring every site's window up to ``now`` in one blocking call (tests, bench, tools)."""
        if not self.path.is_file():
            return
        totals: dict[str, Availability] = {}
        pending = list(sites)
        store = Store.open_readonly(self.path)
        try:
            while pending and not self._stop.is_set():
                pending = self._steps(store, pending, now, totals)
        finally:
            store.close()
        if not self._stop.is_set():
            self._publish(sites, totals, final=True)

    async def refresh_in_batches(self, sites: Sequence[SiteSpec], now: float, batch: int = BATCH) -> None:
        """:meth:`refresh` as bounded steps in worker threads, yielding to the event loop between them.

        One call does one step for at most ``batch`` sites (a steady refresh, or at most
        :data:`FILL_CHUNK` of a first fill), so the loop gets the GIL back every few ms.
        Sites whose first fill is done are published after each pass, before the others.
        """
        if not self.path.is_file():
            return
        totals: dict[str, Availability] = {}
        pending = list(sites)
        while pending and not self._stop.is_set():
            left: list[SiteSpec] = []
            for i in range(0, len(pending), batch):
                left += await asyncio.to_thread(self._batch, pending[i : i + batch], now, totals)
                await asyncio.sleep(0)
            pending = left
            self._publish(sites, totals, final=not pending)

    def _batch(self, sites: Sequence[SiteSpec], now: float, totals: dict[str, Availability]) -> list[SiteSpec]:
        # The connection lives and dies in the worker thread: a cancelled await (agent
        # shutdown) leaves the thread finishing its batch, and it must not find it closed.
        store = Store.open_readonly(self.path)
        try:
            return self._steps(store, sites, now, totals)
        finally:
            store.close()

    def _publish(self, sites: Sequence[SiteSpec], totals: Mapping[str, Availability], *, final: bool) -> None:
        names = {site.info.name for site in sites}
        if final:
            self._sites = {name: cached for name, cached in self._sites.items() if name in names}
            merged = dict(totals)
        else:  # keep the last published numbers of sites this pass has not reached yet
            merged = {name: a for name, a in self.totals.items() if name in names}
            merged.update(totals)
        self.totals = merged
        self.ratios = {name: ratio for name, a in merged.items() if (ratio := a.ratio) is not None}

    def _steps(
        self, store: Store, sites: Sequence[SiteSpec], now: float, totals: dict[str, Availability]
    ) -> list[SiteSpec]:
        """One step for each site; the sites that need more (first fill) are returned."""
        shared = _Pass(store, now)
        more = []
        for site in sites:
            if self._stop.is_set():
                break
            total = self._step(shared, site)
            if total is None:
                more.append(site)
            else:
                totals[site.info.name] = total
        return more

    def _step(self, shared: _Pass, site: SiteSpec) -> Availability | None:
        """Slide the site's range towards ``now``; its window's total once caught up, else None."""
        now = shared.now
        start = now - self.window
        settle = max((c.timeout for c in site.checks), default=0.0) + SETTLE_SLACK
        settled = max(now - settle, start)
        fingerprint = _fingerprint(site)
        cached = self._sites.get(site.info.name)
        if cached is None or cached.fingerprint != fingerprint or start >= cached.hi:
            # New, changed on reload, or not refreshed for a whole window: start over.
            cached = self._sites[site.info.name] = _Site(fingerprint, start)
        elif start > cached.lo:
            (gone,) = shared.piece(site, [cached.lo, start])
            cached.add(gone, -1.0)
            cached.lo = start
        if settled - cached.hi > FILL_CHUNK:
            self._fill(shared, site, cached, settled)
            if settled - cached.hi > FILL_CHUNK:
                return None
        # Steady: one query for what settled since the last refresh and the unsettled tail.
        added, tail = shared.piece(site, [cached.hi, max(settled, cached.hi), now])
        cached.add(added)
        cached.hi = max(settled, cached.hi)
        return cached.total() + tail

    @staticmethod
    def _fill(shared: _Pass, site: SiteSpec, cached: _Site, settled: float) -> None:
        """One bounded step of a first fill: skip time without samples, then read one chunk."""
        lookback = max((reach(c) for c in counted_checks(site)), default=0.0)  # as site_rows reads
        first = shared.first_sample(site, cached.hi - lookback)
        # No sample in [hi - lookback, first) means nothing covers [hi, first): all no_data
        # (less maintenance), counted without reading or storing anything per hour.
        skip_to = min(settled, first if first is not None else settled)
        if skip_to > cached.hi:
            cached.add(tally([], shared.maintenance(site, cached.hi, skip_to), cached.hi, skip_to))
            cached.hi = skip_to
        if settled - cached.hi > FILL_CHUNK:
            end = cached.hi + FILL_CHUNK
            (chunk,) = shared.piece(site, [cached.hi, end])
            cached.add(chunk)
            cached.hi = end

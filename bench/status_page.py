"""Cost of rendering the status page, as ratios against a peer doing the minimum.

20 sites, each with one http check run every minute for 30 days (864,000 history rows), plus 50
incidents. The page is rendered cold (every uptime figure and sparkline computed from the history,
in a worker thread) and warm (uptime cached, as on a reload within a minute); a 1 ms ticker on the event loop
measures the longest stall the render causes, which is what would delay checks and pings. The
peer reads the same 30 days of rows once with a bare SQLite query and does nothing with them.

Run: PYTHONPATH=. .venv/bin/python bench/status_page.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sitewatch.config.specs import SiteSpec
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Result, SiteInfo, Status
from sitewatch.reports.history import site_availability
from sitewatch.store.database import Store
from sitewatch.web.statuspage import StatusPage
from tests.helpers import make_spec

SITES = 20
DAYS = 30
NOW = 1_800_000_000.0


def timed(func: Callable[[], object]) -> float:
    """Wall time of one call (seconds)."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def best_of(func: Callable[[], object], rounds: int = 5) -> float:
    """Fastest wall time of ``rounds`` calls (seconds)."""
    return min(timed(func) for _ in range(rounds))


def setup(store: Store) -> tuple[list[SiteSpec], ResultBook]:
    """Sites, a month of one-minute history with a bad hour a day, incidents, and a result per check."""
    sites, book = [], ResultBook()
    for n in range(SITES):
        spec = make_spec("http", site=f"site{n:02d}", url=f"http://site{n}.test/")
        sites.append(SiteSpec(SiteInfo(spec.site.name, spec.site.url), (spec,)))
        rows = []
        for minute in range(DAYS * 1440):
            at = NOW - DAYS * 86400 + minute * 60
            rows.append((spec.site.name, "http", at, "critical" if minute % 1440 < 60 else "ok", 0.2 + minute % 7 / 10))
        store.append_history(rows)
    book.configure((s.checks[0].key, "http") for s in sites)
    for s in sites:
        book.record(RunRecord(s.info.name, "http", "http", Result(Status.OK, "HTTP 200 OK"), NOW - 30, 0.2))
    for i in range(50):
        key = f"sw:v1:site{i % SITES:02d}:c{i}"
        event = IncidentEvent("opened", NOW - i * 3600, Status.CRITICAL, "HTTP 503", NOW - i * 3600)
        store.record(key, event, site=f"site{i % SITES:02d}", check=f"c{i}", sinks=["local"], payload={})
    return sites, book


async def stall_during(func: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(wall time of ``func``, longest the event loop went without running a 1 ms ticker meanwhile)."""
    longest, done = 0.0, False

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.005)  # the ticker is running before the render starts
    start = time.perf_counter()
    await func()
    took = time.perf_counter() - start
    await asyncio.sleep(0.005)  # and gets to notice a stall that lasted until the very end
    done = True
    await task
    return took, longest


async def run() -> None:
    """Print absolute times, the longest event-loop stall, and the ratios to the peer."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        sites, book = setup(store)
        clock = [NOW]
        page = StatusPage(store, lambda: sites, site_availability, lambda: clock[0])

        async def cold() -> None:
            clock[0] += 3600  # every cached figure is stale
            await page.render(book)

        def peer() -> None:
            store.db.execute("SELECT site, check_name, at, status FROM results WHERE at >= ?", (0,)).fetchall()

        cold_s, cold_stall = min([await stall_during(cold) for _ in range(3)])
        warm_s, warm_stall = min([await stall_during(lambda: page.render(book)) for _ in range(5)])
        peer_s = best_of(peer, 3)
        size = len(await page.render(book))
        print(f"{SITES} sites x {DAYS} days of 1-minute runs ({SITES * DAYS * 1440:,} rows), 50 incidents")
        print(
            f"cold render (uptime computed): {cold_s * 1000:8.1f} ms = {cold_s / peer_s:.1f}x reading the rows once;"
            f" longest event-loop stall {cold_stall * 1000:.0f} ms"
        )
        print(
            f"warm render (uptime cached):   {warm_s * 1000:8.1f} ms = {warm_s / peer_s:.2f}x reading the rows once;"
            f" longest event-loop stall {warm_stall * 1000:.0f} ms"
        )
        print(f"peer, bare SELECT of 30 days:  {peer_s * 1000:8.1f} ms; page size {size / 1024:.0f} KiB")
        page.close()
        store.close()


def main() -> None:
    """Run the benchmark."""
    asyncio.run(run())


if __name__ == "__main__":
    main()

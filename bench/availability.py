"""Cost of sitewatch_availability_ratio: a full 30-day computation against the agent's hourly cache.

Run: ``.venv/bin/python bench/availability.py [SITES]`` (default 20). Seeds a throwaway
store with 30 days of one-a-minute http samples per site (43 200 each), then prints the
time of the naive way (every site's 30 days read and computed, as a scrape without the
cache would do), the cache's first refresh (after a start) and a steady refresh one
minute later, with the ratio naive / steady; and the worst event-loop stall a 10 ms
ticker sees while the first refresh runs in a worker thread, as in the agent.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sitewatch.availability import site_availability
from sitewatch.availability_cache import WINDOW, AvailabilityCache
from sitewatch.config import Config, load_config
from sitewatch.store import Store

NOW = 1_790_000_000.0  # a fixed "now" (2026-09-21), so runs compare


def _seed(directory: Path, sites: int) -> Config:
    body = "".join(f"  - name: site{i}\n    url: https://site{i}.example.com/\n" for i in range(sites))
    path = directory / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          state_dir: {directory}
        defaults:
          interval: 60s
          timeout: 10s
        maintenance:
          - {{cron: "0 3 * * 0", duration: 2h}}
        sites:
        """)
        + body,
        encoding="utf-8",
    )
    store = Store(directory / "sitewatch.db")
    for i in range(sites):
        start = NOW - WINDOW - 3600 + i
        rows = [
            (f"site{i}", "http", start + 60 * k, "critical" if k % 5000 < 3 else "ok", 0.1)
            for k in range(int((WINDOW + 3600) // 60))
        ]
        store.append_history(rows)
    store.close()
    return load_config(path)


async def _stall_during(cache: AvailabilityCache, config: Config) -> tuple[float, float]:
    """Seconds of the first refresh in a thread, and the worst lateness of a 10 ms timer meanwhile."""
    stall = 0.0
    start = time.perf_counter()
    work = asyncio.create_task(asyncio.to_thread(cache.refresh, config.sites, NOW))
    while not work.done():
        tick = time.perf_counter()
        await asyncio.sleep(0.01)
        stall = max(stall, time.perf_counter() - tick - 0.01)
    await work
    return time.perf_counter() - start, stall


def main() -> None:
    """Seed, measure, print."""
    sites = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        config = _seed(Path(tmp), sites)
        store = Store.open_readonly(Path(tmp) / "sitewatch.db")
        begin = time.perf_counter()
        for site in config.sites:
            site_availability(store, site, NOW - WINDOW, NOW)
        naive = time.perf_counter() - begin
        store.close()
        cache = AvailabilityCache(Path(tmp) / "sitewatch.db")
        first, stall = asyncio.run(_stall_during(cache, config))
        begin = time.perf_counter()
        cache.refresh(config.sites, NOW + 60)
        steady = time.perf_counter() - begin
    print(f"{sites} sites x 43200 samples (30 days, one a minute)")
    print(f"naive, every site's 30 days:  {naive * 1000:8.1f} ms")
    print(f"cache, first refresh:         {first * 1000:8.1f} ms  (worst 10 ms-timer stall {stall * 1000:.1f} ms)")
    print(f"cache, refresh a minute later: {steady * 1000:7.1f} ms")
    print(f"naive / steady refresh:        {naive / steady:7.1f}x")


if __name__ == "__main__":
    main()

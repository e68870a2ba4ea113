"""Cost of sitewatch_availability_ratio: a full 30-day computation against the agent's hourly cache.

Run: ``.venv/bin/python bench/availability.py [SITES]`` (default 20). Seeds a throwaway
store with 30 days of one-a-minute http samples per site (43 200 each), then prints the
time of the naive way (every site's 30 days read and computed, as a scrape without the
cache would do), the cache's first refresh (after a start) and a steady refresh one
minute later, with the ratio naive / steady; and the worst event-loop stall a 10 ms
ticker sees while the first refresh runs in a worker thread, as in the agent.

Fleet mode: ``.venv/bin/python bench/availability.py --sites 10000 [--hours 3] [--baseline FILE]``
seeds ``--sites`` sites with one 10 s http check each over ``--hours`` of history (a
throwaway SQLite store; 10 000 sites x 3 h is 10.8 million rows; ``--ends`` adds an hour
around the start of the 30-day window, so steady refreshes subtract real rows), then reports the first
fill (blocking, and batched as the agent runs it, with the worst 10 ms-timer stall), a
steady refresh one minute later (wall and CPU time), and the memory the cache holds
afterwards (tracemalloc, in a separate pass). ``--baseline`` loads ``AvailabilityCache``
from another file (e.g. the previous version) to compare on the same store.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sitewatch.config.loader import load_config
from sitewatch.config.specs import Config
from sitewatch.reports.availability_cache import WINDOW, AvailabilityCache
from sitewatch.reports.history import site_availability
from sitewatch.store.database import Store

NOW = 1_790_000_000.0  # a fixed "now" (2026-09-21), so runs compare


def _write_config(directory: Path, sites: int, interval: str) -> Path:
    """``directory/config.yaml``: sites site0… checked over http every ``interval``, a weekly 2 h maintenance."""
    # Written out here, not with tests/configs.py: run as a script, the bench cannot import tests.
    body = "".join(f"  - name: site{i}\n    url: https://site{i}.example.com/\n" for i in range(sites))
    path = directory / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          state_dir: {directory}
        defaults:
          interval: {interval}
          timeout: 10s
        maintenance:
          - {{cron: "0 3 * * 0", duration: 2h}}
        sites:
        """)
        + body,
        encoding="utf-8",
    )
    return path


def _seed(directory: Path, sites: int) -> Config:
    path = _write_config(directory, sites, "60s")
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


async def _timed(work: Coroutine[Any, Any, object]) -> tuple[float, float]:
    """Seconds ``work`` takes as a task, and the worst lateness of a 10 ms timer meanwhile."""
    stall = 0.0
    start = time.perf_counter()
    task = asyncio.create_task(work)
    while not task.done():
        tick = time.perf_counter()
        await asyncio.sleep(0.01)
        stall = max(stall, time.perf_counter() - tick - 0.01)
    await task
    return time.perf_counter() - start, stall


async def _stall_during(cache: AvailabilityCache, config: Config) -> tuple[float, float]:
    """Seconds of the first refresh in a thread, and the worst lateness of a 10 ms timer meanwhile."""
    return await _timed(asyncio.to_thread(cache.refresh, config.sites, NOW))


def _seed_fleet(directory: Path, sites: int, hours: float, *, ends: bool) -> Config:
    """``sites`` sites, one 10 s http check each, ``hours`` of history ending at NOW."""
    path = _write_config(directory, sites, "10s")
    store = Store(directory / "sitewatch.db")
    # The last `hours` before NOW, and with --ends also the hour around the window's start,
    # so a steady refresh has real rows to subtract there (30 full days would be 2.6e9 rows).
    stretches = [(NOW - hours * 3600, int(hours * 360))]
    if ends:
        stretches.append((NOW - WINDOW - 1800, 360))
    for i in range(sites):
        # Site-major insertion is far faster than the agent's time order and gives the same table.
        store.append_history(
            (f"site{i}", "http", begin + (i % 10) + 10 * k, "critical" if k % 997 < 2 else "ok", 0.1)
            for begin, count in stretches
            for k in range(count)
        )
    store.close()
    return load_config(path)


def _cache_class(baseline: str | None) -> Any:
    if baseline is None:
        return AvailabilityCache
    spec = importlib.util.spec_from_file_location("baseline_cache", baseline)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_cache"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.AvailabilityCache


async def _batched_stall(cache: Any, config: Config, now: float) -> tuple[float, float]:
    """Seconds of a refresh as the agent runs it, and the worst lateness of a 10 ms timer meanwhile."""
    if hasattr(cache, "refresh_in_batches"):
        return await _timed(cache.refresh_in_batches(config.sites, now))
    # the previous version: one worker-thread call for everything
    return await _timed(asyncio.to_thread(cache.refresh, config.sites, now))


def fleet(sites: int, hours: float, baseline: str | None, *, ends: bool) -> None:
    """The 10 000-site figures: first fill, steady refresh, memory held."""
    cls = _cache_class(baseline)
    with tempfile.TemporaryDirectory() as tmp:
        begin = time.perf_counter()
        config = _seed_fleet(Path(tmp), sites, hours, ends=ends)
        seeded = time.perf_counter() - begin
        db = Path(tmp) / "sitewatch.db"
        extra = " + 1 h around the window's start" if ends else ""
        print(f"{sites} sites, one 10 s http check each, {hours:g} h of history{extra} ({seeded:.0f} s to seed)")
        cache = cls(db)
        fill, fill_stall = asyncio.run(_batched_stall(cache, config, NOW))
        print(
            f"first fill, batched as in the agent: {fill:8.2f} s  (worst 10 ms-timer stall {fill_stall * 1000:.1f} ms)"
        )
        begin, cpu = time.perf_counter(), time.process_time()
        cache.refresh(config.sites, NOW + 60)
        wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
        print(f"steady refresh a minute later:       {wall:8.2f} s wall, {cpu:.2f} s CPU")
        steady, steady_stall = asyncio.run(_batched_stall(cache, config, NOW + 120))
        print(
            f"steady refresh, batched:             {steady:8.2f} s"
            f"  (worst 10 ms-timer stall {steady_stall * 1000:.1f} ms)"
        )
        del cache
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cache = cls(db)
        cache.refresh(config.sites, NOW)
        cache.refresh(config.sites, NOW + 60)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        print(f"memory held by the cache (tracemalloc): {held / 2**20:6.1f} MiB  ({held / sites:.0f} B per site)")


def main() -> None:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", nargs="?", type=int, default=20, help="sites for the 30-day comparison")
    parser.add_argument("--sites", type=int, help="fleet mode: this many sites with 10 s checks")
    parser.add_argument("--hours", type=float, default=3.0, help="fleet mode: hours of history")
    parser.add_argument("--ends", action="store_true", help="fleet mode: also an hour at the window's start")
    parser.add_argument("--baseline", help="fleet mode: a file with another AvailabilityCache to measure")
    args = parser.parse_args()
    if args.sites:
        fleet(args.sites, args.hours, args.baseline, ends=args.ends)
        return
    sites = args.count
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

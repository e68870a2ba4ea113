"""Many healthy checks beside hostile ones: lag stays low, and fds and tasks come back to baseline."""

from __future__ import annotations

import asyncio
import logging
import os
import random

from aiohttp import web

from sitewatch.httpclient import ProbeResolver, make_session
from sitewatch.probe import SystemClock
from sitewatch.results import Histogram, RunRecord
from sitewatch.scheduler import Scheduler
from tests.conftest import HostileServers
from tests.helpers import make_spec, serve, wait_for
from tests.test_hostile_targets import never_finishes_headers, one_byte_per_tick


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_hostile_checks_do_not_disturb_healthy_ones(hostile: HostileServers) -> None:
    """200 healthy checks every second beside 20 that hang: p99 start lag < 1 s, nothing leaks."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/", ok)
    fds_before, tasks_before = open_fds(), len(asyncio.all_tasks())
    addresses = [await hostile(behaviour) for behaviour in (never_finishes_headers, one_byte_per_tick)]
    records: list[RunRecord] = []
    lag = Histogram()
    async with serve(app) as url:
        port = url.rsplit(":", 1)[1]
        hosts = {f"ok{i}.test": ["127.0.0.1"] for i in range(200)}
        resolver = ProbeResolver(static=hosts, fallback=None)
        session = make_session(resolver, user_agent="test")
        scheduler = Scheduler(
            session=session, resolver=resolver, clock=SystemClock(), concurrency=256, per_host=8,
            on_result=records.append, lag=lag, log=logging.getLogger("sitewatch.test"), rng=random.Random(3),
        )  # fmt: skip
        specs = [
            make_spec("http", url=f"http://ok{i}.test:{port}/", site=f"ok{i}", interval=1, timeout=0.9)
            for i in range(200)
        ]
        for n, address in enumerate(addresses):
            specs += [
                make_spec("http", url=f"http://{address}/", site=f"bad{n}-{i}", interval=1, timeout=0.9)
                for i in range(10)
            ]
        loop_task = asyncio.create_task(scheduler.run())
        scheduler.apply(specs)
        await wait_for(lambda: sum(r.site.startswith("ok") for r in records) >= 200 * 5, timeout=30, what="5 rounds")
        await scheduler.stop(grace=1.0)
        await loop_task
        await session.close()
    healthy = [r for r in records if r.site.startswith("ok")]
    bad = [r for r in records if r.site.startswith("bad")]
    assert all(r.result.ok for r in healthy), {r.result.summary for r in healthy if not r.result.ok}
    assert bad
    assert all(r.result.status.value == "error" and "timed out" in r.result.summary for r in bad)
    # Per healthy check, consecutive starts are one interval apart plus its lag: never more than 1 s late.
    # (The hostile checks share one host, so they queue on its per-host limit: that lag is theirs alone.)
    starts: dict[str, list[float]] = {}
    for r in healthy:
        starts.setdefault(r.site, []).append(r.started)
    gaps = [b - a for runs in starts.values() for a, b in zip(runs, runs[1:], strict=False)]
    assert max(gaps) < 2.0, max(gaps)
    assert lag.count >= len(records)  # runs cut short by stop() were started (and measured) too
    await hostile.close()
    await wait_for(lambda: open_fds() <= fds_before + 2, timeout=5, what="sockets to close")
    await wait_for(lambda: len(asyncio.all_tasks()) <= tasks_before + 1, timeout=5, what="tasks to end")

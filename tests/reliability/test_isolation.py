"""200 healthy checks beside 20 hostile ones on the real scheduler: lag, fds, tasks and memory stay bounded."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from sitewatch.engine.results import Histogram, RunRecord
from sitewatch.engine.scheduler import Scheduler
from sitewatch.net.httpclient import make_session
from sitewatch.probe import SystemClock
from tests.helpers import make_spec, serve, wait_for
from tests.reliability.hostile_server import HangingResolver, HostileServer
from tests.reliability.test_hostile_targets import rss_kib

HEALTHY = 200
SECONDS = 15.0
TIMEOUT = 0.8
#: Hostile targets, two checks each (20 in all), every one on its own host name.
HOSTILE_PATHS = ["/slow-headers", "/drip", "/endless", "/endless-chunked", "/gzip-bomb", "/huge-headers"]
HOSTILE_PATHS += ["/garbage", "/reset", "/loop/a", "tls", "dns"]


@dataclass
class LagByCheck(Histogram):
    """The scheduler's lag histogram, also keeping each exact observation under its check's task name.

    The scheduler observes lag (start minus due, after the concurrency slots are taken) inside the
    task it names ``check <site>/<check>``, so the exact per-run lag can be attributed to a check.
    Bucket counts alone would only give an upper bound (the bucket's ``le``).
    """

    exact: dict[str, list[float]] = field(default_factory=dict)

    def observe(self, value: float) -> None:
        """Record in the buckets and under the current task's name."""
        super().observe(value)
        task = asyncio.current_task()
        self.exact.setdefault(task.get_name() if task else "?", []).append(value)


def open_fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def hostile_url(server: HostileServer, path: str, host: str) -> str:
    """Where a hostile check points: a path on the plain port, the silent TLS port, or a dead name."""
    if path == "tls":
        return f"https://{host}:{server.tls_port}/"
    if path == "dns":
        return "http://blackhole.test/"
    return f"http://{host}:{server.port}{path}"


async def test_hostile_checks_do_not_disturb_healthy_ones(record_property: Callable[[str, object], None]) -> None:
    """For 15 s, no healthy run starts > 1 s late; afterwards fds, tasks and RSS are back near baseline."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/", ok)
    fds_before, tasks_before, rss_before = open_fds(), len(asyncio.all_tasks()), rss_kib()
    records: list[RunRecord] = []
    lag = LagByCheck()
    async with HostileServer() as server, serve(app) as url:
        port = url.rsplit(":", 1)[1]
        hosts = {f"ok{i}.test": ["127.0.0.1"] for i in range(HEALTHY)}
        hosts |= {f"bad{i}.test": ["127.0.0.1"] for i in range(2 * len(HOSTILE_PATHS))}
        resolver = HangingResolver(hosts)
        session = make_session(resolver, user_agent="sitewatch-test")
        scheduler = Scheduler(
            session=session, resolver=resolver, clock=SystemClock(), concurrency=256, per_host=4,
            on_result=records.append, lag=lag, log=logging.getLogger("sitewatch.test"), rng=random.Random(10),
        )  # fmt: skip
        specs = [
            make_spec("http", url=f"http://ok{i}.test:{port}/", site=f"ok{i}", interval=1, timeout=TIMEOUT)
            for i in range(HEALTHY)
        ]
        specs += [
            make_spec(
                "http",
                {"max_body": "256KiB"},
                url=hostile_url(server, path, f"bad{i}.test"),
                site=f"bad{i}",
                interval=1,
                timeout=TIMEOUT,
            )
            for i, path in enumerate(HOSTILE_PATHS * 2)
        ]
        loop_task = asyncio.create_task(scheduler.run())
        scheduler.apply(specs)
        deadline = time.monotonic() + SECONDS
        await wait_for(lambda: time.monotonic() >= deadline, timeout=SECONDS + 1, what="the soak to run")
        rss_during = rss_kib()
        await scheduler.stop(grace=1.0)
        await loop_task
        await session.close()
    healthy = [r for r in records if r.site.startswith("ok")]
    hostile = [r for r in records if r.site.startswith("bad")]
    healthy_lag = [v for name, values in lag.exact.items() if name.startswith("check ok") for v in values]
    record_property("healthy_runs", len(healthy))
    record_property("hostile_runs", len(hostile))
    record_property("healthy_lag_max", round(max(healthy_lag), 4))
    record_property("lag_p99_bucket_le", lag.quantile(0.99))
    record_property("rss_growth_mib", round((rss_during - rss_before) / 1024, 1))

    assert len(healthy) >= HEALTHY * (SECONDS - 2)  # every healthy check ran about once a second
    assert all(r.result.ok for r in healthy), {r.result.summary for r in healthy if not r.result.ok}
    assert max(healthy_lag) < 1.0, max(healthy_lag)
    assert len(hostile) >= 2 * len(HOSTILE_PATHS) * (SECONDS - 3) / 2
    # Endless and bomb bodies are capped and judged (ok by design); everything else fails with a reason.
    failing = [r for r in hostile if not r.result.ok]
    capped = {"/endless", "/endless-chunked", "/gzip-bomb"}
    assert len({r.site for r in failing}) == 2 * len(set(HOSTILE_PATHS) - capped)
    assert all(r.result.summary for r in failing)
    assert max(r.duration for r in hostile) <= TIMEOUT + 1.0
    assert (rss_during - rss_before) / 1024 < 128, "RSS grew by more than 128 MiB"
    await wait_for(lambda: open_fds() <= fds_before + 2, timeout=5, what="sockets to close")
    await wait_for(lambda: len(asyncio.all_tasks()) <= tasks_before, timeout=5, what="tasks to end")
    record_property("fds_before_after", f"{fds_before}/{open_fds()}")


@pytest.fixture(autouse=True)
def _quiet_scheduler_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "sitewatch.test")

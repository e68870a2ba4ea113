"""Scheduler: isolation between checks, crash containment, jitter, reload semantics."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar

import aiohttp
import pytest
import yarl
from aiohttp import web

from sitewatch.config.sourcemap import Origin
from sitewatch.config.specs import CheckSpec
from sitewatch.engine.results import Histogram, RunRecord
from sitewatch.engine.scheduler import Scheduler
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Check, CheckConfig, Context, Result, SiteInfo, Status, SystemClock
from tests.helpers import make_spec, serve, wait_for


class _Cfg(CheckConfig):
    pass


class TickCheck(Check[_Cfg]):
    """Records when it ran; always ok."""

    type = "tick"
    Config = _Cfg
    runs: ClassVar[dict[str, list[float]]] = {}

    async def run(self, ctx: Context) -> Result:
        TickCheck.runs.setdefault(ctx.site.name, []).append(time.monotonic())
        return Result(Status.OK, "tick")


class HangCheck(Check[_Cfg]):
    """Never finishes on its own: only the scheduler's timeout ends it."""

    type = "hang"
    Config = _Cfg

    async def run(self, ctx: Context) -> Result:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class CrashCheck(Check[_Cfg]):
    """A buggy check: raises instead of returning a result."""

    type = "crash"
    Config = _Cfg

    async def run(self, ctx: Context) -> Result:
        raise ZeroDivisionError("division by zero in a plugin")


def spec(cls: type[Check[Any]], site: str, *, interval: float, timeout: float, host: str | None = None) -> CheckSpec:
    info = SiteInfo(site, yarl.URL(f"http://{host or site}.test/"))
    return CheckSpec(info, cls.type, cls.type, interval, timeout, _Cfg(), cls, Origin("test", 1))


@pytest.fixture(autouse=True)
def _reset_ticks() -> Iterator[None]:
    TickCheck.runs.clear()
    yield
    TickCheck.runs.clear()


@pytest.fixture
async def make_scheduler() -> AsyncIterator[Callable[..., tuple[Scheduler, list[RunRecord]]]]:
    """Builds schedulers whose loop runs in the background and is stopped at teardown."""
    created: list[tuple[Scheduler, asyncio.Task[None], aiohttp.ClientSession, ProbeResolver]] = []

    def build(
        resolver: ProbeResolver | None = None, concurrency: int = 64, per_host: int = 8, slack: float = 0.0
    ) -> tuple[Scheduler, list[RunRecord]]:
        records: list[RunRecord] = []
        resolver = resolver or ProbeResolver(static={}, fallback=None)
        session = make_session(resolver, user_agent="test")
        scheduler = Scheduler(
            session=session,
            resolver=resolver,
            clock=SystemClock(),
            concurrency=concurrency,
            per_host=per_host,
            slack=slack,
            on_result=records.append,
            lag=Histogram(),
            log=logging.getLogger("sitewatch.test"),
            rng=random.Random(7),
        )
        created.append((scheduler, asyncio.create_task(scheduler.run()), session, resolver))
        return scheduler, records

    yield build
    for scheduler, task, session, resolver in created:
        await scheduler.stop(grace=0.1)
        await task
        await session.close()
        await resolver.close()  # cancels c-ares queries still waiting on the blackhole


async def test_hanging_check_does_not_delay_a_fast_check(make_scheduler: Any) -> None:
    """Ten checks that hang until their timeout, on the same host, leave a 0.2 s check on schedule."""
    scheduler, records = make_scheduler(per_host=4)
    hangs = [spec(HangCheck, f"slow{i}", interval=5, timeout=3, host="same") for i in range(10)]
    scheduler.apply([*hangs, spec(TickCheck, "fast", interval=0.2, timeout=0.1, host="other")])
    await wait_for(lambda: len(TickCheck.runs.get("fast", [])) >= 8, timeout=5, what="8 fast runs")
    ticks = TickCheck.runs["fast"]
    gaps = [b - a for a, b in zip(ticks[1:], ticks[2:], strict=False)]
    assert max(gaps) < 0.5, gaps


async def test_timer_slack_starts_nearby_runs_together_and_keeps_the_rate(make_scheduler: Any) -> None:
    """With 0.3 s slack, 8 checks at 1 s start in a few shared turns, each at most the slack late, still 1/s."""
    scheduler, _ = make_scheduler(slack=0.3)
    scheduler.apply([spec(TickCheck, f"s{i}", interval=1.0, timeout=0.5) for i in range(8)])
    await wait_for(lambda: sum(map(len, TickCheck.runs.values())) >= 24, timeout=10, what="24 runs")
    starts = sorted(t for runs in TickCheck.runs.values() for t in runs[:3])
    turns = 1 + sum(1 for a, b in zip(starts, starts[1:], strict=False) if b - a > 0.01)
    assert turns < len(starts) / 2, f"{turns} wake-ups for {len(starts)} runs"
    assert scheduler._lag.quantile(1.0) <= 0.5  # bucket bound: late by the slack (0.3 s), not by a run
    for runs in TickCheck.runs.values():
        gaps = [b - a for a, b in zip(runs, runs[1:], strict=False)]
        assert all(0.6 < g < 1.4 for g in gaps), gaps  # the rate holds: no drift, no catch-up bursts


async def test_hung_check_becomes_an_error_result(make_scheduler: Any) -> None:
    """The scheduler's own deadline turns a hung check into an error that says so."""
    scheduler, records = make_scheduler()
    scheduler.apply([spec(HangCheck, "stuck", interval=5, timeout=0.2)])
    await wait_for(lambda: records, timeout=8, what="a result")
    assert records[0].result.status is Status.ERROR
    assert "did not finish within its timeout of 200ms" in records[0].result.summary


async def test_crashing_check_is_an_error_and_the_loop_goes_on(
    make_scheduler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in a check becomes an error result, is logged with its traceback, and runs repeat."""
    scheduler, records = make_scheduler()
    scheduler.apply(
        [spec(CrashCheck, "buggy", interval=0.1, timeout=0.1), spec(TickCheck, "fine", interval=0.1, timeout=0.1)]
    )
    await wait_for(lambda: sum(r.site == "buggy" for r in records) >= 3, timeout=5, what="3 crash results")
    crash = next(r for r in records if r.site == "buggy")
    assert crash.result.status is Status.ERROR
    assert crash.result.summary.startswith("check crashed: ZeroDivisionError: division by zero in a plugin")
    assert any(r.site == "fine" and r.result.ok for r in records)


async def test_first_runs_are_spread_over_the_interval(make_scheduler: Any) -> None:
    """Forty checks with a 1 s interval do not all start at once."""
    scheduler, _ = make_scheduler()
    start = time.monotonic()
    scheduler.apply([spec(TickCheck, f"s{i}", interval=1.0, timeout=0.5) for i in range(40)])
    await wait_for(lambda: len(TickCheck.runs) == 40, timeout=5, what="every check's first run")
    firsts = sorted(runs[0] - start for runs in TickCheck.runs.values())
    assert firsts[-1] - firsts[0] > 0.5, firsts
    assert firsts[-1] < 1.5


async def test_reload_keeps_unchanged_schedules_and_drops_removed(make_scheduler: Any) -> None:
    """Applying the same checks again does not restart them; removed checks stop running."""
    scheduler, records = make_scheduler()
    keep, drop = spec(TickCheck, "keep", interval=0.2, timeout=0.1), spec(TickCheck, "drop", interval=0.2, timeout=0.1)
    scheduler.apply([keep, drop])
    await wait_for(lambda: len(TickCheck.runs.get("drop", [])) >= 2, timeout=5, what="drop to run")
    scheduler.apply([keep])
    dropped_at = len(TickCheck.runs["drop"])
    kept_at = len(TickCheck.runs["keep"])
    await wait_for(lambda: len(TickCheck.runs["keep"]) >= kept_at + 4, timeout=5, what="keep to go on")
    assert len(TickCheck.runs["drop"]) <= dropped_at + 1  # at most the run already in flight


@pytest.fixture
def blackhole_dns() -> Iterator[str]:
    """A UDP 'DNS server' on loopback that reads queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def test_blackholed_dns_does_not_starve_healthy_probes(make_scheduler: Any, blackhole_dns: str) -> None:
    """Twelve names whose DNS never answers (real c-ares queries) leave twenty healthy probes ok.

    With a thread-pool resolver the hung lookups would hold every worker; the
    healthy probes would then time out waiting for DNS.
    """

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/", ok)
    async with serve(app) as url:
        port = url.rsplit(":", 1)[1]
        healthy = {f"ok{i}.test": ["127.0.0.1"] for i in range(20)}
        resolver = ProbeResolver(static=healthy, fallback=aiohttp.AsyncResolver(nameservers=[blackhole_dns]))
        scheduler, records = make_scheduler(resolver=resolver)
        specs = [
            make_spec("http", url=f"http://black{i}.test:{port}/", site=f"black{i}", interval=2.5, timeout=2)
            for i in range(12)
        ]
        specs += [
            make_spec("http", url=f"http://ok{i}.test:{port}/", site=f"ok{i}", interval=2.5, timeout=2)
            for i in range(20)
        ]
        # First runs spread over 2.5 s while each blackholed lookup hangs for 2 s: they overlap.
        scheduler.apply(specs)
        await wait_for(lambda: sum(r.site.startswith("ok") for r in records) == 20, timeout=60, what="20 results")
    healthy_results = [r for r in records if r.site.startswith("ok")]
    assert all(r.result.ok for r in healthy_results), [r.result.summary for r in healthy_results if not r.result.ok]

"""Runs every check on its own interval: jittered start, timeouts, concurrency limits.

One loop task sleeps until the earliest due check (a heap, not a task per check),
then starts its run. A run waits for its host's slot first and only then for a
global slot, so a slow host queues on its own limit instead of holding global
slots that other hosts need. How late each run starts after it was due is the
lag histogram.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver

from sitewatch.config.specs import CheckSpec
from sitewatch.engine.results import Histogram, RunRecord
from sitewatch.logs import event
from sitewatch.probe import AdvisoryBook, AnyCheck, Clock, Context, Result, Status, SystemClock, format_duration

__all__ = ["Scheduler"]

#: The scheduler's own deadline trails the check's so the check can report first, in its own words.
TIMEOUT_GRACE = 0.5


@dataclass(eq=False)
class _Job:
    spec: CheckSpec
    check: AnyCheck
    due: float = 0.0
    running: asyncio.Task[None] | None = None
    removed: bool = False
    generation: int = 0
    host: str = field(init=False)
    task_name: str = field(init=False)
    #: Built once per job: a run's Context only changes when its spec does.
    ctx: Context | None = None

    def __post_init__(self) -> None:
        self.host = self.check.target_host
        self.task_name = f"check {self.spec.site.name}/{self.spec.name}"


class Scheduler:
    """Owns the timers and the in-flight runs of every configured check."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        resolver: AbstractResolver,
        clock: Clock,
        concurrency: int,
        per_host: int,
        slack: float = 0.0,
        on_result: Callable[[RunRecord], None],
        lag: Histogram,
        log: logging.Logger,
        rng: random.Random | None = None,
        advisories: AdvisoryBook | None = None,
    ) -> None:
        self._session = session
        self._resolver = resolver
        self._clock = clock
        self._global = asyncio.Semaphore(concurrency)
        self._per_host_limit = per_host
        self._slack = slack
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._on_result = on_result
        self._lag = lag
        self._log = log
        self._advisories = advisories or AdvisoryBook()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._heap: list[tuple[float, int, int, _Job]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.last_tick = time.monotonic()

    @classmethod
    def for_one_shot(
        cls,
        *,
        session: aiohttp.ClientSession,
        resolver: AbstractResolver,
        log: logging.Logger,
        clock: Clock | None = None,
        advisories: AdvisoryBook | None = None,
    ) -> Scheduler:
        """A scheduler built only to call :meth:`run_once` (``sitewatch probe``, ``add-site``, tests).

        ``run_once`` returns its record and takes no slot, records no lag and reports to no
        ``on_result``: those belong to :meth:`run`. So they are filled in here with values that
        matter only if the caller also starts :meth:`run`; a caller that runs many checks at
        once bounds them itself. ``clock`` defaults to the system clock.
        """
        return cls(
            session=session,
            resolver=resolver,
            clock=clock or SystemClock(),
            concurrency=10,
            per_host=10,
            on_result=lambda _: None,
            lag=Histogram(),
            log=log,
            advisories=advisories,
        )

    # -- configuration -------------------------------------------------------------

    def apply(self, specs: Iterable[CheckSpec]) -> None:
        """Make the running set match ``specs``; unchanged checks keep their schedule."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        wanted = {s.key: s for s in specs}
        for key, job in list(self._jobs.items()):
            if key not in wanted:
                job.removed = True
                if job.running is not None:
                    job.running.cancel()
                del self._jobs[key]
        for key, spec in wanted.items():
            old = self._jobs.get(key)
            if old is not None and old.spec == spec:
                continue
            job = _Job(spec, spec.build())
            job.ctx = self._context(spec)
            if old is not None:  # changed settings: keep its rhythm, drop the old timer
                old.removed = True
                job.due = old.due
            else:  # spread first runs over the interval: no thundering herd on start or reload
                job.due = now + self._rng.uniform(0, spec.interval)
            self._jobs[key] = job
            self._push(job)
        self._wake.set()

    def _push(self, job: _Job) -> None:
        job.generation += 1
        heapq.heappush(self._heap, (job.due, next(self._seq), job.generation, job))

    def checks(self) -> list[AnyCheck]:
        """The live check instances (for routing pings)."""
        return [job.check for job in self._jobs.values()]

    def trigger(self, check: AnyCheck) -> None:
        """Run ``check`` as soon as possible (a ping changed what it would report)."""
        for job in self._jobs.values():
            if job.check is check and job.running is None:
                job.due = asyncio.get_running_loop().time()
                self._push(job)
                self._wake.set()

    # -- the loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Start due checks until :meth:`stop`; returns when stopped."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self.last_tick = time.monotonic()
            now = loop.time()
            while self._heap and self._heap[0][0] <= now:
                _, _, generation, job = heapq.heappop(self._heap)
                if job.removed or generation != job.generation or job.running is not None:
                    continue
                task = asyncio.create_task(self._execute(job), name=job.task_name)
                job.running = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self._wake.clear()
            # Sleep past the next due time by the slack: the runs that fall due meanwhile start
            # in the same turn instead of one wake-up each (their lag shows the wait honestly).
            if not self._heap:
                await self._wake.wait()
                continue
            # A timer that sets the event, not asyncio.timeout: that one ends every sleep by
            # cancelling the task and raising TimeoutError, tens of times a second.
            timer = loop.call_at(self._heap[0][0] + self._slack, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()

    async def _execute(self, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        try:
            host = self._hosts.get(job.host)
            if host is None:  # not setdefault: that would build a semaphore on every run
                host = self._hosts[job.host] = asyncio.Semaphore(self._per_host_limit)
            async with host, self._global:
                self._lag.observe(max(0.0, loop.time() - job.due))
                record = await self.run_once(job.spec, job.check, job.ctx)
            if not job.removed:
                self._on_result(record)
        finally:
            job.running = None
            if not job.removed and not self._stopping:
                # Fixed rate, but never a burst of catch-up runs after a stall.
                job.due = max(job.due + job.spec.interval, loop.time())
                # Wake the loop only if this run is now the earliest: at a fixed rate it almost
                # never is, and a wake-up per finished run was one more loop turn per probe.
                earliest = not self._heap or job.due < self._heap[0][0]
                self._push(job)
                if earliest:
                    self._wake.set()

    def _context(self, spec: CheckSpec) -> Context:
        return Context(
            session=self._session,
            site=spec.site,
            check_name=spec.name,
            timeout=spec.timeout,
            clock=self._clock,
            resolver=self._resolver,
            log=self._log,
            advisories=self._advisories,
        )

    async def run_once(self, spec: CheckSpec, check: AnyCheck | None = None, ctx: Context | None = None) -> RunRecord:
        """Run one check now under its timeout; never raises except on cancellation."""
        check = check or spec.build()
        ctx = ctx or self._context(spec)
        started = self._clock.time()
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(spec.timeout + TIMEOUT_GRACE):
                result = await check.run(ctx)
            if not isinstance(result, Result):
                raise TypeError(f"{type(check).__name__}.run() returned {type(result).__name__}, not Result")
        except TimeoutError:
            result = Result(
                Status.ERROR,
                f"check did not finish within its timeout of {format_duration(spec.timeout)}"
                " (stopped by the scheduler)",
            )
        except Exception as exc:  # the one boundary where a check's bug becomes a result
            event(
                self._log,
                logging.ERROR,
                "check_crashed",
                site=spec.site.name,
                check=spec.name,
                error=f"{type(exc).__name__}: {exc}",
                traceback="".join(traceback.format_exception(exc)),
            )
            result = Result(Status.ERROR, f"check crashed: {type(exc).__name__}: {exc} (a bug; see the agent log)")
        return RunRecord(spec.site.name, spec.name, spec.type, result, started, time.perf_counter() - t0)

    def overdue(self) -> float:
        """How long the earliest due, not yet started run has been waiting (0 if none).

        The loop sleeps until the next due time, so "ticked recently" cannot mean
        liveness; a due run the loop never started can.
        """
        loop = asyncio.get_running_loop()
        waiting = (
            due
            for due, _, generation, job in self._heap
            if not job.removed and generation == job.generation and job.running is None
        )
        return max(0.0, loop.time() - min(waiting, default=loop.time()))

    # -- shutdown ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Runs currently executing or waiting for a slot."""
        return len(self._tasks)

    async def stop(self, grace: float) -> None:
        """Stop starting runs, let in-flight ones finish for up to ``grace`` seconds, cancel the rest."""
        self._stopping = True
        self._wake.set()
        pending = set(self._tasks)
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still)

"""``sitewatch probe``: run the configured checks once, now, outside the agent's schedule.

The checks run through a one-shot scheduler (the agent's timeouts and crash containment),
at most ``agent.concurrency`` at a time; progress goes to stderr when it is a terminal.
The table is drawn by :mod:`sitewatch.cli.probe_table`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from sitewatch.cli.loading import EXIT_UNUSABLE, load_or_report
from sitewatch.cli.probe_table import probe_table
from sitewatch.config.specs import CheckSpec, Config
from sitewatch.engine.results import RunRecord
from sitewatch.engine.scheduler import Scheduler
from sitewatch.feeds import FeedRefresher
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import AdvisoryBook, Result, Status, SystemClock, worst

__all__ = ["cached_advisories", "not_run", "probe_all", "probe_command"]


def not_run(spec: CheckSpec, reason: str) -> RunRecord:
    """The row of a check that lacks a secret: could not measure, and why (the other checks still run)."""
    result = Result(Status.ERROR, f"not run: {reason}")
    return RunRecord(spec.site.name, spec.name, spec.type, result, started=time.time(), duration=0.0)


async def cached_advisories(config: Config, specs: list[CheckSpec], log: logging.Logger) -> AdvisoryBook:
    """The agent's cached vulnerability snapshots, read from its state directory: a probe downloads none."""
    book = AdvisoryBook()
    if config.vulnerabilities.sources and any(s.type == "cms" for s in specs):
        feeds = FeedRefresher(book, log, SystemClock(), config.agent.state_dir / "vulnerabilities")
        feeds.configure(config.vulnerabilities)
        await feeds.load_cached()  # an unreadable cache is logged; the components are then unknown
    return book


async def probe_all(config: Config, specs: list[CheckSpec], log: logging.Logger) -> list[RunRecord]:
    """Run ``specs`` once each, in parallel up to ``agent.concurrency``; their records in the same order."""
    resolver = ProbeResolver()
    session = make_session(resolver, user_agent=config.agent.user_agent)
    advisories = await cached_advisories(config, specs, log)
    scheduler = Scheduler.for_one_shot(session=session, resolver=resolver, log=log, advisories=advisories)
    # run_once takes none of the scheduler's slots: the agent's concurrency limit is applied here.
    limit = asyncio.Semaphore(config.agent.concurrency)
    done = 0
    show = sys.stderr.isatty() and len(specs) > 1

    async def one(spec: CheckSpec) -> RunRecord:
        nonlocal done
        async with limit:
            record = await scheduler.run_once(spec)
        done += 1
        if show:
            print(f"\r{done}/{len(specs)} checks done", end="", file=sys.stderr, flush=True)
        return record

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(s)) for s in specs]
    finally:
        if show:
            print(file=sys.stderr)
        await session.close()
        await resolver.close()
    return [t.result() for t in tasks]


def probe_command(
    path: Path, site: str | None, check: str | None, *, wide: bool, failing: bool, log: logging.Logger
) -> int:
    """Probe the chosen checks (all by default) and print the table; the exit code is the worst status's."""
    config = load_or_report(path, "defer")  # only the chosen checks' secrets matter
    if config is None:
        return EXIT_UNUSABLE
    chosen = [c for c in config.checks if (site is None or c.site.name == site) and (check is None or c.name == check)]
    if not chosen:
        what = " ".join(filter(None, [f"site {site!r}" if site else "", f"check {check!r}" if check else ""]))
        names = ", ".join(s.info.name for s in config.sites) or "none"
        print(f"sitewatch: no {what or 'checks'} in {path} (sites: {names})", file=sys.stderr)
        return EXIT_UNUSABLE
    specs = [c for c in chosen if c.key not in config.unresolved]
    records = asyncio.run(probe_all(config, specs, log)) if specs else []
    records += [not_run(c, config.unresolved[c.key]) for c in chosen if c.key in config.unresolved]
    print(probe_table(records, tty=sys.stdout.isatty(), wide=wide, failing=failing))
    return worst(*(r.result.status for r in records)).exit_code

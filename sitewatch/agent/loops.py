"""The agent's periodic background loops: history, availability, advisory feeds, the watchdog.

Each loop survives a failing pass (logged once, retried on the next one): a store or parser bug
must not silently end a duty the agent still claims to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sitewatch.config.specs import SiteSpec
from sitewatch.feeds import FeedRefresher
from sitewatch.logs import event
from sitewatch.probe import Clock
from sitewatch.reports.availability_cache import AvailabilityCache
from sitewatch.sdnotify import Notifier

__all__ = [
    "AVAILABILITY_REFRESH_SECONDS",
    "HISTORY_FLUSH_SECONDS",
    "cancel",
    "keep_availability",
    "keep_feeds",
    "keep_history",
    "watchdog",
]

HISTORY_FLUSH_SECONDS = 5.0
#: How often the 30-day availability behind sitewatch_availability_ratio is brought up to date.
AVAILABILITY_REFRESH_SECONDS = 60.0
#: How often the history older than ``agent.history_retention`` is pruned.
_PRUNE_SECONDS = 3600.0


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def keep_history(
    flush: Callable[[], None], prune: Callable[[float], Any], clock: Clock, retention: Callable[[], float]
) -> None:
    """Write buffered results every few seconds; prune what is older than the retention hourly."""
    last_prune = 0.0
    while True:
        await asyncio.sleep(HISTORY_FLUSH_SECONDS)
        flush()
        now = clock.time()
        if now - last_prune > _PRUNE_SECONDS:
            prune(now - retention())
            last_prune = now


async def keep_availability(
    cache: AvailabilityCache, sites: Callable[[], Sequence[SiteSpec]], clock: Clock, log: logging.Logger
) -> None:
    """Refresh the availability cache once a minute, in worker-thread batches (SQLite and arithmetic block)."""
    failing = False
    while True:
        try:
            await cache.refresh_in_batches(sites(), clock.time())
        except Exception as exc:  # a store or arithmetic bug must not end the refreshes for good
            if not failing:  # say it once (with the traceback), and once when it works again
                event(log, logging.ERROR, "availability_refresh_failed", error=f"{type(exc).__name__}: {exc}")
                log.debug("availability refresh traceback", exc_info=True)
            failing = True
        else:
            if failing:
                event(log, logging.INFO, "availability_refresh_recovered")
            failing = False
        await asyncio.sleep(AVAILABILITY_REFRESH_SECONDS)


async def keep_feeds(feeds: FeedRefresher, log: logging.Logger) -> None:
    """Refresh the advisory snapshots; a bug in one pass is logged and the next pass still runs."""
    while True:
        try:
            await feeds.run()
        except Exception as exc:  # a parser or disk bug must not end the refreshes for good
            event(log, logging.ERROR, "advisories_task_failed", error=f"{type(exc).__name__}: {exc}")
            log.debug("advisories task traceback", exc_info=True)
        await asyncio.sleep(AVAILABILITY_REFRESH_SECONDS)


async def watchdog(
    health: Callable[[], tuple[bool, str]],
    status_line: Callable[[], str],
    notifier: Notifier,
    interval: float,
    log: logging.Logger,
) -> None:
    """Ping systemd's watchdog only while the scheduler makes progress; keep `systemctl status` current."""
    last_status = ""
    while True:
        healthy, reason = health()
        if healthy:
            notifier.watchdog()
        else:
            event(log, logging.ERROR, "watchdog_withheld", reason=reason)
        status = status_line()
        if status != last_status:
            notifier.status(status)
            last_status = status
        await asyncio.sleep(interval)

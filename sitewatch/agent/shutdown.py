"""How a serving agent ends: the signals it answers, then its shutdown in a fixed order.

SIGTERM and SIGINT ask it to stop and SIGHUP reloads it. The stop follows DESIGN's rule 6:
stop scheduling, let in-flight runs and ticket deliveries finish within a bounded grace,
cancel the rest, then close the web server, the sessions, the resolver and the store. It is
kept apart from :mod:`sitewatch.agent.core` (the wiring) so the order reads as one list, top
to bottom, and a new part of the agent gets its place in it on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sitewatch.agent.loops import cancel
from sitewatch.logs import event

if TYPE_CHECKING:
    from sitewatch.agent.core import Agent

__all__ = ["DELIVERY_GRACE", "serve_until_stopped", "shut_down"]

#: How long a stopping agent lets ticket deliveries finish; far inside the unit's TimeoutStopSec=60s.
DELIVERY_GRACE = 5.0


async def serve_until_stopped(agent: Agent, stop: asyncio.Event) -> None:
    """Start ``agent``, answer its signals until ``stop`` is set, then close it."""
    loop = asyncio.get_running_loop()
    await agent.start()
    installed = []
    for sig, handler in (
        (signal.SIGTERM, agent.request_stop),
        (signal.SIGINT, agent.request_stop),
        (signal.SIGHUP, agent.reload),
    ):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await agent.close()


async def shut_down(
    agent: Agent,
    tasks: Mapping[str, asyncio.Task[None]],
    scheduler_task: asyncio.Task[None] | None,
    delivery_task: asyncio.Task[None] | None,
) -> None:
    """Stop scheduling, let runs finish within the longest timeout, then close everything.

    ``tasks`` are the agent's background loops by name; ``scheduler_task`` and ``delivery_task``
    its scheduler and outbox worker (None when :meth:`Agent.start` never ran).
    """
    grace = max((c.timeout for c in agent.config.checks), default=1.0)
    event(agent.log, logging.INFO, "agent_stopping", in_flight=agent.scheduler.in_flight, grace_seconds=grace)
    agent.notifier.stopping()
    await cancel(tasks.get("watchdog"))
    await cancel(tasks.get("network"))
    await agent.scheduler.stop(grace)
    await agent.oncall.close()  # no step fires once stopping; queued ones stay in the outbox
    if scheduler_task is not None:
        await scheduler_task
    # A refresh already in its thread finishes the site it is on, then gives up.
    agent.availability.stop()
    await cancel(tasks.get("availability"))
    await cancel(tasks.get("sla"))
    await cancel(tasks.get("advisory feeds"))
    await agent.feeds.close()
    await cancel(tasks.get("history"))
    agent.flush_history()
    if delivery_task is not None:
        # The worker finishes its current row and makes one last pass; what is not done by
        # the deadline stays in the outbox (a cancelled open is settled by find_open on retry).
        agent.deliverer.finish()
        done, _ = await asyncio.wait({delivery_task}, timeout=DELIVERY_GRACE)
        if not done:
            delivery_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery_task
    await agent.web.close()
    await agent.session.close()
    await agent.desk_session.close()
    await agent.resolver.close()
    agent.page.close()
    agent.store.close()
    event(agent.log, logging.INFO, "agent_stopped")

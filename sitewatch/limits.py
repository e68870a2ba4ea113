"""Descriptors: raise the soft limit, keep enough for the probes, and report accept failures once per episode.

systemd starts services with a soft ``RLIMIT_NOFILE`` of 1024 (the hard limit is far higher);
blackbox_exporter raises its soft limit to the hard one at start, and so does
``sitewatch run``. Whatever the limit, the listener may use only what the probes leave:
:func:`listener_cap` subtracts a reserve for the scheduler's concurrency, so connections
to the agent can never take the descriptors a check needs. When accept() still fails
(descriptors exhausted by something else), asyncio reports it on every retry — 75,961 lines
in 20 s were seen — so :class:`AcceptFailures` makes each episode one event.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from sitewatch.logs import event

__all__ = ["AcceptFailures", "listener_cap", "raise_nofile", "reserved_descriptors"]

#: Descriptors the agent needs besides probes and clients: the store, logs, resolver, pipes, imports.
BASE_RESERVE = 64
#: Per concurrent probe: its socket, and one more for a TLS/DNS/file helper (pageload and cms open more).
PER_PROBE = 2
#: The listen backlog: up to this many are accepted in one loop turn before any is closed.
BACKLOG = 128
#: Below this the listener could not serve Prometheus and an operator at once.
MIN_CONNECTIONS = 16
#: An accept failure after this long without one starts a new episode (and a new event).
EPISODE_QUIET = 30.0
_ACCEPT_MESSAGE = "socket.accept() out of system resource"


def raise_nofile(log: logging.Logger) -> int:
    """Raise the soft descriptor limit to the hard one (as blackbox_exporter does); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            event(log, logging.WARNING, "fd_limit_not_raised", soft=soft, hard=hard, error=str(exc))
            return soft
        event(log, logging.INFO, "fd_limit_raised", soft=soft, now=target, hard=hard)
        return target
    return soft


def reserved_descriptors(concurrency: int) -> int:
    """Descriptors kept for everything but the listener's connections."""
    return BASE_RESERVE + 2 * BACKLOG + PER_PROBE * concurrency


def listener_cap(configured: int, concurrency: int, log: logging.Logger, soft: int | None = None) -> int:
    """``configured`` connections, or fewer when the descriptor limit must also serve the probes."""
    if soft is None:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return configured
    room = soft - reserved_descriptors(concurrency)
    if room >= configured:
        return configured
    cap = max(MIN_CONNECTIONS, room)
    event(
        log,
        logging.WARNING,
        "listener_cap_lowered",
        max_connections=configured,
        now=cap,
        fd_limit=soft,
        reserved_for_probes=reserved_descriptors(concurrency),
        hint="raise LimitNOFILE= or lower agent.concurrency",
    )
    return cap


class AcceptFailures:
    """An event-loop exception handler that makes each run of accept() failures one event."""

    def __init__(
        self, log: logging.Logger, quiet: float = EPISODE_QUIET, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = log
        self.quiet = quiet
        self.clock = clock
        self.failures = 0  # in the current episode
        self._last: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Handle the accept failure; hand anything else to the loop's default handler."""
        if not str(context.get("message", "")).startswith(_ACCEPT_MESSAGE):
            loop.default_exception_handler(context)
            return
        now = self.clock()
        if self._last is None or now - self._last > self.quiet:
            exc = context.get("exception")
            fields: dict[str, Any] = {"error": getattr(exc, "strerror", None) or str(exc)}
            if self._last is not None:
                fields["previous_episode_failures"] = self.failures
            event(self.log, logging.ERROR, "listener_accept_failed", **fields)
            self.failures = 0
        self.failures += 1
        self._last = now

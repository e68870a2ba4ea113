"""Delivers outbox rows to their sinks with retries, backoff and dead letters.

An ``open`` first asks the sink for an open ticket with the incident key, so a
restart after a lost response, or a second agent, never creates a second ticket.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping

from sitewatch.logs import event
from sitewatch.store.database import OutboxRow, Store
from sitewatch.tickets import Notifier, Sink, SinkError

__all__ = ["Deliverer"]

#: Seconds between polls when nothing wakes the worker (retries coming due).
POLL = 1.0
MAX_BACKOFF = 600.0


class Deliverer:
    """One worker task draining the outbox in order per incident."""

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        log: logging.Logger,
        *,
        timeout: float = 30.0,
        templates: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._templates = templates or {}
        self._store = store
        self._sinks = sinks
        self._log = log
        self._timeout = timeout
        self._wake = asyncio.Event()
        self._finishing = False
        self._rng = random.Random()  # noqa: S311 - backoff jitter, not cryptography
        self.delivered: dict[tuple[str, str], int] = {}

    def wake(self) -> None:
        """New rows were written: look now instead of at the next poll."""
        self._wake.set()

    def finish(self) -> None:
        """Shutting down: deliver what is due now, once, and return from :meth:`run`.

        The worker itself makes the last pass, so no row is ever sent by two callers
        at once; the caller bounds the wait and cancels, leaving the rest queued.
        """
        self._finishing = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled, or until :meth:`finish` and one last pass."""
        while True:
            self._wake.clear()
            while await self.drain_once() and not self._finishing:
                pass
            if self._finishing:
                await self.drain_once()  # rows that became due while the last batch went out
                return
            try:
                async with asyncio.timeout(POLL):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def drain_once(self) -> int:
        """Deliver every row that is due now; return how many were attempted."""
        rows = self._store.due(time.time())
        for row in rows:
            await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: OutboxRow) -> None:
        sink = self._sinks.get(row.sink)
        if sink is None:
            self._store.dead(row, f"sink {row.sink!r} is no longer configured")
            return
        try:
            async with asyncio.timeout(self._timeout):
                ref = await self._call(sink, row)
        except SinkError as exc:
            self._failed(row, str(exc), permanent=exc.permanent, retry_after=exc.retry_after)
            return
        except TimeoutError:
            # Ambiguous: the desk may have created the ticket. The retry's find_open settles it.
            self._failed(row, f"no answer within {self._timeout:g}s", permanent=False)
            return
        except Exception as exc:  # a sink bug must not kill delivery of everything else
            self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        self._store.delivered(row, ref)
        outcome = (row.sink, "delivered")
        self.delivered[outcome] = self.delivered.get(outcome, 0) + 1
        event(
            self._log,
            logging.INFO,
            "ticket_delivered",
            sink=row.sink,
            action=row.action,
            key=row.payload.get("key"),
            ref=ref,
        )

    async def _call(self, sink: Sink, row: OutboxRow) -> str | None:
        if templates := self._templates.get(row.sink):
            row.payload["templates"] = templates
        if row.action == "notify":  # an escalation step's message, or an edit of one
            if not isinstance(sink, Notifier):
                raise SinkError(f"{row.sink} cannot take escalation messages", permanent=True)
            await sink.notify(row.payload)
            return None
        if row.action == "open":
            return await sink.find_open(row.payload["key"]) or await sink.open(row.payload)
        ref = row.ticket_ref
        if ref is None:
            ref = await sink.find_open(row.payload["key"])
            if ref is None:
                raise SinkError("no ticket reference for this incident and none found by key", permanent=True)
        if row.action == "resolve":
            await sink.resolve(ref, row.payload)
        else:
            await sink.update(ref, row.payload)
        return None

    def _failed(self, row: OutboxRow, error: str, *, permanent: bool, retry_after: float | None = None) -> None:
        outcome = (row.sink, "dead" if permanent else "retry")
        self.delivered[outcome] = self.delivered.get(outcome, 0) + 1
        if permanent:
            self._store.dead(row, error)
            event(self._log, logging.ERROR, "ticket_dead_letter", sink=row.sink, action=row.action, error=error)
            return
        delay = min(MAX_BACKOFF, 2.0 ** min(row.attempts, 12)) * self._rng.uniform(0.5, 1.0)
        if retry_after is not None:  # the far end said when (Telegram's 429 parameters.retry_after)
            delay = float(retry_after)
        self._store.retry(row, error, time.time() + delay)
        if row.attempts == 0:  # say it once, not on every retry
            event(self._log, logging.WARNING, "ticket_delivery_failing", sink=row.sink, action=row.action, error=error)

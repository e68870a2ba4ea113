"""Fires escalation steps: each due step of an unacknowledged open incident, once, through the outbox.

A pass reads the open incidents, their client's chain for their priority and their life; every
due step becomes one transaction holding the record that it fired (unique per incident, step and
repeat) and its outbox rows — one ``notify`` row per target, one comment per ticket — so a kill
-9 at any moment leaves the step either wholly queued or not at all, and a restart never queues
it twice. A step that came due before this agent started (while it was down) goes out on the
first pass, marked late. Acks and resolves then queue the edits of the messages already sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sitewatch.config.clients import DEFAULT_CLIENT, Clients
from sitewatch.config.escalation import EscalationStep
from sitewatch.incidents.calendar import ServiceCalendar
from sitewatch.incidents.escalation import Due, due_steps, escalation_deadlines, step_level
from sitewatch.logs import event
from sitewatch.probe import Clock
from sitewatch.store.database import Store
from sitewatch.store.escalations import (
    ACKED_NOTICE,
    OutboxEntry,
    fire,
    fired_keys,
    latest_payload,
    notices_due,
    open_incidents,
    ticket_sinks,
)
from sitewatch.store.life import life
from sitewatch.store.sla import clocks
from sitewatch.tickets.oncall_text import step_comment, step_message
from sitewatch.tickets.render import title

__all__ = ["Escalator"]

#: Seconds between passes when nothing pokes the escalator (a step's due time is met within this).
INTERVAL = 1.0


class Escalator:
    """Fires due steps on every pass; :meth:`run` makes a pass each second, or at once when poked."""

    def __init__(
        self,
        store: Store,
        clients: Callable[[], Clients],
        clock: Clock,
        log: logging.Logger,
        *,
        wake: Callable[[], None] = lambda: None,
        calendar: Callable[[str], ServiceCalendar | None] = lambda client: None,
        interval: float = INTERVAL,
    ) -> None:
        self._store = store
        self._clients = clients
        self._clock = clock
        self._log = log
        self._wake = wake
        self._calendar = calendar
        self._interval = interval
        self._poke = asyncio.Event()
        self._broken: set[int] = set()  # incidents whose pass failed (said once each)
        #: Steps due before this moment came due while no escalator ran: they go out marked late.
        self.started_at = clock.time()

    def poke(self) -> None:
        """Something changed (an ack): make a pass now."""
        self._poke.set()

    async def run(self) -> None:
        """Pass after pass until cancelled; a failing pass is logged once, and its recovery once."""
        failing = False
        while True:
            self._poke.clear()
            try:
                written = self.tick()
            except Exception as exc:  # a store or config bug must not end escalation for good
                if not failing:
                    event(self._log, logging.ERROR, "escalation_failed", error=f"{type(exc).__name__}: {exc}")
                    self._log.debug("escalation traceback", exc_info=True)
                failing = True
            else:
                if failing:
                    event(self._log, logging.INFO, "escalation_recovered")
                failing = False
                if written:
                    self._wake()
            try:
                async with asyncio.timeout(self._interval):
                    await self._poke.wait()
            except TimeoutError:
                pass

    def tick(self) -> int:
        """One pass: fire what is due, queue the edits acks and resolves call for; return rows written."""
        now = self._clock.time()
        book = self._clients()
        written = 0
        chains = any(client.escalation for client in book.by_name.values())
        for incident_id, opened_at in open_incidents(self._store) if chains else ():
            try:
                written += self._incident(incident_id, opened_at, book, now)
            except Exception as exc:  # one odd incident (an old version's payload) must not stop the others
                if incident_id not in self._broken:
                    error = f"{type(exc).__name__}: {exc}"
                    event(self._log, logging.ERROR, "escalation_failed", incident=incident_id, error=error)
                self._broken.add(incident_id)
        for incident_id, notice, at, who in notices_due(self._store):
            written += self._notice(incident_id, notice, at, who, now)
        return written

    def _incident(self, incident_id: int, opened_at: float, book: Clients, now: float) -> int:
        """Fire the due steps of one open incident; return the rows written."""
        payload = latest_payload(self._store, incident_id)
        client = book.by_name.get(str((payload or {}).get("client") or DEFAULT_CLIENT))
        if payload is None or client is None:
            return 0
        steps = client.escalation.get(payload.get("priority"))  # type: ignore[arg-type]
        current = life(self._store, incident_id)
        if not steps or current.acked_at is not None:
            return 0
        # The SLA clock is worked out only when a step needs it: to know whether a deadline step is
        # due, or to name the deadlines in a message that fires (not on every pass of every incident).
        needs_clock = any(step.at is not None for step in steps)

        def deadlines_now() -> dict[str, float]:
            return self._deadlines(incident_id, opened_at, payload, client=client.name, pauses=current.pauses, now=now)

        deadlines = deadlines_now() if needs_clock else {}
        done = fired_keys(self._store, incident_id)
        # fire() refuses a repeat anyway; filtering here skips the rendering.
        due = [d for d in due_steps(steps, opened_at, deadlines, now) if (d.step, d.repeat) not in done]
        if due and not needs_clock:
            deadlines = deadlines_now()
        written = 0
        for step in due:
            written += self._fire(incident_id, payload, steps, step, deadlines=deadlines, now=now)
        return written

    def _deadlines(
        self,
        incident_id: int,
        opened_at: float,
        payload: dict[str, Any],
        *,
        client: str,
        pauses: Sequence[tuple[float, float | None]],
        now: float,
    ) -> dict[str, float]:
        """Respond-by and resolve-by for deadline-relative steps.

        The incident's own, from the SLA clock (its client's calendar, pauses, priority changes);
        an incident without stored terms (opened before they were kept) falls back to its payload's
        targets.
        """
        terms = clocks(self._store, [incident_id], now).get(incident_id)
        if terms is None:
            closed = [(begin, end) for begin, end in pauses if end is not None]
            return escalation_deadlines(opened_at, payload.get("sla"), self._calendar(client), closed)
        goals = (("respond_by", terms.clock.response.deadline), ("resolve_by", terms.clock.resolve.deadline))
        return {name: when for name, when in goals if when is not None}

    def _fire(
        self,
        incident_id: int,
        payload: dict[str, Any],
        steps: Sequence[EscalationStep],
        due: Due,
        *,
        deadlines: Mapping[str, float],
        now: float,
    ) -> int:
        step = steps[due.step]
        level = step_level(steps, due.step)
        late = due.due_at < self.started_at
        info = {"step": due.step, "repeat": due.repeat, "level": level, "due_at": due.due_at, "late": late}
        base = {**payload, "event": "escalated", "at": now, "escalation": info, **_deadline_fields(deadlines)}
        message = step_message(base)
        rows: list[OutboxEntry] = [
            (name, "notify", {**base, "title": title(base), "text": message}) for name in step.notify
        ]
        earlier = self._store.db.execute(
            "SELECT 1 FROM escalation_fired WHERE incident_id = ? AND step = ?", (incident_id, due.step)
        ).fetchone()
        if earlier is None:  # the ticket hears of each level once, not of every reminder
            comment = step_comment(base, step.notify)
            rows += [
                (sink, "update", {**base, "comment_text": comment}) for sink in ticket_sinks(self._store, incident_id)
            ]
        done = fire(
            self._store, incident_id, due.step, due.repeat, level=level, due_at=due.due_at, at=now, late=late, rows=rows
        )
        if not done:
            return 0
        event(
            self._log,
            logging.WARNING,
            "escalation_step",
            key=payload.get("key"),
            step_level=level,
            step=due.step,
            repeat=due.repeat,
            late=late,
            targets=",".join(step.notify),
        )
        return len(rows)

    def _notice(self, incident_id: int, notice: int, at: float, who: str, now: float) -> int:
        payload = latest_payload(self._store, incident_id) or {}
        kind = "acked" if notice == ACKED_NOTICE else "resolved"
        targets = self._store.db.execute(
            "SELECT DISTINCT sink FROM outbox WHERE incident_id = ? AND action = 'notify' ORDER BY sink", (incident_id,)
        ).fetchall()
        fields = {k: payload.get(k) for k in ("key", "language", "timezone", "opened_at", "site", "check")}
        body = {**fields, "event": "escalated", "notice": kind, "at": at, "by": who}
        rows: list[OutboxEntry] = [(r[0], "notify", body) for r in targets]
        done = fire(self._store, incident_id, notice, 0, level=kind, due_at=at, at=now, late=False, rows=rows)
        return len(rows) if done else 0


def _deadline_fields(deadlines: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in deadlines.items() if k in ("respond_by", "resolve_by")}

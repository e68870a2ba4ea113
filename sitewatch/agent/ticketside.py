"""The agent's way from incidents to desks and people: sinks, the incident tracker, the SLA watch,
the desks read back, the on-call escalator and the outbox that delivers to all of them.

Desks get their own HTTP session: the probe session has test resolvers and no keep-alive.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Callable

import aiohttp

from sitewatch.config.specs import Config
from sitewatch.engine.results import TicketStats
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Clock, Status
from sitewatch.store.database import Store
from sitewatch.store.life import life, open_incident_id
from sitewatch.tickets import Sink
from sitewatch.tickets.factory import build_sink, build_sinks
from sitewatch.tickets.oncall import OnCall
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.readback import DeskReadBack, build_readers
from sitewatch.tickets.sla_watch import SlaWatch

__all__ = ["TicketSide"]


class TicketSide:
    """Everything that turns an incident into tickets, deadlines, messages and their delivery."""

    def __init__(
        self,
        running: Callable[[], Config],
        store: Store,
        log: logging.Logger,
        clock: Clock,
        latest_status: Callable[[str, str], Status | None],
    ) -> None:
        config = running()
        self._store = store
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        derived = config.client_book.derived_sinks()
        self.sinks: dict[str, Sink] = build_sinks(config.tickets, store, self.session, derived)
        self.incidents = IncidentTracker(
            store,
            list(self.sinks),
            log,
            latest_status,
            config.tickets,
            timezone=config.agent.timezone,
            route=lambda spec: running().client_book.route(spec.client, spec.site.tags),
            life=self._life_so_far,
        )
        #: Deadlines settled as they pass (breach metrics) and desks read back (acks, waits).
        self.sla = SlaWatch(store, log)
        self.readback = DeskReadBack(store, build_readers((*config.tickets.sinks, *derived), self.session), log)
        self._templates = {
            s.name: {str(k): v for k, v in s.templates.items()}
            for s in (*config.tickets.sinks, *derived)
            if s.templates
        }
        # Escalation targets (Telegram chats, a manager's mail) and the escalator: docs/escalation.md.
        self.oncall = OnCall(running, store, self.session, clock, log, wake=lambda: self.deliverer.wake())  # noqa: PLW0108 - made below
        targets = ChainMap(self.sinks, self.oncall.notifiers)  # live: reloads add client sinks
        self.deliverer = Deliverer(store, targets, log, templates=self._templates)

    def apply(self, config: Config) -> None:
        """A (re)loaded config: ticket terms, new client sinks, the desks to read back."""
        self.incidents.reconfigure(config.tickets, config.agent.timezone)
        # New sinks of a reload's client routing are added; none is removed, so an open ticket can still resolve.
        derived = config.client_book.derived_sinks()
        for entry in derived:
            if entry.name not in self.sinks:
                self.sinks[entry.name] = build_sink(entry, self._store, self.session)
                if entry.templates:
                    self._templates[entry.name] = {str(k): v for k, v in entry.templates.items()}
        self.readback.watched = build_readers((*config.tickets.sinks, *derived), self.session)

    def stats(self, now: float) -> TicketStats:
        """The outbox and the incidents for ``/api/status`` and the metrics."""
        stats = self._store.outbox_stats(now)
        return TicketStats(
            # From the store: Alertmanager's incidents never pass through the check state machine.
            open_incidents=len(self._store.open_incidents()),
            outbox_pending=int(stats["pending"]),
            outbox_dead=int(stats["dead"]),
            oldest_pending_age=stats["oldest_pending_age"],
            deliveries=dict(self.deliverer.delivered),
            dead_letters=tuple(self._store.dead_letters()) if stats["dead"] else (),
        )

    def _life_so_far(self, key: str) -> tuple[float | None, tuple[tuple[float, float | None], ...]]:
        """The open incident's ack time and pauses, for deadlines moved by a priority change."""
        incident = open_incident_id(self._store, key)
        if incident is None:
            return None, ()
        lived = life(self._store, incident)
        return lived.acked_at, lived.pauses

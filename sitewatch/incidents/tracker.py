"""Results → state machine → store: turns each finished run into incident transitions.

Streak counters live in memory; only transitions are written, together with their
outbox rows. After a restart, open incidents are read back from the store, so a
killed agent neither forgets an incident nor opens a second one for it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from sitewatch.config.calendar import CalendarConfig
from sitewatch.config.clients import Route
from sitewatch.config.maintenance import active
from sitewatch.config.specs import CheckSpec
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.deadlines import calendar_from, sla_clock
from sitewatch.incidents.dependencies import Dependencies
from sitewatch.incidents.priority import DEFAULT_TERMS, IncidentTerms, priority_for
from sitewatch.incidents.state import CheckState, IncidentEvent, OpenIncident, step
from sitewatch.logs import event
from sitewatch.probe import Status, redact_url

__all__ = ["IncidentStore", "IncidentTracker", "incident_key"]

#: When a site's own http check is failing, these only repeat the same outage.
_IMPLIED = {"pageload": "http", "cms": "http"}


class IncidentStore(Protocol):
    """What the tracker needs of the store (:class:`sitewatch.store.database.Store` is one).

    Typed here so that incidents sit below the store: the store imports the incident
    events it persists, not the other way round.
    """

    def open_incidents(self) -> Mapping[str, OpenIncident]:
        """Every incident not yet resolved, by key."""

    def record(
        self, key: str, event: IncidentEvent, *, site: str, check: str, sinks: Iterable[str], payload: dict[str, Any]
    ) -> int:
        """Write a transition and its outbox rows in one transaction; return the incident id."""

    def silence(self, site: str, at: float) -> str | None:
        """The reason ``site`` is silenced at ``at``, or None."""


def incident_key(site: str, check: str) -> str:
    """The stable key a ticket carries so every desk and agent can find it again."""
    return f"sw:v1:{site}:{check}"


class IncidentTracker:
    """Owns the per-check state and writes transitions to the store."""

    def __init__(
        self,
        store: IncidentStore,
        sinks: Sequence[str],
        log: logging.Logger,
        latest_status: Callable[[str, str], Status | None],
        tickets: IncidentTerms | None = None,
        *,
        timezone: str = "UTC",
        route: Callable[[CheckSpec], Route] | None = None,
        life: Callable[[str], tuple[float | None, Sequence[tuple[float, float | None]]]] | None = None,
    ) -> None:
        self._tickets = tickets or DEFAULT_TERMS
        #: Per site, its client's sinks and terms; without one every incident goes to ``sinks``.
        self._route = route
        #: Per incident key, (acked_at, pauses) so far: a priority change states the moved deadlines.
        self._life = life
        self._timezone = timezone
        self._store = store
        self._sinks = tuple(sinks)
        self._log = log
        self._latest_status = latest_status
        self._agent = socket.gethostname()
        self.states: dict[str, CheckState] = {}
        self._deps = Dependencies(implied=_IMPLIED)
        #: Keys of checks that would have opened but a failing parent held them: when they
        #: open after all, the incident starts when their failure did.
        self._held: set[str] = set()
        #: True while the agent's own network is in doubt (sitewatch.incidents.network): nothing opens.
        self.network_down: Callable[[], bool] = lambda: False
        for key, incident in store.open_incidents().items():
            severity = Status(incident.severity) if incident.severity else Status.CRITICAL
            self.states[key] = CheckState(
                open=True,
                severity=severity,
                opened_at=incident.opened_at,
                last_failing=True,
                failing_since=incident.opened_at,
                flapping=incident.flapping,
            )

    def observe(self, spec: CheckSpec, record: RunRecord) -> list[IncidentEvent]:
        """Feed one run; persist and return the transitions it caused."""
        key = incident_key(spec.site.name, spec.name)
        state = self.states.get(key, CheckState())
        state, events = step(
            state,
            record.result.status,
            record.result.summary,
            record.started,
            spec.policy,
            suppressed=lambda: self._suppressed(spec, record.started),
        )
        if not state.last_failing:
            self._held.discard(key)
        elif key in self._held and events and events[0].kind == "opened" and state.failing_since is not None:
            since = state.failing_since  # the child's real start, not the parent's recovery
            events = [replace(events[0], at=since, opened_at=since)]
            state = replace(state, opened_at=since)
            self._held.discard(key)
        route = self._route(spec) if self._route is not None and events else None
        sinks = route.sinks if route is not None else self._sinks
        for change in events:
            payload = self._payload(spec, key, change, record, route)
            # The store sends a follow-up only to the sinks the incident was opened in.
            self._store.record(key, change, site=spec.site.name, check=spec.name, sinks=sinks, payload=payload)
            event(
                self._log,
                logging.WARNING if change.kind in ("opened", "worsened") else logging.INFO,
                f"incident_{change.kind}",
                site=spec.site.name,
                check=spec.name,
                severity=change.severity.value if change.severity else "ok",
                summary=change.summary,
            )
        self.states[key] = state
        return events

    def forget_except(self, keys: set[str]) -> None:
        """Drop in-memory state of removed checks (their open incidents stay in the store)."""
        for key in [k for k in self.states if k not in keys and not self.states[k].open]:
            del self.states[key]

    def depend(self, checks: Iterable[CheckSpec]) -> None:
        """Take the (re)loaded config's checks and their ``depends_on`` (pageload and cms: their site's http)."""
        self._deps = Dependencies(checks, implied=_IMPLIED)

    def _failing(self, site: str, check: str) -> bool:
        return self._latest_status(site, check) in (Status.CRITICAL, Status.ERROR)

    def _suppressed(self, spec: CheckSpec, at: float) -> bool:
        if not spec.policy.incidents:  # export only: others (a quorum of agents) decide
            return True
        if active(spec.maintenance, at) is not None or self._store.silence(spec.site.name, at) is not None:
            return True
        if self.network_down():  # unconfirmed: it opens, from its real start, once the network is back
            self._held.add(incident_key(*spec.key))
            return True
        parents = self._deps.parents(spec)
        if any(self._failing(site, check) for site, check in parents):
            self._held.add(incident_key(*spec.key))
            return True
        return False

    def reconfigure(self, tickets: IncidentTerms, timezone: str) -> None:
        """Take a reloaded config's language, SLA targets and time zone for the next ticket texts."""
        self._tickets = tickets
        self._timezone = timezone

    def _sla(self, priority: str, route: Route | None) -> dict[str, float] | None:
        table = route.sla if route is not None else self._tickets.sla
        target = table.get(priority)  # type: ignore[call-overload]
        return {"response": target.response, "resolve": target.resolve} if target else None

    def _deadlines(
        self,
        key: str,
        change: IncidentEvent,
        *,
        sla: dict[str, float] | None,
        calendar: dict[str, Any],
        timezone: str,
        opened_at: float,
    ) -> dict[str, float | None]:
        """Respond-by and resolve-by (unix seconds) on the client's calendar; None while paused."""
        if not sla or change.kind == "resolved":
            return {"respond_by": None, "resolve_by": None}
        acked_at, pauses = self._life(key) if self._life is not None and change.kind != "opened" else (None, ())
        clock = sla_clock(
            calendar_from(calendar, timezone),
            opened_at,
            sla["response"],
            sla["resolve"],
            acked_at=acked_at,
            resolved_at=None,
            pauses=pauses,
            now=change.at,
        )
        return {"respond_by": clock.response.deadline, "resolve_by": clock.resolve.deadline}

    def _payload(
        self, spec: CheckSpec, key: str, change: IncidentEvent, record: RunRecord, route: Route | None = None
    ) -> dict[str, Any]:
        severity = change.severity.value if change.severity else None
        priority = spec.priority or priority_for(severity, spec.importance)
        asked = record.result.priority if change.kind != "resolved" else None
        # A check may ask for more urgency than the matrix or a fixed priority gives (an exploited hole), never less.
        priority = min(priority, asked) if asked else priority
        state = self.states.get(key)
        opened_at = change.opened_at or (state.opened_at if state else None) or change.at
        before = state.severity.value if state is not None and state.severity is not None else None
        moved = change.kind in ("worsened", "improved") and before is not None and not spec.priority
        previous = priority_for(before, spec.importance) if moved else None
        timezone = route.timezone if route is not None else self._timezone
        sla = self._sla(priority, route)
        calendar = (route.calendar if route is not None else CalendarConfig()).as_dict()
        return {
            "key": key,
            "event": change.kind,
            "site": spec.site.name,
            "site_title": spec.site_title,
            "check": spec.name,
            "type": spec.type,
            "url": redact_url(spec.site.url),
            "severity": severity,
            "priority": priority,
            "sla": sla,
            "calendar": calendar,
            **self._deadlines(key, change, sla=sla, calendar=calendar, timezone=timezone, opened_at=opened_at),
            # Set when the severity moved the priority: the update states the new deadlines.
            "previous_priority": previous if previous != priority else None,
            "language": route.language if route is not None else self._tickets.language,
            "timezone": timezone,
            "client": route.client if route is not None else spec.client,
            "runbook": spec.runbook,
            "summary": change.summary,
            "at": change.at,
            "opened_at": opened_at,
            "flapping": change.flapping,
            "agent": self._agent,
            "details": dict(record.result.details),
            # Checks that depend on this one and fail with it, opening no incident of their own.
            "affected": [
                f"{site}/{check}" for site, check in self._deps.children(spec.key) if self._failing(site, check)
            ],
        }

"""One incident for the agent's own network: "agent cannot reach the network".

While every reference target fails (sitewatch.engine.reachability), site failures are held
as unconfirmed by the tracker instead of opening one ticket each; this incident opens once
the references have failed ``FAIL_AFTER`` rounds in a row, and resolves after ``RECOVER_AFTER``
rounds with one answering. Its key is per agent, so it survives restarts like any other.
Sites still failing after it resolves then open on their own, from their real start.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from sitewatch.config.policy import Policy
from sitewatch.engine.reachability import Reachability
from sitewatch.incidents.priority import DEFAULT_TERMS, IncidentTerms
from sitewatch.incidents.state import CheckState, IncidentEvent, step
from sitewatch.incidents.tracker import IncidentStore
from sitewatch.logs import event
from sitewatch.probe import Status

__all__ = ["CHECK", "NetworkIncident", "network_key"]

#: The check name the incident carries (its "site" is ``agent:<name>``).
CHECK = "network"
FAIL_AFTER = 2
RECOVER_AFTER = 2
SUMMARY = "agent cannot reach the network"


def network_key(agent: str) -> str:
    """The incident key of ``agent``'s network outage (one per agent, like a site's check key)."""
    return f"sw:v1:agent:{agent}:{CHECK}"


class NetworkIncident:
    """Feeds reachability rounds through the state machine; writes its transitions to the store."""

    def __init__(
        self,
        store: IncidentStore,
        sinks: Sequence[str],
        log: logging.Logger,
        *,
        agent: str | None = None,
        terms: IncidentTerms | None = None,
        timezone: str = "UTC",
    ) -> None:
        self._store = store
        self._sinks = tuple(sinks)
        self._log = log
        self.agent = agent or socket.gethostname()
        self.key = network_key(self.agent)
        self.site = f"agent:{self.agent}"
        self._terms = terms or DEFAULT_TERMS
        self._timezone = timezone
        self._policy = Policy(fail_after=FAIL_AFTER, recover_after=RECOVER_AFTER)
        self.latest = Reachability()
        current = store.open_incidents().get(self.key)
        self.state = (
            CheckState(open=True, severity=Status.CRITICAL, opened_at=current.opened_at, last_failing=True)
            if current is not None
            else CheckState()
        )

    @property
    def holding(self) -> bool:
        """True while site failures are unconfirmed: references all failing, or the incident still open."""
        return self.latest.state == "offline" or self.state.open

    def reconfigure(self, terms: IncidentTerms, timezone: str, sinks: Sequence[str] | None = None) -> None:
        """A reloaded config's ticket language, SLA targets and sinks, for the next incident."""
        self._terms, self._timezone = terms, timezone
        if sinks is not None:
            self._sinks = tuple(sinks)

    def observe(self, reach: Reachability, failing: Sequence[str] = ()) -> list[IncidentEvent]:
        """Feed one round; ``failing`` names the checks failing now (listed in the ticket)."""
        self.latest = reach
        status = Status.CRITICAL if reach.state == "offline" else Status.OK
        at = reach.checked_at or 0.0
        summary = self._summary(reach)
        self.state, events = step(self.state, status, summary, at, self._policy)
        for change in events:
            payload = self._payload(change, reach, failing)
            self._store.record(self.key, change, site=self.site, check=CHECK, sinks=self._sinks, payload=payload)
            event(
                self._log,
                logging.WARNING if change.kind == "opened" else logging.INFO,
                f"network_incident_{change.kind}",
                agent=self.agent,
                references=len(reach.references),
                held=len(failing),
                summary=change.summary,
            )
        return events

    def _summary(self, reach: Reachability) -> str:
        count = len(reach.references)
        if reach.state == "offline":
            return f"{SUMMARY}: all {count} reference targets failing"
        answering = sum(r.ok for r in reach.references)
        return f"agent reaches the network again: {answering} of {count} reference targets answer"

    def _payload(self, change: IncidentEvent, reach: Reachability, failing: Sequence[str]) -> dict[str, Any]:
        priority = "P1"  # every site of this agent is unwatched until it is back
        target = self._terms.sla.get(priority)  # type: ignore[call-overload]
        return {
            "key": self.key,
            "event": change.kind,
            "site": self.site,
            "check": CHECK,
            "type": "reachability",
            "url": "",
            "severity": change.severity.value if change.severity else None,
            "priority": priority,
            "sla": {"response": target.response, "resolve": target.resolve} if target else None,
            "language": self._terms.language,
            "timezone": self._timezone,
            "client": "default",
            "runbook": None,
            "summary": change.summary,
            "at": change.at,
            "opened_at": change.opened_at or self.state.opened_at or change.at,
            "flapping": change.flapping,
            "agent": self.agent,
            "details": {
                f"reference {r.target}": ("ok: " if r.ok else "failed: ") + r.summary for r in reach.references
            },
            # Checks failing meanwhile, held as unconfirmed: no ticket of their own.
            "affected": list(failing),
        }

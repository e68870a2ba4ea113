"""SLA compliance per client and period: were the response and resolve promises kept?

For every incident opened in the period that has SLA terms (docs/sla.md): the time to respond
(open → first acknowledgement) and to resolve (open → resolve, waiting for the client
excluded), both in service time of the client's calendar, against the priority's targets. A goal
still running when the report is made is *pending*, neither met nor breached; the percentage met
is of the decided goals. Times are to the second. Incidents belong to the period they opened in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sitewatch.i18n.formats import zone
from sitewatch.incidents.deadlines import Goal
from sitewatch.reports.report import Period, ReportError, month
from sitewatch.store.database import Store
from sitewatch.store.escalations import Fired, fired
from sitewatch.store.sla import IncidentSla, clocks_between

__all__ = ["Breach", "ClientCompliance", "PriorityLine", "client_month", "compliance", "compliance_json"]


@dataclass(frozen=True, slots=True)
class Breach:
    """A goal missed: which incident, which goal, its deadline, by how much (service seconds), the steps that fired."""

    incident_id: int
    key: str
    site: str
    priority: str
    kind: str  # response | resolve
    opened_at: float
    deadline: float | None
    done_at: float | None  # None: not reached by the end of the report
    over: float  # service seconds past the target
    #: The incident's escalation steps that fired (its whole chain, not only this goal's), in order.
    steps: tuple[Fired, ...] = ()


@dataclass(frozen=True, slots=True)
class PriorityLine:
    """One priority of one client: counts, times against target, percentage met."""

    priority: str
    incidents: int
    response_target: float
    resolve_target: float
    response_met: int
    response_breached: int
    resolve_met: int
    resolve_breached: int
    response_mean: float | None  # over the incidents that were responded to
    response_max: float | None
    resolve_mean: float | None  # over the resolved ones
    resolve_max: float | None

    @property
    def met_percent(self) -> float | None:
        """Goals met of goals decided (response and resolve together), percent; None when none is decided."""
        decided = self.response_met + self.response_breached + self.resolve_met + self.resolve_breached
        return None if not decided else 100.0 * (self.response_met + self.resolve_met) / decided


@dataclass(frozen=True, slots=True)
class ClientCompliance:
    """One client's SLA compliance over the period."""

    client: str
    timezone: str
    language: str
    lines: tuple[PriorityLine, ...]
    breaches: tuple[Breach, ...]


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _line(priority: str, rows: Sequence[IncidentSla]) -> PriorityLine:
    responses = [r.clock.response for r in rows]
    resolves = [r.clock.resolve for r in rows]
    responded = [g.elapsed for g in responses if g.done_at is not None]
    resolved = [g.elapsed for g in resolves if g.done_at is not None]
    return PriorityLine(
        priority=priority,
        incidents=len(rows),
        # Targets of the incidents' terms (the last priority change's), the same for one client's priority.
        response_target=max(g.target for g in responses),
        resolve_target=max(g.target for g in resolves),
        response_met=sum(g.outcome == "met" for g in responses),
        response_breached=sum(g.outcome == "breached" for g in responses),
        resolve_met=sum(g.outcome == "met" for g in resolves),
        resolve_breached=sum(g.outcome == "breached" for g in resolves),
        response_mean=_mean(responded),
        response_max=max(responded, default=None),
        resolve_mean=_mean(resolved),
        resolve_max=max(resolved, default=None),
    )


def _breaches(store: Store, rows: Iterable[IncidentSla]) -> list[Breach]:
    out = []
    for r in rows:
        for kind, goal in (("response", r.clock.response), ("resolve", r.clock.resolve)):
            if goal.outcome == "breached":
                out.append(_breach(r, kind, goal, tuple(fired(store, r.incident_id))))
    return out


def _breach(r: IncidentSla, kind: str, goal: Goal, steps: tuple[Fired, ...]) -> Breach:
    return Breach(
        r.incident_id, r.key, r.site, r.priority, kind, r.opened_at, goal.deadline, goal.done_at, -goal.left, steps
    )


def compliance(
    store: Store, start: float, end: float, now: float, clients: Iterable[str] | None = None
) -> list[ClientCompliance]:
    """Per client (sorted by name; only ``clients`` when given): incidents opened in ``[start, end)``.

    Goals are judged as of ``now``, as a desk's SLA report does: an incident of the period resolved
    after it ends has its final outcome; one still running now is pending.
    """
    wanted = set(clients) if clients is not None else None
    rows = [r for r in clocks_between(store, start, end, now) if wanted is None or r.client in wanted]
    by_client: dict[str, list[IncidentSla]] = {}
    for r in rows:
        by_client.setdefault(r.client, []).append(r)
    out = []
    for client, mine in sorted(by_client.items()):
        priorities = sorted({r.priority for r in mine})
        lines = tuple(_line(p, [r for r in mine if r.priority == p]) for p in priorities)
        out.append(ClientCompliance(client, mine[-1].timezone, mine[-1].language, lines, tuple(_breaches(store, mine))))
    return out


def client_month(
    store: Store, client: str, timezone: str, now: float, month_text: str | None = None
) -> tuple[Period, ClientCompliance | None]:
    """One client's compliance over a month of its own zone (``now``'s month by default), so far.

    Raises :class:`~sitewatch.reports.report.ReportError` for a bad month or one not started yet.
    """
    if month_text is None:
        local = dt.datetime.fromtimestamp(now, zone(timezone))
        month_text = f"{local.year:04d}-{local.month:02d}"
    period = month(month_text, timezone)
    if period.start >= now:
        raise ReportError(f"{period.label} has not started yet")
    period = Period(period.start, min(period.end, now), period.label)
    found = compliance(store, period.start, period.end, now, [client])
    return period, (found[0] if found else None)


def compliance_json(report: Sequence[ClientCompliance]) -> list[dict[str, Any]]:
    """The section as JSON: seconds as numbers, times as unix seconds (the report's other fields do the same)."""
    return [
        {
            "client": c.client,
            "timezone": c.timezone,
            "priorities": [
                {
                    "priority": ln.priority,
                    "incidents": ln.incidents,
                    "response": {
                        "target_seconds": ln.response_target,
                        "met": ln.response_met,
                        "breached": ln.response_breached,
                        "mean_seconds": ln.response_mean,
                        "max_seconds": ln.response_max,
                    },
                    "resolve": {
                        "target_seconds": ln.resolve_target,
                        "met": ln.resolve_met,
                        "breached": ln.resolve_breached,
                        "mean_seconds": ln.resolve_mean,
                        "max_seconds": ln.resolve_max,
                    },
                    "met_percent": ln.met_percent,
                }
                for ln in c.lines
            ],
            "breaches": [
                {
                    "key": b.key,
                    "site": b.site,
                    "priority": b.priority,
                    "kind": b.kind,
                    "opened_at": b.opened_at,
                    "deadline": b.deadline,
                    "done_at": b.done_at,
                    "over_seconds": round(b.over, 3),
                    "escalations": [
                        {
                            "step": f.step,
                            "repeat": f.repeat,
                            "level": f.level,
                            "due_at": f.due_at,
                            "fired_at": f.fired_at,
                            "late": f.late,
                            "targets": list(f.targets),
                        }
                        for f in b.steps
                    ],
                }
                for b in c.breaches
            ],
        }
        for c in report
    ]

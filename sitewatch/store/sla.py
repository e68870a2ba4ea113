"""The SLA clocks of incidents, read from the store: terms, life and calendar put together.

An incident's terms (client, priority, targets, calendar) are written with its transitions
(:meth:`Store.record`); its life (ack, waiting) by :mod:`sitewatch.store.life`. Here they become
deadlines and outcomes. :func:`settle` writes each goal's outcome once — the moment a deadline
passes unmet, or the goal is reached — so a breach is counted once per incident, whenever the
report runs and however often the agent restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sitewatch.incidents.deadlines import SlaClock, calendar_from, sla_clock
from sitewatch.store.database import Store
from sitewatch.store.life import life

__all__ = ["IncidentSla", "Settled", "clocks", "clocks_between", "settle", "settled_totals"]

Kind = Literal["response", "resolve"]


@dataclass(frozen=True, slots=True)
class IncidentSla:
    """One incident's terms and where its clocks stand."""

    incident_id: int
    key: str
    site: str
    client: str
    priority: str
    timezone: str
    language: str
    opened_at: float
    resolved_at: float | None
    acked_by: str | None
    waiting_reason: str | None  # set while the clock is paused
    clock: SlaClock


@dataclass(frozen=True, slots=True)
class Settled:
    """A goal whose outcome was just written (or a response time just measured)."""

    incident_id: int
    client: str
    priority: str
    kind: Kind
    outcome: str | None  # met | breached; None when only the response time was measured
    response_seconds: float | None


_SELECT = (
    "SELECT s.*, i.key, i.site, i.opened_at, i.resolved_at FROM incident_sla s JOIN incidents i ON i.id = s.incident_id"
)


def clocks(store: Store, ids: Iterable[int], now: float) -> dict[int, IncidentSla]:
    """The clocks of the incidents ``ids`` that have SLA terms, by incident id."""
    wanted = json.dumps(sorted(set(ids)))
    where = " WHERE s.incident_id IN (SELECT value FROM json_each(?))"
    rows = store.db.execute(_SELECT + where, (wanted,))
    return {r["incident_id"]: _row(store, r, now) for r in rows.fetchall()}


def clocks_between(store: Store, since: float, until: float, now: float) -> list[IncidentSla]:
    """The clocks of every incident with SLA terms opened in ``[since, until)``, oldest first."""
    rows = store.db.execute(
        f"{_SELECT} WHERE i.opened_at >= ? AND i.opened_at < ? ORDER BY i.opened_at, i.id", (since, until)
    )
    return [_row(store, r, now) for r in rows.fetchall()]


def _row(store: Store, row: sqlite3.Row, now: float) -> IncidentSla:
    incident_id = int(row["incident_id"])
    lived = life(store, incident_id)
    calendar = calendar_from(json.loads(row["calendar"]), row["timezone"])
    clock = sla_clock(
        calendar,
        row["opened_at"],
        row["response"],
        row["resolve"],
        acked_at=lived.acked_at,
        resolved_at=row["resolved_at"],
        pauses=lived.pauses,
        now=now,
    )
    waits = [e for e in lived.events if e.kind == "wait"]
    return IncidentSla(
        incident_id=incident_id,
        key=row["key"],
        site=row["site"],
        client=row["client"],
        priority=row["priority"],
        timezone=row["timezone"],
        language=row["language"],
        opened_at=row["opened_at"],
        resolved_at=row["resolved_at"],
        acked_by=lived.acked_by,
        waiting_reason=(waits[-1].reason or "") if lived.waiting and waits else None,
        clock=clock,
    )


def settle(store: Store, now: float) -> list[Settled]:
    """Write the outcome of every goal decided by ``now`` (once each); return what was written."""
    rows = store.db.execute(
        f"{_SELECT} WHERE s.response_outcome IS NULL OR s.resolve_outcome IS NULL OR s.response_seconds IS NULL"
    ).fetchall()
    out: list[Settled] = []
    for r in rows:
        sla = _row(store, r, now)
        response, resolve = sla.clock.response, sla.clock.resolve
        with store.transaction():
            if r["response_outcome"] is None and response.outcome in ("met", "breached"):
                _set(store, sla, "response_outcome", response.outcome)
                out.append(Settled(sla.incident_id, sla.client, sla.priority, "response", response.outcome, None))
            if r["response_seconds"] is None and response.done_at is not None:
                _set(store, sla, "response_seconds", response.elapsed)
                out.append(Settled(sla.incident_id, sla.client, sla.priority, "response", None, response.elapsed))
            if r["resolve_outcome"] is None and resolve.outcome in ("met", "breached"):
                _set(store, sla, "resolve_outcome", resolve.outcome)
                store.db.execute(
                    "UPDATE incident_sla SET resolve_seconds = ? WHERE incident_id = ?",
                    (resolve.elapsed, sla.incident_id),
                )
                out.append(Settled(sla.incident_id, sla.client, sla.priority, "resolve", resolve.outcome, None))
    return out


def _set(store: Store, sla: IncidentSla, column: str, value: object) -> None:
    # The column is one of three literals above; IS NULL keeps a second sweep from writing it twice.
    store.db.execute(
        f"UPDATE incident_sla SET {column} = ? WHERE incident_id = ? AND {column} IS NULL",  # noqa: S608
        (value, sla.incident_id),
    )


def settled_totals(store: Store) -> tuple[dict[tuple[str, str, str], int], list[tuple[str, str, float]]]:
    """Breaches by (client, priority, kind) and every measured (client, priority, response seconds)."""
    breaches: dict[tuple[str, str, str], int] = {}
    for kind in ("response", "resolve"):
        for client, priority, count in store.db.execute(
            f"SELECT client, priority, COUNT(*) FROM incident_sla WHERE {kind}_outcome = 'breached'"  # noqa: S608
            " GROUP BY client, priority"
        ):
            breaches[(client, priority, kind)] = int(count)
    responses = [
        (str(c), str(p), float(s))
        for c, p, s in store.db.execute(
            "SELECT client, priority, response_seconds FROM incident_sla WHERE response_seconds IS NOT NULL"
        )
    ]
    return breaches, responses

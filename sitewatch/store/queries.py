"""Read-only queries of the store for the status page and the JSON API.

Nothing here writes: the page and the API show what the incident tracker and the
deliverer recorded, and a slow reader can never hold a write lock.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sitewatch.store.database import Store

__all__ = ["HistoryRow", "IncidentRow", "IncidentState", "TicketLink", "history", "incidents"]

IncidentState = Literal["open", "resolved", "all"]


@dataclass(frozen=True, slots=True)
class TicketLink:
    """An incident's ticket in one sink: its reference there and how delivery stands."""

    sink: str
    ref: str | None
    delivery: Literal["delivered", "pending", "dead"]
    pending: int  # actions not delivered yet
    last_error: str | None
    status: str | None = None  # the local sink's own ticket status (open, acked, closed); other desks own theirs


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident as the operator sees it."""

    id: int
    key: str
    site: str
    check: str
    opened_at: float
    resolved_at: float | None
    severity: str | None
    summary: str
    flapping: bool
    tickets: tuple[TicketLink, ...]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One recorded check run."""

    check: str
    at: float
    status: str
    duration: float


def incidents(
    store: Store, state: IncidentState = "all", limit: int = 50, sites: Collection[str] | None = None
) -> list[IncidentRow]:
    """Open incidents first (newest first), then the most recently resolved; at most ``limit``.

    With ``sites``, only the incidents of those sites (a client's, a tag's).
    """
    names = None if sites is None else json.dumps(sorted(sites))
    rows = store.db.execute(
        "SELECT id, key, site, check_name, opened_at, resolved_at, severity, summary, flapping"
        " FROM incidents WHERE (? = 'all' OR (? = 'open') = (resolved_at IS NULL))"
        " AND (? IS NULL OR site IN (SELECT value FROM json_each(?)))"
        " ORDER BY resolved_at IS NOT NULL, COALESCE(resolved_at, opened_at) DESC, id DESC LIMIT ?",
        (state, state, names, names, limit),
    ).fetchall()
    links = _ticket_links([r["id"] for r in rows], store)
    return [
        IncidentRow(
            id=r["id"],
            key=r["key"],
            site=r["site"],
            check=r["check_name"],
            opened_at=r["opened_at"],
            resolved_at=r["resolved_at"],
            severity=r["severity"],
            summary=r["summary"],
            flapping=bool(r["flapping"]),
            tickets=links.get(r["id"], ()),
        )
        for r in rows
    ]


def _ticket_links(ids: list[int], store: Store) -> dict[int, tuple[TicketLink, ...]]:
    if not ids:
        return {}
    wanted = (json.dumps(ids),)
    rows = store.db.execute(
        "SELECT incident_id, sink, state, last_error FROM outbox"
        " WHERE incident_id IN (SELECT value FROM json_each(?)) ORDER BY incident_id, sink, id",
        wanted,
    ).fetchall()
    refs = {
        (r[0], r[1]): str(r[2])
        for r in store.db.execute(
            "SELECT incident_id, sink, ref FROM ticket_refs WHERE incident_id IN (SELECT value FROM json_each(?))",
            wanted,
        )
    }
    local = {
        str(r[0]): str(r[1])
        for r in store.db.execute(
            "SELECT t.id, t.status FROM tickets t JOIN ticket_refs r ON r.ref = CAST(t.id AS TEXT)"
            " WHERE r.sink = 'local' AND r.incident_id IN (SELECT value FROM json_each(?))",
            wanted,
        )
    }
    grouped: dict[tuple[int, str], list[tuple[str, str | None]]] = {}
    for r in rows:
        grouped.setdefault((r["incident_id"], r["sink"]), []).append((r["state"], r["last_error"]))
    out: dict[int, list[TicketLink]] = {}
    for (incident, sink), actions in grouped.items():
        ref = refs.get((incident, sink))
        states = {state for state, _ in actions}
        delivery: Literal["delivered", "pending", "dead"] = (
            "dead" if "dead" in states else "pending" if "pending" in states else "delivered"
        )
        errors = [error for _, error in actions if error]
        pending = sum(state == "pending" for state, _ in actions)
        status = local.get(ref) if sink == "local" and ref else None
        out.setdefault(incident, []).append(
            TicketLink(sink, ref, delivery, pending, errors[-1] if errors else None, status)
        )
    return {k: tuple(v) for k, v in out.items()}


def history(store: Store, site: str, since: float, until: float, limit: int) -> tuple[list[HistoryRow], bool]:
    """Runs of ``site`` in ``[since, until]``, oldest first: the newest ``limit`` and whether more were cut."""
    rows = store.db.execute(
        "SELECT check_name, at, status, duration FROM results WHERE site = ? AND at >= ? AND at <= ?"
        " ORDER BY at DESC LIMIT ?",
        (site, since, until, limit + 1),
    ).fetchall()
    cut = len(rows) > limit
    return [HistoryRow(r[0], r[1], r[2], r[3]) for r in reversed(rows[:limit])], cut

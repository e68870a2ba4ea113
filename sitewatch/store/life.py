"""The SLA life of an incident: acknowledged (the response), waiting for the client, resumed.

Changes are appended to ``incident_life`` and never rewritten, so a desk's status read back
twice, or an ack from Telegram racing one from the CLI, records one change: :func:`change`
refuses what the current state makes meaningless (a second ack, a wait while waiting, a resume
while not waiting, anything after the resolve). The SLA clock reads :func:`life`: when the
response came and which intervals were spent waiting (they do not count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sitewatch.store.database import Store

__all__ = ["Life", "LifeEvent", "change", "life", "open_incident_id"]

Kind = Literal["ack", "wait", "resume"]


@dataclass(frozen=True, slots=True)
class LifeEvent:
    """One recorded change: ``by`` is a person (a login, a desk assignee, a Telegram user)."""

    at: float
    kind: Kind
    by: str
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class Life:
    """What the clock needs: the response and the paused intervals (the last may be open: end None)."""

    acked_at: float | None
    acked_by: str | None
    pauses: tuple[tuple[float, float | None], ...]
    events: tuple[LifeEvent, ...]

    @property
    def waiting(self) -> bool:
        """True while the team waits for the client (the clock is stopped)."""
        return bool(self.pauses) and self.pauses[-1][1] is None


def life(store: Store, incident_id: int) -> Life:
    """The life of one incident, from its recorded changes in order."""
    rows = store.db.execute(
        "SELECT at, kind, by, reason, source FROM incident_life WHERE incident_id = ? ORDER BY at, id",
        (incident_id,),
    ).fetchall()
    events = tuple(LifeEvent(r["at"], r["kind"], r["by"], r["reason"], r["source"]) for r in rows)
    acked = next((e for e in events if e.kind == "ack"), None)
    pauses: list[tuple[float, float | None]] = []
    for e in events:
        if e.kind == "wait":
            pauses.append((e.at, None))
        elif e.kind == "resume" and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], e.at)
    return Life(acked.at if acked else None, acked.by if acked else None, tuple(pauses), events)


def change(
    store: Store, incident_id: int, kind: Kind, *, at: float, by: str = "", reason: str = "", source: str = "local"
) -> bool:
    """Record ``kind`` for an open incident; False (nothing written) when it changes nothing.

    A wait implies the response (waiting on the client means someone answered), so a wait on an
    unacknowledged incident records the ack first, at the same instant and by the same person.
    """
    with store.transaction():
        row = store.db.execute("SELECT resolved_at FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None or row["resolved_at"] is not None:
            return False
        current = life(store, incident_id)
        if kind == "ack" and current.acked_at is not None:
            return False
        if kind == "wait" and current.waiting:
            return False
        if kind == "resume" and not current.waiting:
            return False
        if kind == "wait" and current.acked_at is None:
            _insert(store, incident_id, "ack", at=at, by=by, reason="", source=source)
        _insert(store, incident_id, kind, at=at, by=by, reason=reason, source=source)
    return True


def open_incident_id(store: Store, key: str) -> int | None:
    """The id of the open incident with ``key``, or None."""
    row = store.db.execute("SELECT id FROM incidents WHERE key = ? AND resolved_at IS NULL", (key,)).fetchone()
    return int(row["id"]) if row else None


def _insert(store: Store, incident_id: int, kind: str, *, at: float, by: str, reason: str, source: str) -> None:
    store.db.execute(
        "INSERT INTO incident_life (incident_id, at, kind, by, reason, source) VALUES (?, ?, ?, ?, ?, ?)",
        (incident_id, at, kind, by, reason, source),
    )

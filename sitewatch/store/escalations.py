"""Escalation steps that fired, and the on-call messages they sent.

:func:`fire` writes the record that a step fired and the step's outbox rows (its notifications,
its ticket comments) in one transaction, under a unique (incident, step, repeat) key: a step
fires once across restarts and kill -9, and never after the incident was acknowledged or
resolved — the check runs inside the same transaction as the write. Negative step numbers are
the notices that edit sent messages (:data:`ACKED_NOTICE`, :data:`RESOLVED_NOTICE`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sitewatch.store.database import Store
from sitewatch.store.life import life

__all__ = [
    "ACKED_NOTICE",
    "RESOLVED_NOTICE",
    "Fired",
    "Message",
    "fire",
    "fired",
    "fired_keys",
    "latest_payload",
    "messages",
    "notices_due",
    "open_incidents",
    "remember_message",
    "ticket_sinks",
    "update_message",
]

#: Pseudo-steps: the edit of sent messages after the acknowledgement, and after the resolve.
ACKED_NOTICE = -2
RESOLVED_NOTICE = -1

#: One outbox row to write: (sink or notifier name, action, payload).
OutboxEntry = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Fired:
    """A step that fired: which, when it was due, when it went out, and whether late."""

    step: int
    repeat: int
    level: str
    due_at: float
    fired_at: float
    late: bool
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """An on-call message as sent (and as last edited)."""

    notifier: str
    chat_id: str
    message_id: int
    text: str


def fire(
    store: Store,
    incident_id: int,
    step: int,
    repeat: int,
    *,
    level: str,
    due_at: float,
    at: float,
    late: bool,
    rows: Sequence[OutboxEntry],
) -> bool:
    """Record the firing and write its outbox rows at once; False when it fired before or must not fire."""
    with store.transaction():
        incident = store.db.execute("SELECT resolved_at FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if incident is None:
            return False
        if step >= 0 and (incident["resolved_at"] is not None or life(store, incident_id).acked_at is not None):
            return False  # an ack or a resolve stops the chain, even one that raced this pass
        cursor = store.db.execute(
            "INSERT OR IGNORE INTO escalation_fired (incident_id, step, repeat, level, due_at, fired_at, late, targets)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (incident_id, step, repeat, level, due_at, at, int(late), ",".join(sorted({r[0] for r in rows}))),
        )
        if cursor.rowcount == 0:
            return False
        for sink, action, payload in rows:
            store.db.execute(
                "INSERT INTO outbox (incident_id, sink, action, payload, created_at, next_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (incident_id, sink, action, json.dumps({**payload, "incident_id": incident_id}, default=str), at, at),
            )
    return True


def fired(store: Store, incident_id: int) -> list[Fired]:
    """The steps of an incident that fired, in order (notices excluded): for reports and the runbook."""
    rows = store.db.execute(
        "SELECT step, repeat, level, due_at, fired_at, late, targets FROM escalation_fired"
        " WHERE incident_id = ? AND step >= 0 ORDER BY fired_at, id",
        (incident_id,),
    )
    return [
        Fired(r["step"], r["repeat"], r["level"], r["due_at"], r["fired_at"], bool(r["late"]), _names(r["targets"]))
        for r in rows
    ]


def fired_keys(store: Store, incident_id: int) -> set[tuple[int, int]]:
    """(step, repeat) of every firing of an incident, notices included: what a pass need not render again."""
    rows = store.db.execute("SELECT step, repeat FROM escalation_fired WHERE incident_id = ?", (incident_id,))
    return {(int(r[0]), int(r[1])) for r in rows}


def open_incidents(store: Store) -> list[tuple[int, float]]:
    """(id, opened_at) of every open incident."""
    rows = store.db.execute("SELECT id, opened_at FROM incidents WHERE resolved_at IS NULL ORDER BY id")
    return [(int(r["id"]), float(r["opened_at"])) for r in rows]


def latest_payload(store: Store, incident_id: int) -> dict[str, Any] | None:
    """The newest ticket payload of an incident (its client, priority and terms as of its last change)."""
    row = store.db.execute(
        "SELECT payload FROM outbox WHERE incident_id = ? AND action IN ('open', 'update')"
        " AND IFNULL(json_extract(payload, '$.event'), '') != 'escalated' ORDER BY id DESC LIMIT 1",
        (incident_id,),
    ).fetchone()
    return json.loads(row["payload"]) if row else None


def ticket_sinks(store: Store, incident_id: int) -> list[str]:
    """The sinks the incident's ticket was opened in (where a step's comment goes)."""
    rows = store.db.execute(
        "SELECT DISTINCT sink FROM outbox WHERE incident_id = ? AND action = 'open' ORDER BY sink", (incident_id,)
    )
    return [r[0] for r in rows]


def notices_due(store: Store) -> list[tuple[int, int, float, str]]:
    """Messages to edit: (incident, notice, when, who) for acks and resolves not yet noticed.

    Any incident that queued a message counts, sent yet or not: the edit row waits behind it in the
    outbox, and the notifier reads the sent messages when the edit is delivered.
    """
    rows = store.db.execute(
        """
        SELECT i.id, i.resolved_at,
               (SELECT MIN(at) FROM incident_life l WHERE l.incident_id = i.id AND l.kind = 'ack') AS acked_at
        FROM incidents i WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.id AND o.action = 'notify')
          AND NOT EXISTS (SELECT 1 FROM escalation_fired f WHERE f.incident_id = i.id AND f.step = ?)
        """,
        (RESOLVED_NOTICE,),
    ).fetchall()
    out: list[tuple[int, int, float, str]] = []
    for row in rows:
        done = {r[0] for r in store.db.execute("SELECT step FROM escalation_fired WHERE incident_id = ?", (row[0],))}
        if row["acked_at"] is not None and ACKED_NOTICE not in done:
            who = life(store, row[0]).acked_by or ""
            out.append((row[0], ACKED_NOTICE, float(row["acked_at"]), who))
        if row["resolved_at"] is not None and RESOLVED_NOTICE not in done:
            out.append((row[0], RESOLVED_NOTICE, float(row["resolved_at"]), ""))
    return out


def remember_message(store: Store, incident_id: int, message: Message, at: float) -> None:
    """Keep a sent message, so the ack and the resolve can edit it."""
    store.db.execute(
        "INSERT OR IGNORE INTO notifier_messages (incident_id, notifier, chat_id, message_id, text, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (incident_id, message.notifier, message.chat_id, message.message_id, message.text, at),
    )


def messages(store: Store, incident_id: int, notifier: str | None = None) -> list[Message]:
    """The messages sent for an incident (by one notifier when named), oldest first."""
    rows = store.db.execute(
        "SELECT notifier, chat_id, message_id, text FROM notifier_messages WHERE incident_id = ?"
        " AND (? IS NULL OR notifier = ?) ORDER BY id",
        (incident_id, notifier, notifier),
    )
    return [Message(r[0], r[1], int(r[2]), r[3]) for r in rows]


def update_message(store: Store, message: Message, text: str) -> None:
    """Remember a message's edited text (the next edit adds to it)."""
    store.db.execute(
        "UPDATE notifier_messages SET text = ? WHERE notifier = ? AND chat_id = ? AND message_id = ?",
        (text, message.notifier, message.chat_id, message.message_id),
    )


def _names(targets: str) -> tuple[str, ...]:
    return tuple(t for t in targets.split(",") if t)

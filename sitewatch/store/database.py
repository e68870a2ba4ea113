"""SQLite store: incidents, their events and the ticket outbox, written together.

Every incident transition and the outbox rows it causes are one transaction, so a
crash at any point leaves either both or neither. A partial unique index allows one
open incident per key, ever. WAL with ``synchronous=FULL``: transitions are rare and
each must survive a power cut.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitewatch.incidents.state import IncidentEvent, OpenIncident
from sitewatch.store.schema import MIGRATIONS as _MIGRATIONS

__all__ = ["OutboxRow", "Store"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One ticket action waiting for delivery."""

    id: int
    incident_id: int
    sink: str
    action: str
    payload: dict[str, Any]
    attempts: int
    ticket_ref: str | None


class Store:
    """The agent's on-disk memory; one connection, used from the event loop thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    @classmethod
    def open_readonly(cls, path: Path) -> Store:
        """Open an existing store for reading only: no directory, no migration, no write.

        For reports and the availability cache, which may run beside a writing agent
        (WAL lets readers and the one writer proceed together).
        """
        store = cls.__new__(cls)
        store.path = path
        store.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        store.db.row_factory = sqlite3.Row
        store.db.execute("PRAGMA busy_timeout=5000")
        return store

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            # executescript commits on its own; the version bump rides in the same script.
            self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    def close(self) -> None:
        """Close the connection (WAL is checkpointed by SQLite)."""
        self.db.close()

    # -- incidents -------------------------------------------------------------------

    def open_incidents(self) -> dict[str, OpenIncident]:
        """Every open incident by key."""
        rows = self.db.execute(
            "SELECT id, key, opened_at, severity, flapping FROM incidents WHERE resolved_at IS NULL"
        ).fetchall()
        return {
            r["key"]: OpenIncident(r["id"], r["key"], r["opened_at"], r["severity"], bool(r["flapping"])) for r in rows
        }

    def record(
        self, key: str, event: IncidentEvent, *, site: str, check: str, sinks: Iterable[str], payload: dict[str, Any]
    ) -> int:
        """Write a transition and its outbox rows in one transaction; return the incident id."""
        severity = event.severity.value if event.severity else None
        with self.transaction():
            if event.kind == "opened":
                incident_id = self.db.execute(
                    "INSERT INTO incidents (key, site, check_name, opened_at, severity, summary, flapping)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, site, check, event.at, severity, event.summary, int(event.flapping)),
                ).lastrowid
            else:
                row = self.db.execute(
                    "SELECT id FROM incidents WHERE key = ? AND resolved_at IS NULL", (key,)
                ).fetchone()
                if row is None:
                    raise LookupError(f"no open incident for {key}")
                incident_id = row["id"]
                if event.kind == "resolved":
                    self.db.execute("UPDATE incidents SET resolved_at = ? WHERE id = ?", (event.at, incident_id))
                else:
                    self.db.execute("UPDATE incidents SET severity = ? WHERE id = ?", (severity, incident_id))
            assert incident_id is not None
            if event.kind != "resolved":
                self._sla_terms(int(incident_id), payload)
            self.db.execute(
                "INSERT INTO incident_events (incident_id, at, kind, severity, summary) VALUES (?, ?, ?, ?, ?)",
                (incident_id, event.at, event.kind, severity, event.summary),
            )
            action = {"opened": "open", "resolved": "resolve"}.get(event.kind, "update")
            body = json.dumps({**payload, "incident_id": incident_id}, default=str)
            if event.kind != "opened":
                # Follow-ups go where the incident's ticket was opened, whatever the routing says now.
                opened = [
                    r[0]
                    for r in self.db.execute(
                        "SELECT DISTINCT sink FROM outbox WHERE incident_id = ? AND action = 'open' ORDER BY sink",
                        (incident_id,),
                    )
                ]
                sinks = opened
            for sink in sinks:
                self.db.execute(
                    "INSERT INTO outbox (incident_id, sink, action, payload, created_at, next_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (incident_id, sink, action, body, event.at, event.at),
                )
        return int(incident_id)

    def _sla_terms(self, incident_id: int, payload: dict[str, Any]) -> None:
        """Keep the incident's SLA terms (a priority change replaces the targets, not the outcomes)."""
        sla, calendar = payload.get("sla"), payload.get("calendar")
        if not sla or calendar is None:
            return
        self.db.execute(
            "INSERT INTO incident_sla (incident_id, client, priority, response, resolve, calendar, timezone, language)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET priority = excluded.priority,"
            " response = excluded.response, resolve = excluded.resolve",
            (
                incident_id,
                str(payload.get("client") or "default"),
                str(payload.get("priority") or ""),
                float(sla["response"]),
                float(sla["resolve"]),
                json.dumps(calendar, sort_keys=True),
                str(payload.get("timezone") or "UTC"),
                str(payload.get("language") or "en"),
            ),
        )

    # -- silences ----------------------------------------------------------------------

    def silence(self, site: str, at: float) -> str | None:
        """The reason ``site`` is silenced at ``at``, or None."""
        row = self.db.execute(
            "SELECT reason FROM silences WHERE site = ? AND until > ? AND created_at <= ? ORDER BY until DESC LIMIT 1",
            (site, at, at),
        ).fetchone()
        return str(row[0]) if row else None

    # -- result history (for availability reports) ---------------------------------------

    def append_history(self, rows: Iterable[tuple[str, str, float, str, float]]) -> None:
        """Add (site, check, at, status, duration) rows in one transaction."""
        with self.transaction():
            self.db.executemany(
                "INSERT INTO results (site, check_name, at, status, duration) VALUES (?, ?, ?, ?, ?)", rows
            )

    def prune_history(self, before: float) -> int:
        """Drop results older than ``before``; return how many went."""
        return self.db.execute("DELETE FROM results WHERE at < ?", (before,)).rowcount

    def history(self, site: str, since: float) -> list[tuple[str, float, str, float]]:
        """(check, at, status, duration) of ``site`` since ``since``, oldest first."""
        rows = self.db.execute(
            "SELECT check_name, at, status, duration FROM results WHERE site = ? AND at >= ? ORDER BY at", (site, since)
        )
        return [tuple(r) for r in rows]

    # -- outbox ----------------------------------------------------------------------

    def due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        """Pending rows whose time has come, each the oldest undelivered row of its incident and sink.

        Later actions of an incident wait for earlier ones, so a desk never sees a
        resolve before its open, even while retries back off.
        """
        rows = self.db.execute(
            """
            SELECT o.*, t.ref AS ticket_ref FROM outbox o
            LEFT JOIN ticket_refs t ON t.incident_id = o.incident_id AND t.sink = o.sink
            WHERE o.state = 'pending' AND o.next_at <= ?
              AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.incident_id = o.incident_id AND e.sink = o.sink
                              AND e.state = 'pending' AND e.id < o.id)
            ORDER BY o.id LIMIT ?
            """,
            (now, limit),
        ).fetchall()
        return [
            OutboxRow(
                r["id"],
                r["incident_id"],
                r["sink"],
                r["action"],
                json.loads(r["payload"]),
                r["attempts"],
                r["ticket_ref"],
            )
            for r in rows
        ]

    def delivered(self, row: OutboxRow, ref: str | None) -> None:
        """Mark a row done; an ``open`` stores its sink's ticket reference for the incident."""
        with self.transaction():
            self.db.execute("UPDATE outbox SET state = 'done', attempts = attempts + 1 WHERE id = ?", (row.id,))
            if ref is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO ticket_refs (incident_id, sink, ref) VALUES (?, ?, ?)",
                    (row.incident_id, row.sink, ref),
                )
                # The first reference also stays on the incident, for people reading the table.
                self.db.execute(
                    "UPDATE incidents SET ticket_ref = COALESCE(ticket_ref, ?) WHERE id = ?", (ref, row.incident_id)
                )

    def retry(self, row: OutboxRow, error: str, next_at: float) -> None:
        """Keep a row pending until ``next_at`` after a retryable failure."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?",
            (error[:500], next_at, row.id),
        )

    def dead(self, row: OutboxRow, error: str) -> None:
        """Give up on a row after a permanent failure (kept for the operator to see)."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, state = 'dead' WHERE id = ?",
            (error[:500], row.id),
        )

    def dead_letters(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest actions given up on, for /api/status and the operator."""
        rows = self.db.execute(
            "SELECT o.id, o.sink, o.action, o.last_error, o.created_at, i.key FROM outbox o"
            " JOIN incidents i ON i.id = o.incident_id WHERE o.state = 'dead' ORDER BY o.id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def outbox_stats(self, now: float) -> dict[str, float]:
        """Pending and dead counts and the age of the oldest pending row."""
        pending, oldest = self.db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        dead = self.db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
        return {"pending": pending, "dead": dead, "oldest_pending_age": now - oldest if oldest else 0.0}

    def transaction(self) -> _Tx:
        """One write transaction (``BEGIN IMMEDIATE``), for this class and the modules of this package."""
        return _Tx(self.db)


class _Tx:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")

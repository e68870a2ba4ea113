"""The embedded default sink: tickets in the agent's own SQLite store."""

from __future__ import annotations

from typing import Any

from sitewatch.store.database import Store
from sitewatch.tickets.render import body, comment, title

__all__ = ["LocalSink"]


class LocalSink:
    """Keeps tickets next to the incidents; `sitewatch tickets` reads them."""

    name = "local"

    def __init__(self, store: Store) -> None:
        self.db = store.db

    async def find_open(self, key: str) -> str | None:
        """The open local ticket for ``key``, if any."""
        row = self.db.execute("SELECT id FROM tickets WHERE key = ? AND status != 'closed'", (key,)).fetchone()
        return str(row[0]) if row else None

    async def open(self, payload: dict[str, Any]) -> str:
        """Create a ticket."""
        cursor = self.db.execute(
            "INSERT INTO tickets (key, title, body, priority, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'open', ?, ?)",
            (payload["key"], title(payload), body(payload), payload["priority"], payload["at"], payload["at"]),
        )
        return str(cursor.lastrowid)

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Add a comment."""
        self._comment(ref, payload, status=None)

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Add the recovery comment and close."""
        self._comment(ref, payload, status="closed")

    def _comment(self, ref: str, payload: dict[str, Any], status: str | None) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT INTO ticket_comments (ticket_id, at, body) VALUES (?, ?, ?)",
                (int(ref), payload["at"], comment(payload)),
            )
            self.db.execute(
                "UPDATE tickets SET updated_at = ?, status = COALESCE(?, status), priority = COALESCE(?, priority)"
                " WHERE id = ?",
                (payload["at"], status, payload.get("priority") if status is None else None, int(ref)),
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

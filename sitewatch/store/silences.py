"""Silences as objects people manage: who silenced which site, why, until when; listed and lifted.

A silence stops new incidents for a site (results are still recorded and exported); lifting one
ends it now. They live in the store's ``silences`` table, so a running agent, the CLI and the
status page all see the same ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sitewatch.store.database import Store

__all__ = ["Silence", "active", "add", "lift"]


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence: ``until`` is when it ends (earlier than planned once lifted)."""

    id: int
    site: str
    created_at: float
    until: float
    reason: str
    author: str

    def as_dict(self) -> dict[str, Any]:
        """The API form: UTC timestamps, stable English keys."""
        return {
            "id": self.id,
            "site": self.site,
            "author": self.author,
            "reason": self.reason,
            "created_at": _iso(self.created_at),
            "until": _iso(self.until),
        }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add(store: Store, site: str, *, until: float, reason: str, author: str, at: float) -> int:
    """Silence ``site`` from ``at`` until ``until``; returns the silence's id."""
    cursor = store.db.execute(
        "INSERT INTO silences (site, until, reason, created_at, author) VALUES (?, ?, ?, ?, ?)",
        (site, until, reason, at, author),
    )
    return int(cursor.lastrowid or 0)


def active(store: Store, at: float) -> list[Silence]:
    """Silences in force at ``at``, ending soonest first."""
    rows = store.db.execute(
        "SELECT id, site, created_at, until, reason, COALESCE(author, '') FROM silences"
        " WHERE until > ? AND created_at <= ? ORDER BY until, id",
        (at, at),
    ).fetchall()
    return [Silence(*row) for row in rows]


def lift(store: Store, target: str, at: float, by: str) -> list[int]:
    """End now the active silences with id ``target`` (digits) or of site ``target``; their ids."""
    where, value = ("id = ?", int(target)) if target.isdigit() else ("site = ?", target)
    ids = [
        int(row[0])
        for row in store.db.execute(
            f"SELECT id FROM silences WHERE {where} AND until > ? AND created_at <= ?",  # noqa: S608 - fixed columns
            (value, at, at),
        )
    ]
    store.db.executemany(
        "UPDATE silences SET until = ?, lifted_at = ?, lifted_by = ? WHERE id = ?", [(at, at, by, i) for i in ids]
    )
    return ids

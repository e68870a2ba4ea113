"""``sitewatch tickets``: the local ticket store for the engineer on duty."""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path

from sitewatch.reports.table import render_table

__all__ = ["tickets_command"]


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


def tickets_command(db_path: Path, action: str, number: int | None) -> int:
    """List, show, acknowledge or close local tickets; exit 1 when the ticket does not exist."""
    if not db_path.exists():
        print(f"sitewatch: no ticket store at {db_path} (has the agent run with this config?)", file=sys.stderr)
        return 1
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA busy_timeout=5000")
    try:
        if action == "list":
            rows = db.execute(
                "SELECT id, status, priority, created_at, title FROM tickets ORDER BY status = 'closed', id DESC"
            ).fetchall()
            table = [[str(i), s, p, _when(c), t] for i, s, p, c, t in rows]
            print(render_table(["ID", "STATUS", "PRIO", "OPENED (UTC)", "TITLE"], table) if table else "no tickets")
            return 0
        ticket = db.execute(
            "SELECT id, status, priority, created_at, title, body FROM tickets WHERE id = ?", (number,)
        ).fetchone()
        if ticket is None:
            print(f"sitewatch: no ticket {number}; `sitewatch tickets list` shows them", file=sys.stderr)
            return 1
        if action == "show":
            print(f"#{ticket[0]} [{ticket[1]}] {ticket[2]}  opened {_when(ticket[3])} UTC\n{ticket[4]}\n\n{ticket[5]}")
            for at, body in db.execute(
                "SELECT at, body FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (number,)
            ):
                print(f"\n--- {_when(at)} UTC\n{body}")
            return 0
        status = {"ack": "acked", "close": "closed"}[action]
        db.execute("UPDATE tickets SET status = ? WHERE id = ?", (status, number))
        print(f"ticket {number} is now {status}")
        return 0
    finally:
        db.close()

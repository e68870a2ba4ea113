"""``sitewatch tickets``: the local ticket store for the engineer on duty."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sqlite3
import sys
import time
from pathlib import Path

from sitewatch.reports.table import render_table

__all__ = ["acting_person", "tickets_command"]

#: Open tickets first, most urgent priority first, oldest first within a priority; closed last.
_LIST = """
    SELECT id, status, priority, created_at, acked_by, acked_at, title FROM tickets
    ORDER BY status = 'closed', priority, created_at, id
"""


def _when(ts: float) -> str:
    """Local time with its zone, as people read it: ``2026-12-07 03:15 MSK``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def acting_person(by: str | None) -> str:
    """Who is acting (acks, silences): ``--by``, else the person behind sudo, else the login name."""
    return by or os.environ.get("SUDO_USER") or getpass.getuser()


def tickets_command(db_path: Path, action: str, number: int | None, by: str | None = None) -> int:
    """List, show, acknowledge or close local tickets; exit 1 when the ticket does not exist."""
    if not db_path.exists():
        print(f"sitewatch: no ticket store at {db_path} (has the agent run with this config?)", file=sys.stderr)
        return 1
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA busy_timeout=5000")
    try:
        if action == "list":
            table = [
                [str(i), s, p, _when(c), f"{who} {_when(at)}" if who and at else "-", t]
                for i, s, p, c, who, at, t in db.execute(_LIST)
            ]
            headers = ["ID", "STATUS", "PRIO", "OPENED", "ACKED", "TITLE"]
            print(render_table(headers, table) if table else "no tickets")
            return 0
        ticket = db.execute(
            "SELECT id, status, priority, created_at, title, body, acked_by, acked_at FROM tickets WHERE id = ?",
            (number,),
        ).fetchone()
        if ticket is None:
            print(f"sitewatch: no ticket {number}; `sitewatch tickets list` shows them", file=sys.stderr)
            return 1
        if action == "show":
            acked = f"  acked by {ticket[6]} {_when(ticket[7])}" if ticket[6] and ticket[7] else ""
            print(f"#{ticket[0]} [{ticket[1]}] {ticket[2]}  opened {_when(ticket[3])}{acked}")
            print(f"{ticket[4]}\n\n{ticket[5]}")
            for at, body in db.execute(
                "SELECT at, body FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (number,)
            ):
                print(f"\n--- {_when(at)}\n{body}")
            return 0
        if action == "ack":
            who = acting_person(by)
            db.execute(
                "UPDATE tickets SET status = 'acked', acked_by = ?, acked_at = ? WHERE id = ? AND status = 'open'",
                (who, time.time(), number),
            )
            state = db.execute("SELECT status, acked_by FROM tickets WHERE id = ?", (number,)).fetchone()
            print(f"ticket {number} is {state[0]}" + (f" (acked by {state[1]})" if state[1] else ""))
            return 0
        db.execute("UPDATE tickets SET status = 'closed' WHERE id = ?", (number,))
        print(f"ticket {number} is now closed")
        return 0
    finally:
        db.close()

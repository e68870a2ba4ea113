"""``sitewatch tickets``: the local ticket store for the engineer on duty.

``ack``, ``wait`` and ``resume`` also write the incident's SLA life (:mod:`sitewatch.store.life`):
the ack is the response, a wait stops the resolve clock until ``resume``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import time
from pathlib import Path

from sitewatch.i18n import local_time
from sitewatch.incidents.deadlines import Goal
from sitewatch.reports.table import render_table
from sitewatch.store.database import Store
from sitewatch.store.life import Kind, change, open_incident_id
from sitewatch.store.sla import IncidentSla, clocks

__all__ = ["acting_person", "tickets_command"]

#: Open tickets first, most urgent priority first, oldest first within a priority; closed last.
_LIST = """
    SELECT t.id, t.status, t.priority, t.created_at, t.acked_by, t.acked_at, t.title, r.incident_id FROM tickets t
    LEFT JOIN ticket_refs r ON r.sink = 'local' AND r.ref = CAST(t.id AS TEXT)
    ORDER BY t.status = 'closed', t.priority, t.created_at, t.id
"""


def _when(ts: float) -> str:
    """Local time with its zone, as people read it: ``2026-12-07 03:15 MSK``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def acting_person(by: str | None) -> str:
    """Who is acting (acks, silences): ``--by``, else the person behind sudo, else the login name."""
    return by or os.environ.get("SUDO_USER") or getpass.getuser()


def _goal(sla: IncidentSla | None, kind: str) -> str:
    """A deadline in the client's zone and language with how it stands: ``Dec 7, 2026, 09:30 MSK (met)``."""
    if sla is None:
        return "-"
    goal: Goal = getattr(sla.clock, kind)
    when = local_time(goal.deadline, sla.timezone, sla.language) if goal.deadline is not None else "-"
    return f"{when} ({goal.outcome})"


def tickets_command(
    db_path: Path, action: str, number: int | None, by: str | None = None, reason: str | None = None
) -> int:
    """List, show, acknowledge, wait on, resume or close local tickets; exit 1 when the ticket does not exist."""
    if not db_path.exists():
        print(f"sitewatch: no ticket store at {db_path} (has the agent run with this config?)", file=sys.stderr)
        return 1
    store = Store(db_path)
    db = store.db
    now = time.time()
    try:
        if action == "list":
            rows = db.execute(_LIST).fetchall()
            sla = clocks(store, [r[7] for r in rows if r[7] is not None], now)
            table = [
                [str(i), s, p, _when(c), f"{who} {_when(at)}" if who and at else "-"]
                + [_goal(sla.get(inc), "response"), _goal(sla.get(inc), "resolve"), t]
                for i, s, p, c, who, at, t, inc in rows
            ]
            headers = ["ID", "STATUS", "PRIO", "OPENED", "ACKED", "RESPOND BY", "RESOLVE BY", "TITLE"]
            print(render_table(headers, table) if table else "no tickets")
            return 0
        ticket = db.execute(
            "SELECT id, status, priority, created_at, title, body, acked_by, acked_at, key FROM tickets WHERE id = ?",
            (number,),
        ).fetchone()
        if ticket is None:
            print(f"sitewatch: no ticket {number}; `sitewatch tickets list` shows them", file=sys.stderr)
            return 1
        incident = _incident(store, int(ticket[0]), str(ticket[8]))
        if action == "show":
            acked = f"  acked by {ticket[6]} {_when(ticket[7])}" if ticket[6] and ticket[7] else ""
            print(f"#{ticket[0]} [{ticket[1]}] {ticket[2]}  opened {_when(ticket[3])}{acked}")
            mine = clocks(store, [incident], now).get(incident) if incident is not None else None
            if mine is not None:
                print(f"respond by {_goal(mine, 'response')}  resolve by {_goal(mine, 'resolve')}")
                if mine.waiting_reason is not None:
                    print(f"waiting for the client: {mine.waiting_reason or '(no reason given)'}")
            print(f"{ticket[4]}\n\n{ticket[5]}")
            for at, body in db.execute(
                "SELECT at, body FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (number,)
            ):
                print(f"\n--- {_when(at)}\n{body}")
            return 0
        if action in ("ack", "wait", "resume"):
            return _life(store, int(ticket[0]), incident, action, who=acting_person(by), reason=reason or "", now=now)
        db.execute("UPDATE tickets SET status = 'closed' WHERE id = ?", (number,))
        print(f"ticket {number} is now closed")
        return 0
    finally:
        store.close()


def _incident(store: Store, ticket: int, key: str) -> int | None:
    """The incident a local ticket belongs to: its reference, else the open incident of its key."""
    row = store.db.execute(
        "SELECT incident_id FROM ticket_refs WHERE sink = 'local' AND ref = ?", (str(ticket),)
    ).fetchone()
    return int(row[0]) if row else open_incident_id(store, key)


def _life(store: Store, ticket: int, incident: int | None, action: str, *, who: str, reason: str, now: float) -> int:
    """Record an ack, a wait or a resume on the incident and show it on the ticket."""
    db = store.db
    recorded = False
    if incident is not None:
        kind: Kind = "ack" if action == "ack" else "wait" if action == "wait" else "resume"
        recorded = change(store, incident, kind, at=now, by=who, reason=reason, source="local")
    if action in ("ack", "wait"):  # a wait implies the response: the ticket shows who answered
        db.execute(
            "UPDATE tickets SET acked_by = ?, acked_at = ? WHERE id = ? AND acked_by IS NULL", (who, now, ticket)
        )
    status = {"ack": "acked", "wait": "waiting", "resume": "acked"}[action]
    allowed = {"ack": ("open",), "wait": ("open", "acked"), "resume": ("waiting",)}[action]
    marks = ",".join("?" * len(allowed))
    db.execute(f"UPDATE tickets SET status = ? WHERE id = ? AND status IN ({marks})", (status, ticket, *allowed))  # noqa: S608
    state = db.execute("SELECT status, acked_by FROM tickets WHERE id = ?", (ticket,)).fetchone()
    note = "" if recorded or incident is None else "; the incident's clock already shows this"
    print(f"ticket {ticket} is {state[0]}" + (f" (acked by {state[1]})" if state[1] else "") + note)
    return 0

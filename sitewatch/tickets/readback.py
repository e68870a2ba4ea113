"""The SLA clock follows the desk: each open ticket's status history is read back on a schedule.

Per sink, ``status_map`` names the desk statuses that mean *acknowledged*, *waiting for the
client* and *resolved*. Every status change the desk reports after the last one read becomes a
life change (:func:`sitewatch.store.life.change`) with the desk's own timestamp, ``source`` the
sink's name and ``by`` the assignee (or whoever made the change):

- acknowledged: the response (and the end of a wait);
- waiting: the resolve clock stops (waiting implies the response);
- resolved: the clock stops as for a wait — the desk says the work is done; the incident itself
  resolves when the site recovers, and a reopened ticket resumes the clock;
- any other status (a ticket moved back to New/open): the end of a wait.

A desk that cannot be read is skipped and logged once; its changes are read, with their own
times, on the next successful read — an outage never stops the clock (it runs on the agent) and
never loses a change (the history is read, not only the current status).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from sitewatch.config.tickets import JiraSinkConfig, RedmineSinkConfig, RtSinkConfig, SinkConfig, StatusMap
from sitewatch.logs import event
from sitewatch.store.database import Store
from sitewatch.store.life import Kind, change, life
from sitewatch.tickets import SinkError
from sitewatch.tickets.desk_status import DeskHistory, JiraStatus, RedmineStatus, RtStatus, StatusReader

__all__ = ["DeskReadBack", "Watched", "apply_history", "build_readers"]


@dataclass(frozen=True, slots=True)
class Watched:
    """One sink whose tickets are read back: its reader, its status map and how often."""

    reader: StatusReader
    status_map: StatusMap
    every: float


def build_readers(entries: tuple[SinkConfig, ...], session: aiohttp.ClientSession) -> dict[str, Watched]:
    """A reader for every Redmine, RT and Jira sink that has a ``status_map``."""
    out: dict[str, Watched] = {}
    for e in entries:
        if not isinstance(e, RedmineSinkConfig | RtSinkConfig | JiraSinkConfig) or e.status_map is None:
            continue
        reader: StatusReader
        if isinstance(e, RedmineSinkConfig):
            reader = RedmineStatus(e.name, session, url=e.url, api_key=e.api_key)
        elif isinstance(e, RtSinkConfig):
            reader = RtStatus(e.name, session, url=e.url, username=e.username, password=e.password, token=e.token)
        else:
            reader = JiraStatus(e.name, session, url=e.url, email=e.email, api_token=e.api_token, pat=e.pat)
        out[e.name] = Watched(reader, e.status_map, e.read_every)
    return out


def _meaning(status: str, mapping: StatusMap) -> str:
    folded = status.casefold()
    for state in ("acknowledged", "waiting", "resolved"):
        if any(folded == s.casefold() for s in getattr(mapping, state)):
            return state
    return "other"


def apply_history(
    store: Store, incident_id: int, sink: str, history: DeskHistory, *, mapping: StatusMap, now: float
) -> list[Kind]:
    """Record the changes of ``history`` not read before; return the kinds recorded, in order."""
    row = store.db.execute(
        "SELECT i.opened_at, s.seen_until, s.seen_seq FROM incidents i"
        " LEFT JOIN desk_seen s ON s.incident_id = i.id AND s.sink = ? WHERE i.id = ?",
        (sink, incident_id),
    ).fetchone()
    if row is None:
        return []
    opened_at = float(row[0])
    seen = (float(row[1]), int(row[2])) if row[1] is not None else None
    before = len(life(store, incident_id).events)
    latest = seen
    for step in sorted(history.changes, key=lambda c: (c.at, c.seq)):
        mark = (step.at, step.seq)
        if seen is not None and mark <= seen:
            continue
        # The desk's clock may run a little apart from ours: keep its times inside the incident's life.
        at = min(max(step.at, opened_at), now)
        by = history.assignee or step.by
        plan: dict[str, list[tuple[Kind, str]]] = {
            "acknowledged": [("ack", ""), ("resume", "")],
            "waiting": [("wait", f"{sink}: {step.status}")],
            "resolved": [("wait", f"{sink}: {step.status} (resolved in the desk)")],
            "other": [("resume", "")],
        }
        for kind, reason in plan[_meaning(step.status, mapping)]:
            change(store, incident_id, kind, at=at, by=by, reason=reason, source=sink)
        latest = mark if latest is None else max(latest, mark)
    if latest is not None and latest != seen:
        store.db.execute(
            "INSERT INTO desk_seen (incident_id, sink, seen_until, seen_seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (incident_id, sink) DO UPDATE SET seen_until = excluded.seen_until,"
            " seen_seq = excluded.seen_seq",
            (incident_id, sink, *latest),
        )
    # What was written, the ack a wait implies included (life orders by time, so read the new rows by id).
    rows = store.db.execute(
        "SELECT kind FROM incident_life WHERE incident_id = ? ORDER BY id LIMIT -1 OFFSET ?", (incident_id, before)
    )
    return [r[0] for r in rows]


class DeskReadBack:
    """Reads every open ticket of the watched sinks, each sink at its own pace."""

    def __init__(self, store: Store, watched: Mapping[str, Watched], log: logging.Logger) -> None:
        self._store = store
        self.watched = dict(watched)
        self._log = log
        self._next: dict[str, float] = {}
        self._failing: set[str] = set()

    def due_in(self, now: float) -> float:
        """Seconds until some sink is due (a minute when none is watched)."""
        if not self.watched:
            return 60.0
        return max(0.0, min(self._next.get(name, now) for name in self.watched) - now)

    async def poll_once(self, now: float) -> int:
        """Read the sinks that are due; return how many life changes were recorded."""
        total = 0
        for name, watched in self.watched.items():
            if self._next.get(name, now) > now:
                continue
            self._next[name] = now + watched.every
            total += await self._read_sink(name, watched, now)
        return total

    async def _read_sink(self, name: str, watched: Watched, now: float) -> int:
        refs = self._store.db.execute(
            "SELECT r.incident_id, r.ref FROM ticket_refs r JOIN incidents i ON i.id = r.incident_id"
            " WHERE r.sink = ? AND i.resolved_at IS NULL ORDER BY r.incident_id",
            (name,),
        ).fetchall()
        total = 0
        for incident_id, ref in refs:
            try:
                history = await watched.reader.history(str(ref))
            except (SinkError, KeyError, TypeError, ValueError, AttributeError) as exc:  # down, or answering nonsense
                if name not in self._failing:
                    event(self._log, logging.WARNING, "desk_read_failed", sink=name, ref=ref, error=str(exc))
                self._failing.add(name)
                return total  # the desk is down: try it all again next time
            kinds = apply_history(self._store, int(incident_id), name, history, mapping=watched.status_map, now=now)
            for kind in kinds:
                event(self._log, logging.INFO, f"incident_{kind}", sink=name, ref=ref, by=history.assignee)
            total += len(kinds)
        if name in self._failing:
            self._failing.discard(name)
            event(self._log, logging.INFO, "desk_read_recovered", sink=name)
        return total

"""Reading a ticket's status history back from Redmine, RT and Jira.

Each reader returns the ticket's status changes, oldest first, with the desk's own timestamps
(Redmine journals, RT transactions, Jira's changelog) and who the ticket is assigned to now. The
whole history, not only the current status, so that a change made and undone while the agent
could not reach the desk is still recorded when it can again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from sitewatch.tickets.http_errors import call_json, desk_headers

__all__ = ["DeskHistory", "JiraStatus", "RedmineStatus", "RtStatus", "StatusChange", "StatusReader"]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The ticket entered ``status`` at ``at`` (unix seconds, the desk's clock); ``by`` made the change.

    ``seq`` is the desk's id of the change (journal, transaction, changelog entry; 0 for the
    creation): desks date to the second, so two changes in one second are told apart by it.
    """

    at: float
    status: str
    by: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class DeskHistory:
    """A ticket's statuses in order (the first is the one it was created in) and its assignee now."""

    changes: tuple[StatusChange, ...]
    assignee: str


class StatusReader(Protocol):
    """Reads one desk's ticket history; raises :class:`~sitewatch.tickets.SinkError` when it cannot."""

    name: str

    async def history(self, ref: str) -> DeskHistory:
        """The status history of ticket ``ref``."""


def _ts(text: str | None) -> float | None:
    """A desk's ISO-8601 time (``2026-12-07T11:55:28Z``, ``…+0300``) as unix seconds."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")  # Jira's +0300 form
        except ValueError:
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _seq(value: object) -> int:
    """A desk's change id (a number, sometimes as text); 0 when it gives none."""
    try:
        return int(str(value))
    except ValueError:
        return 0


class RedmineStatus:
    """``GET /issues/<id>.json?include=journals``: status changes are journal details ``status_id``."""

    def __init__(self, name: str, session: aiohttp.ClientSession, *, url: str, api_key: str) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/")
        self._headers = {"X-Redmine-API-Key": api_key}
        self._names: dict[str, str] = {}

    async def _get(self, path: str) -> Any:
        return await call_json(self._session, "GET", self._url + path, self._headers, f"redmine {self.name} GET {path}")

    async def history(self, ref: str) -> DeskHistory:
        """The issue's statuses from its journals; ids are named through ``/issue_statuses.json``."""
        issue = (await self._get(f"/issues/{int(ref)}.json?include=journals"))["issue"]
        journals = [
            (j, d)
            for j in issue.get("journals") or ()
            for d in j.get("details") or ()
            if d.get("property") == "attr" and d.get("name") == "status_id"
        ]
        if any(str(d.get("new_value")) not in self._names for _, d in journals) or not self._names:
            statuses = await self._get("/issue_statuses.json")
            self._names = {str(s["id"]): str(s["name"]) for s in statuses.get("issue_statuses", [])}
        created = _ts(issue.get("created_on")) or 0.0
        first = str(journals[0][1].get("old_value")) if journals else str(issue["status"]["id"])
        changes = [StatusChange(created, self._names.get(first, first), str(issue.get("author", {}).get("name", "")))]
        for journal, detail in journals:
            status = str(detail.get("new_value"))
            at = _ts(journal.get("created_on")) or created
            changes.append(
                StatusChange(
                    at,
                    self._names.get(status, status),
                    str(journal.get("user", {}).get("name", "")),
                    _seq(journal.get("id")),
                )
            )
        return DeskHistory(tuple(changes), str((issue.get("assigned_to") or {}).get("name", "")))


class RtStatus:
    """REST2 ``/ticket/<id>`` (Owner) and its ``/history`` transactions of type ``Status``."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/") + "/REST/2.0"
        self._headers = desk_headers(token, "token", username, password)

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        what = f"rt {self.name} GET {path}"
        return await call_json(self._session, "GET", self._url + path, self._headers, what, params=params)

    async def history(self, ref: str) -> DeskHistory:
        """Status transactions in order; the status a ticket was created in is the first ``OldValue`` (or now's)."""
        ticket = await self._get(f"/ticket/{int(ref)}")
        fields = {"fields": "Type,Created,Field,OldValue,NewValue,Creator", "per_page": "100"}
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            found = await self._get(f"/ticket/{int(ref)}/history", {**fields, "page": str(page)})
            items += found.get("items", [])
            if not found.get("next_page") or page >= 20:  # 2,000 transactions: a runaway ticket, not ours
                break
            page += 1
        statuses = [
            i for i in items if i.get("Type") == "Status" or (i.get("Type") == "Set" and i.get("Field") == "Status")
        ]
        created = _ts(ticket.get("Created")) or 0.0
        first = str(statuses[0].get("OldValue")) if statuses else str(ticket.get("Status", ""))
        changes = [StatusChange(created, first, str((ticket.get("Creator") or {}).get("id", "")))]
        for item in statuses:
            at = _ts(item.get("Created")) or created
            changes.append(
                StatusChange(
                    at,
                    str(item.get("NewValue", "")),
                    str((item.get("Creator") or {}).get("id", "")),
                    _seq(item.get("id")),
                )
            )
        owner = str((ticket.get("Owner") or {}).get("id", ""))
        return DeskHistory(tuple(changes), "" if owner == "Nobody" else owner)


class JiraStatus:
    """``GET /rest/api/2/issue/<key>?fields=status,assignee,created&expand=changelog``."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        email: str | None = None,
        api_token: str | None = None,
        pat: str | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/")
        self._headers = desk_headers(pat, "Bearer", email, api_token)

    async def history(self, ref: str) -> DeskHistory:
        """The changelog's ``status`` items in order (Jira lists histories newest first on some versions)."""
        path = f"/rest/api/2/issue/{ref}"
        params = {"fields": "status,assignee,created", "expand": "changelog"}
        what = f"jira {self.name} GET {path}"
        issue = await call_json(self._session, "GET", self._url + path, self._headers, what, params=params)
        fields = issue.get("fields") or {}
        histories = sorted(
            (issue.get("changelog") or {}).get("histories") or (), key=lambda h: _ts(h.get("created")) or 0
        )
        moves = [(h, i) for h in histories for i in h.get("items") or () if i.get("field") == "status"]
        created = _ts(fields.get("created")) or 0.0
        first = str(moves[0][1].get("fromString")) if moves else str((fields.get("status") or {}).get("name", ""))
        changes = [StatusChange(created, first, "")]
        for history, item in moves:
            who = str((history.get("author") or {}).get("displayName", ""))
            at = _ts(history.get("created")) or created
            changes.append(StatusChange(at, str(item.get("toString", "")), who, _seq(history.get("id"))))
        assignee = str((fields.get("assignee") or {}).get("displayName", ""))
        return DeskHistory(tuple(changes), assignee)

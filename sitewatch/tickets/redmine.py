"""``redmine`` sink: Redmine's REST API, the incident key in a custom field.

Redmine lets two concurrent creates with the same key both succeed, so opening is
search → create → search again: the lowest issue id wins and any other is closed as
a duplicate. Its default "Resolved" status is not a closed one, so the status used
on recovery comes from config.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from sitewatch.tickets import SinkError
from sitewatch.tickets.http_errors import call_json
from sitewatch.tickets.render import body, comment, title

__all__ = ["RedmineSink"]


class RedmineSink:
    """Opens, comments on and closes Redmine issues."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        api_key: str,
        project: str,
        tracker_id: int,
        key_field_id: int,
        closed_status_id: int,
        priority_ids: dict[str, int],
    ) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/")
        self._headers = {"X-Redmine-API-Key": api_key, "Content-Type": "application/json"}
        self._project = project
        self._tracker = tracker_id
        self._field = key_field_id
        self._closed = closed_status_id
        self._priorities = priority_ids

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"redmine {self.name} {method} {path.split('?', maxsplit=1)[0]}"
        return await call_json(self._session, method, self._url + path, self._headers, what, **kwargs)

    async def _open_ids(self, key: str) -> list[int]:
        params = {"project_id": self._project, "status_id": "open", f"cf_{self._field}": key, "sort": "id"}
        found = await self._call("GET", "/issues.json", params=params)
        return sorted(int(issue["id"]) for issue in found.get("issues", []))

    async def find_open(self, key: str) -> str | None:
        """The oldest open issue carrying ``key``."""
        ids = await self._open_ids(key)
        return str(ids[0]) if ids else None

    async def open(self, payload: dict[str, Any]) -> str:
        """Create an issue, then make sure it is the only open one for its key."""
        issue = {
            "project_id": self._project,
            "tracker_id": self._tracker,
            "subject": title(payload)[:255],
            "description": body(payload),
            "custom_fields": [{"id": self._field, "value": payload["key"]}],
        }
        if (priority := self._priorities.get(payload["priority"])) is not None:
            issue["priority_id"] = priority
        created = await self._call("POST", "/issues.json", json={"issue": issue})
        mine = int(created["issue"]["id"])
        ids = await self._open_ids(payload["key"])
        if ids and ids[0] != mine:  # another agent (or a lost response) got there first
            await self._close(mine, f"Duplicate of #{ids[0]} (opened concurrently by sitewatch).")
            return str(ids[0])
        return str(mine)

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment, and move the priority with the severity."""
        issue: dict[str, Any] = {"notes": comment(payload)}
        if (priority := self._priorities.get(payload.get("priority", ""))) is not None:
            issue["priority_id"] = priority
        await self._call("PUT", f"/issues/{int(ref)}.json", json={"issue": issue})

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment with the recovery and close."""
        await self._close(int(ref), comment(payload))

    async def _close(self, issue_id: int, notes: str) -> None:
        try:
            await self._call(
                "PUT", f"/issues/{issue_id}.json", json={"issue": {"status_id": self._closed, "notes": notes}}
            )
        except SinkError as exc:
            if "HTTP 404" in str(exc):  # deleted by a human: nothing left to close
                return
            raise

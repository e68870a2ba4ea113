"""``rt`` sink: Request Tracker REST2, the incident key in a ticket custom field.

The custom field must be applied to the queue (or globally), or RT drops its values
without a word; `.ci/rt.sh` shows how. Search is TicketSQL on active tickets.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from sitewatch.tickets.http_errors import call_json, desk_headers
from sitewatch.tickets.render import body, comment, title

__all__ = ["RtSink"]


class RtSink:
    """Creates, comments on and resolves RT tickets."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        queue: str,
        key_field: str,
        priorities: dict[str, int],
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/") + "/REST/2.0"
        self._headers = desk_headers(token, "token", username, password)  # an RT auth token, or a password
        self._queue = queue
        self._field = key_field
        self._priorities = priorities

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"rt {self.name} {method} {path}"
        return await call_json(self._session, method, self._url + path, self._headers, what, **kwargs)

    async def find_open(self, key: str) -> str | None:
        """The oldest active ticket with ``key`` in the custom field."""
        quoted = key.replace("'", "\\'")
        query = f"Queue = '{self._queue}' AND CF.{{{self._field}}} = '{quoted}' AND Status = '__Active__'"
        found = await self._call("GET", "/tickets", params={"query": query, "orderby": "id", "order": "ASC"})
        items = found.get("items", []) if found else []
        return str(items[0]["id"]) if items else None

    async def open(self, payload: dict[str, Any]) -> str:
        """Create the ticket."""
        document: dict[str, Any] = {
            "Queue": self._queue,
            "Subject": title(payload),
            "Content": body(payload),
            "ContentType": "text/plain",
            "CustomFields": {self._field: payload["key"]},
        }
        if (priority := self._priorities.get(payload["priority"])) is not None:
            document["Priority"] = priority
        created = await self._call("POST", "/ticket", json=document)
        return str(created["id"])

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment, and move the priority with the severity."""
        await self._comment(ref, payload)
        if (priority := self._priorities.get(payload.get("priority", ""))) is not None:
            await self._call("PUT", f"/ticket/{int(ref)}", json={"Priority": priority})

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment with the recovery and resolve."""
        await self._comment(ref, payload)
        await self._call("PUT", f"/ticket/{int(ref)}", json={"Status": "resolved"})

    async def _comment(self, ref: str, payload: dict[str, Any]) -> None:
        await self._call(
            "POST", f"/ticket/{int(ref)}/comment", json={"Content": comment(payload), "ContentType": "text/plain"}
        )

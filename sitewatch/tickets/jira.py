"""``jira`` sink: Jira Cloud / Data Center REST (v2 bodies are plain text, search via /search/jql).

The incident key becomes a label (``sitewatch-<hash>``: labels allow no spaces) for
JQL search; Jira's search is eventually consistent, so the issue key we get back is
kept in our own store and search is only the fallback for a lost response.
"""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp

from sitewatch.tickets import SinkError
from sitewatch.tickets.http_errors import call_json, desk_headers
from sitewatch.tickets.render import body, comment, title

__all__ = ["JiraSink", "label_for"]


def label_for(key: str) -> str:
    """The JQL-searchable label standing for an incident key."""
    return "sitewatch-" + hashlib.sha256(key.encode()).hexdigest()[:16]


class JiraSink:
    """Creates, comments on, re-prioritises and transitions Jira issues."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        project: str,
        issue_type: str,
        resolve_transition: str,
        priority_names: dict[str, str],
        email: str | None = None,
        api_token: str | None = None,
        pat: str | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._url = url.rstrip("/")
        # Data Center: a personal access token; Cloud: e-mail + API token.
        self._headers = desk_headers(pat, "Bearer", email, api_token)
        self._project = project
        self._issue_type = issue_type
        self._transition = resolve_transition
        self._priorities = priority_names

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"jira {self.name} {method} {path}"
        return await call_json(self._session, method, self._url + path, self._headers, what, **kwargs)

    async def find_open(self, key: str) -> str | None:
        """An unresolved issue with the incident's label (search may lag behind creation)."""
        jql = (
            f'project = "{self._project}" AND labels = "{label_for(key)}"'
            " AND statusCategory != Done ORDER BY created ASC"
        )
        found = await self._call(
            "POST", "/rest/api/3/search/jql", json={"jql": jql, "fields": ["key"], "maxResults": 5}
        )
        issues = found.get("issues", []) if found else []
        return str(issues[0]["key"]) if issues else None

    async def open(self, payload: dict[str, Any]) -> str:
        """Create the issue."""
        fields: dict[str, Any] = {
            "project": {"key": self._project},
            "issuetype": {"name": self._issue_type},
            "summary": title(payload)[:250],
            "description": body(payload),
            "labels": ["sitewatch", label_for(payload["key"])],
        }
        if (priority := self._priorities.get(payload["priority"])) is not None:
            fields["priority"] = {"name": priority}
        created = await self._call("POST", "/rest/api/2/issue", json={"fields": fields})
        return str(created["key"])

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment, and move the priority with the severity."""
        await self._call("POST", f"/rest/api/2/issue/{ref}/comment", json={"body": comment(payload)})
        if (priority := self._priorities.get(payload.get("priority", ""))) is not None:
            await self._call("PUT", f"/rest/api/2/issue/{ref}", json={"fields": {"priority": {"name": priority}}})

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Apply the configured transition by name, with the recovery comment in the same request."""
        available = await self._call("GET", f"/rest/api/2/issue/{ref}/transitions")
        transitions = available.get("transitions", []) if available else []
        wanted = self._transition.casefold()
        match = next((t for t in transitions if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            issue = await self._call("GET", f"/rest/api/2/issue/{ref}", params={"fields": "status"})
            category = (issue or {}).get("fields", {}).get("status", {}).get("statusCategory", {}).get("key")
            if category == "done":  # a retry after a lost response: it is resolved already
                return
            names = ", ".join(str(t.get("name")) for t in transitions) or "none"
            raise SinkError(
                f"jira {self.name}: issue {ref} has no transition {self._transition!r} (available: {names});"
                " set resolve_transition to one of them",
                permanent=True,
            )
        # One request: the transition and its comment succeed or fail together, so a retry never doubles the comment.
        document = {"transition": {"id": match["id"]}, "update": {"comment": [{"add": {"body": comment(payload)}}]}}
        await self._call("POST", f"/rest/api/2/issue/{ref}/transitions", json=document)

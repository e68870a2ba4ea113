"""The Jira sink against a local server that speaks the subset of Jira REST we use.

Endpoints emulated (Jira Cloud / Data Center):
``POST /rest/api/3/search/jql`` (labels + statusCategory JQL; lags behind creation, as Cloud does),
``POST /rest/api/2/issue``, ``GET /rest/api/2/issue/{key}``, ``PUT /rest/api/2/issue/{key}`` (priority),
``POST /rest/api/2/issue/{key}/comment``, ``GET|POST /rest/api/2/issue/{key}/transitions``
(with ``update.comment`` in the same request).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.store.database import Store
from sitewatch.tickets.jira import JiraSink, label_for
from sitewatch.tickets.outbox import Deliverer
from tests.helpers import serve
from tests.test_sinks import drain, write

AUTH = "Basic " + base64.b64encode(b"ops@example.com:tok").decode()


class FakeJira:
    """In-memory issues; search sees an issue only from the second search after its creation."""

    def __init__(self) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.unseen: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/rest/api/3/search/jql", self.search)
        app.router.add_post("/rest/api/2/issue", self.create)
        app.router.add_get("/rest/api/2/issue/{key}", self.get)
        app.router.add_put("/rest/api/2/issue/{key}", self.edit)
        app.router.add_post("/rest/api/2/issue/{key}/comment", self.comment)
        app.router.add_get("/rest/api/2/issue/{key}/transitions", self.transitions)
        app.router.add_post("/rest/api/2/issue/{key}/transitions", self.transition)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != AUTH:
            return web.json_response({"errorMessages": ["unauthorized"]}, status=401)
        return await handler(request)  # type: ignore[no-any-return]

    async def search(self, request: web.Request) -> web.Response:
        jql = (await request.json())["jql"]
        label = re.search(r'labels = "([^"]+)"', jql).group(1)  # type: ignore[union-attr]
        found = [
            {"key": k}
            for k, i in self.issues.items()
            if label in i["labels"] and i["status"] != "Done" and k not in self.unseen
        ]
        self.unseen.clear()  # eventually consistent: visible from the next search on
        return web.json_response({"issues": found})

    async def create(self, request: web.Request) -> web.Response:
        fields = (await request.json())["fields"]
        key = f"OPS-{len(self.issues) + 1}"
        self.issues[key] = {**fields, "status": "Open", "comments": []}
        self.unseen.add(key)
        return web.json_response({"key": key, "id": str(len(self.issues))}, status=201)

    async def get(self, request: web.Request) -> web.Response:
        issue = self.issues[request.match_info["key"]]
        category = "done" if issue["status"] == "Done" else "new"
        return web.json_response({"fields": {"status": {"name": issue["status"], "statusCategory": {"key": category}}}})

    async def edit(self, request: web.Request) -> web.Response:
        self.issues[request.match_info["key"]].update((await request.json())["fields"])
        return web.Response(status=204)

    async def comment(self, request: web.Request) -> web.Response:
        self.issues[request.match_info["key"]]["comments"].append((await request.json())["body"])
        return web.json_response({"id": "1"}, status=201)

    async def transitions(self, request: web.Request) -> web.Response:
        issue = self.issues[request.match_info["key"]]
        available = (
            [] if issue["status"] == "Done" else [{"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]
        )
        return web.json_response({"transitions": available})

    async def transition(self, request: web.Request) -> web.Response:
        data = await request.json()
        issue = self.issues[request.match_info["key"]]
        issue["status"] = {"21": "In Progress", "31": "Done"}[data["transition"]["id"]]
        for change in data.get("update", {}).get("comment", []):
            issue["comments"].append(change["add"]["body"])
        return web.Response(status=204)


@pytest.fixture
async def jira() -> AsyncIterator[tuple[FakeJira, str]]:
    fake = FakeJira()
    async with serve(fake.app()) as url:
        yield fake, url


def sink(session: aiohttp.ClientSession, url: str, transition: str = "Done") -> JiraSink:
    return JiraSink(
        "jira",
        session,
        url=url,
        project="OPS",
        issue_type="Incident",
        resolve_transition=transition,
        priority_names={"P2": "High", "P3": "Medium"},
        email="ops@example.com",
        api_token="tok",
    )


async def test_open_escalate_resolve(tmp_path: Path, jira: tuple[FakeJira, str]) -> None:
    """One issue: labelled for search, priority moved on worsening, Done with the recovery comment."""
    fake, url = jira
    store = Store(tmp_path / "s.db")
    async with aiohttp.ClientSession() as session:
        deliverer = Deliverer(store, {"jira": sink(session, url)}, logging.getLogger("sitewatch.test"))
        write(store, "sw:v1:shop:http", "jira", "opened", 1000.0, severity="warning")
        write(store, "sw:v1:shop:http", "jira", "worsened", 1100.0, severity="critical")
        write(store, "sw:v1:shop:http", "jira", "resolved", 1400.0, severity=None)
        await drain(store, deliverer)
    (issue,) = fake.issues.values()
    assert label_for("sw:v1:shop:http") in issue["labels"]
    assert issue["priority"] == {"name": "High"}
    assert issue["status"] == "Done"
    assert issue["comments"][0].startswith("Severity is now critical")
    assert issue["comments"][1].startswith("Recovered at ")
    assert len(issue["comments"]) == 2


async def test_lost_response_finds_the_issue_instead_of_a_second(jira: tuple[FakeJira, str]) -> None:
    """After the create's answer was lost, a retry's search finds the issue once search catches up."""
    fake, url = jira
    payload = {
        "key": "sw:v1:shop:http", "event": "opened", "site": "shop", "check": "http", "severity": "critical",
        "priority": "P2", "summary": "HTTP 503", "at": 1000.0, "opened_at": 1000.0,
    }  # fmt: skip
    async with aiohttp.ClientSession() as session:
        jira_sink = sink(session, url)
        first = await jira_sink.open(payload)
        assert await jira_sink.find_open("sw:v1:shop:http") is None  # search lags behind creation
        assert await jira_sink.find_open("sw:v1:shop:http") == first


async def test_unknown_transition_is_a_dead_letter_naming_the_choices(
    tmp_path: Path, jira: tuple[FakeJira, str]
) -> None:
    """A resolve_transition the workflow lacks is permanent and lists what exists."""
    _, url = jira
    store = Store(tmp_path / "s.db")
    async with aiohttp.ClientSession() as session:
        deliverer = Deliverer(store, {"jira": sink(session, url, "Resolve Issue")}, logging.getLogger("t"))
        write(store, "sw:v1:shop:http", "jira", "opened", 1000.0)
        write(store, "sw:v1:shop:http", "jira", "resolved", 1400.0, severity=None)
        await drain(store, deliverer)
    (error,) = [r[0] for r in store.db.execute("SELECT last_error FROM outbox WHERE state = 'dead'")]
    assert "no transition 'Resolve Issue' (available: In Progress, Done)" in error

"""/api/incidents and /api/sites/<name>/history: parameters, errors, and basic auth over the new paths."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

from sitewatch.agent import Agent
from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.web.api import parse_since
from tests.helpers import free_port, running_agent, serve, wait_for
from tests.statuspage_helpers import (
    Dom,
    PageApp,
    agent_config,
    fixed_availability,
    incident_delivered,
    page_app,
    site,
    target_app,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


async def get(url: str, auth: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": auth} if auth else {}
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[PageApp]:
    """Two sites; shop has runs every 10 minutes over the last two days and two incidents."""
    async with page_app(tmp_path, [site("shop"), site("blog")], fixed_availability({}), lambda: NOW) as running:
        running.store.append_history(
            [("shop", "http", NOW - i * 600, "ok" if i % 3 else "critical", 0.2) for i in range(288)]
        )
        for n, (opened, resolved) in enumerate([(NOW - 7200, NOW - 3600), (NOW - 600, None)]):
            key = f"sw:v1:shop:check{n}"
            event = IncidentEvent("opened", opened, Status.CRITICAL, "HTTP 503", opened)
            running.store.record(key, event, site="shop", check=f"check{n}", sinks=["local"], payload={})
            if resolved is not None:
                end = IncidentEvent("resolved", resolved, None, "HTTP 200", opened)
                running.store.record(key, end, site="shop", check=f"check{n}", sinks=["local"], payload={})
        yield running


@pytest.mark.parametrize(
    ("query", "count"),
    [("", 145), ("?since=24h", 145), ("?since=1h", 7), ("?since=2027-01-15T07:00:00Z", 7), ("?since=90m", 10)],
)
async def test_history_since_a_duration_or_a_time(app: PageApp, query: str, count: int) -> None:
    """`since` (inclusive) is a duration back from now or an ISO-8601 time; the default is 24 h."""
    status, body = await get(f"{app.url}/api/sites/shop/history{query}")
    assert status == 200
    assert len(body["results"]) == count
    assert body["until"] == "2027-01-15T08:00:00Z"
    assert body["results"][-1] == {
        "check": "http",
        "at": "2027-01-15T08:00:00Z",
        "status": "critical",
        "duration_seconds": 0.2,
    }


async def test_history_offsets_and_limit(app: PageApp) -> None:
    """An offset written as %2B works; a limit keeps the newest runs and says so."""
    status, body = await get(f"{app.url}/api/sites/shop/history?since=2027-01-15T10:00:00%2B03:00&limit=2")
    assert status == 200
    assert [r["at"] for r in body["results"]] == ["2027-01-15T07:50:00Z", "2027-01-15T08:00:00Z"]
    assert body["truncated"] is True
    assert body["since"] == "2027-01-15T07:00:00Z"


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ("since=yesterday", "since", "expected a duration like 24h"),
        ("since=24", "since", "expected a duration like 24h"),
        ("since=2027-01-15T07:00:00", "since", "add a zone"),
        ("since=", "since", "empty"),
        ("limit=0", "limit", "expected 1 to 50000"),
        ("limit=ten", "limit", "expected a whole number"),
    ],
)
async def test_history_bad_parameters_are_400_naming_them(app: PageApp, query: str, parameter: str, words: str) -> None:
    """A parameter the API cannot read is a 400 whose body names it and says what was expected."""
    status, body = await get(f"{app.url}/api/sites/shop/history?{query}")
    assert status == 400
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")
    assert words in body["error"]


async def test_history_of_an_unknown_site_is_a_json_404(app: PageApp) -> None:
    """A site that is not configured is a 404 with a JSON error, even if the store has rows for it."""
    app.store.append_history([("gone", "http", NOW, "ok", 0.1)])
    status, body = await get(f"{app.url}/api/sites/gone/history")
    assert (status, body) == (404, {"error": "unknown site 'gone'"})
    status, body = await get(f"{app.url}/api/sites/blog/history")
    assert (status, body["results"]) == (200, [])


async def test_incidents_state_and_limit(app: PageApp) -> None:
    """All by default (open first), or only open or resolved ones; limit caps; bad values are 400."""
    _, body = await get(f"{app.url}/api/incidents")
    assert [(i["check"], i["state"]) for i in body["incidents"]] == [("check1", "open"), ("check0", "resolved")]
    assert body["incidents"][1]["resolved_at"] == "2027-01-15T07:00:00Z"
    _, body = await get(f"{app.url}/api/incidents?state=open")
    assert [i["check"] for i in body["incidents"]] == ["check1"]
    _, body = await get(f"{app.url}/api/incidents?state=resolved")
    assert [i["check"] for i in body["incidents"]] == ["check0"]
    _, body = await get(f"{app.url}/api/incidents?limit=1")
    assert (body["count"], body["state"]) == (1, "all")
    status, body = await get(f"{app.url}/api/incidents?state=closed")
    assert (status, body["parameter"]) == (400, "state")
    status, body = await get(f"{app.url}/api/incidents?limit=1001")
    assert (status, body["parameter"]) == (400, "limit")


def test_parse_since_rules() -> None:
    """Durations count back from now; times need a zone; compound durations work."""
    assert parse_since("1h30m", 10_000.0) == 10_000.0 - 5400
    assert parse_since(None, 100_000.0) == 100_000.0 - 86400
    assert parse_since("2027-01-15T08:00:00+00:00", 0.0) == NOW
    with pytest.raises(ValueError, match="add a zone"):
        parse_since("2027-01-15", 0.0)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent whose web-config.yml has a basic-auth user (plain HTTP: auth alone is what is tested)."""
    hashed = bcrypt.hashpw(b"right-password", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web-config.yml").write_text(f"basic_auth_users:\n  ops: '{hashed}'\n", encoding="utf-8")
    async with serve(target_app()) as url:
        config = agent_config(tmp_path, url, f"127.0.0.1:{free_port()}", ", web_config: web-config.yml")
        async with running_agent(config) as agent:
            await incident_delivered(agent)
            yield agent


@pytest.mark.parametrize("path", ["/", "/api/status", "/api/incidents", "/api/sites/bad/history?since=1h"])
async def test_page_and_api_need_the_password_when_configured(guarded: Agent, path: str) -> None:
    """No header or a wrong password: 401 with a Basic challenge and nothing of the data; the right one: 200."""
    url = f"http://{guarded.web.bound[0]}{path}"
    for auth in (None, basic("ops", "wrong"), basic("root", "right-password"), "Bearer right-password"):
        async with aiohttp.ClientSession() as client, client.get(url, headers={"Authorization": auth or ""}) as resp:
            assert resp.status == 401, auth
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="sitewatch"'
            assert "bad" not in await resp.text()
    status, body = await get(url, basic("ops", "right-password"))
    assert status == 200
    assert "bad" in str(body)


async def test_agent_page_shows_the_same_30_days_as_the_metric(tmp_path: Path) -> None:
    """The running agent's page takes its 30-day figure from the cache behind sitewatch_availability_ratio."""
    store = Store(tmp_path / "sitewatch.db")
    now = time.time()
    store.append_history([("ok", "http", now - 7200 + i * 60, "ok", 0.1) for i in range(100)])
    store.append_history(
        [("bad", "http", now - 7200 + i * 60, "ok" if i < 75 else "critical", 0.1) for i in range(100)]
    )
    store.close()
    async with (
        serve(target_app()) as url,
        running_agent(agent_config(tmp_path, url, f"127.0.0.1:{free_port()}")) as agent,
    ):
        await wait_for(lambda: set(agent.availability.ratios) == {"ok", "bad"}, timeout=10, what="the 30-day cache")
        ratios = dict(agent.availability.ratios)
        _, html = await get(f"http://{agent.web.bound[0]}/")
    dom = Dom(html)
    shown = {e.attrs["data-site"]: dom.text(e) for e in dom.find("data-site")}
    assert 0.70 < ratios["bad"] < 0.80
    assert f"30d {math.floor(ratios['bad'] * 10000 + 1e-6) / 100:.2f}%" in shown["bad"]
    assert "30d 100.00%" in shown["ok"]

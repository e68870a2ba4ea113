"""Logs and the API stay UTC and English while people read Russian in Vladivostok's time (README, docs/openapi.yaml).

A real ``sitewatch run`` with ``agent.language: ru``, ``agent.timezone: Asia/Vladivostok`` (UTC+10,
no summer time), ``tickets.language: ru`` and the process's own ``TZ`` set to Vladivostok too, so
a time taken from the local clock anywhere would be ten hours off.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent_process import AgentProcess, agent_process, get
from tests.helpers import failing_site, free_port, wait_for

pytestmark = pytest.mark.slow

ZONE = "Asia/Vladivostok"
CYRILLIC = re.compile("[\u0400-\u04ff]")
KEY = re.compile(r"[a-z][a-z0-9_]*")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
#: Keys docs/openapi.yaml gives as RFC 3339 UTC times, in the answers read here.
TIME_KEYS = {"opened_at", "resolved_at", "respond_by", "resolve_by", "last_run", "since", "until", "created_at"}
#: The two strings the API makes for people: documented as "in the client's zone and language".
FOR_PEOPLE = {"respond_by_local", "resolve_by_local"}
LEVELS = {"debug", "info", "warning", "error", "critical"}
#: ``2026-12-07T16:00:29Z warning incident_opened site=shop summary="HTTP 500 ..."``
TEXT_LINE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (?P<level>[a-z]+) (?P<event>[a-z_]+)"
    r'(?P<fields>(?: [a-z_]+=(?:"(?:[^"\\]|\\.)*"|[^ "]+))*)'
)


@pytest.fixture
async def down() -> AsyncIterator[str]:
    """A site answering 500, so an incident with SLA deadlines opens at once."""
    async with failing_site(500, "Internal Server Error") as url:
        yield url


@pytest.fixture
async def agent(
    request: pytest.FixtureRequest, tmp_path: Path, down: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AgentProcess]:
    """The agent in Russian and Vladivostok's time, with one open incident; log format from the parameter."""
    monkeypatch.setenv("TZ", ZONE)  # the agent process's local clock
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"agent: {{listen: '{listen}', state_dir: '{tmp_path}', language: ru, timezone: {ZONE}}}\n"
        "defaults: {interval: 1s, timeout: 900ms, fail_after: 1}\n"
        "tickets:\n  language: ru\n  sla: {P2: {response: 30m, resolve: 4h}, P3: {response: 1h, resolve: 8h}}\n"
        f"sites:\n  - {{name: shop, url: '{down}/'}}\n",
        encoding="utf-8",
    )
    async with agent_process(config, listen, log_format=request.param) as running:
        await wait_for(lambda: _opened(listen), timeout=20, what="the incident to open")
        yield running


async def _opened(listen: str) -> bool:
    status, body = await get(listen, "/api/incidents")
    return status == 200 and json.loads(body)["count"] >= 1


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth (list items carry their list's key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


def _near_now(stamp: str) -> bool:
    """``stamp`` (UTC, ``Z``) is within two minutes of the real UTC time; a local time would be 10 h off."""
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return abs((moment - dt.datetime.now(dt.UTC)).total_seconds()) < 120


def _assert_utc_english(document: Any) -> None:
    """English snake_case keys, UTC RFC 3339 times, no Cyrillic outside the two strings made for people."""
    for key, value in _walk(document):
        assert KEY.fullmatch(key), key
        if key in TIME_KEYS and value is not None:
            assert UTC_TIME.fullmatch(value), (key, value)
        if isinstance(value, str) and key not in FOR_PEOPLE:
            assert not CYRILLIC.search(value), (key, value)


async def _json(listen: str, path: str) -> Any:
    status, body = await get(listen, path)
    assert status == 200, (path, body)
    return json.loads(body)


@pytest.mark.parametrize("agent", ["text"], indirect=True)
async def test_the_api_answers_in_utc_with_english_keys(agent: AgentProcess) -> None:
    """/api/incidents, /api/status and a site's history: English keys and values, UTC times; the page is Russian."""
    incidents = await _json(agent.listen, "/api/incidents")
    status = await _json(agent.listen, "/api/status")
    history = await _json(agent.listen, "/api/sites/shop/history")
    for document in (incidents, status, history):
        _assert_utc_english(document)
    (incident,) = incidents["incidents"]
    assert (incident["state"], incident["severity"]) == ("open", "critical")
    assert incident["summary"].startswith("HTTP 500")
    assert _near_now(incident["opened_at"])
    opened = dt.datetime.fromisoformat(incident["opened_at"])
    assert dt.datetime.fromisoformat(incident["respond_by"]) - opened == dt.timedelta(minutes=30)  # P2, 24x7
    assert incident["sla"]["timezone"] == ZONE
    # The settings are in force: the strings for people are Russian, in Vladivostok's time.
    assert CYRILLIC.search(incident["respond_by_local"])
    assert "+10" in incident["respond_by_local"]
    (check,) = status["checks"]
    assert _near_now(check["last_run"])
    assert abs(status["agent"]["started"] - dt.datetime.now(dt.UTC).timestamp()) < 120  # unix seconds
    page_status, page = await get(agent.listen, "/")
    assert page_status == 200
    assert '<html lang="ru">' in page


@pytest.mark.parametrize("agent", ["text", "json"], indirect=True)
async def test_log_lines_are_english_events_in_utc(agent: AgentProcess, request: pytest.FixtureRequest) -> None:
    """Every line the agent logs is an English event in UTC: ``TIME level event key=value`` or a JSON object."""
    lines = [line for line in agent.lines if line]
    assert lines
    events = []
    for line in lines:
        assert not CYRILLIC.search(line), line
        if request.node.callspec.params["agent"] == "json":
            record = json.loads(line)
            assert all(KEY.fullmatch(key) for key in record), record
            stamp, level, name = record["ts"], record["level"], record["event"]
        else:
            parsed = TEXT_LINE.fullmatch(line)
            assert parsed, line
            stamp, level, name = parsed["ts"], parsed["level"], parsed["event"]
        assert UTC_TIME.fullmatch(stamp), line
        assert _near_now(stamp), line
        assert level in LEVELS, line
        assert KEY.fullmatch(name), line
        events.append(name)
    assert {"agent_started", "incident_opened"} <= set(events), events

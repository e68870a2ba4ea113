"""POST /alertmanager at the HTTP level: a running agent, its store and its local ticket sink."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from sitewatch.agent import Agent
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.i18n import local_time
from sitewatch.probe import Status
from sitewatch.web.alerts import alert_key, severity_for
from tests.helpers import free_port, running_agent, serve, wait_for

TOKEN = "am-token-0123456789abcdef"
FINGERPRINT = "5d4f1a7b2c3e9f01"
#: Alertmanager's own times: the ticket says "since" startsAt and the downtime is endsAt - startsAt.
STARTS = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
ENDS = STARTS + dt.timedelta(minutes=30)


def write_config(tmp_path: Path, agent_extra: str) -> Path:
    """A config without sites; ``agent_extra`` is YAML lines for the agent section."""
    path = tmp_path / "config.yaml"
    lines = [
        "agent:",
        f"  listen: 127.0.0.1:{free_port()}",
        f"  state_dir: {tmp_path}",
        *(f"  {line}" for line in agent_extra.splitlines()),
        "tickets:",
        "  sla:",
        "    P1: {response: 15m, resolve: 4h}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent with no sites whose bridge takes a bearer token."""
    async with running_agent(write_config(tmp_path, f"alertmanager: {{enabled: true, token: {TOKEN}}}\n")) as running:
        yield running


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical", **labels},
        "annotations": {"summary": "disk / is 97% full", "description": "only 2 GB left on /"},
        "startsAt": STARTS.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "endsAt": ENDS.isoformat(timespec="seconds").replace("+00:00", "Z")
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
        "fingerprint": FINGERPRINT,
    }


def notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "status": alerts[0]["status"] if alerts else "firing",
        "receiver": "sitewatch",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }


async def post(
    agent: Agent, body: Any, *, auth: str | None = f"Bearer {TOKEN}", method: str = "POST", raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": auth} if auth else {}
    data = io.BytesIO(raw if raw is not None else json.dumps(body).encode())
    url = f"http://{agent.web.bound[0]}/alertmanager"
    async with aiohttp.ClientSession() as client, client.request(method, url, data=data, headers=headers) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.content_type == "application/json" else {"text": text}


def tickets(agent: Agent) -> list[dict[str, Any]]:
    rows = agent.store.db.execute("SELECT id, key, title, body, priority, status FROM tickets ORDER BY id")
    return [dict(r) for r in rows]


def comments(agent: Agent, ticket: int) -> list[str]:
    rows = agent.store.db.execute("SELECT body FROM ticket_comments WHERE ticket_id = ? ORDER BY id", (ticket,))
    return [r[0] for r in rows]


def untouched(agent: Agent) -> bool:
    db = agent.store.db
    return not any(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("incidents", "outbox", "tickets"))


async def test_firing_opens_one_ticket_and_resolved_closes_it(agent: Agent) -> None:
    """A firing alert opens a ticket; Alertmanager's repeats do not open a second; resolved closes it."""
    status, answer = await post(agent, notification(alert()))
    assert (status, answer["opened"]) == (200, 1)
    await wait_for(lambda: len(tickets(agent)) == 1, what="the ticket")
    for _ in range(3):  # repeat_interval re-sends the same firing alert
        status, answer = await post(agent, notification(alert()))
        assert (status, answer["opened"], answer["unchanged"]) == (200, 0, 1)
    ticket = tickets(agent)[0]
    assert ticket["key"] == f"am:v1:{FINGERPRINT}"
    assert ticket["priority"] == "P2"  # critical on a normal-importance site
    assert ticket["title"] == "[sitewatch] db1:9100 DiskFull CRITICAL: disk / is 97% full"
    assert "SLA" not in ticket["body"]  # P2 has no SLA configured in this test
    assert "only 2 GB left on /" in ticket["body"]
    assert "http://prometheus.example:9090/graph" in ticket["body"]
    assert "g0.expr" not in ticket["body"]  # query strings never reach a ticket
    assert f"Failing since: {local_time(STARTS.timestamp())}" in ticket["body"]

    status, answer = await post(agent, notification(alert("resolved")))
    assert (status, answer["resolved"]) == (200, 1)
    await wait_for(lambda: tickets(agent)[0]["status"] == "closed", what="the ticket closed")
    assert "Downtime 30 minutes" in comments(agent, ticket["id"])[0]
    # A second resolved (Alertmanager may re-send it) is a no-op, and so is one for a key never seen.
    assert (await post(agent, notification(alert("resolved"))))[1]["unchanged"] == 1
    assert (await post(agent, notification({**alert("resolved"), "fingerprint": "ffff"})))[1]["unchanged"] == 1
    assert len(tickets(agent)) == 1
    assert agent.store.db.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 1
    # The outbox records when sitewatch heard of it, so its age metric is not hours off for an old alert.
    created = [r[0] for r in agent.store.db.execute("SELECT created_at FROM outbox")]
    assert min(created) > ENDS.timestamp() + 3000


async def test_resolved_for_an_unknown_alert_changes_nothing(agent: Agent) -> None:
    """A resolved notification for a key with no open incident writes nothing."""
    status, answer = await post(agent, notification(alert("resolved")))
    assert (status, answer) == (200, {"status": "ok", "opened": 0, "updated": 0, "resolved": 0, "unchanged": 1})
    assert untouched(agent)


async def test_severity_change_comments_and_fires_again_after_resolve(agent: Agent) -> None:
    """warning → critical is a comment on the same ticket; firing after resolved is a new incident."""
    await post(agent, notification(alert(severity="warning")))
    await wait_for(lambda: len(tickets(agent)) == 1, what="the ticket")
    assert tickets(agent)[0]["priority"] == "P3"
    status, answer = await post(agent, notification(alert()))
    assert (status, answer["updated"]) == (200, 1)
    await wait_for(lambda: len(comments(agent, tickets(agent)[0]["id"])) == 1, what="the severity comment")
    assert "critical" in comments(agent, tickets(agent)[0]["id"])[0]
    await post(agent, notification(alert("resolved")))
    await post(agent, notification(alert()))
    await wait_for(lambda: len(tickets(agent)) == 2, what="a second ticket for a new firing")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"alerts": []}', 400, "no version field"),
        (json.dumps({**notification(alert()), "version": "3"}).encode(), 400, "version '3'"),
        (json.dumps({**notification(alert()), "version": 4}).encode(), 400, "version '4'"),
        (json.dumps({"version": "4"}).encode(), 400, "alerts"),
        (
            json.dumps({**notification({**alert(), "status": "pending"}), "status": "firing"}).encode(),
            400,
            "alerts.0.status",
        ),
        (json.dumps(notification({**alert(), "labels": {"a": 1}})).encode(), 400, "alerts.0.labels.a"),
        (json.dumps(notification(*[alert()] * 1001)).encode(), 400, "alerts"),
        (b"{" + b" " * (1024 * 1024 + 1) + b"}", 413, "larger than"),
    ],
    ids=[
        "junk",
        "array",
        "no-version",
        "v3",
        "int-version",
        "no-alerts",
        "bad-status",
        "int-label",
        "too-many",
        "too-big",
    ],
)
async def test_bad_payloads_are_4xx_json_and_change_nothing(
    agent: Agent, body: bytes, status: int, message: str
) -> None:
    """Every malformed body gets a JSON 4xx that says what is wrong, and writes nothing."""
    got, answer = await post(agent, None, raw=body)
    assert got == status
    assert message in answer["error"]
    assert untouched(agent)


async def test_one_bad_alert_rejects_the_whole_notification(agent: Agent) -> None:
    """Validation happens before any write: a good alert next to a bad one is not applied either."""
    got, _ = await post(agent, notification(alert(), {**alert(), "labels": None}))
    assert got == 400
    assert untouched(agent)


async def test_wrong_method_is_405(agent: Agent) -> None:
    """GET (or PUT) is a JSON 405 naming POST."""
    for method in ("GET", "PUT"):
        got, answer = await post(agent, None, method=method, raw=b"")
        assert got == 405
        assert "POST" in answer["error"]


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-0123456789", f"Bearer {TOKEN}x", "Basic dTpw", TOKEN])
async def test_requests_without_the_token_are_refused(agent: Agent, auth: str | None) -> None:
    """No header, a wrong token or a basic-auth user the agent does not know: 401, nothing written."""
    got, answer = await post(agent, notification(alert()), auth=auth)
    assert got == 401
    assert answer["error"] == "missing or wrong credentials"
    assert untouched(agent)


async def test_payload_text_is_sanitised(agent: Agent) -> None:
    """Control characters and huge annotations never reach a ticket as sent."""
    hostile = alert(site="shop\x1b[31m")
    hostile["annotations"] = {"summary": "line1\nline2\x00\x07 " + "x" * 5000, "description": "d" * 100_000}
    hostile["generatorURL"] = "javascript:alert(1)"
    assert (await post(agent, notification(hostile)))[0] == 200
    await wait_for(lambda: len(tickets(agent)) == 1, what="the ticket")
    ticket = tickets(agent)[0]
    assert ticket["title"].startswith("[sitewatch] shop [31m DiskFull CRITICAL: line1 line2 xxx")
    assert len(ticket["title"]) <= 200
    assert "\x1b" not in ticket["title"] + ticket["body"]
    assert "\x00" not in ticket["body"]
    assert "javascript" not in ticket["body"]
    assert len(ticket["body"]) < 6000


async def test_disabled_by_default(tmp_path: Path) -> None:
    """Without agent.alertmanager the path does not exist."""
    config = load_config(write_config(tmp_path, ""))
    running = Agent(config, logging.getLogger("sitewatch.test"))
    await running.start()
    try:
        assert (await post(running, notification(alert())))[0] == 404
    finally:
        await running.close()


async def test_basic_auth_from_web_config(tmp_path: Path) -> None:
    """Without a token, a web-config.yml basic-auth user is accepted (and required)."""
    hashed = bcrypt.hashpw(b"s3cret-am", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  alertmanager: '{hashed}'\n", encoding="utf-8")
    config = load_config(write_config(tmp_path, "web_config: web.yml\nalertmanager: {enabled: true}\n"))
    running = Agent(config, logging.getLogger("sitewatch.test"))
    await running.start()
    good = "Basic " + base64.b64encode(b"alertmanager:s3cret-am").decode()
    bad = "Basic " + base64.b64encode(b"alertmanager:nope").decode()
    try:
        assert (await post(running, notification(alert()), auth=None))[0] == 401
        assert (await post(running, notification(alert()), auth=bad))[0] == 401
        assert (await post(running, notification(alert()), auth=f"Bearer {TOKEN}"))[0] == 401
        assert (await post(running, notification(alert()), auth=good))[0] == 200
    finally:
        await running.close()


@pytest.mark.parametrize(
    ("bridge", "message"),
    [
        ("alertmanager: {enabled: true}\n", "enabled without credentials"),
        ("alertmanager: {enabled: true, token: short}\n", "at least 20"),
        ("alertmanager: {enabled: true, tokn: x}\n", "tokn"),
    ],
)
def test_config_errors(tmp_path: Path, bridge: str, message: str) -> None:
    """An enabled bridge needs credentials; a short token or a typo is an error with file:line."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, bridge))
    text = str(caught.value)
    assert message in text
    assert "config.yaml:" in text
    assert "short" not in text.replace("shorter", "")  # a secret's value is never echoed


def test_mapping_rules() -> None:
    """Keys come from the fingerprint (labels hash without one); severity and priority from labels."""
    labels = {"alertname": "A", "job": "j"}
    assert alert_key("ABCDEF0123", labels) == "am:v1:abcdef0123"
    derived = alert_key("", labels)
    assert derived == alert_key("not-hex!", dict(reversed(labels.items())))
    assert derived.startswith("am:v1:")
    assert len(derived) == len("am:v1:") + 16
    assert severity_for({"severity": "critical"}) == (Status.CRITICAL, "P2")
    assert severity_for({"severity": "page", "importance": "high"}) == (Status.CRITICAL, "P1")
    assert severity_for({"severity": "warning"}) == (Status.WARNING, "P3")
    assert severity_for({"severity": "warning"}, "low") == (Status.WARNING, "P4")
    assert severity_for({"severity": "info"}) == (Status.WARNING, "P4")
    assert severity_for({}) == (Status.WARNING, "P3")
    assert severity_for({"severity": "critical", "priority": "p4"}) == (Status.CRITICAL, "P4")


async def test_desk_outage_delays_the_ticket_but_never_duplicates_it(tmp_path: Path) -> None:
    """A webhook desk answering 503 gets the open later, once, even while Alertmanager repeats the alert."""
    received: list[dict[str, Any]] = []
    failures = [503, 503]

    async def hook(request: web.Request) -> web.Response:
        if failures:
            return web.Response(status=failures.pop())
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serve(app) as desk:
        path = write_config(tmp_path, f"alertmanager: {{enabled: true, token: {TOKEN}}}")
        path.write_text(path.read_text() + f"  sinks:\n    - {{type: webhook, url: '{desk}/hook'}}\n", encoding="utf-8")
        running = Agent(load_config(path), logging.getLogger("sitewatch.test"))
        await running.start()
        try:
            for _ in range(3):
                assert (await post(running, notification(alert())))[0] == 200
            await wait_for(lambda: len(received) == 1, timeout=15, what="the open delivered after the outage")
            await post(running, notification(alert("resolved")))
            await wait_for(lambda: len(received) == 2, timeout=15, what="the resolve delivered")
        finally:
            await running.close()
    assert [r["event"] for r in received] == ["opened", "resolved"]
    assert {r["key"] for r in received} == {f"am:v1:{FINGERPRINT}"}


async def test_unwritable_store_is_503_so_alertmanager_retries(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be written answers 503 (Alertmanager retries 5xx) and opens nothing."""

    def broken(*_: Any, **__: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(agent.store, "record", broken)
    got, answer = await post(agent, notification(alert()))
    assert got == 503
    assert "retry" in answer["error"]
    monkeypatch.undo()
    assert untouched(agent)
    assert (await post(agent, notification(alert())))[1]["opened"] == 1


def test_check_config_says_the_bridge_is_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config names the endpoint and how it authenticates."""
    from sitewatch.cli.main import main

    path = write_config(tmp_path, f"alertmanager: {{enabled: true, token: {TOKEN}}}")
    assert main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "alertmanager: POST /alertmanager (bearer token)" in out
    assert TOKEN not in out


async def test_a_quorum_alert_names_its_locations_in_the_ticket(agent: Agent) -> None:
    """The quorum rule's ``locations`` annotation (one word per agent) becomes a sorted, deduplicated ticket line."""
    quorum = alert(site="shop", check="http", alertname="SiteFailingQuorum")
    quorum["annotations"] = {"summary": "shop http failing from 2 of 3 locations", "locations": "msk ams msk\n"}
    status, answer = await post(agent, notification(quorum))
    assert (status, answer["opened"]) == (200, 1)
    await wait_for(lambda: len(tickets(agent)) == 1, what="the ticket")
    body = tickets(agent)[0]["body"]
    assert "locations: ams, msk" in body.splitlines()

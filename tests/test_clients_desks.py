"""Two clients, each with its own RT queue, Jira project and mailbox: each client's ticket lands only in its own.

The agent is the real one (in-process), probing two failing loopback sites, with each client's
``routing: overrides:`` setting ``queue``, ``project`` and ``to`` on the shared sinks. The desks are
the strict RT emulator (tests/rt_emulator.py), the strict Jira emulator of tests/test_jira_sink.py
taught which projects exist, and a real SMTP server (aiosmtpd). The same routing against a real
RT 5 runs under `make test-integration` (the last test; skipped elsewhere). Redmine's projects:
tests/test_clients_redmine.py.
"""

from __future__ import annotations

import base64
import email
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from sitewatch.agent import Agent
from sitewatch.tickets.jira import label_for
from tests.helpers import failing_site, free_port, running_agent, serve, wait_for
from tests.rt_emulator import RtEmulator
from tests.test_jira_sink import FakeJira
from tests.test_sinks import rt  # noqa: F401 - the real RT's fixture, for the integration test

KEY_FIELD = "sitewatch_incident_key"
#: Per client: its RT queue, Jira project and mailbox. The base sinks point at a third of each.
DESKS = {
    "acme": {"queue": "acme-support", "project": "ACME", "to": "acme@support.example"},
    "beta": {"queue": "beta-support", "project": "BETA", "to": "beta@support.example"},
}
BASE = {"queue": "General", "project": "OPS", "to": "desk@support.example"}


class ProjectJira(FakeJira):
    """The Jira emulator with projects: an issue in a project that does not exist is a 400, as Jira answers,
    and a search sees only the project its JQL names (one without a project is refused)."""

    def __init__(self, projects: set[str]) -> None:
        super().__init__()
        self.projects = projects

    async def create(self, request: web.Request) -> web.Response:
        fields = (await request.json())["fields"]
        if fields.get("project", {}).get("key") not in self.projects:
            return web.json_response(
                {"errorMessages": [], "errors": {"project": "valid project is required"}}, status=400
            )
        return await super().create(request)  # the body is cached: read again there

    async def search(self, request: web.Request) -> web.Response:
        jql = (await request.json())["jql"]
        project, label = re.search(r'project = "([^"]+)"', jql), re.search(r'labels = "([^"]+)"', jql)
        if project is None or label is None:
            return web.json_response({"errorMessages": [f"expected a project and a label in {jql!r}"]}, status=400)
        found = [
            {"key": k}
            for k, i in self.issues.items()
            if i["project"]["key"] == project[1] and label[1] in i["labels"] and i["status"] != "Done"
            and k not in self.unseen
        ]  # fmt: skip
        self.unseen.clear()  # eventually consistent, as in FakeJira
        return web.json_response({"issues": found})


class Mailboxes:
    """Every accepted message with the envelope's recipients (where the relay delivers it)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        """The messages delivered to ``address``."""
        return [message for rcpt, message in self.received if address in rcpt]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailboxes, int]]:
    """A real SMTP server on loopback (plain, no login: the relay of a LAN)."""
    boxes, port = Mailboxes(), free_port()
    controller = Controller(boxes, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield boxes, port
    finally:
        controller.stop()


@pytest.fixture
async def down() -> AsyncIterator[str]:
    """Both clients' sites answer 503."""
    async with failing_site(503, "down", "/{site}") as url:
        yield url


def _config(tmp_path: Path, target: str, sinks: str, overrides: dict[str, str], sites: dict[str, str]) -> Path:
    """Two clients whose ``overrides`` (per client, a YAML mapping) route the shared ``sinks``."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent: {{listen: '127.0.0.1:{free_port()}', state_dir: '{tmp_path}'}}\n"
        "defaults: {interval: 1s, timeout: 900ms, fail_after: 1, recover_after: 1}\n"
        f"tickets:\n  sinks:\n{sinks}"
        "clients:\n"
        + "".join(f"  - {{name: {c}, routing: {{overrides: {o}}}}}\n" for c, o in overrides.items())
        + "sites:\n"
        + "".join(f"  - {{name: {s}, url: '{target}/{s}', client: {c}}}\n" for c, s in sites.items()),
        encoding="utf-8",
    )
    return path


def _outbox(agent: Agent) -> list[tuple[str, str, str, str]]:
    """(site, sink, action, state) of every outbox row."""
    rows = agent.store.db.execute(
        "SELECT i.site, o.sink, o.action, o.state FROM outbox o JOIN incidents i ON i.id = o.incident_id ORDER BY o.id"
    ).fetchall()
    return [tuple(r) for r in rows]


def _all_opened(agent: Agent, expected: int) -> bool:
    rows = _outbox(agent)
    assert not [r for r in rows if r[3] == "dead"], rows  # a refused delivery fails at once, naming itself
    return len([r for r in rows if r[2] == "open" and r[3] == "done"]) == expected


async def test_each_clients_ticket_goes_to_its_own_queue_project_and_mailbox(
    tmp_path: Path, down: str, smtp: tuple[Mailboxes, int]
) -> None:
    """Both clients' sites fail: acme's ticket is in acme's RT queue, Jira project and mailbox only, beta's in
    beta's only; the base sinks' queue, project and mailbox get nothing."""
    boxes, smtp_port = smtp
    rt_desk = RtEmulator({q: {KEY_FIELD} for q in [BASE["queue"], *(d["queue"] for d in DESKS.values())]})
    jira_desk = ProjectJira({BASE["project"], *(d["project"] for d in DESKS.values())})
    sites = {client: f"{client}-shop" for client in DESKS}
    async with serve(rt_desk.app()) as rt_url, serve(jira_desk.app()) as jira_url:
        sinks = (
            f"    - {{type: rt, name: rt, url: '{rt_url}/rt', queue: {BASE['queue']},"
            f" username: {rt_desk.username}, password: {rt_desk.password}}}\n"
            f"    - {{type: jira, name: jira, url: '{jira_url}', project: {BASE['project']},"
            " email: ops@example.com, api_token: tok}\n"
            f"    - {{type: email, name: mail, host: 127.0.0.1, port: {smtp_port}, starttls: false,"
            f" sender: sitewatch@agent.example, to: ['{BASE['to']}']}}\n"
        )
        overrides = {
            c: f"{{rt: {{queue: {d['queue']}}}, jira: {{project: {d['project']}}}, mail: {{to: ['{d['to']}']}}}}"
            for c, d in DESKS.items()
        }
        async with running_agent(_config(tmp_path, down, sinks, overrides, sites)) as agent:
            await wait_for(lambda: _all_opened(agent, 6), timeout=30, what="both clients' tickets in all three desks")
            rows = _outbox(agent)
    assert sorted((site, sink) for site, sink, action, _ in rows if action == "open") == sorted(
        (sites[c], f"{s}@{c}") for c in DESKS for s in ("rt", "jira", "mail")
    )
    where = {
        "rt": {t["CustomFields"].get(KEY_FIELD): t["Queue"] for t in rt_desk.tickets.values()},
        "jira": {k: i["project"]["key"] for k in (f"sw:v1:{s}:http" for s in sites.values())
                 for i in jira_desk.issues.values() if label_for(k) in i["labels"]},
        "mail": {m["Subject"].rsplit("[", 1)[-1].rstrip("]"): rcpt for rcpt, m in boxes.received},
    }  # fmt: skip
    assert where == {
        "rt": {f"sw:v1:{sites[c]}:http": d["queue"] for c, d in DESKS.items()},
        "jira": {f"sw:v1:{sites[c]}:http": d["project"] for c, d in DESKS.items()},
        "mail": {f"sw:v1:{sites[c]}:http": [d["to"]] for c, d in DESKS.items()},
    }
    # One of each per desk: nothing went to the base sinks' queue, project or mailbox as well.
    assert (len(rt_desk.tickets), len(jira_desk.issues), len(boxes.received)) == (2, 2, 2)


# -- the same against a real RT -----------------------------------------------------------------


async def _ensure_queue(http: aiohttp.ClientSession, settings: dict[str, Any], name: str) -> None:
    """Create queue ``name`` in the real RT unless it exists (the incident-key field is applied globally)."""
    token = base64.b64encode(f"{settings['username']}:{settings['password']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    async with http.get(f"{settings['url']}/REST/2.0/queue/{name}", headers=headers) as resp:
        if resp.status == 200:
            return
    async with http.post(f"{settings['url']}/REST/2.0/queue", json={"Name": name}, headers=headers) as resp:
        assert resp.status == 201, await resp.text()


async def _real_rt_tickets(http: aiohttp.ClientSession, settings: dict[str, Any], queue: str, key: str) -> list[Any]:
    """Every ticket (any status) in ``queue`` whose incident key is ``key``: RT's own TicketSQL decides."""
    token = base64.b64encode(f"{settings['username']}:{settings['password']}".encode()).decode()
    query = f"Queue = '{queue}' AND CF.{{{KEY_FIELD}}} = '{key}'"
    async with http.get(
        f"{settings['url']}/REST/2.0/tickets", params={"query": query}, headers={"Authorization": f"Basic {token}"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json(content_type=None))["items"])


@pytest.mark.slow
async def test_each_clients_ticket_goes_to_its_own_queue_in_a_real_rt(
    tmp_path: Path,
    down: str,
    rt: tuple[aiohttp.ClientSession, dict[str, Any]],  # noqa: F811 - the fixture
) -> None:
    """In Request Tracker 5 itself: two clients, two queues, each client's ticket only in its own."""
    http, settings = rt
    run = uuid.uuid4().hex[:8]
    queues = {client: f"sitewatch-{client}" for client in DESKS}
    for queue in queues.values():
        await _ensure_queue(http, settings, queue)
    sites = {client: f"{client}-shop-{run}" for client in DESKS}
    sinks = (
        f"    - {{type: rt, name: rt, url: '{settings['url']}', queue: {settings['queue']},"
        f" username: '{settings['username']}', password: '{settings['password']}'}}\n"
    )
    overrides = {client: f"{{rt: {{queue: {queue}}}}}" for client, queue in queues.items()}
    async with running_agent(_config(tmp_path, down, sinks, overrides, sites)) as agent:
        await wait_for(lambda: _all_opened(agent, 2), timeout=60, what="both clients' tickets in RT")
    for client, queue in queues.items():
        other = queues["beta" if client == "acme" else "acme"]
        key = f"sw:v1:{sites[client]}:http"
        assert len(await _real_rt_tickets(http, settings, queue, key)) == 1
        assert await _real_rt_tickets(http, settings, other, key) == []
        assert await _real_rt_tickets(http, settings, settings["queue"], key) == []

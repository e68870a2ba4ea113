"""The e-mail and webhook sinks as escalation targets: a real SMTP server and a loopback receiver."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.store.database import Store
from sitewatch.store.life import change
from sitewatch.tickets.local import LocalSink
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.webhook import WebhookSink
from tests.helpers import serve
from tests.test_email_sink import Mailbox, sink
from tests.test_email_sink import smtp as smtp  # noqa: PLC0414 - the fixture, used by name
from tests.test_escalation import T0, Clock, _config, _escalator, _open

POLICY = """\
tickets:
  sinks: [{type: local}, {type: webhook, name: hook, url: "http://127.0.0.1:9/"}]
  notifiers:
    - {type: email, name: email-manager, host: 127.0.0.1, sender: a@b.example, to: [m@b.example]}
clients:
  - name: acme
    timezone: Europe/Moscow
    sla: {P1: {response: 15m, resolve: 4h}}
    escalation:
      P1:
        - {after: 30m, level: manager, notify: [email-manager, hook]}
sites:
  - {name: shop, url: "http://127.0.0.1:9/", client: acme}
"""


async def test_a_step_mails_the_manager_and_posts_the_webhook_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Mailbox, int, str]
) -> None:
    """The manager's step: one mail of its own and one ``escalated`` POST; the later ack edits neither."""
    box, port, ca_file = smtp
    posted: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    config = _config(tmp_path, monkeypatch, POLICY)
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    clock = Clock(T0 + 1800)
    async with serve(app) as url, aiohttp.ClientSession() as session:
        mail = sink(port, ca_file)
        mail.name = "email-manager"
        targets = {
            "local": LocalSink(store),
            "email-manager": mail,
            "hook": WebhookSink("hook", session, url + "/hook", None, {}),
        }
        deliverer = Deliverer(store, targets, logging.getLogger("sitewatch.test"))
        escalator = _escalator(store, config, clock)
        escalator.tick()
        escalator.tick()
        while await deliverer.drain_once():
            pass
        change(store, incident, "ack", at=T0 + 1900, by="ivan", source="cli")
        clock.now = T0 + 1901
        assert escalator.tick() == 2  # the ack notices: one per target that got a message
        while await deliverer.drain_once():
            pass
    (message,) = box.messages
    assert (
        " ".join(message["Subject"].split())
        == "[sitewatch] shop http CRITICAL: HTTP 503 Service Unavailable [sw:v1:shop:http]"
    )
    assert message.get_payload().splitlines()[:2] == [
        "P1 shop http: HTTP 503 Service Unavailable",
        "Escalation: manager; open since Sep 21, 2026, 17:13 MSK",
    ]
    assert message["Message-ID"].endswith(f".{incident}.escalation.0.0.{int(T0 + 1800)}@sitewatch>")
    (document,) = posted
    assert (document["event"], document["escalation"]["level"], document["key"]) == (
        "escalated",
        "manager",
        "sw:v1:shop:http",
    )
    assert document["delivery_id"] == f"{incident}:escalated:{T0 + 1800}:0:0"
    assert document["text"].splitlines()[1].startswith("Escalation: manager;")
    states = [r[0] for r in store.db.execute("SELECT state FROM outbox WHERE action = 'notify'")]
    assert states == ["done"] * 4
    assert (
        json.loads(store.db.execute("SELECT payload FROM outbox ORDER BY id DESC").fetchone()[0])["notice"] == "acked"
    )

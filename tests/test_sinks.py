"""Ticket sinks against real receivers: a webhook server checking HMAC, and a real Redmine."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.redmine import RedmineSink
from sitewatch.tickets.rt import RtSink
from sitewatch.tickets.webhook import WebhookSink
from tests.helpers import serve

LOG = logging.getLogger("sitewatch.test")


def payload(key: str, kind: str, at: float, severity: str | None = "critical") -> dict[str, Any]:
    return {
        "key": key,
        "event": kind,
        "site": "shop",
        "check": "http",
        "type": "http",
        "url": "https://shop.example.com/",
        "severity": severity,
        "priority": "P2" if severity == "critical" else "P3",
        "summary": f"{kind} at {at}",
        "at": at,
        "opened_at": 1000.0,
        "flapping": False,
        "agent": "web1",
        "details": {"status_code": 503},
    }


def write(store: Store, key: str, sink: str, kind: str, at: float, *, severity: str | None = "critical") -> None:
    event = IncidentEvent(kind, at, Status(severity) if severity else None, f"{kind} at {at}", 1000.0)  # type: ignore[arg-type]
    store.record(key, event, site="shop", check="http", sinks=[sink], payload=payload(key, kind, at, severity))


async def drain(store: Store, deliverer: Deliverer, rounds: int = 20) -> None:
    """Deliver everything, making backed-off rows due at once instead of waiting."""
    for _ in range(rounds):
        store.db.execute("UPDATE outbox SET next_at = 0 WHERE state = 'pending'")
        await deliverer.drain_once()
        if not store.outbox_stats(0)["pending"]:
            return


async def test_webhook_signs_and_survives_an_outage(tmp_path: Path) -> None:
    """Each event arrives once with a valid HMAC, in order, after the receiver's 500s pass."""
    secret = "whsec-test-123"
    received: list[dict[str, Any]] = []
    failures = [2]

    async def hook(request: web.Request) -> web.Response:
        data = await request.read()
        expected = "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
        if request.headers.get("X-Sitewatch-Signature") != expected:
            return web.Response(status=401)
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=500)
        received.append(json.loads(data))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    store = Store(tmp_path / "s.db")
    async with serve(app) as url, aiohttp.ClientSession() as session:
        sink = WebhookSink("hook", session, f"{url}/hook", secret, {"X-Team": "night"})
        deliverer = Deliverer(store, {"hook": sink}, LOG)
        write(store, "sw:v1:shop:http", "hook", "opened", 1000.0)
        write(store, "sw:v1:shop:http", "hook", "resolved", 1300.0, severity=None)
        await drain(store, deliverer)
    assert [r["event"] for r in received] == ["opened", "resolved"]
    assert received[0]["version"] == 1
    assert received[0]["title"].startswith("[sitewatch] shop http CRITICAL")
    assert "Downtime 5 minutes" in received[1]["text"]
    assert len({r["delivery_id"] for r in received}) == 2


async def test_webhook_rejection_is_permanent(tmp_path: Path) -> None:
    """A 400 from the receiver is a dead letter, not an endless retry."""

    async def reject(_: web.Request) -> web.Response:
        return web.Response(status=400, text="bad payload")

    app = web.Application()
    app.router.add_post("/hook", reject)
    store = Store(tmp_path / "s.db")
    async with serve(app) as url, aiohttp.ClientSession() as session:
        deliverer = Deliverer(store, {"hook": WebhookSink("hook", session, f"{url}/hook", None, {})}, LOG)
        write(store, "sw:v1:shop:http", "hook", "opened", 1000.0)
        await deliverer.drain_once()
    assert store.outbox_stats(0)["dead"] == 1


@pytest.fixture
async def redmine() -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, Any]]]:
    """A real Redmine started by `make test-integration` (.ci/redmine.sh)."""
    url = os.environ.get("REDMINE_URL")
    if not url:
        if os.environ.get("SITEWATCH_REQUIRE_REDMINE"):
            pytest.fail("REDMINE_URL is not set although the integration run requires Redmine")
        pytest.skip("no Redmine here: `make test-integration` installs and starts one")
    settings = {
        "url": url,
        "api_key": os.environ["REDMINE_API_KEY"],
        "project": "sitewatch",
        "tracker_id": 1,
        "key_field_id": int(os.environ["REDMINE_CF_ID"]),
        "closed_status_id": 5,
        "priority_ids": {"P2": 4, "P3": 3},
    }
    async with aiohttp.ClientSession() as session:
        yield session, settings


async def issues(session: aiohttp.ClientSession, settings: dict[str, Any], key: str, status: str) -> list[Any]:
    async with session.get(
        settings["url"] + "/issues.json",
        params={"project_id": "sitewatch", "status_id": status, f"cf_{settings['key_field_id']}": key},
        headers={"X-Redmine-API-Key": settings["api_key"]},
    ) as resp:
        assert resp.status == 200
        return list((await resp.json())["issues"])


@pytest.mark.slow
async def test_redmine_open_update_resolve(
    tmp_path: Path, redmine: tuple[aiohttp.ClientSession, dict[str, Any]]
) -> None:
    """A real Redmine gets one issue per incident: opened, commented on worsening, closed on recovery."""
    session, settings = redmine
    key = f"sw:v1:shop-{uuid.uuid4().hex[:8]}:http"
    store = Store(tmp_path / "s.db")
    deliverer = Deliverer(store, {"redmine": RedmineSink("redmine", session, **settings)}, LOG)
    write(store, key, "redmine", "opened", 1000.0, severity="warning")
    write(store, key, "redmine", "worsened", 1100.0, severity="critical")
    await drain(store, deliverer)
    (issue,) = await issues(session, settings, key, "open")
    assert issue["subject"].startswith("[sitewatch] shop http WARNING")
    assert issue["priority"]["id"] == 4  # raised with the severity
    write(store, key, "redmine", "resolved", 1400.0, severity=None)
    await drain(store, deliverer)
    assert await issues(session, settings, key, "open") == []
    (closed,) = await issues(session, settings, key, "closed")
    assert closed["id"] == issue["id"]
    assert store.outbox_stats(0) == {"pending": 0, "dead": 0, "oldest_pending_age": 0.0}


@pytest.mark.slow
async def test_redmine_two_agents_one_ticket(
    tmp_path: Path, redmine: tuple[aiohttp.ClientSession, dict[str, Any]]
) -> None:
    """Two agents opening the same incident at once leave exactly one open issue."""
    session, settings = redmine
    key = f"sw:v1:shop-{uuid.uuid4().hex[:8]}:http"
    sinks = [RedmineSink(f"agent{i}", session, **settings) for i in range(2)]
    refs = await asyncio.gather(*(s.open(payload(key, "opened", 1000.0)) for s in sinks))
    still_open = await issues(session, settings, key, "open")
    assert len(still_open) == 1
    assert set(refs) == {str(still_open[0]["id"])}
    # A restarted agent that lost the reply finds it instead of creating another.
    assert await sinks[0].find_open(key) == refs[0]


@pytest.fixture
async def rt() -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, Any]]]:
    """A real Request Tracker 5 started by `make test-integration` (.ci/rt.sh)."""
    url = os.environ.get("RT_URL")
    if not url:
        if os.environ.get("SITEWATCH_REQUIRE_RT"):
            pytest.fail("RT_URL is not set although the integration run requires Request Tracker")
        pytest.skip("no Request Tracker here: `make test-integration` installs and starts one")
    settings = {
        "url": url,
        "queue": "General",
        "key_field": "sitewatch_incident_key",
        "priorities": {"P2": 70, "P3": 50},
        "username": os.environ["RT_USER"],
        "password": os.environ["RT_PASSWORD"],
    }
    async with aiohttp.ClientSession() as session:
        yield session, settings


async def rt_ticket(session: aiohttp.ClientSession, settings: dict[str, Any], ref: str) -> dict[str, Any]:
    token = base64.b64encode(f"{settings['username']}:{settings['password']}".encode()).decode()
    async with session.get(
        f"{settings['url']}/REST/2.0/ticket/{ref}", headers={"Authorization": f"Basic {token}"}
    ) as resp:
        assert resp.status == 200
        return dict(await resp.json(content_type=None))


@pytest.mark.slow
async def test_rt_open_update_resolve(tmp_path: Path, rt: tuple[aiohttp.ClientSession, dict[str, Any]]) -> None:
    """A real RT gets one ticket with the key in its custom field, a raised priority, then resolved."""
    session, settings = rt
    key = f"sw:v1:shop-{uuid.uuid4().hex[:8]}:http"
    sink = RtSink("rt", session, **settings)
    store = Store(tmp_path / "s.db")
    deliverer = Deliverer(store, {"rt": sink}, LOG)
    write(store, key, "rt", "opened", 1000.0, severity="warning")
    write(store, key, "rt", "worsened", 1100.0, severity="critical")
    await drain(store, deliverer)
    ref = await sink.find_open(key)
    assert ref is not None
    ticket = await rt_ticket(session, settings, ref)
    assert ticket["Subject"].startswith("[sitewatch] shop http WARNING")
    assert int(ticket["Priority"]) == 70
    write(store, key, "rt", "resolved", 1400.0, severity=None)
    await drain(store, deliverer)
    assert (await rt_ticket(session, settings, ref))["Status"] == "resolved"
    assert await sink.find_open(key) is None
    assert store.outbox_stats(0) == {"pending": 0, "dead": 0, "oldest_pending_age": 0.0}

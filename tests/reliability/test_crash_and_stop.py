"""A subprocess agent killed at random moments, and stopped mid-delivery: nothing lost, nothing doubled.

The webhook sink is the recorder: it cannot be searched, so a duplicate open would show up
as a second delivery id, and a lost row as a missing one. The local sink shares the run, so
both the "search before open" path and the "deliver at least once" path are exercised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import free_port, serve, wait_for
from tests.test_incidents import start_agent as start

pytestmark = pytest.mark.slow


@dataclass
class Recorder:
    """A webhook receiver that records every call; it can be told to fail or to hang."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    hang: asyncio.Event | None = None  # set: answer; unset: hold the request open

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            document = await request.json()
            self.calls.append(document)
            if self.hang is not None:
                await self.hang.wait()
            if self.failing:
                return web.Response(status=503, text="desk down")
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook", hook)
        return app

    def deliveries(self, event: str | None = None) -> set[str]:
        return {c["delivery_id"] for c in self.calls if event is None or c["event"] == event}


@dataclass
class Site:
    """The probed target; the test flips it."""

    healthy: bool = False

    def app(self) -> web.Application:
        async def page(_: web.Request) -> web.Response:
            return web.Response(text="ok" if self.healthy else "down", status=200 if self.healthy else 503)

        app = web.Application()
        app.router.add_get("/", page)
        return app


@dataclass
class World:
    site: Site
    recorder: Recorder
    config: Path
    db: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    site, recorder = Site(), Recorder()
    async with serve(site.app()) as site_url, serve(recorder.app()) as hook_url:
        config = tmp_path / "config.yaml"
        config.write_text(
            textwrap.dedent(f"""\
            agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path / "state"}}}
            defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
            tickets:
              sinks:
                - type: local
                - {{type: webhook, name: recorder, url: "{hook_url}/hook"}}
            sites:
              - name: shop
                url: {site_url}/
                checks:
                  - type: http
                  - {{type: http, name: home, url: /}}
            """),
            encoding="utf-8",
        )
        yield World(site, recorder, config, tmp_path / "state" / "sitewatch.db")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def check_invariants(db: Path) -> None:
    """What must hold after any crash: one open incident and ticket per key, every transition queued."""
    open_keys = [k for (k,) in query(db, "SELECT key FROM incidents WHERE resolved_at IS NULL")]
    assert len(open_keys) == len(set(open_keys)), open_keys
    open_tickets = [k for (k,) in query(db, "SELECT key FROM tickets WHERE status != 'closed'")]
    assert len(open_tickets) == len(set(open_tickets)), open_tickets
    # Each transition wrote one outbox row per sink in the same transaction as its event.
    events = query(db, "SELECT incident_id, kind FROM incident_events")
    rows = query(db, "SELECT incident_id, action, sink FROM outbox")
    action = {"opened": "open", "resolved": "resolve"}
    expected = sorted((i, action.get(k, "update"), s) for i, k in events for s in ("local", "recorder"))
    assert sorted(rows) == expected


async def test_random_kill_9_cycles_lose_and_double_nothing(world: World) -> None:
    """Outages start and end while the agent is killed at random; afterwards every ledger agrees."""
    seed = int(os.environ.get("SITEWATCH_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    agent = await start(world.config)
    try:
        for _ in range(10):
            # Flip the site now and then, the desk too, and kill the agent at a random moment.
            if rng.random() < 0.5:
                world.site.healthy = not world.site.healthy
            world.recorder.failing = rng.random() < 0.2
            await asyncio.sleep(rng.uniform(0.1, 1.5))  # the random moment is the point of the test
            agent.send_signal(signal.SIGKILL)
            await agent.wait()
            check_invariants(world.db)
            agent = await start(world.config)
        # Calm: the site and desk recover; everything queued must go out and every incident close.
        world.site.healthy, world.recorder.failing = True, False
        await wait_for(
            lambda: (
                query(world.db, "SELECT count(*) FROM outbox WHERE state != 'done'") == [(0,)]
                and query(world.db, "SELECT count(*) FROM incidents WHERE resolved_at IS NULL") == [(0,)]
            ),
            timeout=60,
            what=f"every incident resolved and delivered (seed {seed})",
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(agent.wait(), timeout=15)
    check_invariants(world.db)
    incidents = query(world.db, "SELECT id, key FROM incidents")
    # Delivery ids are incident:event:at; the recorder must hold exactly the rows the store delivered.
    delivered = {
        f"{i}:{json.loads(p)['event']}:{json.loads(p)['at']}"
        for i, p in query(world.db, "SELECT incident_id, payload FROM outbox WHERE sink = 'recorder'")
    }
    assert world.recorder.deliveries() == delivered, f"seed {seed}"
    for incident_id, _ in incidents:
        opens = {d for d in world.recorder.deliveries("opened") if d.startswith(f"{incident_id}:")}
        assert len(opens) == 1, (incident_id, opens, seed)
    tickets = query(world.db, "SELECT key, status FROM tickets")
    assert len(tickets) == len(incidents), (tickets, incidents, seed)
    assert {status for _, status in tickets} <= {"closed"}, seed


async def test_sigterm_lets_an_in_flight_delivery_finish(world: World) -> None:
    """SIGTERM while the desk is answering: the delivery completes, is marked, and is not repeated."""
    world.recorder.hang = asyncio.Event()
    agent = await start(world.config)
    await wait_for(lambda: len(world.recorder.calls) == 1, timeout=20, what="the first webhook call")
    agent.send_signal(signal.SIGTERM)
    world.recorder.hang.set()
    assert await asyncio.wait_for(agent.wait(), timeout=15) == 0
    assert query(world.db, "SELECT state FROM outbox WHERE sink = 'recorder' ORDER BY id LIMIT 1") == [("done",)]
    # A second agent finds nothing left to send for that event.
    world.recorder.hang = None
    agent = await start(world.config)
    try:
        await wait_for(lambda: len(world.recorder.deliveries("opened")) == 2, timeout=20, what="both checks' opens")
    finally:
        agent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(agent.wait(), timeout=15)
    assert len(world.recorder.calls) == len(world.recorder.deliveries())


async def test_sigterm_with_a_hung_desk_exits_in_time_and_keeps_the_row(world: World) -> None:
    """A desk that never answers cannot hold the agent: it exits within its grace, the row stays queued."""
    world.recorder.hang = asyncio.Event()  # never set while the first agent lives
    agent = await start(world.config)
    await wait_for(lambda: len(world.recorder.calls) >= 1, timeout=20, what="the first webhook call")
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    agent.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(agent.wait(), timeout=30) == 0
    # Scheduler grace (the longest check timeout) + the 5 s delivery grace, plus start-up slack.
    assert loop.time() - stopped_at < 8.0
    pending = query(world.db, "SELECT payload FROM outbox WHERE sink = 'recorder' AND state = 'pending'")
    assert pending, "the unanswered delivery must still be queued"
    first = world.recorder.calls[0]["delivery_id"]
    world.recorder.hang.set()
    world.recorder.hang = None
    agent = await start(world.config)
    try:
        await wait_for(
            lambda: (
                len(world.recorder.deliveries("opened")) == 2
                and query(world.db, "SELECT count(*) FROM outbox WHERE state != 'done'") == [(0,)]
            ),
            timeout=30,
            what="the queued delivery (and the other check's open) to go out after the restart",
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(agent.wait(), timeout=15)
    # At least once, never as a new event: the repeat carries the same delivery id.
    assert first in world.recorder.deliveries("opened")
    assert len(world.recorder.deliveries("opened")) == 2  # one per check, however often sent

"""Incidents and tickets end to end: store invariants, outbox retries, the local sink, kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.tickets import SinkError
from sitewatch.tickets.outbox import Deliverer
from tests.helpers import free_port, serve, wait_for


def opened(at: float = 1000.0) -> IncidentEvent:
    return IncidentEvent("opened", at, Status.CRITICAL, "HTTP 503", at)


def resolved(at: float = 2000.0) -> IncidentEvent:
    return IncidentEvent("resolved", at, None, "HTTP 200", 1000.0)


def record(store: Store, event: IncidentEvent, key: str = "sw:v1:shop:http") -> int:
    payload = {"key": key, "event": event.kind, "at": event.at, "opened_at": 1000.0, "summary": event.summary}
    return store.record(key, event, site="shop", check="http", sinks=["desk"], payload=payload)


def test_one_open_incident_per_key(tmp_path: Path) -> None:
    """The store itself refuses a second open incident for a key, and keeps the first."""
    store = Store(tmp_path / "s.db")
    record(store, opened())
    with pytest.raises(sqlite3.IntegrityError):
        record(store, opened(1500.0))
    assert list(store.open_incidents()) == ["sw:v1:shop:http"]
    assert store.outbox_stats(2000.0)["pending"] == 1  # the failed transaction wrote no outbox row


class FlakyDesk:
    """A desk that fails a number of calls (retryable) before working; records what it received."""

    name = "desk"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, str]] = []
        self.tickets: dict[str, str] = {}

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise SinkError("HTTP 503 from the desk")

    async def find_open(self, key: str) -> str | None:
        self._maybe_fail()
        return next((ref for ref, k in self.tickets.items() if k == key), None)

    async def open(self, payload: dict[str, Any]) -> str:
        self._maybe_fail()
        ref = f"T-{len(self.tickets) + 1}"
        self.tickets[ref] = payload["key"]
        self.calls.append(("open", ref))
        return ref

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        self._maybe_fail()
        self.calls.append(("update", ref))

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        self._maybe_fail()
        self.calls.append(("resolve", ref))
        self.tickets.pop(ref)


async def test_desk_outage_delays_but_never_loses_or_duplicates(tmp_path: Path) -> None:
    """With the desk down for five calls, open then resolve arrive exactly once, in order."""
    store = Store(tmp_path / "s.db")
    desk = FlakyDesk(failures=5)
    deliverer = Deliverer(store, {"desk": desk}, logging.getLogger("sitewatch.test"))
    record(store, opened())
    record(store, resolved())
    # Retries back off in wall time; make every pending row due again instead of waiting.
    for _ in range(20):
        store.db.execute("UPDATE outbox SET next_at = 0 WHERE state = 'pending'")
        await deliverer.drain_once()
        if not store.outbox_stats(0)["pending"]:
            break
    assert desk.calls == [("open", "T-1"), ("resolve", "T-1")]
    assert store.outbox_stats(0) == {"pending": 0, "dead": 0, "oldest_pending_age": 0.0}
    assert deliverer.delivered[("desk", "retry")] == 5


async def test_each_sink_resolves_its_own_ticket(tmp_path: Path) -> None:
    """With two desks, each resolve carries the reference its own desk returned, not the other's."""

    class NumberedDesk(FlakyDesk):
        def __init__(self, prefix: str) -> None:
            super().__init__(failures=0)
            self.prefix = prefix

        async def open(self, payload: dict[str, Any]) -> str:
            ref = await super().open(payload)
            return f"{self.prefix}{ref}"

        async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
            self.calls.append(("resolve", ref))

    store = Store(tmp_path / "s.db")
    a, b = NumberedDesk("A-"), NumberedDesk("B-")
    deliverer = Deliverer(store, {"a": a, "b": b}, logging.getLogger("sitewatch.test"))
    key = "sw:v1:shop:http"
    payload = {"key": key, "event": "opened", "at": 1000.0, "opened_at": 1000.0, "summary": "HTTP 503"}
    store.record(key, opened(), site="shop", check="http", sinks=["a", "b"], payload=payload)
    await deliverer.drain_once()
    store.record(key, resolved(), site="shop", check="http", sinks=["a", "b"], payload=payload)
    await deliverer.drain_once()
    assert a.calls == [("open", "T-1"), ("resolve", "A-T-1")]
    assert b.calls == [("open", "T-1"), ("resolve", "B-T-1")]


async def test_permanent_error_goes_to_dead_letters(tmp_path: Path) -> None:
    """A 400-like error is not retried; the row is kept as dead for the operator."""

    class BadRequest(FlakyDesk):
        async def find_open(self, key: str) -> str | None:
            raise SinkError("HTTP 400: project 'shop' does not exist", permanent=True)

    store = Store(tmp_path / "s.db")
    record(store, opened())
    await Deliverer(store, {"desk": BadRequest(0)}, logging.getLogger("sitewatch.test")).drain_once()
    assert store.outbox_stats(0)["dead"] == 1
    assert store.db.execute("SELECT last_error FROM outbox").fetchone()[0].startswith("HTTP 400")


class Switch:
    """A target site whose health the test flips."""

    def __init__(self) -> None:
        self.healthy = False

    def app(self) -> web.Application:
        async def page(_: web.Request) -> web.Response:
            return web.Response(text="ok" if self.healthy else "down", status=200 if self.healthy else 503)

        app = web.Application()
        app.router.add_get("/", page)
        return app


@pytest.fixture
async def switch() -> AsyncIterator[tuple[Switch, str]]:
    target = Switch()
    async with serve(target.app()) as url:
        yield target, url


def agent_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path / "state"}}}
        defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
        sites:
          - name: shop
            url: {url}/
        """),
        encoding="utf-8",
    )
    return path


def tickets(tmp_path: Path) -> list[tuple[int, str, str]]:
    db = tmp_path / "state" / "sitewatch.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            return conn.execute("SELECT id, status, title FROM tickets ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the agent is still creating its schema
            return []


def comments(tmp_path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "sitewatch.db")) as conn:
        return [r[0] for r in conn.execute("SELECT body FROM ticket_comments ORDER BY id")]


def listen_of(config: Path) -> str:
    return str(yaml.safe_load(config.read_text(encoding="utf-8"))["agent"]["listen"])


async def healthy(listen: str) -> bool:
    try:
        async with aiohttp.ClientSession() as client, client.get(f"http://{listen}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def start_agent(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitewatch.cli",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_kill_9_never_doubles_or_loses_a_ticket(tmp_path: Path, switch: tuple[Switch, str]) -> None:
    """An outage opens one ticket; kill -9 and restarts do not open another; recovery closes it."""
    target, url = switch
    config = agent_config(tmp_path, url)
    listen = listen_of(config)
    agent = await start_agent(config)
    try:
        await wait_for(lambda: len(tickets(tmp_path)) == 1, timeout=20, what="the outage ticket")
        for _ in range(3):  # kill at different moments while the site stays down
            agent.send_signal(signal.SIGKILL)
            await agent.wait()
            agent = await start_agent(config)
            await wait_for(lambda: healthy(listen), timeout=10, what="the restarted agent to answer")
        title = tickets(tmp_path)[0][2]
        assert title.startswith("[sitewatch] shop http CRITICAL: HTTP 503 Service Unavailable")
        target.healthy = True
        await wait_for(lambda: tickets(tmp_path)[0][1] == "closed", timeout=20, what="the ticket to close")
        agent.send_signal(signal.SIGKILL)
        await agent.wait()
        agent = await start_agent(config)
        target.healthy = False
        await wait_for(lambda: len(tickets(tmp_path)) == 2, timeout=20, what="a ticket for the second outage")
    finally:
        agent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(agent.wait(), timeout=15)
    statuses = [status for _, status, _ in tickets(tmp_path)]
    assert statuses == ["closed", "open"]
    assert any(c.startswith("Recovered at ") and "Downtime" in c for c in comments(tmp_path))


async def test_tickets_cli_lists_shows_and_acks(tmp_path: Path) -> None:
    """`sitewatch tickets` reads the local store: an aligned list, the full text, and ack."""
    from sitewatch.tickets.local import LocalSink

    config = agent_config(tmp_path, "http://127.0.0.1:9")
    store = Store(tmp_path / "state" / "sitewatch.db")
    payload = {
        "key": "sw:v1:shop:http",
        "event": "opened",
        "site": "shop",
        "check": "http",
        "url": "http://127.0.0.1:9/",
        "severity": "critical",
        "priority": "P2",
        "summary": "HTTP 503 Service Unavailable (expected 200-399)",
        "at": 1_800_000_000.0,
        "opened_at": 1_800_000_000.0,
        "agent": "web1",
    }
    ref = await LocalSink(store).open(payload)
    store.close()

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sitewatch.cli", "tickets", "-c", str(config), *args, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await cli("list")
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "PRIO"]
    assert row.split()[:3] == [ref, "open", "P2"]
    code, out = await cli("show", ref)
    assert "Failing since: Jan 15, 2027, 08:00 UTC" in out
    assert "Incident key: sw:v1:shop:http" in out
    assert (await cli("ack", ref))[0] == 0
    assert (await cli("list"))[1].splitlines()[1].split()[1] == "acked"
    assert (await cli("show", "99"))[0] == 1


async def test_result_history_is_kept_and_pruned(tmp_path: Path, switch: tuple[Switch, str]) -> None:
    """Every run lands in the history (flushed in batches and at shutdown); old rows are pruned."""
    from sitewatch.agent import Agent
    from sitewatch.config.loader import load_config

    _, url = switch
    agent = Agent(load_config(agent_config(tmp_path, url)), logging.getLogger("sitewatch.test"))
    await agent.start()
    await wait_for(lambda: agent.book.runs[("shop", "http", Status.CRITICAL)] >= 3, timeout=10, what="3 runs")
    await agent.close()
    store = Store(tmp_path / "state" / "sitewatch.db")
    rows = store.history("shop", 0)
    assert len(rows) >= 3
    assert {status for _, _, status, _ in rows} == {"critical"}
    newest = max(at for _, at, _, _ in rows)
    assert store.prune_history(newest) == len(rows) - sum(at == newest for _, at, _, _ in rows)

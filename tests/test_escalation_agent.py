"""The issue's check, end to end: a real agent process, a P1 nobody acks, kill -9 around the L2 step.

The agent talks to the Bot API emulator (tests/telegram_emulator.py) on loopback; the test plays
the people in the chats. The L2 message must reach the L2 chat exactly once although the agent is
killed just before the step is due and again just after it was sent; the Acknowledge button then
stops the chain, while a second, unacknowledged incident of the same client goes on to the
manager (the control that shows the chain was still running).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import free_port, serve, wait_for
from tests.telegram_emulator import TOKEN, BotApiEmulator, user

L1, L2, MANAGERS = -1001000000001, -1001000000002, -1001000000003


@pytest.fixture
async def down_sites() -> AsyncIterator[str]:
    """Two sites that answer 503."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="down", status=503)

    app = web.Application()
    app.router.add_get("/{site}/", page)
    async with serve(app) as url:
        yield url


@pytest.fixture
async def bot() -> AsyncIterator[tuple[BotApiEmulator, str]]:
    emulator = BotApiEmulator()
    emulator.add_chat(L1, "L1 on duty")
    emulator.add_chat(L2, "L2")
    emulator.add_chat(MANAGERS, "managers")
    async with serve(emulator.app()) as url:
        yield emulator, url


def _config(tmp_path: Path, sites: str, api: str) -> Path:
    (tmp_path / "bot-token").write_text(TOKEN + "\n", encoding="utf-8")
    tg = f'bot_token: "${{file:bot-token}}", api_url: "{api}", poll_timeout: 1s, allowed_users: ["@ivan"]'
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path / "state"}}}
        defaults: {{interval: 300ms, timeout: 250ms, fail_after: 1}}
        tickets:
          sinks: [{{type: local}}]
          notifiers:
            - {{type: telegram, name: tg-l1, chat_id: {L1}, {tg}}}
            - {{type: telegram, name: tg-l2, chat_id: {L2}, {tg}}}
            - {{type: telegram, name: tg-managers, chat_id: {MANAGERS}, {tg}}}
        clients:
          - name: acme
            timezone: Europe/Moscow
            sla: {{P1: {{response: 5m8s, resolve: 4h}}}}
            escalation:
              P1:
                - {{after: 0m, level: L1, notify: [tg-l1]}}
                - {{at: respond_by - 5m, level: L2, notify: [tg-l2]}}
                - {{after: 20s, level: manager, notify: [tg-managers]}}
        sites:
          - {{name: shop, url: "{sites}/shop/", client: acme, importance: high}}
          - {{name: blog, url: "{sites}/blog/", client: acme, importance: high}}
        """),
        encoding="utf-8",
    )
    return path


async def _start(config: Path) -> asyncio.subprocess.Process:
    log = (config.parent / "agent.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sitewatch.cli",
            "run",
            "-c",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    finally:
        log.close()


async def _kill(agent: asyncio.subprocess.Process) -> None:
    agent.send_signal(signal.SIGKILL)
    await agent.wait()


def _query(tmp_path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    db = tmp_path / "state" / "sitewatch.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the schema is still being made
            return []


def _about(emulator: BotApiEmulator, chat: int, site: str) -> list[dict[str, Any]]:
    return [m for m in emulator.sent_to(chat) if m["text"].startswith(f"P1 {site} http")]


@pytest.mark.slow
async def test_l2_gets_one_message_across_kill_9_and_the_button_stops_the_chain(
    tmp_path: Path, down_sites: str, bot: tuple[BotApiEmulator, str]
) -> None:
    """L2 is told once despite kill -9 before and after its step; Acknowledge stops shop's chain, not blog's."""
    emulator, api = bot
    config = _config(tmp_path, down_sites, api)
    agent = await _start(config)
    try:
        await wait_for(lambda: len(_about(emulator, L1, "shop")) == 1, timeout=30, what="shop's L1 message")
        ((opened_at,),) = _query(tmp_path, "SELECT opened_at FROM incidents WHERE site = 'shop'")
        l2_due = opened_at + 8
        # Killed just before the L2 step is due: it comes due while the agent is down.
        await wait_for(lambda: time.time() >= l2_due - 1, timeout=15, what="a second before L2 is due")
        await _kill(agent)
        agent = await _start(config)
        # Shop's own L2 row (blog's may be done first): delivered, and so recorded as done.
        sent = (
            "SELECT COUNT(*) FROM outbox o JOIN incidents i ON i.id = o.incident_id"
            " WHERE o.sink = 'tg-l2' AND o.state = 'done' AND i.site = 'shop'"
        )
        await wait_for(lambda: _query(tmp_path, sent)[0][0] >= 1, timeout=30, what="shop's L2 message to be sent")
        # Killed again just after it was sent: the restarted agent must not send it again.
        await _kill(agent)
        agent = await _start(config)
        (message,) = _about(emulator, L2, "shop")
        # Pressed while the agent starts again: an update stays until a getUpdates offset confirms it.
        query = emulator.press(message, user(4242, "Ivan"))
        await wait_for(lambda: emulator.queries[query] is not None, timeout=30, what="the press to be answered")
        assert emulator.queries[query]["text"] == "Acknowledged: the escalation is stopped."  # type: ignore[index]
        await wait_for(
            lambda: all("Acknowledged by @Ivan at " in m["text"] for m in _about(emulator, L1, "shop") + [message]),
            timeout=30,
            what="shop's messages to say who acknowledged",
        )
        await wait_for(
            lambda: len(_about(emulator, MANAGERS, "blog")) == 1 and time.time() > opened_at + 23,
            timeout=40,
            what="blog's manager step, and a few passes after shop's would have been due",
        )
    finally:
        agent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(agent.wait(), timeout=15)
    assert len(_about(emulator, L2, "shop")) == 1
    assert _about(emulator, MANAGERS, "shop") == []  # acknowledged: the chain stopped
    assert "reply_markup" not in message  # the button is gone once acknowledged
    fired = _query(
        tmp_path,
        "SELECT f.level, f.repeat, f.late FROM escalation_fired f JOIN incidents i ON i.id = f.incident_id"
        " WHERE i.site = 'shop' AND f.step >= 0 ORDER BY f.id",
    )
    assert [(level, repeat) for level, repeat, _ in fired] == [("L1", 0), ("L2", 0)]
    late = bool(fired[1][2])
    assert ("Sent late: this step came due at" in message["text"]) == late
    acked = _query(tmp_path, "SELECT by, source FROM incident_life WHERE kind = 'ack'")
    assert acked == [("@Ivan", "telegram")]
    comments = [r[0] for r in _query(tmp_path, "SELECT body FROM ticket_comments ORDER BY id")]
    assert sum(c.startswith("Escalation L2 at ") for c in comments) == 2  # shop's and blog's, once each
    assert b"123456789:AAE" not in (tmp_path / "agent.log").read_bytes()  # the token never reaches the log

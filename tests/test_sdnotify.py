"""sd_notify against a real unix datagram socket, as systemd would listen on it."""

from __future__ import annotations

import asyncio
import logging
import socket
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from sitewatch.sdnotify import Notifier
from tests.helpers import free_port, wait_for


class Listener:
    """A bound SOCK_DGRAM socket that collects what the agent sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def seen(self, text: str) -> bool:
        return any(text in m for m in self.drain())


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Listener, str]]:
    """A notify socket on the filesystem, or in the abstract namespace (NOTIFY_SOCKET=@name)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    else:
        name = f"sitewatch-test-{tmp_path.name}"
        sock.bind("\0" + name)
        address = "@" + name
    sock.setblocking(False)
    with sock:
        yield Listener(sock), address


def write_config(path: Path, url: str) -> Path:
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {path.parent}}}
        defaults: {{interval: 1s, timeout: 500ms}}
        sites:
          - name: unreachable
            url: {url}
        """),
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def agent(tmp_path: Path, listener: tuple[Listener, str]) -> AsyncIterator[Agent]:
    _, address = listener
    config = load_config(write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/"))
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"})
    running = Agent(config, logging.getLogger("sitewatch.test"), notifier=notifier)
    await running.start()
    try:
        yield running
    finally:
        await running.close()


def test_notifier_is_a_noop_outside_systemd() -> None:
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog_interval is None


async def test_ready_status_and_watchdog(agent: Agent, listener: tuple[Listener, str]) -> None:
    """READY=1 with a STATUS line after start, then WATCHDOG=1 at half the watchdog period."""
    sock, _ = listener
    await wait_for(lambda: sock.seen("READY=1"), timeout=5, what="READY=1")
    ready = next(m for m in sock.messages if "READY=1" in m)
    assert "STATUS=1 sites, 1 checks, 0 failing, 0 tickets pending" in ready
    await wait_for(lambda: sum("WATCHDOG=1" in m for m in sock.drain()) >= 3, timeout=5, what="3 watchdog pings")
    await wait_for(lambda: sock.seen("STATUS=1 sites, 1 checks, 1 failing"), timeout=5, what="failing in STATUS")


async def test_reload_protocol_and_metrics(agent: Agent, listener: tuple[Listener, str], tmp_path: Path) -> None:
    """A reload sends RELOADING=1 then READY=1; a broken file shows in STATUS and the reload metric."""
    sock, _ = listener
    await wait_for(lambda: sock.seen("READY=1"), timeout=5, what="READY=1")
    sock.messages.clear()
    (tmp_path / "config.yaml").write_text("sites: [oops", encoding="utf-8")
    assert agent.reload() is False
    messages = sock.drain()
    assert messages[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert "READY=1" in messages[1]
    assert "last reload FAILED" in messages[1]
    async with aiohttp.ClientSession() as client, client.get(f"http://{agent.web.bound[0]}/metrics") as resp:
        text = await resp.text()
    assert "sitewatch_config_last_reload_successful 0.0" in text
    write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/")
    assert agent.reload() is True
    assert agent.book.reload_ok


async def test_watchdog_is_withheld_when_the_scheduler_stops(
    agent: Agent, listener: tuple[Listener, str], caplog: pytest.LogCaptureFixture
) -> None:
    """With the scheduler loop gone, no more WATCHDOG=1: systemd will restart the agent."""
    sock, _ = listener
    await wait_for(lambda: sock.seen("WATCHDOG=1"), timeout=5, what="a first watchdog ping")
    assert agent._loop_task is not None
    agent._loop_task.cancel()
    with caplog.at_level(logging.ERROR, logger="sitewatch"):
        await wait_for(
            lambda: sum(r.getMessage() == "watchdog_withheld" for r in caplog.records) >= 2,
            timeout=5,
            what="two withheld watchdog periods",
        )
        sock.messages.clear()
        sock.drain()
        await wait_for(
            lambda: sum(r.getMessage() == "watchdog_withheld" for r in caplog.records) >= 4,
            timeout=5,
            what="two more withheld periods",
        )
    assert not any("WATCHDOG=1" in m for m in sock.drain())
    with pytest.raises(asyncio.CancelledError):
        await agent._loop_task
    agent._loop_task = None

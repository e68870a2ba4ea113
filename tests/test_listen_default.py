"""Without ``agent.listen`` the agent listens on 127.0.0.1:9879, loopback only (README, docs/openapi.yaml)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from sitewatch.config import AgentConfig
from sitewatch.config.loader import load_config
from tests.agent_process import get
from tests.helpers import free_port, running_agent

DEFAULT = "127.0.0.1:9879"


def _config(tmp_path: Path, agent: bool = True) -> Path:
    """A config that names no listen address (with or without an ``agent:`` section)."""
    path = tmp_path / "config.yaml"
    section = f"agent:\n  state_dir: {tmp_path}\n" if agent else ""
    path.write_text(section + "sites:\n  - {name: shop, url: 'http://127.0.0.1:9/'}\n", encoding="utf-8")
    return path


def _listeners(port: int) -> list[str]:
    """Every socket listening on TCP ``port`` on this machine, as the kernel lists them (hex address:port)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    found.append(local)
    return found


@pytest.mark.parametrize("agent", [True, False], ids=["agent-without-listen", "no-agent-section"])
def test_default_listen_is_loopback_port_9879(tmp_path: Path, agent: bool) -> None:
    """The model's default and a loaded file without ``listen:`` both give 127.0.0.1, port 9879."""
    assert AgentConfig().listen == DEFAULT
    config = load_config(_config(tmp_path, agent))
    assert config.agent.listen == DEFAULT
    assert config.agent.host_port == ("127.0.0.1", 9879)


async def test_the_default_host_is_bound_on_loopback_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default's host, through the agent's real bind path (only the port swapped for a free one): the kernel
    lists one listener on that port, 127.0.0.1 — not 0.0.0.0, not ::."""
    port = free_port()
    default = vars(AgentConfig)["host_port"].fget
    monkeypatch.setattr(AgentConfig, "host_port", property(lambda self: (default(self)[0], port)))
    async with running_agent(_config(tmp_path)) as agent:
        assert agent.web.bound == [f"127.0.0.1:{port}"]
        assert _listeners(port) == [f"0100007F:{port:04X}"]  # 127.0.0.1, little-endian as /proc writes it
        status, _ = await get(f"127.0.0.1:{port}", "/healthz")
        assert status in (200, 503)


@pytest.mark.slow
async def test_sitewatch_run_without_listen_serves_on_9879(tmp_path: Path) -> None:
    """`sitewatch run` on a file without ``listen:``: the agent says it listens on 127.0.0.1:9879 and answers there.

    The port is fixed, so another agent on this machine may hold it; then the refusal must still
    name 127.0.0.1:9879 (what the agent tried), and the rest is skipped."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "run", "-c", str(_config(tmp_path)),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},  # plain event lines
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any(" agent_started " in line or " bind_failed " in line for line in lines):
                raw = await proc.stderr.readline()
                assert raw, "the agent exited without starting:\n" + "\n".join(lines)
                lines.append(raw.decode().rstrip("\n"))
        (line,) = [line for line in lines if " agent_started " in line or " bind_failed " in line]
        if " bind_failed " in line:
            assert f"listen={DEFAULT} " in line, line
            pytest.skip(f"{DEFAULT} is taken on this machine; the agent tried it ({line})")
        assert f"listen={DEFAULT} " in line, line  # its bound addresses: exactly one, the loopback one
        status, _ = await get(DEFAULT, "/healthz")
        assert status in (200, 503)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=15)

"""A real Alertmanager (Debian's prometheus-alertmanager) sends its webhook to a running agent."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sitewatch.agent import Agent
from tests.helpers import free_port, need, running_agent, wait_for

pytestmark = [pytest.mark.external, pytest.mark.slow]

TOKEN = "real-am-token-0123456789abcdef"


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent with the bridge on, no sites, tickets in its local store."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent:\n  listen: 127.0.0.1:{free_port()}\n  state_dir: {tmp_path}\n"
        f"  alertmanager: {{enabled: true, token: {TOKEN}}}\n",
        encoding="utf-8",
    )
    async with running_agent(path) as running:
        yield running


@pytest.fixture
async def alertmanager(tmp_path: Path, agent: Agent) -> AsyncIterator[str]:
    """Alertmanager on a free loopback port, its webhook receiver pointing at the agent; killed by PID."""
    binary = need("prometheus-alertmanager", package="prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""\
route:
  receiver: sitewatch
  group_by: ['...']        # every alert its own group: one notification per alert
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sitewatch
    webhook_configs:
      - url: http://{agent.web.bound[0]}/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
""",
        encoding="utf-8",
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        stdout=DEVNULL,
        stderr=PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> bool:
            if proc.returncode is not None:
                assert proc.stderr is not None
                raise AssertionError(f"alertmanager exited: {(await proc.stderr.read()).decode()[-2000:]}")
            try:
                async with aiohttp.ClientSession() as client, client.get(f"{url}/-/ready") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(ready, timeout=30, what="alertmanager ready")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, 9)
        await proc.wait()


def iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


async def post_alert(url: str, *, ends: dt.datetime) -> None:
    now = dt.datetime.now(dt.UTC)
    body: list[dict[str, Any]] = [
        {
            "labels": {"alertname": "NodeDown", "instance": "web1:9100", "severity": "critical", "site": "shop"},
            "annotations": {"summary": "web1 does not answer scrapes"},
            "startsAt": iso(now - dt.timedelta(minutes=5)),
            "endsAt": iso(ends),
            "generatorURL": "http://prometheus.example:9090/graph",
        }
    ]
    async with aiohttp.ClientSession() as client, client.post(f"{url}/api/v2/alerts", json=body) as resp:
        assert resp.status == 200, await resp.text()


def tickets(agent: Agent) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in agent.store.db.execute("SELECT key, title, status FROM tickets ORDER BY id")]


async def test_alertmanager_opens_and_resolves_a_ticket(agent: Agent, alertmanager: str) -> None:
    """Firing in Alertmanager → one local ticket; endsAt in the past → the same ticket closed."""
    await post_alert(alertmanager, ends=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    await wait_for(lambda: len(tickets(agent)) == 1, timeout=30, what="the ticket opened")
    key, title, status = tickets(agent)[0]
    assert key.startswith("am:v1:")
    assert title == "[sitewatch] shop NodeDown CRITICAL: web1 does not answer scrapes"
    assert status == "open"
    # Alertmanager re-sends the firing alert when it is posted again (and every repeat_interval).
    await post_alert(alertmanager, ends=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    await post_alert(alertmanager, ends=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    await wait_for(lambda: tickets(agent)[0][2] == "closed", timeout=30, what="the ticket resolved")
    assert len(tickets(agent)) == 1

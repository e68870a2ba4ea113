"""Cost of ``POST /alertmanager`` on a running agent, as ratios against the cheapest request it serves.

- repeat: one firing alert that is already open (what Alertmanager sends every repeat_interval);
- batch: 100 alerts in one notification, all repeats (a grouped rule across 100 hosts);
- open+resolve: a new alert opened, then resolved (two SQLite transactions with outbox rows);

each against ``GET /healthz`` on the same server over the same keep-alive connection.

Run: .venv/bin/python bench/alertmanager_bridge.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config

TOKEN = "bench-token-0123456789abcdef"
ROUNDS = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert(fingerprint: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "NodeDown", "instance": f"host-{fingerprint}:9100", "severity": "critical"},
        "annotations": {"summary": "node does not answer"},
        "startsAt": "2026-11-26T22:00:00Z",
        "endsAt": "2026-11-26T22:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any]) -> bytes:
    return json.dumps({"version": "4", "status": "firing", "receiver": "sitewatch", "alerts": list(alerts)}).encode()


async def best_of(func: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> float:
    """Median wall time of ``rounds`` awaited calls (seconds)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await func()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.yaml"
        config.write_text(
            f"agent:\n  listen: 127.0.0.1:{free_port()}\n  state_dir: {scratch}\n"
            f"  alertmanager: {{enabled: true, token: {TOKEN}}}\n",
            encoding="utf-8",
        )
        log = logging.getLogger("sitewatch.bench")
        log.addHandler(logging.NullHandler())  # one incident line per round would drown the figures
        log.propagate = False
        agent = Agent(load_config(config), log)
        await agent.start()
        base = f"http://{agent.web.bound[0]}"
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            async with aiohttp.ClientSession() as client:

                async def get_health() -> None:
                    async with client.get(f"{base}/healthz") as resp:
                        await resp.read()

                async def send(body: bytes) -> None:
                    async with client.post(f"{base}/alertmanager", data=body, headers=auth) as resp:
                        assert resp.status == 200, await resp.text()

                one = notification(alert("aa01"))
                batch = notification(*(alert(f"b{i:03x}") for i in range(100)))
                await send(one)
                await send(batch)
                counter = iter(range(10**6))

                async def open_resolve() -> None:
                    fingerprint = f"c{next(counter):05x}"
                    await send(notification(alert(fingerprint)))
                    await send(notification(alert(fingerprint, "resolved")))

                peer = await best_of(get_health)
                rows = [
                    ("repeat (1 alert)", await best_of(lambda: send(one))),
                    ("batch (100 repeats)", await best_of(lambda: send(batch), 50)),
                    ("open + resolve", await best_of(open_resolve, 50)),
                ]
        finally:
            await agent.close()
    print(f"peer: GET /healthz {peer * 1e3:.2f} ms (median of {ROUNDS})")
    for name, seconds in rows:
        print(f"{name:22s} {seconds * 1e3:7.2f} ms  = {seconds / peer:5.1f}x /healthz")


if __name__ == "__main__":
    asyncio.run(main())

"""The quorum on the real engines: Debian's Prometheus scrapes three agent processes (three locations) and
evaluates `sitewatch rules --quorum 2`; a two-peer Alertmanager cluster sends to the bridge, whose local desk
holds the tickets. One location failing opens nothing; two open one ticket naming them; an Alertmanager peer
killed and the bridge restarted mid-incident leave that one ticket; recovery resolves it once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sqlite3
import time
from asyncio.subprocess import DEVNULL, PIPE
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sitewatch.cli.main import main
from tests.agent_process import agent_process
from tests.helpers import free_port, need_daemon, wait_for
from tests.switchable import Switchable

pytestmark = [pytest.mark.external, pytest.mark.slow]

TOKEN = "quorum-real-token-0123456789abcdef"
LOCATIONS = ("msk", "ams", "fra")
HOLD = "2s"  # the alert's `for:`; every other interval of the fleet is about 1 s


async def _json(url: str, **params: str) -> Any:
    try:
        async with aiohttp.ClientSession() as client, client.get(url, params=params) as resp:
            return await resp.json() if resp.status == 200 else None
    except (aiohttp.ClientError, ValueError):
        return None


async def _text(url: str) -> str:
    try:
        async with aiohttp.ClientSession() as client, client.get(url) as resp:
            return await resp.text() if resp.status == 200 else ""
    except aiohttp.ClientError:
        return ""


class Daemon:
    """A Debian daemon started by the test; stopped (or killed) by its own PID, never by name."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, url: str) -> None:
        self.name, self.proc, self.url = name, proc, url

    async def ready(self, path: str) -> None:
        async def answering() -> bool:
            if self.proc.returncode is not None:
                assert self.proc.stderr is not None
                err = (await self.proc.stderr.read()).decode(errors="replace")[-2000:]
                raise AssertionError(f"{self.name} exited: {err}")
            return bool(await _text(self.url + path))

        await wait_for(answering, timeout=30, what=f"{self.name} ready")

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                os.kill(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()


@contextlib.asynccontextmanager
async def daemon(name: str, binary: str, *args: str, url: str) -> AsyncIterator[Daemon]:
    proc = await asyncio.create_subprocess_exec(binary, *args, stdout=DEVNULL, stderr=PIPE)
    running = Daemon(name, proc, url)
    try:
        yield running
    finally:
        await running.stop()


def _agent_config(directory: Path, body: str) -> tuple[Path, str]:
    """An agent config in its own state folder, on a free port: (path, listen address)."""
    directory.mkdir()
    listen = f"127.0.0.1:{free_port()}"
    path = directory / "config.yaml"
    path.write_text(f"agent:\n  listen: {listen}\n  state_dir: {directory}\n{body}", encoding="utf-8")
    return path, listen


def _site(port: int) -> str:
    """Each location's way to the same site: its own loopback server, which the test takes down."""
    return (
        "defaults: {interval: 500ms, timeout: 400ms}\n"
        "sites:\n"
        f"  - name: shop\n    url: http://127.0.0.1:{port}/\n    incidents: false\n    checks: [{{type: http}}]\n"
    )


def _alertmanager_config(path: Path, bridge: str) -> None:
    path.write_text(
        f"""\
route:
  receiver: sitewatch
  group_by: [alertname, site, check]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 3s      # short, so the restarted bridge hears the alert again within the test
receivers:
  - name: sitewatch
    webhook_configs:
      - url: http://{bridge}/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
""",
        encoding="utf-8",
    )


def _prometheus_config(path: Path, agents: list[str], alertmanagers: list[str]) -> None:
    targets = "".join(
        f'      - {{targets: ["{listen}"], labels: {{location: {loc}}}}}\n'
        for listen, loc in zip(agents, LOCATIONS, strict=True)
    )
    path.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
        "rule_files: [quorum.rules.yml]\n"
        "alerting:\n  alertmanagers:\n"
        f"    - static_configs: [{{targets: [{', '.join(repr(a) for a in alertmanagers)}]}}]\n"
        f"scrape_configs:\n  - job_name: sitewatch\n    static_configs:\n{targets}",
        encoding="utf-8",
    )


def _desk(state_dir: Path) -> list[dict[str, Any]]:
    """The bridge's local tickets, read from its store on disk (the bridge is another process)."""
    path = state_dir / "sitewatch.db"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("SELECT id, key, title, body, status FROM tickets ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        return [dict(r) for r in rows]


def _resolutions(state_dir: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{state_dir / 'sitewatch.db'}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM incident_events WHERE kind = 'resolved'").fetchone()[0])


async def _query(prometheus: str, expr: str) -> dict[str, float] | None:
    """``location or site`` → value of an instant query; None while Prometheus cannot answer."""
    data = await _json(f"{prometheus}/api/v1/query", query=expr)
    if data is None:
        return None
    return {
        r["metric"].get("location", r["metric"].get("site", "")): float(r["value"][1]) for r in data["data"]["result"]
    }


async def _quorum_evaluated_after(prometheus: str, since: float) -> bool:
    """True once the quorum group's last evaluation started at or after ``since`` (unix seconds)."""
    data = await _json(f"{prometheus}/api/v1/rules")
    if data is None:
        return False
    for group in data["data"]["groups"]:
        stamp = group.get("lastEvaluation", "")
        if group["name"] == "sitewatch-quorum" and stamp and not stamp.startswith("0001"):
            return dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp() >= since
    return False


async def _firing(alertmanager: str) -> list[str]:
    alerts = await _json(f"{alertmanager}/api/v2/alerts") or []
    return [a["labels"]["alertname"] for a in alerts if a["status"]["state"] == "active"]


async def _delivered(alertmanager: str) -> float:
    """Webhook notifications this Alertmanager delivered: attempts minus failures, from its /metrics."""
    totals = {"alertmanager_notifications": 0.0, "alertmanager_notifications_failed": 0.0}
    for family in text_string_to_metric_families(await _text(f"{alertmanager}/metrics")):
        if family.name in totals:
            totals[family.name] = sum(s.value for s in family.samples if s.labels.get("integration") == "webhook")
    return totals["alertmanager_notifications"] - totals["alertmanager_notifications_failed"]


async def _peers(alertmanager: str) -> int:
    status = await _json(f"{alertmanager}/api/v2/status")
    cluster = (status or {}).get("cluster", {})
    return len(cluster.get("peers") or []) if cluster.get("status") == "ready" else 0


async def test_a_quorum_of_two_real_agents_opens_exactly_one_ticket_through_a_real_alertmanager_cluster(
    tmp_path: Path,
) -> None:
    """1 of 3 locations failing → 0 tickets; 2 of 3 → 1 ticket listing both; an Alertmanager peer killed and the
    bridge restarted → still 1 (the surviving peer re-sends, the bridge finds the open incident); both back → closed
    once."""
    prometheus_bin = need_daemon("prometheus", "prometheus")
    alertmanager_bin = need_daemon("prometheus-alertmanager", "prometheus-alertmanager")
    sites = [Switchable("http") for _ in LOCATIONS]
    for server in sites:
        await server.up()
    bridge_config, bridge = _agent_config(tmp_path / "bridge", f"  alertmanager: {{enabled: true, token: {TOKEN}}}\n")
    agents = [_agent_config(tmp_path / loc, _site(s.port)) for loc, s in zip(LOCATIONS, sites, strict=True)]
    rules = tmp_path / "quorum.rules.yml"
    assert (
        main(["rules", "-c", str(agents[0][0]), "--quorum", "2", "--agents", "3", "--for", HOLD, "-o", str(rules)]) == 0
    )
    _alertmanager_config(tmp_path / "alertmanager.yml", bridge)

    try:
        await _fleet(
            tmp_path,
            sites=sites,
            bridge_config=bridge_config,
            bridge=bridge,
            agents=agents,
            binaries=(prometheus_bin, alertmanager_bin),
        )
    finally:
        for server in sites:
            await server.down()


async def _fleet(
    tmp_path: Path,
    *,
    sites: list[Switchable],
    bridge_config: Path,
    bridge: str,
    agents: list[tuple[Path, str]],
    binaries: tuple[str, str],
) -> None:
    prometheus_bin, alertmanager_bin = binaries
    bridge_dir = bridge_config.parent
    web = [free_port(), free_port()]
    gossip = [free_port(), free_port()]
    prom_port = free_port()
    _prometheus_config(tmp_path / "prometheus.yml", [a[1] for a in agents], [f"127.0.0.1:{p}" for p in web])
    async with contextlib.AsyncExitStack() as stack:
        bridge_proc = await stack.enter_async_context(agent_process(bridge_config, bridge))
        for config, listen in agents:
            await stack.enter_async_context(agent_process(config, listen))
        peers = []
        for i in (0, 1):
            peers.append(
                await stack.enter_async_context(
                    daemon(
                        f"alertmanager {i}",
                        alertmanager_bin,
                        f"--config.file={tmp_path / 'alertmanager.yml'}",
                        f"--storage.path={tmp_path / f'am{i}'}",
                        f"--web.listen-address=127.0.0.1:{web[i]}",
                        f"--cluster.listen-address=127.0.0.1:{gossip[i]}",
                        f"--cluster.advertise-address=127.0.0.1:{gossip[i]}",
                        f"--cluster.peer=127.0.0.1:{gossip[1 - i]}",
                        "--cluster.peer-timeout=1s",
                        "--cluster.gossip-interval=50ms",
                        "--cluster.pushpull-interval=1s",
                        "--cluster.probe-interval=200ms",
                        "--cluster.settle-timeout=5s",
                        "--cluster.reconnect-interval=1s",
                        url=f"http://127.0.0.1:{web[i]}",
                    )
                )
            )
        for peer in peers:
            await peer.ready("/-/ready")
        for peer in peers:
            await wait_for(lambda p=peer: _peers(p.url), timeout=30, what="the two peers to see each other")
            assert await _peers(peer.url) == 2
        prom = await stack.enter_async_context(
            daemon(
                "prometheus",
                prometheus_bin,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=1s",
                url=f"http://127.0.0.1:{prom_port}",
            )
        )
        await prom.ready("/-/ready")
        reporting = 'sitewatch:probe_reporting_locations:count{site="shop",check="http"}'
        await wait_for(
            lambda: _equals(_query(prom.url, reporting), {"shop": 3.0}), timeout=30, what="3 locations reporting"
        )

        # One location loses its way to the site: the quorum (2) is not met, whatever the wait.
        await sites[0].down()
        failing = 'probe_success{site="shop",check="http"} == 0'
        await wait_for(lambda: _equals(_query(prom.url, failing), {"msk": 0.0}), timeout=30, what="msk failing")
        long_enough = time.time() + 2 * 2 + 2  # the hold twice over, and two evaluations more
        await wait_for(lambda: _quorum_evaluated_after(prom.url, long_enough), timeout=30, what="the rule's hold")
        assert await _query(prom.url, 'ALERTS{alertname="SiteFailingQuorum"}') == {}
        assert await _query(prom.url, failing) == {"msk": 0.0}  # still exactly one the whole time
        assert [await _firing(p.url) for p in peers] == [[], []]
        assert _desk(bridge_dir) == []

        # A second location fails too: one alert, one ticket, naming both.
        await sites[1].down()
        await wait_for(lambda: len(_desk(bridge_dir)) == 1, timeout=60, what="the quorum's ticket")
        ticket = _desk(bridge_dir)[0]
        assert ticket["key"].startswith("am:v1:")
        assert ticket["title"] == "[sitewatch] shop SiteFailingQuorum CRITICAL: shop http failing from 2 of 3 locations"
        assert "locations: ams, msk" in ticket["body"]

        # Mid-incident: one Alertmanager peer dies, and the bridge restarts.
        await peers[0].stop(signal.SIGKILL)
        bridge_proc.proc.send_signal(signal.SIGTERM)
        await bridge_proc.proc.wait()
        async with agent_process(bridge_config, bridge):
            heard = await _delivered(peers[1].url)
            await wait_for(
                lambda: _more(_delivered(peers[1].url), heard),
                timeout=30,
                what="the surviving peer to re-send to the restarted bridge",
            )
            assert [(t["key"], t["status"]) for t in _desk(bridge_dir)] == [(ticket["key"], "open")]

            # Both ways to the site are back: the alert resolves and the one ticket closes, once.
            for server in sites[:2]:
                await server.up()
            await wait_for(lambda: _desk(bridge_dir)[0]["status"] == "closed", timeout=60, what="the ticket closed")
            assert len(_desk(bridge_dir)) == 1
            assert _resolutions(bridge_dir) == 1


async def _equals(value: Any, expected: object) -> bool:
    return bool(await value == expected)


async def _more(value: Any, than: float) -> bool:
    return bool(await value > than)

"""agent.reference_targets: real loopback servers go down and up; one incident about the agent, not one per site."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sitewatch.agent import Agent
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.engine.reachability import ReachabilityMonitor
from sitewatch.incidents.network import network_key
from sitewatch.net.httpclient import ProbeResolver, make_session
from tests.helpers import free_port, running_agent, wait_for
from tests.switchable import Switchable


class FakeClock:
    """Wall time that moves only when the test says so (an hour back, so the outbox, on real time, delivers)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) - 3600)

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
async def references() -> AsyncIterator[tuple[Switchable, Switchable]]:
    """A TCP and an HTTP reference target, both up."""
    servers = (Switchable("tcp"), Switchable("http"))
    for server in servers:
        await server.up()
    yield servers
    for server in servers:
        await server.down()


async def test_the_monitor_sees_references_go_down_and_up(references: tuple[Switchable, Switchable]) -> None:
    """Both up → ok; one down → still ok; both down → offline since that round's time; one back → ok."""
    tcp, http = references
    clock = FakeClock()
    resolver = ProbeResolver(fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    monitor = ReachabilityMonitor([tcp.target, http.target], 2.0, session, resolver, clock)
    try:
        first = await monitor.probe()
        assert first.state == "ok"
        assert [(r.ok, r.summary) for r in first.references] == [
            (True, f"connected to 127.0.0.1:{tcp.port}"),
            (True, "HTTP 200"),
        ]
        await tcp.down()
        clock.now += 10
        assert (await monitor.probe()).state == "ok"  # one answering reference is enough
        await http.down()
        clock.now += 10
        down = await monitor.probe()
        assert (down.state, down.since) == ("offline", clock.now)
        assert not any(r.ok for r in down.references)
        clock.now += 10
        assert (await monitor.probe()).since == clock.now - 10  # still offline, since the first failing round
        await http.up()
        clock.now += 10
        back = await monitor.probe()
        assert (back.state, back.since) == ("ok", clock.now)
        assert back.as_dict()["references"][1] == {
            "target": http.target,
            "ok": True,
            "summary": "HTTP 200",
            "seconds": round(back.references[1].seconds, 6),
        }
    finally:
        await session.close()


def test_a_bad_reference_target_is_a_located_config_error(tmp_path: Path) -> None:
    """A target that is neither host:port nor an http(s) URL is refused at load, with its key."""
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path}\n  reference_targets: [192.0.2.1, 'ftp://x.example/']\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "config.yaml:3: agent.reference_targets[0]: expected host:port" in text
    assert "agent.reference_targets[1]" in text
    assert "expected host:port" in text


def _config(tmp_path: Path, refs: tuple[Switchable, Switchable], site: Switchable) -> Path:
    path = tmp_path / "config.yaml"
    sites = "".join(
        f"  - {{name: shop{n}, url: 'http://127.0.0.1:{site.port}/{n}', checks: [{{type: http}}]}}\n" for n in range(3)
    )
    path.write_text(
        f"agent:\n  listen: 127.0.0.1:{free_port()}\n  state_dir: {tmp_path}\n"
        f"  reference_targets: ['{refs[0].target}', '{refs[1].target}']\n"
        "  reference_interval: 100ms\n  reference_timeout: 1s\n"
        "defaults: {interval: 100ms, timeout: 100ms, fail_after: 2, recover_after: 1}\n"
        f"sites:\n{sites}",
        encoding="utf-8",
    )
    return path


async def _get(agent: Agent, path: str) -> str:
    async with aiohttp.ClientSession() as client, client.get(f"http://{agent.web.bound[0]}{path}") as resp:
        return await resp.text()


def _tickets(agent: Agent) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in agent.store.db.execute("SELECT key, title, status FROM tickets ORDER BY id")]


def _streaks(agent: Agent, at_least: int) -> bool:
    states = [agent.incidents.states.get(f"sw:v1:shop{n}:http") for n in range(3)]
    return all(s is not None and s.fail_streak >= at_least for s in states)


async def test_a_cut_uplink_is_one_incident_about_the_agent_and_sites_open_after_it_resolves(
    tmp_path: Path, references: tuple[Switchable, Switchable]
) -> None:
    """References and sites down → one ticket "agent cannot reach the network", sites held as unconfirmed
    (in /healthz and on the page); references back → it resolves, and each site still down opens on its own,
    from when it started failing."""
    site = Switchable("http")
    await site.up()
    clock = FakeClock()
    key = network_key(socket.gethostname())
    try:
        async with running_agent(_config(tmp_path, references, site), clock=clock) as agent:
            await wait_for(lambda: _streaks(agent, 0) and agent.network.latest.state == "ok", what="first rounds")
            health = json.loads(await _get(agent, "/healthz"))
            assert health["network"]["state"] == "ok"
            assert "2 of 2 reference targets answer" in await _get(agent, "/")

            # The uplink goes. References are probed every 100 ms, sites open after 2 failures 100 ms
            # apart: the test lets the references' round land first, as reference_interval (shorter than
            # fail_after x interval, docs/runbook.md) makes it land in practice.
            for server in references:
                await server.down()
            await wait_for(lambda: agent.network.latest.state == "offline", what="the references' failing round")
            cut_at = clock.now
            await site.down()
            await wait_for(lambda: key in agent.store.open_incidents(), timeout=15, what="the agent's incident")
            # Every site's first failing run lands before the clock moves (under load it may come after
            # the agent's incident): their failures start at cut_at, which the end of the test checks.
            await wait_for(lambda: _streaks(agent, 1), timeout=15, what="each site's first failing run")
            clock.now += 300
            await wait_for(lambda: _streaks(agent, 6), timeout=15, what="sites failing well past fail_after")
            assert sorted(agent.store.open_incidents()) == [key]  # no site incident
            await wait_for(lambda: len(_tickets(agent)) == 1, timeout=15, what="the one ticket")
            assert _tickets(agent)[0][:2] == (
                key,
                f"[sitewatch] agent:{agent.network.agent} network CRITICAL:"
                " agent cannot reach the network: all 2 reference targets failing",
            )
            health = json.loads(await _get(agent, "/healthz"))
            assert health["status"] == "ok"  # the agent runs; only its network is down
            assert health["network"]["state"] == "offline"
            assert health["network"]["since"] == dt.datetime.fromtimestamp(cut_at, dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            assert health["network"]["unconfirmed"] == 3
            assert [r["ok"] for r in health["network"]["references"]] == [False, False]
            page = await _get(agent, "/")
            assert 'data-network="offline"' in page
            assert "held as unconfirmed, no tickets of their own: 3" in page

            for server in references:  # the uplink is back; the sites are still down
                await server.up()
            clock.now += 300
            await wait_for(lambda: key not in agent.store.open_incidents(), timeout=15, what="resolved")
            await wait_for(lambda: len(agent.store.open_incidents()) == 3, timeout=15, what="sites on their own")
            opened = {k: i.opened_at for k, i in agent.store.open_incidents().items()}
            assert opened == {f"sw:v1:shop{n}:http": cut_at for n in range(3)}  # their real start
            await wait_for(lambda: len(_tickets(agent)) == 4, timeout=15, what="the sites' tickets")
            assert _tickets(agent)[0][2] == "closed"
    finally:
        await site.down()

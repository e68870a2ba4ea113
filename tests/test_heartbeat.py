"""Heartbeats: real HTTP pings to a running agent, judged against an injected clock."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from tests.helpers import free_port, running_agent, wait_for

TOKEN = "0123456789abcdef0123456789abcdef"


class FakeClock:
    """Wall time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def agent(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    monkeypatch.setenv("SITEWATCH_TEST_PING_TOKEN", TOKEN)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}}}
        sites:
          - name: shop
            url: https://shop.example.com/
            checks:
              - type: heartbeat
                name: nightly-backup
                interval: 200ms
                timeout: 100ms
                token: ${{SITEWATCH_TEST_PING_TOKEN}}
                max_age: 1h
                grace: 10m
        """),
        encoding="utf-8",
    )
    async with running_agent(path, clock=clock) as running:
        yield running


async def ping(agent: Agent, path: str, body: str = "") -> int:
    async with aiohttp.ClientSession() as client, client.post(f"http://{agent.web.bound[0]}{path}", data=body) as r:
        return r.status


def summary(agent: Agent) -> str:
    record = agent.book.latest.get(("shop", "nightly-backup"))
    return record.result.summary if record else ""


async def until(agent: Agent, text: str) -> None:
    await wait_for(lambda: text in summary(agent), timeout=10, what=repr(text))


async def test_ping_cycle(agent: Agent, clock: FakeClock) -> None:
    """Success, silence past max_age + grace, start without finish, and an explicit failure."""
    await until(agent, "waiting for the first ping")
    assert await ping(agent, f"/ping/{TOKEN}", "dump ok") == 200
    await until(agent, "last ping 0ms ago")
    assert agent.book.latest[("shop", "nightly-backup")].result.ok

    clock.now += 2 * 3600
    await until(agent, "no ping for 2h (max 1h + grace 10m)")

    assert await ping(agent, f"/ping/{TOKEN}/start") == 200
    clock.now += 11 * 60
    await until(agent, "has not finished after 11m")

    assert await ping(agent, f"/ping/{TOKEN}/fail", "pg_dump: starting\ntar: write error: No space left\n") == 200
    await until(agent, "job reported failure at ")
    assert summary(agent).endswith(": tar: write error: No space left")


async def test_unknown_token_changes_nothing(agent: Agent) -> None:
    """A wrong token is a 404 and leaves the check waiting; so is an unknown ping kind."""
    await until(agent, "waiting for the first ping")
    assert await ping(agent, "/ping/" + "f" * 32) == 404
    assert await ping(agent, f"/ping/{TOKEN}/bogus") == 404
    assert 400 <= await ping(agent, "/ping/%2e%2e/api/status") < 500
    check = next(c for c in agent.scheduler.checks() if c.push_token)
    assert check.last == {}  # type: ignore[attr-defined]


async def test_ping_metrics(agent: Agent, clock: FakeClock) -> None:
    """The last successful ping's time is exported."""
    assert await ping(agent, f"/ping/{TOKEN}") == 200
    await until(agent, "last ping")
    samples = {s.name: s.value for s in agent.book.latest[("shop", "nightly-backup")].result.samples}
    assert samples["sitewatch_heartbeat_last_ping_timestamp_seconds"] == clock.now


def test_short_token_is_a_config_error(tmp_path: Path) -> None:
    """A guessable token is refused at load time, with its line."""
    from sitewatch.config.loader import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text(
        "sites:\n  - name: s\n    url: http://s.example/\n    checks:\n      - type: heartbeat\n        token: abc\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value.problems[0]).startswith(f"{path}:6: sites[0].checks[0].token: ")

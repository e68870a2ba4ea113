"""Sharding: rendezvous hashing splits the sites over N agents; `run --shard` and `check-config --shard`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sitewatch.agent import Agent
from sitewatch.cli.main import main
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.shard import ShardConfig, owner, parse_shard, sharded, split
from tests.configs import write_site_config

NAMES = [f"site-{n:05d}.example.com" for n in range(10_000)]


def _sites(count: int) -> str:
    return "sites:\n" + "".join(
        f"  - name: s{n}\n    url: http://127.0.0.1:9/\n    checks: [{{type: http}}]\n" for n in range(count)
    )


def test_each_of_10000_sites_is_on_exactly_one_shard_and_growing_to_5_moves_at_most_a_quarter() -> None:
    """Over 4 and then 5 shards every site has one owner, the split is even, and ≤ 25 % of sites move."""
    four, five = split(NAMES, 4), split(NAMES, 5)
    for groups in (four, five):
        assert sorted(n for g in groups for n in g) == sorted(NAMES)  # each exactly once
        assert all(len(g) > len(NAMES) / len(groups) * 0.9 for g in groups)  # no shard starved
    before = {n: i for i, g in enumerate(four) for n in g}
    after = {n: i for i, g in enumerate(five) for n in g}
    moved = [n for n in NAMES if before[n] != after[n]]
    assert len(moved) <= 0.25 * len(NAMES)
    assert all(after[n] == 4 for n in moved)  # only to the new shard: none between the old ones


def test_the_owner_is_stable_across_calls_and_independent_of_order() -> None:
    """The hash is blake2b of the name, so every agent (and every restart) computes the same owner."""
    assert [owner(n, 7) for n in NAMES[:50]] == [owner(n, 7) for n in NAMES[:50]]
    assert owner("shop.example.com", 4) == 2  # a pinned value: a change of hash would move every fleet's sites
    assert split(reversed(NAMES[:100]), 3) == [list(reversed(g)) for g in split(NAMES[:100], 3)]


def test_shard_text_and_model_reject_an_index_outside_the_count() -> None:
    """`--shard 4/4` is an error (shards are numbered from 0); `2/4` is shard 2 of 4."""
    assert parse_shard("2/4") == ShardConfig(index=2, of=4)
    for bad in ("4/4", "x/4", "3", "-1/4"):
        with pytest.raises(ValueError, match="expected"):
            parse_shard(bad)


async def test_agent_shard_in_the_config_keeps_only_that_shards_sites(tmp_path: Path) -> None:
    """An agent with agent.shard in its file probes its share; the shares of all shards add up to every site."""
    counts: list[set[str]] = []
    for index in range(3):
        path = write_site_config(tmp_path, _sites(40))
        text = path.read_text(encoding="utf-8").replace("agent:\n", f"agent:\n  shard: {{index: {index}, of: 3}}\n", 1)
        path.write_text(text, encoding="utf-8")
        agent = Agent(load_config(path), logging.getLogger("test"))
        await agent.close()
        counts.append({s.info.name for s in agent.config.sites})
        assert all(owner(name, 3) == index for name in counts[-1])
    assert set().union(*counts) == {f"s{n}" for n in range(40)}
    assert sum(len(c) for c in counts) == 40


async def test_a_reload_keeps_the_shard_given_on_the_command_line(tmp_path: Path) -> None:
    """SIGHUP re-reads every site but the agent keeps only its shard's (the override survives)."""
    path = write_site_config(tmp_path, _sites(30))
    agent = Agent(sharded(load_config(path), ShardConfig(index=1, of=2)), logging.getLogger("test"))
    mine = {s.info.name for s in agent.config.sites}
    write_site_config(tmp_path, _sites(31))
    try:
        assert agent.reload()
    finally:
        await agent.close()
    assert {s.info.name for s in agent.config.sites} == mine | ({"s30"} if owner("s30", 2) == 1 else set())
    assert agent.config.agent.shard == ShardConfig(index=1, of=2)


def test_a_bad_agent_shard_is_a_located_config_error(tmp_path: Path) -> None:
    """agent.shard.index ≥ of names the key and the rule."""
    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path}\n  shard: {{index: 4, of: 4}}\nsites: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "agent.shard" in str(caught.value)
    assert "numbered from 0" in str(caught.value)


def test_check_config_shard_prints_the_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check-config --shard 3` prints one line per shard whose counts add up to the sites."""
    path = write_site_config(tmp_path, _sites(12))
    assert main(["check-config", "-c", str(path), "--shard", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "12 sites over 3 shards" in lines[0]
    counts = [int(line.split(": ")[1].split()[0]) for line in lines[1:]]
    assert len(counts) == 3
    assert sum(counts) == 12
    assert main(["check-config", "-c", str(path), "--shard"]) == 1  # no N and no agent.shard


def test_run_with_a_bad_shard_exits_unusable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run --shard 5/4` refuses to start and says why."""
    path = write_site_config(tmp_path, _sites(1))
    assert main(["run", "-c", str(path), "--shard", "5/4"]) == 3
    assert "--shard" in capsys.readouterr().err

"""Sharding: which of N agents probes a site, by rendezvous (highest-random-weight) hashing.

Every agent computes, for each site, one weight per shard from a stable hash of the
shard number and the site name, and keeps the sites whose highest weight is its own.
Going from N to N+1 shards moves only the sites the new shard now wins (about 1/(N+1)
of them); no site ever moves between two shards that both stay.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import pydantic

if TYPE_CHECKING:  # the agent: model imports ShardConfig from here, and the specs import that model
    from sitewatch.config.specs import Config, SiteSpec

__all__ = ["ShardConfig", "keep", "owner", "parse_shard", "sharded", "split"]


class ShardConfig(pydantic.BaseModel):
    """``agent.shard: {index: I, of: N}`` — this agent probes shard I (0 … N-1) of N."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    index: Annotated[int, pydantic.Field(ge=0)]
    of: Annotated[int, pydantic.Field(ge=1, le=100_000)]

    @pydantic.model_validator(mode="after")
    def _in_range(self) -> ShardConfig:
        if self.index >= self.of:
            raise ValueError(f"expected index from 0 to {self.of - 1} (shards are numbered from 0), got {self.index}")
        return self

    def __str__(self) -> str:
        return f"{self.index}/{self.of}"


def _weight(shard: int, name: str) -> int:
    # blake2b, not hash(): the same on every agent, every Python and every restart.
    digest = hashlib.blake2b(f"{shard}\x00{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(name: str, of: int) -> int:
    """The shard (0 … of-1) that probes the site called ``name``."""
    return max(range(of), key=lambda shard: _weight(shard, name))


def split(names: Iterable[str], of: int) -> list[list[str]]:
    """``names`` grouped by their shard, index by index."""
    groups: list[list[str]] = [[] for _ in range(of)]
    for name in names:
        groups[owner(name, of)].append(name)
    return groups


def parse_shard(text: str) -> ShardConfig:
    """``"I/N"`` (as ``--shard`` and the systemd unit ``sitewatch@I.service`` pass it) as a shard."""
    index, sep, of = text.partition("/")
    if not sep or not index.strip().isdigit() or not of.strip().isdigit():
        raise ValueError(f"expected --shard I/N such as 0/4, got {text!r}")
    return ShardConfig(index=int(index), of=int(of))


def sharded(config: Config, shard: ShardConfig | None) -> Config:
    """``config`` with ``agent.shard`` set to ``shard`` and only that shard's sites (all without one)."""
    if shard is None:
        return config
    agent = config.agent.model_copy(update={"shard": shard})
    return dataclasses.replace(config, agent=agent, sites=keep(config.sites, shard))


def keep(sites: tuple[SiteSpec, ...], shard: ShardConfig | None) -> tuple[SiteSpec, ...]:
    """The sites of ``shard`` (all of them without one)."""
    if shard is None or shard.of == 1:
        return sites
    return tuple(s for s in sites if owner(s.info.name, shard.of) == shard.index)

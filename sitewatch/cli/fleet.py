"""Commands for a fleet of agents: ``check-config --shard`` (the split of the sites over N agents)."""

from __future__ import annotations

import sys

from sitewatch.config.shard import split
from sitewatch.config.specs import Config

__all__ = ["print_split"]

#: Site names listed per shard before "…" (the counts are always complete).
SHOWN = 20


def print_split(config: Config, count: str) -> int:
    """Print how many and which sites each shard probes; ``count`` is N, or "" for agent.shard's."""
    if count:
        if not count.isdigit() or not 1 <= int(count) <= 100_000:
            print(f"sitewatch: --shard: expected a number of shards from 1 to 100000, got {count!r}", file=sys.stderr)
            return 1
        of = int(count)
    elif config.agent.shard is not None:
        of = config.agent.shard.of
    else:
        print("sitewatch: --shard: give N (e.g. --shard 4) or set agent.shard in the config", file=sys.stderr)
        return 1
    names = [s.info.name for s in config.sites]
    print(f"{config.source}: {len(names)} sites over {of} shard{'s' * (of != 1)} (rendezvous hashing)")
    for index, group in enumerate(split(names, of)):
        shown = ", ".join(sorted(group)[:SHOWN]) + (", …" if len(group) > SHOWN else "")
        print(f"  shard {index}/{of}: {len(group)} sites{': ' if group else ''}{shown}")
    return 0

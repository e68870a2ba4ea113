"""``sitewatch check-config``: validate a config file and summarise what it configures.

The per-client lines come from :mod:`sitewatch.cli.client_summary` and ``--shard`` from
:mod:`sitewatch.cli.fleet`; this module is the command that prints them.
"""

from __future__ import annotations

import collections
from pathlib import Path

from sitewatch.cli.client_summary import client_lines
from sitewatch.cli.fleet import print_split
from sitewatch.cli.loading import load_or_report

__all__ = ["check_config_command"]


def check_config_command(path: Path, shard: str | None = None, *, offline: bool = False) -> int:
    """Print the summary (or the shard split); 0 valid, 1 invalid."""
    config = load_or_report(path, "offline" if offline else "resolve")
    if config is None:
        return 1
    if shard is not None:
        return print_split(config, shard)
    by_type = collections.Counter(c.type for c in config.checks)
    kinds = ", ".join(f"{t}: {n}" for t, n in sorted(by_type.items())) or "none"
    print(f"{path}: OK" + (" (structure only: secrets not looked up)" if offline else ""))
    print(f"  sites:  {len(config.sites)}")
    print(f"  checks: {len(config.checks)} ({kinds})")
    print(f"  listen: {config.agent.listen}, state in {config.agent.state_dir}")
    clients = client_lines(config)
    if clients:
        print(f"  clients: {len(clients)} (name: sites; sinks after routing; language, time zone, calendar)")
        print("\n".join(clients))
    bridge = config.agent.alertmanager
    if bridge.enabled:
        auth = "bearer token" if bridge.token else "web_config basic auth"
        print(f"  alertmanager: POST /alertmanager ({auth})")
    return 0

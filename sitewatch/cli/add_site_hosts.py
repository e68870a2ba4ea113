"""``add-site``'s ``depends_on``: the ``host: true`` sites a new site may run on.

``--depends-on HOST`` must name a configured host; without it, a host whose address is the
new site's own is offered (one outage of that server is then one ticket, not one per site).
"""

from __future__ import annotations

import contextlib
import ipaddress

import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.config.specs import Config

__all__ = ["check_host", "hosts_of", "matching_hosts"]


def hosts_of(config: Config) -> dict[str, str]:
    """``host: true`` sites by name → the host part of their URL."""
    return {s.info.name: s.info.url.host or "" for s in config.sites if s.host}


def check_host(name: str, config: Config | None) -> str | None:
    """Why ``--depends-on name`` is refused, or None when it names a configured host."""
    if config is None:
        return f"--depends-on {name}: needs a valid config to find the host in; run `sitewatch check-config` first"
    hosts = hosts_of(config)
    if name in hosts:
        return None
    known = ", ".join(sorted(hosts)) or "none: mark a server's site with `host: true`"
    return f"--depends-on {name}: no `host: true` site of that name (known hosts: {known})"


async def _addresses(host: str, resolver: AbstractResolver) -> set[str]:
    with contextlib.suppress(ValueError):
        return {str(ipaddress.ip_address(host))}
    with contextlib.suppress(OSError):
        return {r["host"] for r in await resolver.resolve(host, 0)}
    return set()  # a name that does not resolve matches nothing; it is no reason to refuse


async def matching_hosts(url: yarl.URL, hosts: dict[str, str], resolver: AbstractResolver) -> list[tuple[str, str]]:
    """(host name, shared address) for each host that the new site's address is one of."""
    mine = await _addresses(url.host or "", resolver)
    found = []
    for name, host in sorted(hosts.items()):
        shared = mine & await _addresses(host, resolver)
        if shared:
            found.append((name, min(shared)))
    return found

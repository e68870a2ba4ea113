"""The address policy for probed sites: where a redirect must never lead, and where it may not lead unasked.

Link-local and cloud-metadata addresses are always refused; a public site's redirect into
the agent's own (private) networks is refused unless the check allows it. Inside an
:func:`untrusted_target` block the resolver applies both before anything is connected to.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
from collections.abc import Iterator, Sequence

__all__ = [
    "ForbiddenAddress",
    "Network",
    "PRIVATE_NETWORKS",
    "forbidden_address",
    "private_address",
    "untrusted_target",
]


class ForbiddenAddress(OSError):
    """A redirect led somewhere the agent must not go: refused, never connected to."""


#: Where a probed site must never send the agent: link-local ranges and cloud metadata endpoints.
_FORBIDDEN = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


#: Networks a public site may not redirect into unless the check allows it (RFC 1918,
#: carrier-grade NAT, loopback, unique-local IPv6): the agent sits inside them.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "::1/128", "fc00::/7")
)


def _address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``address`` (scope and brackets dropped), IPv4-mapped IPv6 unwrapped."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", maxsplit=1)[0])
    except ValueError:
        return None
    # ::ffff:169.254.169.254 reaches the IPv4 host: judge it as that host.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def forbidden_address(address: str) -> bool:
    """True for addresses a redirect must not reach (169.254.169.254 and friends)."""
    ip = _address(address)
    return ip is not None and any(ip in net for net in _FORBIDDEN)


def private_address(address: str, networks: Sequence[Network] = PRIVATE_NETWORKS) -> bool:
    """True when ``address`` lies in one of ``networks`` (by default the private and loopback ranges)."""
    return _private(address, tuple(networks))


@functools.lru_cache(maxsize=4096)
def _private(address: str, networks: tuple[Network, ...]) -> bool:
    # Asked once per probe with the peer's address: parsing it each time was ~1 % of the agent's CPU.
    ip = _address(address)
    return ip is not None and any(ip.version == net.version and ip in net for net in networks)


#: None outside a redirect hop; inside one, the networks the hop may not enter besides the forbidden ones.
_untrusted: contextvars.ContextVar[tuple[Network, ...] | None] = contextvars.ContextVar(
    "sitewatch_untrusted", default=None
)


@contextlib.contextmanager
def untrusted_target(private: Sequence[Network] = ()) -> Iterator[None]:
    """Inside the block, names resolving to link-local/metadata addresses are refused (redirect hops).

    ``private`` adds networks to refuse: a public site's redirect into the agent's own
    network is refused this way.
    """
    token = _untrusted.set(tuple(private))
    try:
        yield
    finally:
        _untrusted.reset(token)

"""The network underneath the checks: the lean HTTP exchange, the probe resolver and its address policy, phase timing.

Takes plain arguments (hosts, ports, timeouts); it knows nothing of the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.net.addresses import ForbiddenAddress, forbidden_address, private_address
    from sitewatch.net.httpclient import ProbeResolver, make_session
    from sitewatch.net.httpexchange import exchange
    from sitewatch.net.phases import PhaseTimer, current_timer, measure_phases
    from sitewatch.net.response import ExchangeError, HttpAnswer

__all__ = [
    "ExchangeError",
    "ForbiddenAddress",
    "HttpAnswer",
    "PhaseTimer",
    "ProbeResolver",
    "current_timer",
    "exchange",
    "forbidden_address",
    "make_session",
    "measure_phases",
    "private_address",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "httpclient": ("ProbeResolver", "make_session"),
        "phases": ("PhaseTimer", "current_timer", "measure_phases"),
        "addresses": ("ForbiddenAddress", "forbidden_address", "private_address"),
        "httpexchange": ("exchange",),
        "response": ("ExchangeError", "HttpAnswer"),
    },
)

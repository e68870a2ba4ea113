"""The network underneath the checks: the lean HTTP exchange, the probe resolver and its address policy, phase timing.

Takes plain arguments (hosts, ports, timeouts); it knows nothing of the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.net.httpclient import ForbiddenAddress, PhaseTimer, ProbeResolver, current_timer, make_session
    from sitewatch.net.httpexchange import exchange
    from sitewatch.net.response import ExchangeError, HttpAnswer

__all__ = [
    "ExchangeError",
    "ForbiddenAddress",
    "HttpAnswer",
    "PhaseTimer",
    "ProbeResolver",
    "current_timer",
    "exchange",
    "make_session",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "httpclient": ("ForbiddenAddress", "PhaseTimer", "ProbeResolver", "current_timer", "make_session"),
        "httpexchange": ("exchange",),
        "response": ("ExchangeError", "HttpAnswer"),
    },
)

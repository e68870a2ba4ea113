"""What a run is handed: the :class:`Context` with its site and clock, and :func:`redact_url`.

Separate from the results because this side is the agent's: the scheduler builds one
``Context`` per run from the shared session, resolver and advisories; a check only reads it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import yarl

from sitewatch.advisories import AdvisoryBook


class Clock(Protocol):
    """Wall-clock and monotonic time, injectable for tests."""

    def time(self) -> float:
        """Unix seconds."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Unix seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """The site a check belongs to, as configured."""

    name: str
    url: yarl.URL
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """What the agent hands to every run: shared session, site, clock, resolver, log, advisories."""

    session: aiohttp.ClientSession
    site: SiteInfo
    check_name: str
    timeout: float
    clock: Clock
    resolver: aiohttp.abc.AbstractResolver
    log: logging.Logger
    #: Vulnerability snapshots the agent keeps fresh in the background (``vulnerabilities:``);
    #: a check reads them and never downloads one itself. Empty when none are configured.
    advisories: AdvisoryBook = field(default_factory=AdvisoryBook)

    @property
    def user_agent(self) -> str:
        """The User-Agent the agent sends (``agent.user_agent``), for checks with their own client."""
        return str(self.session.headers.get("User-Agent", "sitewatch"))


def redact_url(url: yarl.URL | str) -> str:
    """A URL safe for logs, labels and tickets: no credentials, query or fragment."""
    parsed = yarl.URL(url) if isinstance(url, str) else url
    if parsed.host:  # yarl refuses user changes on host-less URLs (file:///…), which carry none anyway
        parsed = parsed.with_user(None)
    return str(parsed.with_query(None).with_fragment(None))

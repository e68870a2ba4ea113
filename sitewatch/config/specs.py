"""What a load produces and the rest of the agent reads: ``CheckSpec``, ``SiteSpec`` and the whole ``Config``.

Frozen dataclasses, built by :mod:`sitewatch.config.loader` from the validated sections.
Apart from the pydantic models that validate the YAML, because most of the agent reads
these, while only a load builds them.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sitewatch.config.agent import AgentConfig
from sitewatch.config.clients import Clients
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.policy import Policy
from sitewatch.config.sites import DefaultsConfig
from sitewatch.config.sourcemap import Origin, Problem
from sitewatch.config.tickets import TicketsConfig
from sitewatch.config.vulns import VulnerabilitiesConfig
from sitewatch.probe import AnyCheck, CheckConfig, SiteInfo

__all__ = ["CheckSpec", "Config", "SiteSpec"]


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One configured check, with inherited timing resolved."""

    site: SiteInfo
    name: str
    type: str
    interval: float
    timeout: float
    settings: CheckConfig
    check_class: builtins.type[AnyCheck]
    origin: Origin
    policy: Policy = Policy()
    maintenance: tuple[MaintenanceWindow, ...] = ()  # the site's windows and the global ones
    importance: str = "normal"
    priority: str | None = None
    runbook: str | None = None
    client: str = "default"  # the site's client (clients:), for routing and filters
    site_title: str | None = None  # the site's title:, for what people read
    #: (site, check), or (site, None) for any check of a site: while one fails, no incident opens here.
    depends_on: tuple[tuple[str, str | None], ...] = ()
    #: Stable identity: (site name, check name). Made once: the scheduler, intake, incidents and
    #: the metrics book all key on it, and a tuple built per access was one copy each (~2 MB at
    #: 10,000 checks).
    key: tuple[str, str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.site.name, self.name))

    def build(self) -> AnyCheck:
        """Instantiate the check with its validated settings."""
        return self.check_class(self.settings, self.site)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """One configured site and its checks."""

    info: SiteInfo
    checks: tuple[CheckSpec, ...]
    sla: float | None = None  # availability target in percent (the site's, else defaults:)
    client: str = "default"  # the clients: entry the site belongs to
    host: bool = False  # `host: true`: a server sites depend on
    title: str | None = None  # what people call the site (title:), in any script

    @property
    def label(self) -> str:
        """How people see the site: ``title (name)``, or the name alone."""
        return f"{self.title} ({self.info.name})" if self.title else self.info.name


@dataclass(frozen=True, slots=True)
class Config:
    """A complete, validated configuration. Immutable: reloads build a new one."""

    source: Path
    agent: AgentConfig
    defaults: DefaultsConfig
    tickets: TicketsConfig
    sites: tuple[SiteSpec, ...]
    clients: Clients | None = None  # None: built from tickets: and agent: on first use
    #: Loaded with secrets deferred: why each check that lacks a secret cannot run, by its key.
    unresolved: Mapping[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    #: What loads but deserves a look: an include glob that matches nothing, an include file skipped
    #: at start because it is broken (``load_config(skip_broken_includes=True)``), with its problems.
    warnings: tuple[Problem, ...] = ()
    #: Advisory sources the agent refreshes for the checks (``vulnerabilities:``).
    vulnerabilities: VulnerabilitiesConfig = VulnerabilitiesConfig()

    @property
    def client_book(self) -> Clients:
        """The clients, with the default one (from ``tickets:`` and ``agent:`` when not configured)."""
        return self.clients or Clients.build((), self.tickets, self.agent.timezone)

    @property
    def checks(self) -> tuple[CheckSpec, ...]:
        """Every check of every site."""
        return tuple(c for s in self.sites for c in s.checks)

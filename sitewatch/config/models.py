"""The configuration's models: agent, defaults, sites and checks, and the resolved specs the rest reads.

``CheckSpec``, ``SiteSpec`` and ``Config`` are what a load produces (frozen); the pydantic
models here only validate the YAML. Building them is :mod:`sitewatch.config.loader`'s job.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch import __version__
from sitewatch.config.clients import ClientConfig, Clients
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.policy import Policy
from sitewatch.config.references import ReferenceTarget
from sitewatch.config.shard import ShardConfig
from sitewatch.config.sourcemap import Origin, Problem
from sitewatch.config.tickets import TicketsConfig
from sitewatch.config.vulns import VulnerabilitiesConfig
from sitewatch.probe import AnyCheck, CheckConfig, Duration, SiteInfo, Size

__all__ = [
    "DEFAULT_LISTEN",
    "PositiveDuration",
    "SlaTarget",
    "AlertmanagerConfig",
    "AgentConfig",
    "DefaultsConfig",
    "CheckSpec",
    "SiteSpec",
    "Config",
]


#: 9879 is not taken in Prometheus' default-port allocation list for exporters.
DEFAULT_LISTEN = "127.0.0.1:9879"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


PositiveDuration = Annotated[Duration, pydantic.Field(gt=0)]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _listen(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN}, got {value!r}")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN} or [::1]:9879, got {value!r}")
    return value


def _timezone(value: Any) -> str:
    """An IANA time zone name that this machine's zone database knows."""
    expected = "expected an IANA time zone name like Europe/Moscow or UTC"
    if not isinstance(value, str) or not value:
        raise ValueError(f"{expected}, got {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} ({expected})") from None
    return value


#: ``timezone:`` — the zone people's times are shown in (tickets, pages, reports); logs stay UTC.
TimeZone = Annotated[str, pydantic.BeforeValidator(_timezone)]


def _sla(value: Any) -> float:
    """An SLA target in percent: ``99.9`` or ``"99.9%"``, above 0 and at most 100."""
    expected = "expected an SLA target in percent above 0 and at most 100, like 99.9"
    number = value[:-1].strip() if isinstance(value, str) and value.endswith("%") else value
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        raise ValueError(f"{expected}, got {value!r}")
    try:
        percent = float(number)
    except ValueError:
        raise ValueError(f"{expected}, got {value!r}") from None
    if not 0 < percent <= 100:  # also refuses nan
        raise ValueError(f"{expected}, got {value!r}")
    return percent


#: ``sla:`` — the availability promised to the client, in percent (site level or in defaults:).
SlaTarget = Annotated[float, pydantic.BeforeValidator(_sla)]


class AlertmanagerConfig(pydantic.BaseModel):
    """``agent.alertmanager:`` — accept Alertmanager's webhook at ``POST /alertmanager``."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    #: Bearer token Alertmanager sends (http_config.authorization.credentials); put it in ${ENV} or ${file:…}.
    token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: Request bodies above this are refused with 413 (lower Alertmanager's max_alerts instead).
    max_body: Size = 1024 * 1024
    #: Site importance for the priority matrix when an alert has no ``importance`` label.
    importance: Literal["high", "normal", "low"] = "normal"


class ListenerConfig(pydantic.BaseModel):
    """``agent.listener:`` — how the agent's HTTP listener treats slow, idle and too many clients."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    #: The first request's head must arrive within this (slowloris connections are closed).
    header_timeout: Annotated[Duration, pydantic.Field(gt=0, le=600)] = 10.0
    #: A connection with no request in progress is closed after this (longer than the scrape interval).
    idle_timeout: Annotated[Duration, pydantic.Field(gt=0, le=3600)] = 75.0
    #: Open connections at most; lowered at start when the descriptor limit needs it for the probes.
    max_connections: Annotated[int, pydantic.Field(ge=1, le=1_000_000)] = 512


class AgentConfig(_Model):
    """``agent:`` — where the agent listens, keeps state, and how hard it may probe."""

    listen: Annotated[str, pydantic.BeforeValidator(_listen)] = DEFAULT_LISTEN
    #: Timeouts and the connection cap of that listener (sitewatch.web.listener); read at start.
    listener: ListenerConfig = ListenerConfig()
    state_dir: Path = Path("/var/lib/sitewatch")
    concurrency: Annotated[int, pydantic.Field(ge=1, le=100_000)] = 256
    per_host_concurrency: Annotated[int, pydantic.Field(ge=1, le=10_000)] = 8
    #: Runs due within this much of each other start together (each up to this late): fewer
    #: event-loop wake-ups, and the connections they open are then served in shared loop turns.
    timer_slack: Annotated[Duration, pydantic.Field(ge=0, le=1.0)] = 0.02
    user_agent: str = f"sitewatch/{__version__}"
    #: Times people read (tickets, status page, reports) are shown in this zone, with its name.
    timezone: TimeZone = "UTC"
    #: The language of what people read from the agent itself: the status page and reports
    #: (tickets follow ``tickets.language``).
    language: Literal["en", "ru"] = "en"
    #: How long the result history (for availability reports) is kept.
    history_retention: PositiveDuration = 400 * 86400.0
    #: Prometheus-style web-config.yml: TLS and bcrypt basic auth for /metrics and the API.
    web_config: Path | None = None
    #: Bearer token that opens every route (operators, Prometheus); with ``clients: token:`` set, it
    #: or web_config users are required, so no page shows all clients to whoever asks.
    operator_token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: ``POST /alertmanager``: Alertmanager's webhook as a ticket bridge (off unless enabled).
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    #: ``{index: I, of: N}``: probe only the sites rendezvous hashing gives shard I of N
    #: (``sitewatch run --shard I/N`` overrides it; sitewatch.config.shard).
    shard: ShardConfig | None = None
    #: ``host:port`` or http(s) URLs probed every ``reference_interval``: when all fail, one
    #: incident about the agent's network replaces the site ones (sitewatch.engine.reachability).
    reference_targets: Annotated[tuple[ReferenceTarget, ...], pydantic.Field(max_length=16)] = ()
    reference_interval: Annotated[Duration, pydantic.Field(gt=0, le=3600)] = 10.0
    reference_timeout: Annotated[Duration, pydantic.Field(gt=0, le=60)] = 3.0

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split for binding (brackets stripped from IPv6)."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class _Incident(_Model):
    """When failures become an incident; settable in defaults, per site and per check."""

    fail_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    recover_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    fail_for: PositiveDuration | None = None
    error_is_failure: bool | None = None
    #: false: check, record and export only; no local incident (another place alerts, e.g. a
    #: quorum of agents through Prometheus rules from `sitewatch rules`).
    incidents: bool | None = None


class DefaultsConfig(_Incident):
    """``defaults:`` — settings every check inherits unless its site or itself overrides them."""

    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 10.0
    sla: SlaTarget | None = None


class _Site(_Incident):
    name: str
    #: What people call the site, in any script ("Интернет-магазин «Ромашка»"): shown on the
    #: status page, in tickets and reports; ``name`` stays the label-safe key.
    title: str | None = pydantic.Field(default=None, min_length=1, max_length=200)
    importance: Literal["high", "normal", "low"] = "normal"
    runbook: str | None = None
    sla: SlaTarget | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    url: str
    tags: tuple[str, ...] = ()
    #: The ``clients:`` entry the site belongs to; unset: the default client.
    client: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    checks: tuple[Any, ...] | None = None
    #: A server other sites depend on (its tcp or health check), not a site of its own.
    host: bool = False
    #: Sites, hosts or site/check whose failure explains this site's (sitewatch.config.depends).
    depends_on: str | tuple[str, ...] = ()

    @pydantic.field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"expected a name of letters, digits, '.', '_' or '-' (it becomes a metric label), got {value!r};"
                " put the name people use in title:"
            )
        return value

    @pydantic.field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(ch < " " or ch == "\x7f" for ch in value)):
            raise ValueError(f"expected one line of text, got {value!r}")
        return value.strip() if value is not None else None

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str, info: pydantic.ValidationInfo) -> str:
        url = _parse_url(value) or yarl.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"expected a URL like https://shop.example.com/, got {value!r}{_with_scheme(value)}")
        if isinstance(info.context, _Parsed):  # so that building the site does not parse it again
            info.context.urls[value] = url
        return value


class _Common(_Incident):
    type: str
    priority: Literal["P1", "P2", "P3", "P4"] | None = None  # fixed priority, e.g. P4 for cms
    runbook: str | None = None
    name: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    depends_on: str | tuple[str, ...] = ()


class _Raw(_Model):
    agent: AgentConfig = AgentConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    tickets: TicketsConfig = TicketsConfig()
    clients: tuple[ClientConfig, ...] = ()
    # Each site is validated on its own while it is built (_validated_site): a reload of
    # 10,000 sites then holds one site model at a time, not all of them (~10 MB at the peak).
    sites: tuple[Any, ...] = ()
    include: tuple[str, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    vulnerabilities: VulnerabilitiesConfig = VulnerabilitiesConfig()


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


@dataclass
class _Parsed:
    """What one load has already worked out, so it is not worked out twice."""

    #: URLs parsed while validating the sites, by their text.
    urls: dict[str, yarl.URL] = dataclasses.field(default_factory=dict)
    #: The running config's sites and checks, by name: equal ones are taken from there.
    sites: dict[str, SiteSpec] = dataclasses.field(default_factory=dict)
    checks: dict[tuple[str, str], CheckSpec] = dataclasses.field(default_factory=dict)

    @classmethod
    def reusing(cls, previous: Config | None) -> _Parsed:
        """Remember the running config's sites and checks (none without one)."""
        if previous is None:
            return cls()
        return cls(
            sites={s.info.name: s for s in previous.sites},
            checks={c.key: c for s in previous.sites for c in s.checks},
        )

    def same(self, new: Any, old: Any) -> Any:
        """``old`` when it equals ``new`` (the running copy stays, the new one is freed), else ``new``."""
        return old if old is not None and old == new else new


def _with_scheme(text: str) -> str:
    """``; did you mean https://shop.example.com/?`` for a host name written without a scheme."""
    if "://" in text or "." not in text.split("/", 1)[0] or any(c.isspace() for c in text):
        return ""
    suggestion = "https://" + text + ("" if "/" in text else "/")
    guess = _parse_url(suggestion)
    if guess is None or not guess.host or "." not in guess.host:
        return ""
    return f"; did you mean {suggestion}?"


def _parse_url(text: str) -> yarl.URL | None:
    """``text`` as a URL, or None when yarl cannot read it (a bad port, a broken IPv6 literal)."""
    try:
        return yarl.URL(text)
    except ValueError:
        return None

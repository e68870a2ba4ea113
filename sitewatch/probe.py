"""The public API for checks: everything a check may import from sitewatch.

A check is a small class with a ``type`` name, a pydantic ``Config`` model and one
coroutine ``run(ctx) -> Result``. A failing site is a :class:`Result`; a check
raises only for bugs, and the scheduler turns that into an ``error`` result.
"""

from __future__ import annotations

import abc
import builtins
import enum
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

import aiohttp
import pydantic
import yarl

from sitewatch.advisories import Advisory, AdvisoryBook, Affected, Snapshot, SourceState, parse_snapshot
from sitewatch.compact import compact_fields as _compact_fields
from sitewatch.files import (
    FileWorkers,
    NotRegularFile,
    StillRunning,
    describe_os_error,
    open_regular,
    read_regular,
    regular_fd,
)
from sitewatch.net.addresses import (
    PRIVATE_NETWORKS,
    ForbiddenAddress,
    Network,
    forbidden_address,
    private_address,
    untrusted_target,
)
from sitewatch.net.httpclient import ip_preference, resolve_override
from sitewatch.net.httpexchange import exchange
from sitewatch.net.phases import PhaseTimer, measure_phases
from sitewatch.net.response import ExchangeError, HttpAnswer
from sitewatch.net.tlssessions import TlsSessions
from sitewatch.units import format_duration, format_size, parse_duration, parse_size
from sitewatch.untrusted import Body, printable, read_body

__all__ = [
    "Advisory",
    "AdvisoryBook",
    "Affected",
    "AnyCheck",
    "Body",
    "Check",
    "CheckConfig",
    "Clock",
    "Context",
    "Duration",
    "ExchangeError",
    "FileWorkers",
    "ForbiddenAddress",
    "MetricSpec",
    "HttpAnswer",
    "Network",
    "NotRegularFile",
    "PRIVATE_NETWORKS",
    "Pattern",
    "PhaseTimer",
    "Push",
    "Result",
    "Sample",
    "SiteInfo",
    "Snapshot",
    "SourceState",
    "StillRunning",
    "Size",
    "Status",
    "SystemClock",
    "Thresholds",
    "TlsSessions",
    "describe_os_error",
    "exchange",
    "forbidden_address",
    "format_duration",
    "format_size",
    "ip_preference",
    "measure_phases",
    "open_regular",
    "parse_duration",
    "parse_snapshot",
    "parse_size",
    "printable",
    "private_address",
    "read_body",
    "read_regular",
    "regular_fd",
    "redact_url",
    "resolve_override",
    "untrusted_target",
    "worst",
]


class Status(enum.Enum):
    """Outcome of one check run.

    ``error`` means the probe could not measure (DNS, connect, timeout, a bug);
    ``warning``/``critical`` mean it measured and the answer is bad.
    """

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Severity order used by :func:`worst`: ok < warning < error < critical."""
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """Nagios-style exit code: 0 ok, 1 warning, 2 critical or error."""
        return {Status.OK: 0, Status.WARNING: 1}.get(self, 2)


_RANK = {Status.OK: 0, Status.WARNING: 1, Status.ERROR: 2, Status.CRITICAL: 3}


def worst(*statuses: Status) -> Status:
    """Return the most severe status; ``ok`` when given none."""
    return max(statuses, key=_RANK.__getitem__, default=Status.OK)


@dataclass(frozen=True, slots=True)
class Sample:
    """One numeric observation of a check, exported as a metric sample.

    ``name`` must be declared in the check's ``metrics`` table; ``labels`` are
    extra labels beyond ``site`` and ``check`` and must have bounded values.
    """

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Label values often come from the site (a certificate's CN): never a control character
        # in /metrics, whatever the check forgot.
        if not all(value.isprintable() for _, value in self.labels):
            object.__setattr__(self, "labels", tuple((k, printable(v)) for k, v in self.labels))


@dataclass(frozen=True, slots=True)
class Result:
    """What one run of a check found."""

    status: Status
    summary: str
    samples: tuple[Sample, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    #: A priority (``P1``…``P4``) the finding deserves whatever the severity matrix says, e.g. P1
    #: for a vulnerability exploited in the wild. It can only raise an incident's priority.
    priority: str | None = None

    def __post_init__(self) -> None:
        # A summary reaches terminals, tickets and logs: one printable line, whatever the check forgot.
        if not self.summary.isprintable():
            object.__setattr__(self, "summary", printable(self.summary))
        if self.priority is not None and self.priority not in ("P1", "P2", "P3", "P4"):
            raise ValueError(f"Result.priority must be P1, P2, P3 or P4, not {self.priority!r}")

    @property
    def ok(self) -> bool:
        """True when the status is ``ok``."""
        return self.status is Status.OK


@dataclass(frozen=True, slots=True)
class Push:
    """A ping a job sent to the agent (``POST /ping/<token>[/start|/fail]``)."""

    kind: Literal["success", "start", "fail"]
    at: float  # unix seconds
    body: str = ""  # already truncated and made printable by the core


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Declares one metric a check may emit (gauge semantics, base units)."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Upper thresholds: a value above ``crit`` is critical, above ``warn`` a warning."""

    warn: float | None = None
    crit: float | None = None

    def evaluate(self, value: float) -> Status:
        """Return the status of ``value`` against these thresholds."""
        if self.crit is not None and value > self.crit:
            return Status.CRITICAL
        if self.warn is not None and value > self.warn:
            return Status.WARNING
        return Status.OK

    def limit(self, status: Status) -> float | None:
        """Return the threshold that produced ``status`` (for summaries)."""
        return {Status.CRITICAL: self.crit, Status.WARNING: self.warn}.get(status)


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


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like 10s, got {value!r}")
    if isinstance(value, int | float):
        raise ValueError(f"expected a duration like 10s, got {value!r} (add a unit: ms, s, m, h, d)")
    if value.strip().startswith("-"):
        raise ValueError(f"expected a positive duration like 10s, got {value!r}")
    seconds = parse_duration(value)
    if seconds < 0:  # pragma: no cover - the grammar has no sign
        raise ValueError("expected a positive duration")
    return seconds


def _size(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 10MB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size like 10MB, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size like 10MB, got {value!r}")
    return parse_size(value)


def _pattern(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"expected a valid regular expression, got {value!r} ({exc})") from None


#: Seconds, written in config as ``500ms``, ``30s``, ``5m``, ``26h`` or ``7d``.
Duration = Annotated[float, pydantic.BeforeValidator(_duration)]
#: Bytes, written in config as ``10MB``, ``2MiB`` or a plain integer.
Size = Annotated[int, pydantic.BeforeValidator(_size)]
#: A compiled regular expression, validated at config load.
Pattern = Annotated[re.Pattern[str], pydantic.BeforeValidator(_pattern)]


class CheckConfig(pydantic.BaseModel):
    """Base for check settings: unknown keys are errors and values are frozen."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    def model_post_init(self, context: Any, /) -> None:
        """Keep the fields in a key-sharing dict: one config per check, 10,000 checks per agent."""
        _compact_fields(self)


C = TypeVar("C", bound=CheckConfig)


class Check(abc.ABC, Generic[C]):
    """Base class of every check, built in or third party.

    Subclasses set ``type`` (the name used in config), ``Config`` (a
    :class:`CheckConfig` subclass) and optionally ``metrics`` (every sample name
    the check may emit). Register the class under the ``sitewatch.checks``
    entry-point group.
    """

    type: ClassVar[str]
    Config: ClassVar[builtins.type[CheckConfig]]
    metrics: ClassVar[Sequence[MetricSpec]] = ()

    def __init__(self, config: C, site: SiteInfo) -> None:
        self.config = config
        self.site = site

    @property
    def target_host(self) -> str:
        """The host this check loads, for the scheduler's per-host concurrency limit."""
        return self.site.url.host or self.site.name

    @property
    def push_token(self) -> str | None:
        """Secret token that routes ``/ping/<token>`` to this check; None if it takes no pings."""
        return None

    def receive(self, push: Push) -> None:
        """Take a ping addressed to :attr:`push_token` (called on the event loop; must not block)."""
        raise NotImplementedError(f"{type(self).__name__} takes no pings")

    @abc.abstractmethod
    async def run(self, ctx: Context) -> Result:
        """Probe once and describe what was found; never raise for a failing site."""


#: Type used by the core for any configured check regardless of its settings.
AnyCheck = Check[Any]

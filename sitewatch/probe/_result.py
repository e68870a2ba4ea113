"""What a check reports: the ordered :class:`Status`, :func:`worst`, samples, results and thresholds.

Separate from the rest of the probe API because the core reads these without running a check:
the state machine orders statuses, the metrics collector reads samples, the CLI prints results.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sitewatch.untrusted import printable


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

"""The latest result of every check, run counters and the scheduling-lag histogram.

This is the read-only snapshot that /metrics and /api/status render from; the
scheduler is its only writer.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sitewatch.probe import Result, Status

__all__ = ["LAG_BUCKETS", "BookWatcher", "CheckKey", "Histogram", "ResultBook", "RunRecord", "TicketStats"]

CheckKey = tuple[str, str]

#: Seconds late: fine-grained below 100 ms, where a healthy scheduler lives.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class TicketStats:
    """Incidents and deliveries, as the store and the deliverer see them right now."""

    open_incidents: int
    outbox_pending: int
    outbox_dead: int
    oldest_pending_age: float
    deliveries: Mapping[tuple[str, str], int]
    dead_letters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run: which check, what it found, when and how long it took."""

    site: str
    check: str
    check_type: str
    result: Result
    started: float  # unix seconds
    duration: float  # seconds

    @property
    def key(self) -> CheckKey:
        """(site, check)."""
        return (self.site, self.check)


@dataclass
class Histogram:
    """A cumulative-bucket histogram in the Prometheus sense, cheap to observe."""

    buckets: Sequence[float] = LAG_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs including ``+Inf``, as exposition needs them."""
        out, running = [], 0
        for bound, n in zip([*map(str, self.buckets), "+Inf"], self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding quantile ``q`` (inf if beyond the last)."""
        if not self.count:
            return 0.0
        rank, running = q * self.count, 0
        for bound, n in zip([*self.buckets, float("inf")], self.counts, strict=True):
            running += n
            if running >= rank:
                return bound
        return float("inf")  # pragma: no cover - running reaches count


class BookWatcher(Protocol):
    """Told of every change to a :class:`ResultBook` as it happens (the /metrics renderer keeps
    each check's exposition lines ready this way, so a scrape does not render 10,000 checks at once)."""

    def recorded(self, record: RunRecord) -> None:
        """``record`` is now the latest of its check, and its run was counted."""

    def configured(self) -> None:
        """The configured checks changed; records and counters of the others are gone."""


class ResultBook:
    """Latest result per check plus counters; forgets checks removed from config."""

    def __init__(self) -> None:
        self.latest: dict[CheckKey, RunRecord] = {}
        self.runs: Counter[tuple[str, str, Status]] = Counter()
        self.lag = Histogram()
        self.configured: dict[CheckKey, str] = {}
        # Like Prometheus' own prometheus_config_last_reload_* pair.
        self.reload_ok = True
        self.reload_success_at = 0.0
        #: Set by the agent: incident and outbox figures for /metrics and /api/status.
        self.ticket_stats: Callable[[], TicketStats] | None = None
        #: Set by the agent: the silences in force, in their API form (for /api/status and the page).
        self.silences: Callable[[], Sequence[Mapping[str, Any]]] | None = None
        #: Set by the agent: the maintenance windows in force by site, in their API form (the same two).
        self.maintenance: Callable[[], Sequence[Mapping[str, Any]]] | None = None
        #: Told of each record and reconfiguration, after the book changed.
        self.watchers: list[BookWatcher] = []

    def configure(self, checks: Iterable[tuple[CheckKey, str]]) -> None:
        """Set the configured checks (key → type); drop everything about the others.

        A check whose type changed loses its latest result too (its samples belong to
        the old type's metric families) but keeps its run counters.
        """
        self.configured = dict(checks)
        configured = self.configured
        for key in [k for k, r in self.latest.items() if configured.get(k) != r.check_type]:
            del self.latest[key]
        for run_key in [k for k in self.runs if (k[0], k[1]) not in configured]:
            del self.runs[run_key]
        for watcher in self.watchers:
            watcher.configured()

    def record(self, record: RunRecord) -> None:
        """Store a finished run, unless its check was removed or retyped while it ran."""
        if self.configured.get(record.key) != record.check_type:
            return
        self.latest[record.key] = record
        self.runs[(record.site, record.check, record.result.status)] += 1
        for watcher in self.watchers:
            watcher.recorded(record)

"""Breaches counted when they happen: a sweep settles each SLA goal once its outcome is known.

The agent runs :meth:`SlaWatch.sweep` every few seconds. A response deadline that passes with no
acknowledgement is a breach *then* — not when a report is run — and it is written once
(:func:`sitewatch.store.sla.settle`), so ``sitewatch_sla_breaches_total`` counts each incident's
breach of each goal exactly once, across restarts (the totals start from the store's).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sitewatch.logs import event
from sitewatch.store.database import Store
from sitewatch.store.sla import Settled, settle, settled_totals
from sitewatch.tickets.readback import DeskReadBack

__all__ = ["RESPONSE_BUCKETS", "SWEEP_SECONDS", "SlaStats", "SlaWatch", "run_sla"]

#: Response-time histogram bounds (seconds): 1 minute to 2 days, the range response targets live in.
RESPONSE_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(RESPONSE_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(RESPONSE_BUCKETS, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        """Buckets as prometheus_client's HistogramMetricFamily takes them (``le`` → cumulative count)."""
        out, running = [], 0
        for bound, count in zip((*RESPONSE_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


@dataclass
class SlaStats:
    """What /metrics shows: breaches by (client, priority, kind) and response times by (client, priority)."""

    breaches: dict[tuple[str, str, str], int] = field(default_factory=dict)
    responses: dict[tuple[str, str], _Histogram] = field(default_factory=dict)

    def observe(self, client: str, priority: str, seconds: float) -> None:
        """Add one measured response time."""
        self.responses.setdefault((client, priority), _Histogram()).observe(seconds)


class SlaWatch:
    """Settles SLA goals as their deadlines pass and keeps the totals for /metrics."""

    def __init__(self, store: Store, log: logging.Logger) -> None:
        self._store = store
        self._log = log
        self.stats = SlaStats()
        breaches, responses = settled_totals(store)
        self.stats.breaches.update(breaches)
        for client, priority, seconds in responses:
            self.stats.observe(client, priority, seconds)

    def sweep(self, now: float) -> list[Settled]:
        """Settle what ``now`` decides; count and log each breach once."""
        done = settle(self._store, now)
        for s in done:
            if s.outcome == "breached":
                key = (s.client, s.priority, s.kind)
                self.stats.breaches[key] = self.stats.breaches.get(key, 0) + 1
                event(
                    self._log,
                    logging.WARNING,
                    "sla_breached",
                    incident=s.incident_id,
                    client=s.client,
                    priority=s.priority,
                    kind=s.kind,
                )
            if s.response_seconds is not None:
                self.stats.observe(s.client, s.priority, s.response_seconds)
        return done

    def snapshot(self) -> tuple[Mapping[tuple[str, str, str], int], Mapping[tuple[str, str], _Histogram]]:
        """The breach counts and response histograms, for the collector."""
        return dict(self.stats.breaches), dict(self.stats.responses)


#: How often deadlines are checked: a breach is dated by its deadline, this only bounds how late it is seen.
SWEEP_SECONDS = 5.0


async def run_sla(
    watch: SlaWatch, readback: DeskReadBack, time: Callable[[], float], log: logging.Logger
) -> None:  # pragma: no cover - exercised through the agent
    """Sweep deadlines and read the desks back, forever (cancel to stop)."""
    failing = False
    while True:
        try:
            await readback.poll_once(time())
            watch.sweep(time())  # after the read: a desk's ack just read is not a breach
        except Exception as exc:  # a store bug must not end the clock for good; said once, and its recovery
            if not failing:
                event(log, logging.ERROR, "sla_sweep_failed", error=f"{type(exc).__name__}: {exc}")
                log.debug("sla sweep traceback", exc_info=True)
            failing = True
        else:
            if failing:
                event(log, logging.INFO, "sla_sweep_recovered")
            failing = False
        await asyncio.sleep(min(SWEEP_SECONDS, readback.due_in(time())))

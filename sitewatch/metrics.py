"""A Prometheus collector that renders the latest results; nothing is stored in it.

Every metric name the agent itself exports is declared in :data:`CORE_METRICS`;
checks declare theirs in their ``metrics`` table. Because the collector reads the
current :class:`ResultBook` on every scrape, a site removed from config simply has
no series any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sitewatch import __version__
from sitewatch.availability_cache import WINDOW_LABEL as AVAILABILITY_WINDOW
from sitewatch.logs import event
from sitewatch.probe import AnyCheck, MetricSpec, Status
from sitewatch.results import ResultBook, TicketStats

__all__ = ["CORE_METRICS", "SitewatchCollector", "build_registry"]


@dataclass(frozen=True, slots=True)
class _Core:
    name: str
    kind: str
    help: str
    labels: tuple[str, ...]


_SC = ("site", "check")
#: Every series the core exports, in one place.
CORE_METRICS = {
    m.name: m
    for m in (
        _Core("probe_success", "gauge", "1 if the last run was ok or warning, 0 if critical or error.", _SC),
        _Core("probe_duration_seconds", "gauge", "How long the last run took.", _SC),
        _Core(
            "sitewatch_check_status",
            "gauge",
            "Status of the last run: 0 ok, 1 warning, 2 error (could not measure), 3 critical.",
            (*_SC, "type"),
        ),
        _Core("sitewatch_check_last_run_timestamp_seconds", "gauge", "When the last run started (unix time).", _SC),
        _Core("sitewatch_check_runs", "counter", "Finished runs by status since the agent started.", (*_SC, "status")),
        _Core("sitewatch_checks_configured", "gauge", "Number of configured checks.", ()),
        _Core("sitewatch_scheduler_lag_seconds", "histogram", "How late runs started after they were due.", ()),
        _Core("sitewatch_config_last_reload_successful", "gauge", "1 if the last config (re)load worked.", ()),
        _Core(
            "sitewatch_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When the config was last loaded successfully (unix time).",
            (),
        ),
        _Core("sitewatch_open_incidents", "gauge", "Incidents open right now.", ()),
        _Core("sitewatch_outbox_depth", "gauge", "Ticket actions waiting for delivery.", ()),
        _Core("sitewatch_outbox_dead", "gauge", "Ticket actions given up after a permanent error.", ()),
        _Core("sitewatch_outbox_oldest_pending_age_seconds", "gauge", "Age of the oldest undelivered action.", ()),
        _Core("sitewatch_ticket_deliveries", "counter", "Delivery attempts by sink and outcome.", ("sink", "outcome")),
        _Core("sitewatch_build_info", "gauge", "Build information; the value is always 1.", ("version",)),
        _Core(
            "sitewatch_availability_ratio",
            "gauge",
            "Share of the window the site was observed up, of the time observed up or down"
            " (maintenance and no-data time excluded; see docs/availability.md).",
            ("site", "window"),
        ),
    )
}


class SitewatchCollector(Collector):
    """Builds every sitewatch series from the :class:`ResultBook` at scrape time."""

    def __init__(
        self,
        book: ResultBook,
        checks: Mapping[str, type[AnyCheck]],
        log: logging.Logger,
        availability: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        self._book = book
        self._availability = availability
        self._log = log
        self._specs: dict[str, MetricSpec] = {}
        self._allowed: dict[str, frozenset[str]] = {}
        self._warned: set[tuple[str, str]] = set()
        for type_name, cls in checks.items():
            for spec in cls.metrics:
                known = self._specs.setdefault(spec.name, spec)
                if known.labels != spec.labels or spec.name in CORE_METRICS:
                    raise ValueError(f"check {type_name!r} redeclares metric {spec.name} with other labels")
            self._allowed[type_name] = frozenset(s.name for s in cls.metrics)

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the series depend on the results (avoids a collect at registration)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """Render the current snapshot."""
        book = self._book
        success = GaugeMetricFamily("probe_success", CORE_METRICS["probe_success"].help, labels=_SC)
        duration = GaugeMetricFamily("probe_duration_seconds", CORE_METRICS["probe_duration_seconds"].help, labels=_SC)
        status = GaugeMetricFamily(
            "sitewatch_check_status", CORE_METRICS["sitewatch_check_status"].help, labels=(*_SC, "type")
        )
        last = GaugeMetricFamily(
            "sitewatch_check_last_run_timestamp_seconds",
            CORE_METRICS["sitewatch_check_last_run_timestamp_seconds"].help,
            labels=_SC,
        )
        families = {
            name: GaugeMetricFamily(name, spec.help, labels=(*_SC, *spec.labels)) for name, spec in self._specs.items()
        }
        for record in book.latest.values():
            key = [record.site, record.check]
            result = record.result
            success.add_metric(key, 1.0 if result.status in (Status.OK, Status.WARNING) else 0.0)
            duration.add_metric(key, record.duration)
            status.add_metric([*key, record.check_type], float(result.status.rank))
            last.add_metric(key, record.started)
            allowed = self._allowed.get(record.check_type, frozenset())
            for sample in result.samples:
                family = families.get(sample.name) if sample.name in allowed else None
                if family is None:
                    self._undeclared(record.check_type, sample.name)
                    continue
                family.add_metric([*key, *(v for _, v in sample.labels)], sample.value)
        yield from (success, duration, status, last)
        yield from families.values()
        yield self._runs()
        configured = GaugeMetricFamily(
            "sitewatch_checks_configured", CORE_METRICS["sitewatch_checks_configured"].help, value=len(book.configured)
        )
        yield configured
        lag = HistogramMetricFamily(
            "sitewatch_scheduler_lag_seconds", CORE_METRICS["sitewatch_scheduler_lag_seconds"].help
        )
        lag.add_metric([], book.lag.cumulative(), sum_value=book.lag.total)
        yield lag
        for name, value in (
            ("sitewatch_config_last_reload_successful", 1.0 if book.reload_ok else 0.0),
            ("sitewatch_config_last_reload_success_timestamp_seconds", book.reload_success_at),
        ):
            yield GaugeMetricFamily(name, CORE_METRICS[name].help, value=value)
        if book.ticket_stats is not None:
            yield from self._tickets(book.ticket_stats())
        if self._availability is not None:
            yield self._availability_ratio(self._availability())
        info = GaugeMetricFamily("sitewatch_build_info", CORE_METRICS["sitewatch_build_info"].help, labels=("version",))
        info.add_metric([__version__], 1.0)
        yield info

    def _runs(self) -> Metric:
        runs = CounterMetricFamily(
            "sitewatch_check_runs", CORE_METRICS["sitewatch_check_runs"].help, labels=(*_SC, "status")
        )
        for (site, check, status), count in self._book.runs.items():
            runs.add_metric([site, check, status.value], float(count))
        return runs

    def _availability_ratio(self, ratios: Mapping[str, float]) -> Metric:
        ratio = GaugeMetricFamily(
            "sitewatch_availability_ratio",
            CORE_METRICS["sitewatch_availability_ratio"].help,
            labels=("site", "window"),
        )
        # The cache refreshes once a minute; a site removed by a reload must go at once.
        configured = {site for site, _ in self._book.configured}
        for site, value in sorted(ratios.items()):
            if site in configured:
                ratio.add_metric([site, AVAILABILITY_WINDOW], value)
        return ratio

    def _tickets(self, stats: TicketStats) -> Iterator[Metric]:
        for name, value in (
            ("sitewatch_open_incidents", stats.open_incidents),
            ("sitewatch_outbox_depth", stats.outbox_pending),
            ("sitewatch_outbox_dead", stats.outbox_dead),
            ("sitewatch_outbox_oldest_pending_age_seconds", stats.oldest_pending_age),
        ):
            yield GaugeMetricFamily(name, CORE_METRICS[name].help, value=float(value))
        deliveries = CounterMetricFamily(
            "sitewatch_ticket_deliveries", CORE_METRICS["sitewatch_ticket_deliveries"].help, labels=("sink", "outcome")
        )
        for (sink, outcome), count in sorted(stats.deliveries.items()):
            deliveries.add_metric([sink, outcome], float(count))
        yield deliveries

    def _undeclared(self, check_type: str, name: str) -> None:
        if (check_type, name) not in self._warned:  # a plugin bug: say it once, not every scrape
            self._warned.add((check_type, name))
            event(self._log, logging.WARNING, "metric_undeclared", check_type=check_type, metric=name)


def build_registry(collector: SitewatchCollector) -> CollectorRegistry:
    """A fresh registry with the sitewatch collector plus process and platform metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry

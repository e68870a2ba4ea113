"""The agent-wide metric families that are not per check: tickets, availability, sites, advisory sources.

Each is a handful of series (per sink, per site or per source), built at scrape time from what
the agent hands the collector; the help texts are those of :data:`~sitewatch.web.metric_table.CORE_METRICS`.
:func:`agent_wide_families` is the whole agent-wide tail of a scrape, in exposition order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from sitewatch import __version__
from sitewatch.engine.results import ResultBook, TicketStats
from sitewatch.reports.availability_cache import WINDOW_LABEL as AVAILABILITY_WINDOW
from sitewatch.web.metric_table import CORE_METRICS, _esc, sla_families

__all__ = [
    "agent_wide_families",
    "availability_family",
    "site_info_family",
    "site_info_lines",
    "ticket_families",
    "vulnerability_source_families",
]


def agent_wide_families(
    book: ResultBook,
    render_seconds: float,
    availability: Callable[[], Mapping[str, float]] | None = None,
    sla: Callable[[], tuple[Mapping[tuple[str, str, str], int], Mapping[tuple[str, str], Any]]] | None = None,
    advisory_sources: Callable[[], Mapping[str, tuple[float | None, bool]]] | None = None,
) -> Iterator[Metric]:
    """The agent-wide families: a handful of series whatever the number of checks.

    The callables are those the agent handed :class:`~sitewatch.web.metrics.SitewatchCollector`,
    read at each scrape; ``render_seconds`` is the previous scrape's render time.
    """
    configured = GaugeMetricFamily(
        "sitewatch_checks_configured", CORE_METRICS["sitewatch_checks_configured"].help, value=len(book.configured)
    )
    yield configured
    lag = HistogramMetricFamily("sitewatch_scheduler_lag_seconds", CORE_METRICS["sitewatch_scheduler_lag_seconds"].help)
    lag.add_metric([], book.lag.cumulative(), sum_value=book.lag.total)
    yield lag
    for name, value in (
        ("sitewatch_config_last_reload_successful", 1.0 if book.reload_ok else 0.0),
        ("sitewatch_config_last_reload_success_timestamp_seconds", book.reload_success_at),
    ):
        yield GaugeMetricFamily(name, CORE_METRICS[name].help, value=value)
    if book.ticket_stats is not None:
        yield from ticket_families(book.ticket_stats())
    if availability is not None:
        yield availability_family(availability(), {site for site, _ in book.configured})
    if sla is not None:
        yield from sla_families(*sla())
    if advisory_sources is not None:
        yield from vulnerability_source_families(advisory_sources())
    yield GaugeMetricFamily(
        "sitewatch_metrics_render_seconds",
        CORE_METRICS["sitewatch_metrics_render_seconds"].help,
        value=render_seconds,
    )
    info = GaugeMetricFamily("sitewatch_build_info", CORE_METRICS["sitewatch_build_info"].help, labels=("version",))
    info.add_metric([__version__], 1.0)
    yield info


def availability_family(ratios: Mapping[str, float], configured: Set[str]) -> Metric:
    """``sitewatch_availability_ratio`` of the ``configured`` sites only."""
    ratio = GaugeMetricFamily(
        "sitewatch_availability_ratio", CORE_METRICS["sitewatch_availability_ratio"].help, labels=("site", "window")
    )
    # The cache refreshes once a minute; a site removed by a reload must go at once.
    for site, value in sorted(ratios.items()):
        if site in configured:
            ratio.add_metric([site, AVAILABILITY_WINDOW], value)
    return ratio


def site_info_family(sites: Iterable[tuple[str, str, Iterable[str]]]) -> Metric:
    """``sitewatch_site_info{site,client,tags}``: one join series per configured site."""
    info = GaugeMetricFamily(
        "sitewatch_site_info", CORE_METRICS["sitewatch_site_info"].help, labels=("site", "client", "tags")
    )
    for site, client, tags in sites:
        # Consul's convention for a set in one label: sorted, comma-joined, commas at both ends.
        names = sorted(set(tags))
        info.add_metric([site, client, f",{','.join(names)}," if names else ""], 1.0)
    return info


def site_info_lines(sites: Iterable[tuple[str, str, Iterable[str]]]) -> str:
    """``sitewatch_site_info``'s samples as exposition lines, as the library writes them (both formats)."""
    out = []
    for site, client, tags in sites:
        names = sorted(set(tags))
        joined = f",{','.join(names)}," if names else ""
        # The library writes labels sorted by name: client, site, tags.
        out.append(f'sitewatch_site_info{{client="{_esc(client)}",site="{_esc(site)}",tags="{_esc(joined)}"}} 1.0\n')
    return "".join(out)


def vulnerability_source_families(sources: Mapping[str, tuple[float | None, bool]]) -> Iterator[Metric]:
    """Per advisory source: the age of its snapshot (none before the first) and whether it is failing."""
    age = GaugeMetricFamily(
        "sitewatch_vulnerability_snapshot_age_seconds",
        CORE_METRICS["sitewatch_vulnerability_snapshot_age_seconds"].help,
        labels=("source",),
    )
    failing = GaugeMetricFamily(
        "sitewatch_vulnerability_source_failing",
        CORE_METRICS["sitewatch_vulnerability_source_failing"].help,
        labels=("source",),
    )
    for name, (seconds, failed) in sorted(sources.items()):
        if seconds is not None:
            age.add_metric([name], seconds)
        failing.add_metric([name], 1.0 if failed else 0.0)
    yield age
    yield failing


def ticket_families(stats: TicketStats) -> Iterator[Metric]:
    """Open incidents, the outbox and the deliveries per sink and outcome."""
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

"""Every series the core exports, declared in one table, and the exposition text helpers both renderers share.

Checks declare their own series in their ``metrics`` table; the collector refuses a
sample whose name is in neither.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["CORE_METRICS", "sla_families"]


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
            "sitewatch_vulnerability_snapshot_age_seconds",
            "gauge",
            "Age of the last good snapshot of a vulnerability source (absent before the first).",
            ("source",),
        ),
        _Core(
            "sitewatch_vulnerability_source_failing",
            "gauge",
            "1 if the last refresh of a vulnerability source failed, else 0.",
            ("source",),
        ),
        _Core(
            "sitewatch_metrics_render_seconds",
            "gauge",
            "CPU time the previous /metrics scrape spent rendering its body (writing it out, and each check's lines"
            " rendered as its result arrived, not included).",
            (),
        ),
        _Core(
            "sitewatch_availability_ratio",
            "gauge",
            "Share of the window the site was observed up, of the time observed up or down"
            " (maintenance and no-data time excluded; see docs/availability.md).",
            ("site", "window"),
        ),
        _Core(
            "sitewatch_site_info",
            "gauge",
            "One series per configured site naming its client and its tags (,a,b,); the value is always 1."
            " Join it on site to filter or group any site series by client or tag.",
            ("site", "client", "tags"),
        ),
        _Core(
            "sitewatch_sla_breaches",
            "counter",
            "SLA goals missed, counted once per incident when the deadline passed unmet (kind: response, resolve).",
            ("client", "priority", "kind"),
        ),
        _Core(
            "sitewatch_sla_response_seconds",
            "histogram",
            "Time to the first response (ack) in service time of the client's calendar, waiting excluded.",
            ("client", "priority"),
        ),
    )
}


def sla_families(
    breaches: Mapping[tuple[str, str, str], int], responses: Mapping[tuple[str, str], Any]
) -> Iterator[Metric]:
    """``sitewatch_sla_breaches_total`` and ``sitewatch_sla_response_seconds`` from the SLA watch's totals."""
    counter = CounterMetricFamily(
        "sitewatch_sla_breaches", CORE_METRICS["sitewatch_sla_breaches"].help, labels=("client", "priority", "kind")
    )
    for labels, count in sorted(breaches.items()):
        counter.add_metric(list(labels), float(count))
    yield counter
    histogram = HistogramMetricFamily(
        "sitewatch_sla_response_seconds",
        CORE_METRICS["sitewatch_sla_response_seconds"].help,
        labels=("client", "priority"),
    )
    for pair, hist in sorted(responses.items()):
        histogram.add_metric(list(pair), hist.cumulative(), sum_value=hist.total)
    yield histogram


#: The per-check core families, in exposition order (before the checks' own families).
_CORE_PER_CHECK = (
    "probe_success",
    "probe_duration_seconds",
    "sitewatch_check_status",
    "sitewatch_check_last_run_timestamp_seconds",
)


def _esc(value: str) -> str:
    """Label value escaping of both exposition formats (backslash, newline, double quote)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


#: From here up, Go (and so prometheus_client) writes floats with an exponent where Python's repr does not.
_NO_GO_EXPONENT = 1e6


def _num(value: float) -> str:
    """``floatToGoString`` with a fast path: below 1e6 (and finite) Go and Python agree on repr."""
    value = float(value)
    if -math.inf < value < _NO_GO_EXPONENT:
        return repr(value)
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]

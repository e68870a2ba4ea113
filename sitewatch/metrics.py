"""A Prometheus collector that renders the latest results; nothing is stored in it.

Every metric name the agent itself exports is declared in :data:`CORE_METRICS`;
checks declare theirs in their ``metrics`` table. Because the collector reads the
current :class:`ResultBook` on every scrape, a site removed from config simply has
no series any more.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as _text_latest
from prometheus_client.openmetrics.exposition import generate_latest as _om_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from sitewatch import __version__
from sitewatch.availability_cache import WINDOW_LABEL as AVAILABILITY_WINDOW
from sitewatch.logs import event
from sitewatch.probe import AnyCheck, MetricSpec, Status
from sitewatch.results import ResultBook, RunRecord, TicketStats

__all__ = ["CORE_METRICS", "Exposition", "SitewatchCollector", "build_registry"]


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
            "sitewatch_metrics_render_seconds",
            "gauge",
            "CPU time the previous /metrics scrape spent rendering its body (writing it out not included).",
            (),
        ),
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
        #: ``{check="…",site="…"`` per check, escaped and sorted once (see per_check_text).
        self._prefixes: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._headers: dict[tuple[str, bool], str] = {}
        self._escaped: dict[str, str] = {}
        #: Set by :class:`Exposition` after each scrape; exported on the next one.
        self.last_render_seconds = 0.0
        for type_name, cls in checks.items():
            for spec in cls.metrics:
                known = self._specs.setdefault(spec.name, spec)
                if known.labels != spec.labels or spec.name in CORE_METRICS:
                    raise ValueError(f"check {type_name!r} redeclares metric {spec.name} with other labels")
            self._allowed[type_name] = frozenset(s.name for s in cls.metrics)
        #: Per family with extra labels: a format string with the labels in sorted order, and the extra count.
        self._templates = {name: (_template(name, spec.labels), len(spec.labels)) for name, spec in self._specs.items()}

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the series depend on the results (avoids a collect at registration)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """Render the current snapshot."""
        yield from self._per_check()
        yield from self.agent_families()

    def _per_check(self) -> Iterator[Metric]:
        """The families with one or more series per configured check (the bulk of a scrape)."""
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

    def agent_families(self) -> Iterator[Metric]:
        """The agent-wide families: a handful of series whatever the number of checks."""
        book = self._book
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
        yield GaugeMetricFamily(
            "sitewatch_metrics_render_seconds",
            CORE_METRICS["sitewatch_metrics_render_seconds"].help,
            value=self.last_render_seconds,
        )
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

    def per_check_text(self, openmetrics: bool = False) -> str:
        """The per-check families as exposition text, byte for byte what the encoders make of them."""
        return "".join(self.per_check_chunks(openmetrics))

    def per_check_chunks(self, openmetrics: bool = False) -> Iterator[str]:
        """The per-check families, one family per chunk, all from one snapshot of the book.

        With 10,000 checks these are ~150,000 samples. prometheus_client builds a
        Sample and a label dict per series and sorts and escapes the labels on every
        scrape (about a second of CPU); here each check's escaped, sorted label
        prefix is built once and every line is one f-string. Chunks keep only one
        family's lines in memory; an empty chunk is a pause, where the web handler
        lets the event loop start due probes (every ~1,000 checks rendered). The equality with the library's own
        encoders is a test, not a hope.
        """
        book = self._book
        prefixes = self._prefixes
        if len(prefixes) > 2 * len(book.latest) + 1000:  # checks removed by reloads
            prefixes.clear()
        # The snapshot: a scrape's families describe the same runs even if results arrive between chunks.
        rows: list[tuple[tuple[str, str, str], RunRecord]] = []
        for key, record in book.latest.items():
            cached = prefixes.get(key)
            if cached is None:
                site, check = _esc(record.site), _esc(record.check)
                cached = prefixes[key] = (f'{{check="{check}",site="{site}"', site, check)
            rows.append((cached, record))
        runs = list(book.runs.items())
        header = self._header
        ok_ranks = _OK_RANKS
        yield header("probe_success", openmetrics) + "".join(
            [f"probe_success{c[0]}}} {'1.0' if r.result.status.rank in ok_ranks else '0.0'}\n" for c, r in rows]
        )
        yield ""
        yield header("probe_duration_seconds", openmetrics) + "".join(
            [f"probe_duration_seconds{c[0]}}} {_num(r.duration)}\n" for c, r in rows]
        )
        yield ""
        yield header("sitewatch_check_status", openmetrics) + "".join(
            [
                f'sitewatch_check_status{c[0]},type="{_esc(r.check_type)}"}} {r.result.status.rank:d}.0\n'
                for c, r in rows
            ]
        )
        yield ""
        yield header("sitewatch_check_last_run_timestamp_seconds", openmetrics) + "".join(
            [f"sitewatch_check_last_run_timestamp_seconds{c[0]}}} {_num(r.started)}\n" for c, r in rows]
        )
        yield ""
        yield from self._sample_families(rows, openmetrics)
        yield ""
        yield header("sitewatch_check_runs", openmetrics) + "".join(
            [
                f'sitewatch_check_runs_total{{check="{_esc(check)}",site="{_esc(site)}",status="{st.value}"}}'
                f" {_num(count)}\n"
                for (site, check, st), count in runs
            ]
        )

    def _sample_families(self, rows: list[tuple[tuple[str, str, str], RunRecord]], openmetrics: bool) -> Iterator[str]:
        """The families the checks declare, filled from each result's samples in one pass."""
        templates = self._templates
        escaped = self._escaped
        allowed_by_type = self._allowed
        nothing: frozenset[str] = frozenset()
        families: dict[str, list[str]] = {name: [] for name in self._specs}
        for index, (cached, record) in enumerate(rows, start=1):
            if index % _PAUSE_EVERY == 0:
                yield ""  # a pause: the handler lets due probes start
            allowed = allowed_by_type.get(record.check_type, nothing)
            for sample in record.result.samples:
                name, value = sample.name, sample.value
                lines = families.get(name) if name in allowed else None
                if lines is None:
                    self._undeclared(record.check_type, name)
                    continue
                # _num inlined for the common case (a float below 1e6): this loop runs ~100,000 times.
                number = (
                    repr(value) if value.__class__ is float and _NO_GO_EXPONENT > value > -math.inf else _num(value)
                )
                if not sample.labels:
                    lines.append(f"{name}{cached[0]}}} {number}\n")
                    continue
                template = templates.get(name)
                if template is not None and len(sample.labels) == template[1]:
                    extra = [escaped.get(v) or self._escape_value(v) for _, v in sample.labels]
                    lines.append(template[0].format(cached[1], cached[2], *extra, number))
                else:
                    lines.append(self._labelled(name, record.site, record.check, sample.labels, value))
        for name in list(families):
            yield self._header(name, openmetrics) + "".join(families.pop(name))

    def _escape_value(self, value: str) -> str:
        """Escape an extra label value, remembering the first few thousand (they are bounded: phases …)."""
        text = _esc(value)
        if len(self._escaped) < 10_000:
            self._escaped[value] = text
        return text

    def _labelled(self, name: str, site: str, check: str, labels: tuple[tuple[str, str], ...], value: float) -> str:
        # Label names come from the family's declaration, values by position, as in add_metric().
        names = ("site", "check", *self._specs[name].labels)
        pairs = sorted(zip(names, (site, check, *(v for _, v in labels)), strict=False))
        text = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
        return f"{name}{{{text}}} {_num(value)}\n"

    def _header(self, name: str, openmetrics: bool) -> str:
        """``# HELP``/``# TYPE`` lines of a family, made once by the library's own encoder."""
        cached = self._headers.get((name, openmetrics))
        if cached is None:
            core = CORE_METRICS.get(name)
            help_text = core.help if core is not None else self._specs[name].help
            family: Metric = (
                CounterMetricFamily(name, help_text, labels=())
                if core is not None and core.kind == "counter"
                else GaugeMetricFamily(name, help_text, labels=())
            )
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Fixed([family]))
            text = (_om_latest if openmetrics else _text_latest)(registry).decode()
            cached = self._headers[(name, openmetrics)] = text.removesuffix("# EOF\n")
        return cached

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


def _template(name: str, extra: tuple[str, ...]) -> str:
    """``name{check="{1}",phase="{2}",site="{0}"} {3}``: positional fields in sorted label order."""
    names = ("site", "check", *extra)
    pairs = ",".join(f'{label}="{{{index}}}"' for index, label in sorted(enumerate(names), key=lambda p: p[1]))
    return f"{name}{{{{{pairs}}}}} {{{len(names)}}}\n"


_OK_RANKS = frozenset({Status.OK.rank, Status.WARNING.rank})


def _esc(value: str) -> str:
    """Label value escaping of both exposition formats (backslash, newline, double quote)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


#: Checks rendered between two pauses of the /metrics writer (an empty chunk): ~10 ms of a busy loop.
_PAUSE_EVERY = 1000

#: From here up, Go (and so prometheus_client) writes floats with an exponent where Python's repr does not.
_NO_GO_EXPONENT = 1e6


def _num(value: float) -> str:
    """``floatToGoString`` with a fast path: below 1e6 (and finite) Go and Python agree on repr."""
    value = float(value)
    if -math.inf < value < _NO_GO_EXPONENT:
        return repr(value)
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


class _Fixed(Collector):
    """A collector that yields the families it was given (headers, the agent-wide tail)."""

    def __init__(self, families: Iterable[Metric] | Callable[[], Iterable[Metric]]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """The families, fresh if a callable was given."""
        families = self._families() if callable(self._families) else self._families
        yield from families

    def describe(self) -> Iterator[Metric]:
        """Nothing up front."""
        return iter(())


class Exposition:
    """Renders ``/metrics``: the per-check bulk by :meth:`SitewatchCollector.per_check_text`,
    the agent-wide, process and platform families through prometheus_client.

    The result is the same text the library makes of :func:`build_registry`, in
    either format ``Accept`` chooses, at a fraction of the CPU.
    """

    def __init__(self, collector: SitewatchCollector) -> None:
        self.collector = collector
        self._tail = CollectorRegistry(auto_describe=False)
        self._tail.register(_Fixed(collector.agent_families))
        ProcessCollector(registry=self._tail)
        PlatformCollector(registry=self._tail)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """``(body, content type)`` for a scrape sending ``accept``."""
        chunks, content_type = self.render_chunks(accept)
        return b"".join(chunks), content_type

    def render_chunks(self, accept: str = "") -> tuple[Iterator[bytes], str]:
        """The body as one chunk per family (for a streamed response), and its content type."""
        encoder, content_type = choose_encoder(accept)
        openmetrics = content_type.startswith("application/openmetrics-text")

        def chunks() -> Iterator[bytes]:
            # CPU time of this thread while making the chunks: not the waits for the scraper, the
            # pauses, or other processes holding the CPU (on a busy small server, wall time says more
            # about the neighbours than about the renderer).
            spent, started = 0.0, time.thread_time()
            for text in self.collector.per_check_chunks(openmetrics):
                data = text.encode()
                spent += time.thread_time() - started
                yield data  # b"" is a pause: the writer lets the event loop run
                started = time.thread_time()
            data = encoder(self._tail)
            self.collector.last_render_seconds = spent + time.thread_time() - started
            yield data

        return chunks(), content_type

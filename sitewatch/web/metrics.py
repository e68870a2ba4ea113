"""A Prometheus collector that renders the latest results of the :class:`ResultBook`.

Every metric name the agent itself exports is declared in :data:`~sitewatch.web.metric_table.CORE_METRICS`;
checks declare theirs in their ``metrics`` table. Because the collector reads the
current book on every scrape, a site removed from config simply has no series any
more. For speed it keeps each check's exposition lines, rendered when the result
was recorded, but only those of the record the book holds now are ever used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest as _text_latest
from prometheus_client.openmetrics.exposition import generate_latest as _om_latest
from prometheus_client.registry import Collector

from sitewatch import __version__
from sitewatch.engine.results import CheckKey, ResultBook, RunRecord
from sitewatch.logs import event
from sitewatch.probe import AnyCheck, MetricSpec, Status
from sitewatch.web.agent_families import (
    availability_family,
    site_info_family,
    site_info_lines,
    ticket_families,
    vulnerability_source_families,
)
from sitewatch.web.metric_table import _CORE_PER_CHECK, _NO_GO_EXPONENT, _SC, CORE_METRICS, _esc, _num, sla_families

__all__ = ["SitewatchCollector", "build_registry"]


class SitewatchCollector(Collector):
    """Builds every sitewatch series from the :class:`ResultBook` at scrape time."""

    def __init__(
        self,
        book: ResultBook,
        checks: Mapping[str, type[AnyCheck]],
        log: logging.Logger,
        *,
        availability: Callable[[], Mapping[str, float]] | None = None,
        sites: Callable[[], Iterable[tuple[str, str, Iterable[str]]]] | None = None,
        sla: Callable[[], tuple[Mapping[tuple[str, str, str], int], Mapping[tuple[str, str], Any]]] | None = None,
        advisory_sources: Callable[[], Mapping[str, tuple[float | None, bool]]] | None = None,
    ) -> None:
        self._book = book
        self._sla = sla
        self._availability = availability
        #: (site, client, tags) of every configured site, read at each scrape (a reload shows at once).
        self._sites = sites
        #: source → (age of its last good snapshot or None, whether its last refresh failed)
        self._advisory_sources = advisory_sources
        self._log = log
        self._specs: dict[str, MetricSpec] = {}
        self._allowed: dict[str, frozenset[str]] = {}
        self._warned: set[tuple[str, str]] = set()
        #: ``{check="…",site="…"`` per check, escaped and sorted once (see _prefix).
        self._prefixes: dict[CheckKey, tuple[str, str, str]] = {}
        self._headers: dict[tuple[str, bool], str] = {}
        self._escaped: dict[str, str] = {}
        #: Set by :class:`~sitewatch.web.exposition.Exposition` after each scrape; exported on the next one.
        self.last_render_seconds = 0.0
        for type_name, cls in checks.items():
            for spec in cls.metrics:
                known = self._specs.setdefault(spec.name, spec)
                if known.labels != spec.labels or spec.name in CORE_METRICS:
                    raise ValueError(f"check {type_name!r} redeclares metric {spec.name} with other labels")
            self._allowed[type_name] = frozenset(s.name for s in cls.metrics)
        #: The per-check families in exposition order; a check's lines are a tuple in this order.
        self._families: tuple[str, ...] = (*_CORE_PER_CHECK, *self._specs)
        self._slots = {name: slot for slot, name in enumerate(self._families)}
        #: Per check type: its declared metric names → their slots (see _plan).
        self._plans: dict[str, dict[str, int]] = {}
        #: Per (name, extra labels): a line template with only check, site and value left open.
        self._labelled_templates: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._blank: tuple[str, ...] = ("",) * len(self._families)
        #: Each check's lines, rendered when its result was recorded, with the record they show.
        self._fragments: dict[CheckKey, tuple[RunRecord, tuple[str, ...]]] = {}
        #: Each run counter's line, in the order of ``book.runs``; rendered again on a doubt (see _sync_runs).
        self._run_lines: dict[tuple[str, str, Status], str] = {}
        self._runs_stale = True
        #: The site list last rendered for sitewatch_site_info and its lines (the list is kept so its id stays its own).
        self._site_lines: tuple[object, str] | None = None
        book.watchers.append(self)

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the series depend on the results (avoids a collect at registration)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """Render the current snapshot."""
        yield from self._per_check()
        if self._sites is not None:
            yield site_info_family(self._sites())
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
            yield from ticket_families(book.ticket_stats())
        if self._availability is not None:
            yield availability_family(self._availability(), {site for site, _ in book.configured})
        if self._sla is not None:
            yield from sla_families(*self._sla())
        if self._advisory_sources is not None:
            yield from vulnerability_source_families(self._advisory_sources())
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

    def per_check_text(self, openmetrics: bool = False) -> str:
        """The per-check families as exposition text, byte for byte what the encoders make of them."""
        return "".join(self.per_check_chunks(openmetrics))

    def per_check_chunks(self, openmetrics: bool = False) -> Iterator[str]:
        """The per-check families, a header chunk and a lines chunk each, all from one snapshot of the book.

        With 10,000 checks these are ~150,000 samples, ~130 ms of CPU to render at
        once, which held the event loop (or, paused, made the scrape slow). So each
        check's lines are rendered when its result is recorded (:meth:`recorded`, a few
        µs per result) and a scrape only walks the book in its own order, taking each
        check's ready lines, and joins them per family. The text is the same in both
        formats; only the HELP/TYPE headers differ. The equality with the library's own
        encoders is a test, not a hope.
        """
        book = self._book
        fragments = self._fragments
        # The snapshot: a scrape's families describe the same runs even if results arrive between chunks.
        rows: list[tuple[str, ...]] = []
        append = rows.append
        check_types: set[str] = set()
        for key, record in book.latest.items():
            cached = fragments.get(key)
            if cached is None or cached[0] is not record:
                # Recorded before this collector watched the book (tests, a collector made late): render now.
                cached = fragments[key] = (record, self._check_lines(record))
            append(cached[1])
            check_types.add(record.check_type)
        if self._runs_stale or len(self._run_lines) != len(book.runs):
            self._sync_runs()
        run_lines = list(self._run_lines.values())
        # Only the families the present check types declare can have lines; the others are just headers.
        slots = set(range(len(_CORE_PER_CHECK)))
        for check_type in check_types:
            slots.update(self._plan(check_type).values())
        header = self._header
        # Header and lines as separate chunks: gluing them would copy each family's megabyte once more.
        # A family's lines go out _ROWS_PER_CHUNK checks at a time: whole, the largest (five phases
        # per check) was ~5 MB as text, again as bytes and again in the socket's buffer (issue #24).
        for slot, name in enumerate(self._families):
            yield header(name, openmetrics)
            if slot in slots:
                column = itemgetter(slot)
                for start in range(0, len(rows), _ROWS_PER_CHUNK):
                    yield "".join(map(column, rows[start : start + _ROWS_PER_CHUNK]))
        yield header("sitewatch_check_runs", openmetrics)
        for start in range(0, len(run_lines), _ROWS_PER_CHUNK):
            yield "".join(run_lines[start : start + _ROWS_PER_CHUNK])
        if self._sites is not None:
            # One series per site: through the library's encoder, ~5 µs each (51 ms a scrape at
            # 10,000 sites); the lines change only with a reload, so they are made once per site list.
            sites = self._sites()
            if self._site_lines is None or self._site_lines[0] is not sites:
                self._site_lines = (sites, site_info_lines(sites))
            yield header("sitewatch_site_info", openmetrics)
            yield self._site_lines[1]

    def recorded(self, record: RunRecord) -> None:
        """Render the check's lines now, so the next scrape only joins them (a :class:`BookWatcher` hook)."""
        try:
            self._fragments[record.key] = (record, self._check_lines(record))
            run_key = (record.site, record.check, record.result.status)
            # Same insertion order as book.runs: the book is its only writer, and tells us at once.
            self._run_lines[run_key] = self._run_line(run_key, self._book.runs[run_key])
        except Exception as exc:  # a plugin's odd sample must not cost the agent the rest of its result handling
            # Without ready lines the scrape renders this record itself, and fails as it always did.
            self._fragments.pop(record.key, None)
            self._runs_stale = True
            if (record.check_type, "") not in self._warned:
                self._warned.add((record.check_type, ""))
                event(self._log, logging.WARNING, "metric_render_failed", check_type=record.check_type, error=repr(exc))

    def configured(self) -> None:
        """Forget the lines of checks a reload removed or retyped (a :class:`BookWatcher` hook)."""
        latest, runs, configured = self._book.latest, self._book.runs, self._book.configured
        self._fragments = {k: v for k, v in self._fragments.items() if latest.get(k) is v[0]}
        self._run_lines = {k: v for k, v in self._run_lines.items() if k in runs}
        self._prefixes = {k: v for k, v in self._prefixes.items() if k in configured}

    def _sync_runs(self) -> None:
        """Render every run counter's line again, in the book's order (a collector made late, a failed hook)."""
        self._run_lines = {key: self._run_line(key, count) for key, count in self._book.runs.items()}
        self._runs_stale = False

    def _check_lines(self, record: RunRecord) -> tuple[str, ...]:
        """One check's exposition lines, one string per family of :attr:`_families` ("" if none)."""
        prefix, site, check = self._prefix(record.site, record.check)
        lines = list(self._blank)
        rank = record.result.status.rank
        check_type = self._escaped.get(record.check_type) or self._escape_value(record.check_type)
        lines[0] = f"probe_success{prefix}}} {'1.0' if rank in _OK_RANKS else '0.0'}\n"
        lines[1] = f"probe_duration_seconds{prefix}}} {_num(record.duration)}\n"
        lines[2] = f'sitewatch_check_status{prefix},type="{check_type}"}} {rank:d}.0\n'
        lines[3] = f"sitewatch_check_last_run_timestamp_seconds{prefix}}} {_num(record.started)}\n"
        slots = self._plan(record.check_type)
        for sample in record.result.samples:
            name, value, labels = sample.name, sample.value, sample.labels
            slot = slots.get(name)
            if slot is None:
                self._undeclared(record.check_type, name)
                continue
            # _num inlined for the common case (a float below 1e6): ~10 samples per result, 1,000 results a second.
            number = repr(value) if value.__class__ is float and _NO_GO_EXPONENT > value > -math.inf else _num(value)
            if not labels:
                lines[slot] += f"{name}{prefix}}} {number}\n"
                continue
            template = self._labelled_templates.get((name, labels)) or self._labelled_template(name, labels)
            if template:
                lines[slot] += template.format(check, site, number)
            else:
                lines[slot] += self._labelled(name, record.site, record.check, labels, value)
        return tuple(lines)

    def _plan(self, check_type: str) -> dict[str, int]:
        """Metric name → family slot, for the names a check type declared (made once per type)."""
        plan = self._plans.get(check_type)
        if plan is None:
            allowed = self._allowed.get(check_type, _NOTHING)
            plan = self._plans[check_type] = {name: slot for name, slot in self._slots.items() if name in allowed}
        return plan

    def _labelled_template(self, name: str, labels: tuple[tuple[str, str], ...]) -> str:
        """``name{check="{0}",phase="connect",site="{1}"} {2}`` for samples of ``name`` with these extra labels.

        "" if the labels do not match the family's declaration (those take the slow, general path).
        Remembered for the first few thousand (name, labels): extra label values are bounded (phases …).
        """
        spec = self._specs.get(name)
        if spec is None or len(labels) != len(spec.labels):
            return ""
        # Label names from the declaration, values by position, as in add_metric(); sorted like the encoders.
        values = ("{1}", "{0}", *(_esc(v).replace("{", "{{").replace("}", "}}") for _, v in labels))
        pairs = ",".join(f'{k}="{v}"' for k, v in sorted(zip(("site", "check", *spec.labels), values, strict=True)))
        template = f"{name}{{{{{pairs}}}}} {{2}}\n"
        if len(self._labelled_templates) < 10_000:
            self._labelled_templates[(name, labels)] = template
        return template

    def _run_line(self, run_key: tuple[str, str, Status], count: int) -> str:
        prefix = self._prefix(run_key[0], run_key[1])[0]
        return f'sitewatch_check_runs_total{prefix},status="{run_key[2].value}"}} {_num(count)}\n'

    def _prefix(self, site: str, check: str) -> tuple[str, str, str]:
        """``{check="…",site="…"`` (labels sorted, values escaped) and the two escaped values, made once per check."""
        cached = self._prefixes.get((site, check))
        if cached is None:
            site_text, check_text = _esc(site), _esc(check)
            cached = self._prefixes[(site, check)] = (
                f'{{check="{check_text}",site="{site_text}"',
                site_text,
                check_text,
            )
        return cached

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


def build_registry(collector: SitewatchCollector) -> CollectorRegistry:
    """A fresh registry with the sitewatch collector plus process and platform metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


_OK_RANKS = frozenset({Status.OK.rank, Status.WARNING.rank})
_NOTHING: frozenset[str] = frozenset()
#: Checks per chunk of a family's lines: ~100-500 KB of text, a few hundred writes per scrape.
_ROWS_PER_CHUNK = 1000

"""A Prometheus collector that renders the latest results of the :class:`ResultBook`.

Every metric name the agent itself exports is declared in :data:`~sitewatch.web.metric_table.CORE_METRICS`;
checks declare theirs in their ``metrics`` table. Because the collector reads the
current book on every scrape, a site removed from config simply has no series any
more. For speed it keeps each check's exposition lines, rendered when the result
was recorded (by :class:`~sitewatch.web.check_lines.CheckLines`), but only those of
the record the book holds now are ever used. The agent-wide families are in
:mod:`sitewatch.web.agent_families`, the registry wiring in :mod:`sitewatch.web.registry`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sitewatch.engine.results import CheckKey, ResultBook, RunRecord
from sitewatch.probe import AnyCheck, Status
from sitewatch.web.agent_families import agent_wide_families, site_info_family, site_info_lines
from sitewatch.web.check_lines import CheckLines
from sitewatch.web.metric_table import _CORE_PER_CHECK, _SC, CORE_METRICS

__all__ = ["SitewatchCollector"]


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
        #: The check types' declared families, and each check's lines in them.
        self._lines = CheckLines(checks, log)
        #: Set by :class:`~sitewatch.web.exposition.Exposition` after each scrape; exported on the next one.
        self.last_render_seconds = 0.0
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
        lines = self._lines
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
            name: GaugeMetricFamily(name, spec.help, labels=(*_SC, *spec.labels)) for name, spec in lines.specs.items()
        }
        for record in book.latest.values():
            key = [record.site, record.check]
            result = record.result
            success.add_metric(key, 1.0 if result.status in (Status.OK, Status.WARNING) else 0.0)
            duration.add_metric(key, record.duration)
            status.add_metric([*key, record.check_type], float(result.status.rank))
            last.add_metric(key, record.started)
            allowed = lines.allowed.get(record.check_type, frozenset())
            for sample in result.samples:
                family = families.get(sample.name) if sample.name in allowed else None
                if family is None:
                    lines.undeclared(record.check_type, sample.name)
                    continue
                family.add_metric([*key, *(v for _, v in sample.labels)], sample.value)
        yield from (success, duration, status, last)
        yield from families.values()
        yield self._runs()

    def agent_families(self) -> Iterator[Metric]:
        """The agent-wide families (:func:`~sitewatch.web.agent_families.agent_wide_families`), fresh each scrape."""
        return agent_wide_families(
            self._book, self.last_render_seconds, self._availability, self._sla, self._advisory_sources
        )

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
        lines = self._lines
        fragments = self._fragments
        # The snapshot: a scrape's families describe the same runs even if results arrive between chunks.
        rows: list[tuple[str, ...]] = []
        append = rows.append
        check_types: set[str] = set()
        for key, record in book.latest.items():
            cached = fragments.get(key)
            if cached is None or cached[0] is not record:
                # Recorded before this collector watched the book (tests, a collector made late): render now.
                cached = fragments[key] = (record, lines.render(record))
            append(cached[1])
            check_types.add(record.check_type)
        if self._runs_stale or len(self._run_lines) != len(book.runs):
            self._sync_runs()
        run_lines = list(self._run_lines.values())
        # Only the families the present check types declare can have lines; the others are just headers.
        slots = set(range(len(_CORE_PER_CHECK)))
        for check_type in check_types:
            slots.update(lines.plan(check_type).values())
        header = lines.header
        # Header and lines as separate chunks: gluing them would copy each family's megabyte once more.
        # A family's lines go out _ROWS_PER_CHUNK checks at a time: whole, the largest (five phases
        # per check) was ~5 MB as text, again as bytes and again in the socket's buffer (issue #24).
        for slot, name in enumerate(lines.families):
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
        lines = self._lines
        try:
            self._fragments[record.key] = (record, lines.render(record))
            run_key = (record.site, record.check, record.result.status)
            # Same insertion order as book.runs: the book is its only writer, and tells us at once.
            self._run_lines[run_key] = lines.run_line(run_key, self._book.runs[run_key])
        except Exception as exc:  # a plugin's odd sample must not cost the agent the rest of its result handling
            # Without ready lines the scrape renders this record itself, and fails as it always did.
            self._fragments.pop(record.key, None)
            self._runs_stale = True
            lines.render_failed(record.check_type, exc)

    def configured(self) -> None:
        """Forget the lines of checks a reload removed or retyped (a :class:`BookWatcher` hook)."""
        latest, runs, configured = self._book.latest, self._book.runs, self._book.configured
        self._fragments = {k: v for k, v in self._fragments.items() if latest.get(k) is v[0]}
        self._run_lines = {k: v for k, v in self._run_lines.items() if k in runs}
        self._lines.forget(configured)

    def _sync_runs(self) -> None:
        """Render every run counter's line again, in the book's order (a collector made late, a failed hook)."""
        run_line = self._lines.run_line
        self._run_lines = {key: run_line(key, count) for key, count in self._book.runs.items()}
        self._runs_stale = False


#: Checks per chunk of a family's lines: ~100-500 KB of text, a few hundred writes per scrape.
_ROWS_PER_CHUNK = 1000

"""One check's ``/metrics`` lines as ready text, and the families the check types declared.

Separate from the collector (:mod:`sitewatch.web.metrics`) because this is the hot path of
``/metrics`` at 10,000 checks: each result's lines are rendered here when it is recorded, a few
µs per result, with caches (escaped label prefixes, line templates, family slots per check type,
headers) that only this renderer reads. The text is byte for byte what prometheus_client's
encoders make of the same families; a test holds it to that.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest as _text_latest
from prometheus_client.openmetrics.exposition import generate_latest as _om_latest

from sitewatch.engine.results import CheckKey, RunRecord
from sitewatch.logs import event
from sitewatch.probe import AnyCheck, MetricSpec, Status
from sitewatch.web.metric_table import _CORE_PER_CHECK, _NO_GO_EXPONENT, CORE_METRICS, _esc, _num
from sitewatch.web.registry import _Fixed

__all__ = ["CheckLines"]


class CheckLines:
    """The per-check families (core, then each check type's declared ones) and one check's lines in them."""

    def __init__(self, checks: Mapping[str, type[AnyCheck]], log: logging.Logger) -> None:
        self._log = log
        #: Every metric a check type declared, by name.
        self.specs: dict[str, MetricSpec] = {}
        #: Per check type: the names it declared (a sample of any other name is refused).
        self.allowed: dict[str, frozenset[str]] = {}
        self._warned: set[tuple[str, str]] = set()
        #: ``{check="…",site="…"`` per check, escaped and sorted once (see _prefix).
        self._prefixes: dict[CheckKey, tuple[str, str, str]] = {}
        self._headers: dict[tuple[str, bool], str] = {}
        self._escaped: dict[str, str] = {}
        for type_name, cls in checks.items():
            for spec in cls.metrics:
                known = self.specs.setdefault(spec.name, spec)
                if known.labels != spec.labels or spec.name in CORE_METRICS:
                    raise ValueError(f"check {type_name!r} redeclares metric {spec.name} with other labels")
            self.allowed[type_name] = frozenset(s.name for s in cls.metrics)
        #: The per-check families in exposition order; a check's lines are a tuple in this order.
        self.families: tuple[str, ...] = (*_CORE_PER_CHECK, *self.specs)
        self._slots = {name: slot for slot, name in enumerate(self.families)}
        #: Per check type: its declared metric names → their slots (see plan).
        self._plans: dict[str, dict[str, int]] = {}
        #: Per (name, extra labels): a line template with only check, site and value left open.
        self._labelled_templates: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._blank: tuple[str, ...] = ("",) * len(self.families)

    def render(self, record: RunRecord) -> tuple[str, ...]:
        """One check's exposition lines, one string per family of :attr:`families` ("" if none)."""
        prefix, site, check = self._prefix(record.site, record.check)
        lines = list(self._blank)
        rank = record.result.status.rank
        check_type = self._escaped.get(record.check_type) or self._escape_value(record.check_type)
        lines[0] = f"probe_success{prefix}}} {'1.0' if rank in _OK_RANKS else '0.0'}\n"
        lines[1] = f"probe_duration_seconds{prefix}}} {_num(record.duration)}\n"
        lines[2] = f'sitewatch_check_status{prefix},type="{check_type}"}} {rank:d}.0\n'
        lines[3] = f"sitewatch_check_last_run_timestamp_seconds{prefix}}} {_num(record.started)}\n"
        slots = self.plan(record.check_type)
        for sample in record.result.samples:
            name, value, labels = sample.name, sample.value, sample.labels
            slot = slots.get(name)
            if slot is None:
                self.undeclared(record.check_type, name)
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

    def plan(self, check_type: str) -> dict[str, int]:
        """Metric name → family slot, for the names a check type declared (made once per type)."""
        plan = self._plans.get(check_type)
        if plan is None:
            allowed = self.allowed.get(check_type, _NOTHING)
            plan = self._plans[check_type] = {name: slot for name, slot in self._slots.items() if name in allowed}
        return plan

    def run_line(self, run_key: tuple[str, str, Status], count: int) -> str:
        """The ``sitewatch_check_runs_total`` line of one (site, check, status) counter."""
        prefix = self._prefix(run_key[0], run_key[1])[0]
        return f'sitewatch_check_runs_total{prefix},status="{run_key[2].value}"}} {_num(count)}\n'

    def header(self, name: str, openmetrics: bool) -> str:
        """``# HELP``/``# TYPE`` lines of a family, made once by the library's own encoder."""
        cached = self._headers.get((name, openmetrics))
        if cached is None:
            core = CORE_METRICS.get(name)
            help_text = core.help if core is not None else self.specs[name].help
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

    def forget(self, configured: Mapping[CheckKey, str]) -> None:
        """Drop the label prefixes of checks no longer configured (after a reload)."""
        self._prefixes = {k: v for k, v in self._prefixes.items() if k in configured}

    def undeclared(self, check_type: str, name: str) -> None:
        """Warn, once per check type and name, of a sample its check type never declared."""
        if (check_type, name) not in self._warned:  # a plugin bug: say it once, not every scrape
            self._warned.add((check_type, name))
            event(self._log, logging.WARNING, "metric_undeclared", check_type=check_type, metric=name)

    def render_failed(self, check_type: str, exc: Exception) -> None:
        """Warn, once per check type, that a result's lines could not be rendered as it was recorded."""
        if (check_type, "") not in self._warned:
            self._warned.add((check_type, ""))
            event(self._log, logging.WARNING, "metric_render_failed", check_type=check_type, error=repr(exc))

    def _labelled_template(self, name: str, labels: tuple[tuple[str, str], ...]) -> str:
        """``name{check="{0}",phase="connect",site="{1}"} {2}`` for samples of ``name`` with these extra labels.

        "" if the labels do not match the family's declaration (those take the slow, general path).
        Remembered for the first few thousand (name, labels): extra label values are bounded (phases …).
        """
        spec = self.specs.get(name)
        if spec is None or len(labels) != len(spec.labels):
            return ""
        # Label names from the declaration, values by position, as in add_metric(); sorted like the encoders.
        values = ("{1}", "{0}", *(_esc(v).replace("{", "{{").replace("}", "}}") for _, v in labels))
        pairs = ",".join(f'{k}="{v}"' for k, v in sorted(zip(("site", "check", *spec.labels), values, strict=True)))
        template = f"{name}{{{{{pairs}}}}} {{2}}\n"
        if len(self._labelled_templates) < 10_000:
            self._labelled_templates[(name, labels)] = template
        return template

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
        names = ("site", "check", *self.specs[name].labels)
        pairs = sorted(zip(names, (site, check, *(v for _, v in labels)), strict=False))
        text = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
        return f"{name}{{{text}}} {_num(value)}\n"


_OK_RANKS = frozenset({Status.OK.rank, Status.WARNING.rank})
_NOTHING: frozenset[str] = frozenset()

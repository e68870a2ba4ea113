"""The shipped alerting rules: promtool checks and unit-tests them, and they use only real metrics."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from sitewatch.config.registry import load_checks
from sitewatch.web.metric_table import CORE_METRICS
from tests.helpers import need

CONTRIB = Path(__file__).resolve().parent.parent / "contrib" / "prometheus"

#: Series that are not the agent's own: Prometheus' scrape health.
FOREIGN = frozenset({"up"})

_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_GRAFANA_VARIABLE = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)\b(?!\s*\()")


def series_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and label names left out)."""
    text = _GRAFANA_VARIABLE.sub("x", _STRING.sub('""', expr))
    for pattern in (_MATCHERS, _RANGE, _LABEL_LIST, _OFFSET):
        text = pattern.sub(" ", text)
    names = {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}
    # Scientific notation (1e3) starts with a digit and never matches; durations went with ranges.
    return names


def exported_names() -> set[str]:
    """Every series name the agent can expose: core metrics and each installed check's MetricSpecs."""
    names = set(CORE_METRICS)
    for name, spec in CORE_METRICS.items():
        if spec.kind == "counter":
            names.add(f"{name}_total")
        if spec.kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    names |= {spec.name for cls in load_checks().values() for spec in cls.metrics}
    return names


def load(name: str) -> Any:
    """One YAML file from contrib/prometheus."""
    return yaml.safe_load((CONTRIB / name).read_text(encoding="utf-8"))


def test_series_names_reads_promql() -> None:
    """The extractor finds selectors and skips functions, label lists, matchers, ranges and keywords."""
    expr = (
        'histogram_quantile(0.99, sum by (le, instance) (rate(lag_bucket{site=~"$site"}[5m] offset 1h)))'
        " > on (instance) group_left (site) foo_total and absent(up{job='a'}) or bar unless 1e3 * baz"
    )
    assert series_names(expr) == {"lag_bucket", "foo_total", "up", "bar", "baz"}


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    """`promtool check rules`, `test rules` (alerts firing when due, not before) and `check config` pass."""
    promtool = need("promtool")
    commands = (
        ["check", "rules", "sitewatch.rules.yml"],
        ["test", "rules", "sitewatch.rules.test.yml"],
        ["check", "config", "scrape.yml"],
    )
    for args in commands:
        run = subprocess.run([promtool, *args], cwd=CONTRIB, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_firing_test() -> None:
    """No alert ships untested: each one is expected to fire in at least one promtool case."""
    alerts = {rule["alert"] for group in load("sitewatch.rules.yml")["groups"] for rule in group["rules"]}
    fired = {
        case["alertname"]
        for test in load("sitewatch.rules.test.yml")["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    required = {
        "SiteDown",
        "SiteSlow",
        "CertificateExpiringSoon",
        "BackupStale",
        "BackupJobSilent",
        "CmsOutdated",
        "SitewatchAgentDown",
        "SitewatchAgentsAbsent",
        "SitewatchOutboxStuck",
    }
    assert required <= alerts
    assert alerts == fired, alerts ^ fired


def test_rules_use_only_metrics_the_agent_exports() -> None:
    """A typo in a metric name would make an alert silently never fire."""
    used = {
        name
        for group in load("sitewatch.rules.yml")["groups"]
        for rule in group["rules"]
        for name in series_names(rule["expr"])
    }
    assert {"up", "probe_success", "sitewatch_outbox_depth"} <= used
    assert used <= exported_names() | FOREIGN, used - exported_names() - FOREIGN

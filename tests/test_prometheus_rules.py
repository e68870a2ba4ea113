"""The shipped alerting rules: promtool checks and unit-tests them, and they use only real metrics."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from sitewatch.metrics import CORE_METRICS
from sitewatch.registry import load_checks
from tests.test_agent_metrics import need

CONTRIB = Path(__file__).resolve().parent.parent / "contrib" / "prometheus"


def exported_names() -> set[str]:
    names = set(CORE_METRICS)
    names |= {f"{n}_total" for n, m in CORE_METRICS.items() if m.kind == "counter"}
    names |= {spec.name for cls in load_checks().values() for spec in cls.metrics}
    return names


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    """`promtool check rules` and `promtool test rules` (alerts firing at the expected times) pass."""
    promtool = need("promtool")
    for args in (["check", "rules", "sitewatch.rules.yml"], ["test", "rules", "sitewatch.rules.test.yml"]):
        run = subprocess.run([promtool, *args], cwd=CONTRIB, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_rules_use_only_metrics_the_agent_exports() -> None:
    """A typo in a metric name would make an alert silently never fire."""
    rules = yaml.safe_load((CONTRIB / "sitewatch.rules.yml").read_text(encoding="utf-8"))
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\b((?:probe|sitewatch)_[a-z_]+)\b", rule["expr"])
    }
    assert used
    assert used <= exported_names(), used - exported_names()

"""The Grafana dashboard: valid JSON, the panels ops expect, and only metrics that really exist."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import need
from tests.test_prometheus_rules import FOREIGN, exported_names, series_names

DASHBOARD = Path(__file__).resolve().parent.parent / "contrib" / "grafana" / "sitewatch.json"

#: Panel title → a series it must query, so a panel cannot silently show something else.
EXPECTED = {
    "Sites up (last run)": "probe_success",
    "Site overview": "probe_success",
    "Failing checks": "probe_success",
    "HTTP duration by phase": "probe_http_duration_seconds",
    "Certificate days left": "probe_ssl_earliest_cert_expiry",
    "Backup age": "sitewatch_backup_age_seconds",
    "Heartbeat age": "sitewatch_heartbeat_age_seconds",
    "CMS outdated": "sitewatch_cms_outdated",
    "Open incidents and pending tickets": "sitewatch_open_incidents",
    "Scheduler lag p99": "sitewatch_scheduler_lag_seconds_bucket",
    "Availability (30 days)": "sitewatch_availability_ratio",
}


def dashboard() -> Any:
    """The shipped dashboard, parsed."""
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def expressions(board: Any) -> list[str]:
    """Every PromQL expression of every panel."""
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def test_expected_panels_query_their_series() -> None:
    """Overview, phases, certificates, backups, heartbeats, CMS, incidents and lag are there with their data."""
    panels = {panel["title"]: panel for panel in dashboard()["panels"]}
    for title, series in EXPECTED.items():
        assert title in panels, sorted(panels)
        used = set().union(*(series_names(target["expr"]) for target in panels[title]["targets"]))
        assert series in used, (title, used)


def test_every_series_is_exported() -> None:
    """A renamed metric would leave a panel empty without any error; every name must be one the agent exports."""
    used = set().union(*map(series_names, expressions(dashboard())))
    assert used <= exported_names() | FOREIGN, used - exported_names() - FOREIGN


def test_expressions_parse_as_promql(tmp_path: Path) -> None:
    """promtool parses every panel expression (as recording rules, Grafana variables filled in)."""
    variables = {"$site": ".*", "$__rate_interval": "5m"}
    rules = []
    for i, original in enumerate(expressions(dashboard())):
        expr = original
        for name, value in variables.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, original
        rules.append({"record": f"dashboard:expr{i}", "expr": expr})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    run = subprocess.run([need("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_layout_ids_and_variables() -> None:
    """Unique panel ids, no overlapping panels inside the 24-column grid, and every $variable is defined."""
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    boxes = [panel["gridPos"] for panel in board["panels"]]
    assert all(box["x"] + box["w"] <= 24 for box in boxes)
    for a, b in itertools.combinations(boxes, 2):
        apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
        apart = apart or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
        assert apart, (a, b)
    defined = {variable["name"] for variable in board["templating"]["list"]}
    used = set(re.findall(r"\$\{?(\w+)", json.dumps(board["panels"])))
    assert used - {"__rate_interval"} <= defined

"""The Grafana dashboard: valid JSON, the panels ops expect, and only metrics that really exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_prometheus_rules import exported_names

DASHBOARD = Path(__file__).resolve().parent.parent / "contrib" / "grafana" / "sitewatch.json"


def test_dashboard_panels_and_metric_names() -> None:
    """Overview, phases, certificates, backups and incidents are there; every series name is exported."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Failing checks", "HTTP duration by phase", "Certificate days left", "Backup age"} <= titles
    assert "Open incidents and pending tickets" in titles
    used = {
        re.sub(r"_bucket$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b((?:probe|sitewatch)_[a-z_]+)\b", target["expr"])
    }
    assert used <= exported_names(), used - exported_names()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))

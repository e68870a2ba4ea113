"""`sitewatch rules --quorum K`: promtool accepts and unit-tests the rules; export-only checks open nothing locally."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sitewatch.cli.main import main
from sitewatch.config.loader import load_config
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store
from tests.configs import write_site_config
from tests.helpers import need

PROMTOOL_TESTS = Path(__file__).resolve().parent / "prometheus" / "quorum.rules.test.yml"

SITES = """\
    sites:
      - name: shop
        url: http://127.0.0.1:9/
        checks:
          - {type: http, incidents: false}
          - {type: tls}
      - name: blog
        url: http://127.0.0.1:9/
        incidents: false
        checks:
          - {type: http}
          - {type: tcp, name: tcp.443, port: 443}
"""


def test_promtool_accepts_and_unit_tests_the_generated_rules(tmp_path: Path) -> None:
    """1 of 3 locations failing → no alert; 2 of 3 → one alert naming the locations; a missing one warns."""
    promtool = need("promtool")
    path = write_site_config(tmp_path, SITES)
    assert (
        main(["rules", "-c", str(path), "--quorum", "2", "--agents", "3", "--for", "2m", "-o", "quorum.rules.yml"]) == 0
    )
    rules = tmp_path / "quorum.rules.yml"
    shutil.move("quorum.rules.yml", rules)
    shutil.copy(PROMTOOL_TESTS, tmp_path)
    for args in (["check", "rules", rules.name], ["test", "rules", PROMTOOL_TESTS.name]):
        run = subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_rules_watch_only_the_export_only_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checks with incidents: false (here http and a dotted tcp name) are selected; tls alerts locally."""
    path = write_site_config(tmp_path, SITES)
    assert main(["rules", "-c", str(path), "--quorum", "2"]) == 0
    rules = yaml.safe_load(capsys.readouterr().out)["groups"][0]["rules"]
    assert rules[0]["expr"] == 'count by (site, check) (probe_success{check=~"http|tcp\\\\.443"} == 0)'
    assert [r.get("alert") for r in rules] == [None, None, "SiteFailingQuorum"]  # no --agents: no missing-agent alert
    assert rules[2]["for"] == "2m"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quorum", "0"], "--quorum"),
        (["--quorum", "3", "--agents", "2"], "--agents"),
        (["--quorum", "2", "--for", "2 min"], "--for"),
    ],
)
def test_bad_rules_arguments_say_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A quorum below 1 or above the agents, or a duration Prometheus cannot read, is refused."""
    path = write_site_config(tmp_path, SITES)
    assert main(["rules", "-c", str(path), *args]) == 1
    assert message in capsys.readouterr().err


def test_an_export_only_check_opens_no_local_incident(tmp_path: Path) -> None:
    """incidents: false on a check (or its site) keeps failing runs out of the store; others still open."""
    config = load_config(write_site_config(tmp_path, SITES))
    store = Store(tmp_path / "s.db")
    tracker = IncidentTracker(store, ["local"], logging.getLogger("sitewatch.test"), lambda *_: None)
    for spec in config.checks:
        for n in range(5):
            result = Result(Status.CRITICAL, "down")
            tracker.observe(spec, RunRecord(spec.site.name, spec.name, spec.type, result, 1000.0 + 60 * n, 0.1))
    assert sorted(store.open_incidents()) == ["sw:v1:shop:tls"]
    assert {c.key: c.policy.incidents for c in config.checks} == {
        ("shop", "http"): False,
        ("shop", "tls"): True,
        ("blog", "http"): False,
        ("blog", "tcp.443"): False,
    }

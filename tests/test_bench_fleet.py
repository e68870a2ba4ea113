"""A smoke test of the fleet benchmark's harness (bench/fleet.py): no servers, no timing goals.

The benchmark itself needs nginx, Prometheus and blackbox_exporter and minutes of CPU;
what can silently rot without them is checked here: the agent config it writes must load,
the targets must spread as documented, and the report must render with missing figures.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

from sitewatch.config.loader import load_config

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fleet.py"


def _fleet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fleet", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_fleet"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_generated_config_loads_and_targets_spread(tmp_path: Path) -> None:
    """The agent config of a scale point is valid; sites spread over 8 addresses, one in ten HTTPS."""
    fleet = _fleet()
    target = fleet.Target(8080, 8443, tmp_path / "ca.pem")
    point = fleet.Point("tiny", 40, 10, 5)
    path = tmp_path / "config.yaml"
    path.write_text(fleet.sitewatch_config(target, point, 19999, tmp_path / "state", changed=4))
    config = load_config(path)
    assert len(config.checks) == 40
    assert {c.type for c in config.checks} == {"http"}
    assert all(c.interval == 10 and c.timeout == 5 for c in config.checks)
    urls = [str(site.info.url) for site in config.sites]
    assert sum(u.startswith("https://") for u in urls) == 4
    assert len({u.split("/")[2].split(":")[0] for u in urls}) == fleet.ADDRESSES
    assert len(set(urls)) == 40
    assert sum("&v=2" in u for u in urls) == 4  # the reload changes 1 % (here: `changed`) of the sites


def test_report_renders_with_missing_figures() -> None:
    """A point without blackbox figures, or with NaNs, still renders a table and the goals."""
    fleet = _fleet()
    point = fleet.Point("N=10,000", 10_000, 10, 30)
    sw = fleet.Phase(probes=30_000, expected=30_000, agent_cpu=18.0, agent_sys=2.0, rss_mb=230.0, rss_window_mb=190.0)
    sw.lag_p99, sw.render_max, sw.scrape_max, sw.reload = 0.05, 0.2, 0.4, 1.5
    lines = fleet.table(point, sw, None)
    assert lines[0].startswith("### N=10,000")
    assert any(line.startswith("| CPU ms per probe") and "| 0.600 |" in line for line in lines)
    goals = "\n".join(fleet.goals({point.name: (point, sw, None)}))
    assert "RSS ≤ 200 MB (peak while probing and scraped) | 190 MB | yes" in goals
    assert "reload included) | 230 MB | **no**" in goals
    assert "scraped < 250 ms" in goals
    assert "**no**" in goals
    assert math.isnan(fleet.Phase().cpu_ms_per_probe())


def test_startup_reload_only_point_renders() -> None:
    """The quick run's 10,000-check point measures no window: no division by its zero probes."""
    fleet = _fleet()
    point = fleet.Point("N=10,000 start/reload", 10_000, 60, 0, measure=False)
    sw = fleet.Phase(startup=1.2, reload=1.5, rss_mb=210.0, rss_now_mb=150.0)
    text = "\n".join(fleet.table(point, sw, None) + fleet.goals({point.name: (point, sw, None)}))
    assert "| SIGHUP reload, 1 % of sites changed (s) | 1.50 |" in text
    assert "reload < 2 s | 1.50 s | yes" in text


def _fleet_https() -> ModuleType:
    _fleet()
    sys.modules["fleet"] = sys.modules["bench_fleet"]  # fleet_https imports its sibling by name
    spec = importlib.util.spec_from_file_location("fleet_https", BENCH.parent / "fleet_https.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fleet_https"] = module
    spec.loader.exec_module(module)
    return module


def test_https_point_config_loads_and_spreads_over_variants_and_hosts(tmp_path: Path) -> None:
    """The HTTPS point's agent config is valid: all HTTPS, 4 variants × 8 hosts evenly, check options added."""
    https = _fleet_https()
    target = https.HttpsTarget(8080, (8441, 8442, 8443, 8444), tmp_path / "ca.pem")
    https.CHECK_EXTRA["tls_resumption"] = "false"
    try:
        text = https.sitewatch_config(target, 64, 1, 19999, tmp_path / "state", {})
    finally:
        https.CHECK_EXTRA.clear()
    path = tmp_path / "config.yaml"
    path.write_text(text)
    config = load_config(path)
    urls = [str(site.info.url) for site in config.sites]
    assert all(u.startswith("https://") for u in urls)
    assert all(c.interval == 1 and c.timeout == 1 for c in config.checks)
    assert all(c.settings.tls_resumption is False for c in config.checks)
    pairs = {(u.split("/")[2].split(":")[0], u.split("/")[2].split(":")[1]) for u in urls}
    assert len(pairs) == 32  # every host serves every variant
    assert len(set(urls)) == 64


def test_https_report_gives_the_ratio_per_window_and_the_median() -> None:
    """Each window's ratio is its own CPU per probe over blackbox's; the median decides the goal."""
    https = _fleet_https()
    run = https.Run(200, 1, 20)
    for sw_cpu in (2.0, 1.8, 3.0):  # 0.5, 0.45 and 0.75 ms per probe against blackbox's 1.0
        run.windows.append(https.Window(sw_cpu, 4.0, sw_probes=4000, bb_probes=4000, sw_ok=4000, bb_ok=4000, load=2.0))
    run.lag_p99, run.sw_rss, run.bb_rss = 0.03, 90.0, 30.0
    text = "\n".join(https.report(run, "test"))
    assert "| 2 | 0.450 | 4000 (4000) | 1.000 | 4000 (4000) | 0.45× | 2.00 |" in text
    assert "Median ratio **0.50×** (windows 0.45–0.75×)" in text
    assert "Goal ≤ 0.5×: met." in text


def test_https_report_gives_no_ratio_where_a_prober_fell_behind() -> None:
    """A window in which either prober completed < 95 % of its probes gives no ratio and no verdict.

    At 1,000 probes/s on two cores blackbox_exporter completed 2 % of its probes and its CPU per
    completed probe came out 35 ms: a "met" from such a window would be false.
    """
    https = _fleet_https()
    run = https.Run(1000, 1, 20)
    run.windows.append(https.Window(11.0, 17.7, sw_probes=19_000, bb_probes=495, sw_ok=19_000, bb_ok=298, load=3.1))
    run.windows.append(https.Window(10.0, 30.0, sw_probes=20_000, bb_probes=19_500, sw_ok=20_000, bb_ok=19_500))
    text = "\n".join(https.report(run, "test"))
    assert "Median ratio **0.32×** (windows 0.32–0.32×)" in text  # only the second window counts
    assert "Goal ≤ 0.5×: met." in text
    run.windows.pop()
    text = "\n".join(https.report(run, "test"))
    assert "not measured (a prober completed < 95% of its probes in windows [1])" in text
    assert "met." not in text

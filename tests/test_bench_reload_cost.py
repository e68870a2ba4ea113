"""A smoke test of bench/reload_cost.py: it runs on a small config and prints every figure.

The script reaches into load_config's stages (the modules of sitewatch.config that the loader calls,
and private parts of sitewatch.config.document and sitewatch.config.yamlsource), so a refactoring
there could break it silently; nothing is timed here.
It runs in a subprocess because its agent freezes the garbage collector of its process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_reload_cost_runs_and_reports_each_stage() -> None:
    """50 sites, one repeat: the stage split, the reload and the memory lines are all printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.reload_cost", "--sites", "50", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for line in ("YAML parse", "sites and checks", "Agent.reload:", "resident set:", "tracemalloc: peak"):
        assert line in done.stdout, done.stdout

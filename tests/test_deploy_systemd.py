"""The shipped unit: `systemd-analyze verify` is clean and its exposure score stays at or below 1.5."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "sitewatch.service"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with its /opt paths pointed at this checkout's venv (verify checks that binaries exist)."""
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: `make test` should have installed Debian package systemd")
        pytest.skip("systemd-analyze not installed")
    binary = str(Path(sys.executable).parent / "sitewatch")
    path = tmp_path / "sitewatch.service"
    path.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/sitewatch/venv/bin/sitewatch", binary))
    return path


def test_verify_is_clean(unit: Path) -> None:
    """No complaint about our unit (warnings about other units on the host are not ours)."""
    run = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    ours = [line for line in (run.stdout + run.stderr).splitlines() if "sitewatch" in line]
    assert ours == []


def test_exposure_is_at_most_1_5(unit: Path) -> None:
    """The hardening keeps `systemd-analyze security` at 1.5 or lower while probing keeps its network."""
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True, text=True, check=False
    )
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", run.stdout).group(1))  # type: ignore[union-attr]
    assert score <= 1.5, run.stdout[-2000:]


def test_unit_keeps_the_documented_choices() -> None:
    """Two ExecReload lines (validate, then signal), a static user, and no ProcSubset=pid."""
    text = UNIT.read_text(encoding="utf-8")
    reloads = [line for line in text.splitlines() if line.startswith("ExecReload=")]
    assert "check-config" in reloads[0]
    assert "kill -HUP" in reloads[1]
    assert "\nUser=sitewatch\n" in text
    assert not re.search(r"^DynamicUser=", text, re.MULTILINE)
    assert not re.search(r"^ProcSubset=pid", text, re.MULTILINE)

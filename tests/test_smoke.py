"""The package installs, registers its checks and answers --version."""

from __future__ import annotations

import subprocess
import sys

from sitewatch import __version__
from sitewatch.config.registry import load_checks


def test_http_check_is_registered_through_the_entry_point_group() -> None:
    """The core finds the built-in http check the way it would find a third-party one."""
    checks = load_checks()
    assert checks["http"].type == "http"
    assert checks["http"].__module__ == "checks.http"


def test_console_script_reports_version() -> None:
    """`sitewatch --version` prints the package version."""
    out = subprocess.run(
        [sys.executable, "-m", "sitewatch.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert __version__ in out.stdout

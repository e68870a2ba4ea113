"""The shipped unit: `systemd-analyze verify` is clean and its exposure score stays at or below 1.5."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import need

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNIT = SYSTEMD / "sitewatch.service"
SHIPPED_BINARY = "/opt/sitewatch/venv/bin/sitewatch"
MAX_EXPOSURE = 1.5


def systemd_tool(name: str) -> str:
    """Path of a tool from Debian package systemd; skip only outside CI, where `make test` installs it."""
    return need(name, package="systemd")


def local_copy(tmp_path: Path, text: str) -> Path:
    """The unit with its /opt binary pointed at this checkout's venv, because verify checks binaries exist."""
    binary = str(Path(sys.executable).parent / "sitewatch")
    assert SHIPPED_BINARY in text
    path = tmp_path / "sitewatch.service"
    path.write_text(text.replace(SHIPPED_BINARY, binary), encoding="utf-8")
    return path


def verify_complaints(unit: Path) -> list[str]:
    """Lines `systemd-analyze verify` prints about this unit; other units on the host are not ours."""
    run = subprocess.run(
        [systemd_tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    return [line for line in (run.stdout + run.stderr).splitlines() if unit.name in line or str(unit) in line]


def exposure(unit: Path) -> tuple[float, str]:
    """The offline exposure score (0 best, 10 worst) and the full report for the failure message."""
    run = subprocess.run(
        [systemd_tool("systemd-analyze"), "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", run.stdout)
    assert found, run.stdout + run.stderr
    return float(found.group(1)), run.stdout


def test_verify_is_clean(tmp_path: Path) -> None:
    """`systemd-analyze verify` has nothing to say about the shipped unit."""
    assert verify_complaints(local_copy(tmp_path, UNIT.read_text(encoding="utf-8"))) == []


def test_verify_filter_sees_a_broken_unit(tmp_path: Path) -> None:
    """The filter above is not vacuous: a misspelt directive in our unit is reported and kept."""
    broken = UNIT.read_text(encoding="utf-8").replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    complaints = verify_complaints(local_copy(tmp_path, broken))
    assert any("NoNewPrivilege" in line for line in complaints), complaints


def test_exposure_is_at_most_1_5(tmp_path: Path) -> None:
    """The hardening keeps `systemd-analyze security --offline=yes` at 1.5 or lower; probing keeps its network."""
    score, report = exposure(local_copy(tmp_path, UNIT.read_text(encoding="utf-8")))
    assert score <= MAX_EXPOSURE, report


def test_documented_variants_keep_the_score(tmp_path: Path) -> None:
    """With the commented LoadCredential= and /home bind from the unit enabled, it still verifies and scores."""
    text = UNIT.read_text(encoding="utf-8")
    text = text.replace("#LoadCredential=", "LoadCredential=").replace("\nProtectHome=yes\n", "\n")
    text = text.replace("#ProtectHome=tmpfs", "ProtectHome=tmpfs").replace("#BindReadOnlyPaths=", "BindReadOnlyPaths=")
    assert re.search(r"^LoadCredential=\S+:/etc/sitewatch/", text, re.MULTILINE)
    assert re.search(r"^BindReadOnlyPaths=/home/", text, re.MULTILINE)
    unit = local_copy(tmp_path, text)
    assert verify_complaints(unit) == []
    score, report = exposure(unit)
    assert score <= MAX_EXPOSURE, report


def test_unit_keeps_the_documented_choices() -> None:
    """Notify with a watchdog, two ExecReload lines (validate, then signal), a static user, no ProcSubset=pid."""
    text = UNIT.read_text(encoding="utf-8")
    lines = text.splitlines()
    reloads = [line for line in lines if line.startswith("ExecReload=")]
    assert reloads == [
        f"ExecReload={SHIPPED_BINARY} check-config -c /etc/sitewatch/config.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ]
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "User=sitewatch", "CapabilityBoundingSet="):
        assert line in lines
    assert "SupplementaryGroups=www-data" in lines
    assert "LimitNOFILE=65536" in lines  # not systemd's 1024: connections to the listener must not starve probes
    assert not re.search(r"^(DynamicUser|ProcSubset)=", text, re.MULTILINE)
    # Secrets never in the unit itself: no Environment= lines, only the file.
    assert not re.search(r"^Environment=", text, re.MULTILINE)
    assert "EnvironmentFile=-/etc/sitewatch/env" in lines


CONFIG = "/etc/sitewatch/config.yaml"


def test_exec_start_pre_checks_the_config_that_exec_start_runs() -> None:
    """One ExecStartPre= runs `sitewatch check-config` on the file ExecStart= runs; no `-`: a failure stops it."""
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    pre = [line for line in lines if line.startswith("ExecStartPre=")]
    start = [line for line in lines if line.startswith("ExecStart=")]
    assert pre == [f"ExecStartPre={SHIPPED_BINARY} check-config -c {CONFIG}"]  # a leading `-` would ignore a failure
    assert start == [f"ExecStart={SHIPPED_BINARY} run -c {CONFIG}"]


def test_exec_start_pre_fails_on_a_broken_config(tmp_path: Path) -> None:
    """The ExecStartPre= command itself, on a copy of the config: exit 0 for a good file, non-zero for a broken one."""
    binary = str(Path(sys.executable).parent / "sitewatch")
    (line,) = [line for line in UNIT.read_text(encoding="utf-8").splitlines() if line.startswith("ExecStartPre=")]
    config = tmp_path / "config.yaml"
    command = line.removeprefix("ExecStartPre=").replace(SHIPPED_BINARY, binary).replace(CONFIG, str(config)).split()
    config.write_text(f"agent: {{state_dir: '{tmp_path}'}}\nsites:\n  - {{name: shop, url: 'https://shop.example/'}}\n")
    good = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert good.returncode == 0, good.stderr
    config.write_text("sites:\n  - {name: shop, url: 'https://shop.example/', interval: often}\n")
    bad = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert bad.returncode != 0
    assert f"{config}:2: sites[0].interval:" in bad.stderr


def test_sysusers_and_tmpfiles_create_user_and_config_dirs(tmp_path: Path) -> None:
    """sysusers makes a no-login system user; tmpfiles then makes /etc/sitewatch{,/sites.d} 0750 root:sitewatch."""
    sysusers = systemd_tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    subprocess.run(
        [sysusers, f"--root={tmp_path}", str(SYSTEMD / "sitewatch.sysusers")], check=True, capture_output=True
    )
    passwd = {line.split(":")[0]: line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines()}
    user = passwd["sitewatch"]
    assert int(user[2]) < 1000
    assert user[5:] == ["/var/lib/sitewatch", "/usr/sbin/nologin"]
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles needs root to chown; the sysusers part above passed")
    subprocess.run(
        [systemd_tool("systemd-tmpfiles"), f"--root={tmp_path}", "--create", str(SYSTEMD / "sitewatch.tmpfiles")],
        check=True,
        capture_output=True,
    )
    for directory in ("etc/sitewatch", "etc/sitewatch/sites.d"):
        st = (tmp_path / directory).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o750, 0, int(user[3]))


def test_env_example_holds_only_placeholders() -> None:
    """The example environment file is KEY=value lines with placeholder values, never a real-looking secret."""
    for line in (SYSTEMD / "env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key)
            assert value.startswith("change-me")

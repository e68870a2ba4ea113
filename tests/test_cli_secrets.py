"""Secrets resolved where they are used: commands that need none work with `${VAR}` unset (subprocesses)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _config(tmp_path: Path) -> Path:
    """A config whose sinks and one check reference variables that are not set."""
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "shop.sql").write_bytes(b"-- dump\n" * 200)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            agent:
              state_dir: {tmp_path}
              alertmanager: {{enabled: true, token: "${{SW_UNSET_AM}}"}}
            tickets:
              sinks:
                - type: local
                - type: jira
                  url: https://jira.example.com
                  project: OPS
                  email: ops@example.com
                  api_token: ${{SW_UNSET_JIRA}}
                - type: webhook
                  url: https://hooks.example.com/x
                  secret: ${{SW_UNSET_JIRA}}
            sites:
              - name: shop
                url: https://shop.example.com/
                checks:
                  - type: http
                    bearer_token: ${{SW_UNSET_API}}
                  - type: backup
                    path: {tmp_path}/backups/*.sql
            """
        ).lstrip(),
        encoding="utf-8",
    )
    return path


def _sitewatch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SW_UNSET")}
    return subprocess.run(
        [sys.executable, "-m", "sitewatch.cli", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_store_commands_work_with_secrets_unset(tmp_path: Path) -> None:
    """`silence`, `silence list`, `tickets list` and `report` read the store and need no secret."""
    path = str(_config(tmp_path))
    added = _sitewatch("silence", "-c", path, "shop", "--for", "1h", "--reason", "deploy")
    assert added.returncode == 0, added.stderr
    listed = _sitewatch("silence", "-c", path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "deploy" in listed.stdout
    tickets = _sitewatch("tickets", "-c", path, "list")
    assert tickets.returncode == 0, tickets.stderr
    assert "no tickets" in tickets.stdout
    report = _sitewatch("report", "-c", path, "--format", "json")
    assert report.returncode == 0, report.stderr
    assert "SW_UNSET" not in tickets.stderr + report.stderr + listed.stderr


def test_probe_skips_only_the_check_that_lacks_its_secret(tmp_path: Path) -> None:
    """`probe` runs the checks it can; the one whose secret is unset is an error row naming that variable."""
    done = _sitewatch("probe", "-c", str(_config(tmp_path)), "shop", "--wide")
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("shop")}
    assert "not run: environment variable SW_UNSET_API is not set" in rows["http"], done.stdout
    assert "not run" not in rows["backup"], done.stdout
    assert "SW_UNSET_JIRA" not in done.stdout + done.stderr
    assert done.returncode == 2


def test_check_config_names_each_unset_variable_once(tmp_path: Path) -> None:
    """One line per unset variable (a second use is named on it), and no knock-on errors."""
    path = _config(tmp_path)
    done = _sitewatch("check-config", "-c", str(path))
    lines = done.stderr.splitlines()[:-1]  # the last line is the count
    assert done.returncode == 1
    assert len(lines) == 3, done.stderr
    assert lines[0].startswith(f"{path}:3: agent.alertmanager.token: environment variable SW_UNSET_AM is not set")
    assert lines[1].startswith(f"{path}:11: tickets.sinks[1].api_token: environment variable SW_UNSET_JIRA is not")
    assert lines[1].endswith(f"; also used at {path}:14")
    assert lines[2].startswith(f"{path}:20: sites[0].checks[0].bearer_token: environment variable SW_UNSET_API")
    assert "at least 20 characters" not in done.stderr
    assert "set pat:" not in done.stderr


def test_check_config_offline_checks_structure_only(tmp_path: Path) -> None:
    """`--offline` looks nothing up, yet still finds a structural error."""
    path = _config(tmp_path)
    done = _sitewatch("check-config", "--offline", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "structure only" in done.stdout
    path.write_text(path.read_text(encoding="utf-8").replace("project: OPS", "projekt: OPS"), encoding="utf-8")
    bad = _sitewatch("check-config", "--offline", "-c", str(path))
    assert bad.returncode == 1
    assert "tickets.sinks[1].projekt: unknown key" in bad.stderr, bad.stderr


def test_env_example_lists_every_variable_of_the_example_config() -> None:
    """systemd/env.example names exactly the variables config.example.yaml references."""
    # What the YAML uses, not what its comments mention (`${ENV_VAR}` in the header, a commented-out block).
    yaml_text = "\n".join(
        line.split(" #", 1)[0]
        for line in (ROOT / "config.example.yaml").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    used = set(re.findall(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}", yaml_text))
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / "systemd" / "env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert used
    assert listed == used

"""The import contracts in pyproject.toml hold, they fail when broken, and they leave no module out.

import-linter checks the contracts (``make contracts``, part of ``make test``); these tests
run it, prove on a copy of the tree that a wrong import is reported, and keep what it
cannot express: that every module sits in a layer, that the checks' forbidden list names
every other module, that checks never import the sitewatch package root, and that
``sitewatch.probe.__all__`` is exactly its public names.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS: list[dict[str, Any]] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]
#: What a check may use of the core.
PROBE_API = {"sitewatch.probe", "sitewatch.units"}


def contract(contract_id: str) -> dict[str, Any]:
    return next(c for c in CONTRACTS if c["id"] == contract_id)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the tree under cwd, not the installed one
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_contracts_hold() -> None:
    """lint-imports keeps every contract of pyproject.toml on this tree."""
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


@pytest.mark.parametrize(
    ("module", "line", "reported"),
    [
        (
            "checks/heartbeat.py",
            "import sitewatch.engine.scheduler",
            "checks.heartbeat -> sitewatch.engine.scheduler",
        ),
        (
            "checks/heartbeat.py",
            "import sitewatch.probe._result",
            "checks.heartbeat -> sitewatch.probe._result",
        ),
        ("sitewatch/incidents/state.py", "import sqlite3", "sitewatch.incidents.state -> sqlite3"),
        (
            "sitewatch/store/queries.py",
            "import sitewatch.tickets.outbox",
            "sitewatch.store.queries -> sitewatch.tickets",
        ),
        (
            "sitewatch/config/policy.py",
            "import sitewatch.web.server",
            "sitewatch.config.policy -> sitewatch.web.server",
        ),
    ],
    ids=[
        "check-imports-engine",
        "check-imports-probe-internals",
        "state-imports-sqlite3",
        "store-imports-tickets",
        "config-imports-web",
    ],
)
def test_a_wrong_import_breaks_the_build(tmp_path: Path, module: str, line: str, reported: str) -> None:
    """On a copy of the tree with one import against the contracts, lint-imports fails and names it."""
    for tree in ("sitewatch", "checks"):
        shutil.copytree(ROOT / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    run = lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert ", 0 broken." not in run.stdout
    assert reported in run.stdout


def test_the_checks_forbidden_list_names_every_other_module() -> None:
    """A new module of sitewatch is forbidden to checks at once: the list is everything but the probe API."""
    everything = {f"sitewatch.{p.stem}" for p in (ROOT / "sitewatch").iterdir() if p.suffix == ".py" or p.is_dir()}
    everything -= {"sitewatch.__init__", "sitewatch.__pycache__", "sitewatch.templates"}
    assert set(contract("checks-use-the-probe-api")["forbidden_modules"]) == everything - PROBE_API


@pytest.mark.parametrize("path", sorted((ROOT / "sitewatch").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_sits_in_a_layer(path: Path) -> None:
    """No module escapes the layers contract (import-linter ignores a module no layer names)."""
    layers = [name.strip() for layer in contract("layers")["layers"] for name in layer.replace(":", "|").split("|")]
    name = module_name(path)
    assert name == "sitewatch" or any(name == layer or name.startswith(f"{layer}.") for layer in layers), name


@pytest.mark.parametrize("path", sorted((ROOT / "checks").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_import_only_the_probe_api(path: Path) -> None:
    """A check uses sitewatch.probe and sitewatch.units and nothing else, not even the package root."""
    core = {m for m in imports(path) if m == "sitewatch" or m.startswith("sitewatch.")}
    assert core <= PROBE_API, core


def test_probe_api_exports_exactly_its_public_names() -> None:
    """`sitewatch.probe.__all__` lists every public name it defines, and only those."""
    from sitewatch import probe

    public = {n for n in vars(probe) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(probe, n)).__name__ == "module"}
    # The package defines nothing itself: every public name it holds is one it re-exports.
    assert set(probe.__all__) == public - modules

"""tools/lock.py (`make lock`, `make lock-check`): the lock agrees with pyproject.toml, and a disagreement is caught.

No network: `uv pip compile` is replaced by a stand-in wherever the tool would resolve; what is
tested is what the tool does with the answer (and, against the committed files, that they agree).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement  # packaging: a dependency of pytest itself
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> ModuleType:
    """tools/lock.py as a module (tools/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("sitewatch_lock_tool", ROOT / "tools" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _load_tool()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Copies of pyproject.toml and requirements.lock that the tool reads and writes instead of the real ones."""
    pyproject, locked = tmp_path / "pyproject.toml", tmp_path / "requirements.lock"
    pyproject.write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    locked.write_text((ROOT / "requirements.lock").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(lock, "PYPROJECT", pyproject)
    monkeypatch.setattr(lock, "LOCK", locked)
    return pyproject, locked


def _resolver(monkeypatch: pytest.MonkeyPatch, change: Callable[[str], str]) -> list[str]:
    """Replace the resolution: ``change`` turns the lock it is handed into the one "uv" writes; returns what it saw."""
    seen: list[str] = []

    def compile_to(out: Path, upgrade: bool = False) -> None:
        seen.append(out.read_text(encoding="utf-8") if out.exists() else "")
        out.write_text(change(seen[-1]), encoding="utf-8")

    monkeypatch.setattr(lock, "compile_to", compile_to)
    return seen


def _no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    def compile_to(out: Path, upgrade: bool = False) -> None:
        raise AssertionError("the stale digest alone must fail the check, before any resolution")

    monkeypatch.setattr(lock, "compile_to", compile_to)


def test_the_committed_lock_is_stamped_with_pyprojects_dependencies() -> None:
    """The digest in requirements.lock is that of pyproject.toml's dependency tables: no range changed unlocked."""
    stamped = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line.startswith(lock.STAMP)]
    assert stamped == [lock.STAMP + lock.digest()]


def test_every_dependency_is_locked_inside_its_range() -> None:
    """Each package pyproject.toml asks for (extras too) is pinned in requirements.lock at a version it allows."""
    pins = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.MULTILINE))
    pinned = {canonicalize_name(name): version for name, version in pins.items()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    asked = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    for text in asked:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "sitewatch":  # dev pulls in the project's own extras
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(version, prereleases=True), (text, version)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param('"aiohttp>=3.11,<3.15"', '"aiohttp>=3.11,<3.16"', id="range-widened"),
        pytest.param('"pyyaml>=6.0",', '"pyyaml>=6.0",\n  "left-pad>=1",', id="dependency-added"),
        pytest.param('"uv>=0.5",', "", id="dev-tool-removed"),
        pytest.param('requires-python = ">=3.11"', 'requires-python = ">=3.12"', id="python-range"),
    ],
)
def test_a_changed_pyproject_fails_the_check_without_resolving(
    project: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    before: str,
    after: str,
) -> None:
    """Any edit of what pyproject.toml asks for, left without `make lock`, exits 1 and says to run it."""
    pyproject, locked = project
    text = pyproject.read_text()
    assert before in text
    assert lock.STAMP + lock.digest() in locked.read_text()  # before the edit, the stamp matched
    pyproject.write_text(text.replace(before, after, 1))
    _no_resolver(monkeypatch)
    assert lock.check() == 1
    assert "out of date" in capsys.readouterr().out


def test_a_stale_digest_message_names_the_fix(
    project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message an engineer sees in CI says what changed and what to run."""
    pyproject, _ = project
    pyproject.write_text(pyproject.read_text().replace('"jmespath>=1.0",', '"jmespath>=1.1",', 1))
    _no_resolver(monkeypatch)
    assert lock.check() == 1
    assert capsys.readouterr().out.strip() == (
        "requirements.lock is out of date: pyproject.toml's dependencies changed; run `make lock`"
    )


def test_a_lock_that_resolves_differently_fails_the_check(
    project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Digest fine, but resolving again moves a pin (e.g. a version the range no longer allows): exit 1."""
    seen = _resolver(monkeypatch, lambda text: re.sub(r"^aiohttp==\S+", "aiohttp==3.14.99", text, flags=re.MULTILINE))
    assert lock.check() == 1
    assert "does not resolve to itself" in capsys.readouterr().out
    # The resolution started from the committed lock, so unchanged ranges keep their pins.
    assert seen == [lock.LOCK.read_text()]


def test_a_lock_that_resolves_to_itself_passes(
    project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same digest, same resolution: exit 0; the lock file itself is left untouched."""
    _, locked = project
    before = locked.read_text()
    _resolver(monkeypatch, lambda text: text)
    assert lock.check() == 0
    assert capsys.readouterr().out.strip() == "requirements.lock matches pyproject.toml"
    assert locked.read_text() == before


def test_a_missing_lock_fails_the_check(
    project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No requirements.lock at all is a failure, not a pass."""
    _, locked = project
    locked.unlink()
    _no_resolver(monkeypatch)
    assert lock.check() == 1
    assert "out of date" in capsys.readouterr().out


def test_write_stamps_the_new_digest_and_check_then_passes(
    project: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a range change, `make lock` writes the resolution under a header stamped with the new digest."""
    pyproject, locked = project
    pyproject.write_text(pyproject.read_text().replace('"aiohttp>=3.11,<3.15"', '"aiohttp>=3.11,<3.16"', 1))
    resolved = "aiohttp==3.15.0 \\\n    --hash=sha256:00\n    # via sitewatch (pyproject.toml)\n"
    _resolver(monkeypatch, lambda _: "# stale header from uv\n" + resolved)
    assert lock.write() == 0
    header, stamp, *rest = locked.read_text().splitlines(keepends=True)
    assert header.startswith("# Generated by `make lock`")
    assert stamp == f"{lock.STAMP}{lock.digest()}\n"
    assert "".join(rest) == resolved  # uv's own comment header dropped, the pins kept
    _resolver(monkeypatch, lambda text: text)
    assert lock.check() == 0


def test_compile_asks_uv_for_every_extra_with_hashes_for_python_3_11(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolution covers the dev, test and bench extras, with hashes, for the target Python; --upgrade on demand."""
    calls: list[list[str]] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(lock.subprocess, "run", run)
    out = tmp_path / "out.lock"
    lock.compile_to(out)
    lock.compile_to(out, upgrade=True)
    first, second = calls
    assert Path(first[0]).name == "uv"
    assert first[1:4] == ["pip", "compile", str(lock.PYPROJECT)]
    for flag in ("--all-extras", "--generate-hashes"):
        assert flag in first
    assert first[first.index("--python-version") + 1] == "3.11"
    assert first[first.index("-o") + 1] == str(out)
    assert "--upgrade" not in first
    assert second == [*first, "--upgrade"]

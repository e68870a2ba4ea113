"""The data flow stays one way: checks import only sitewatch.probe; the core imports no check."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "checks").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_import_only_the_probe_api(path: Path) -> None:
    """A check may use sitewatch.probe and nothing else from the core."""
    core = {m for m in imports(path) if m == "sitewatch" or m.startswith("sitewatch.")}
    assert core <= {"sitewatch.probe"}, core


@pytest.mark.parametrize("path", sorted((ROOT / "sitewatch").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_a_concrete_check(path: Path) -> None:
    """Checks are found through entry points, never imported by the core."""
    assert not {m for m in imports(path) if m == "checks" or m.startswith("checks.")}


def test_probe_api_exports_exactly_its_public_names() -> None:
    """`sitewatch.probe.__all__` lists every public name it defines, and only those."""
    from sitewatch import probe

    public = {n for n in vars(probe) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(probe, n)).__name__ == "module"}
    typing_helpers = {
        "Annotated",
        "Any",
        "ClassVar",
        "Generic",
        "Literal",
        "Protocol",
        "TypeVar",
        "C",
        "Mapping",
        "Sequence",
    }
    imported_helpers = {"dataclass", "field"}
    assert set(probe.__all__) == public - modules - typing_helpers - imported_helpers

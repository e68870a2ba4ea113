"""YAML read straight from parser events: the same data and the same located errors with either parser.

``yamlsource`` builds data from the parser's events (libyaml's when PyYAML has it, PyYAML's
own otherwise) instead of a composed node tree; that must not show: same values, same
origins and secrets, aliases and anchors as before, and every problem located.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sitewatch.config import yamlsource
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.sourcemap import Origin, Problem, SourceMap
from sitewatch.config.yamlsource import load_yaml_tree
from tests.test_config import BAD_CASES

LOADERS = [
    pytest.param(
        getattr(yaml, "CSafeLoader", None),
        id="libyaml",
        marks=pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml"),
    ),
    pytest.param(yaml.SafeLoader, id="pure-python"),
]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type[Any]:
    """Run the test with libyaml's parser and again with PyYAML's pure-Python fallback."""
    chosen: type[Any] = request.param
    monkeypatch.setattr(yamlsource, "_Loader", chosen)
    return chosen


def tree(tmp_path: Path, text: str) -> tuple[Any, SourceMap, list[str]]:
    """(data, source map, problems as text) of one file."""
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    smap, problems = SourceMap(), list[Problem]()
    data = load_yaml_tree(path, smap, problems)
    return data, smap, [str(p).removeprefix(f"{path}:") for p in problems]


def test_scalars_are_constructed_as_pyyaml_does(tmp_path: Path, loader: type[Any]) -> None:
    """Implicit and explicit tags give the values PyYAML's safe loader gives, not only strings."""
    text = """
    s: site00001
    n: 60s
    i: 12
    q: '12'
    t: !!str 12
    f: 1.5
    b: yes
    z: ~
    d: 2024-01-01
    h: 0x10
    u: "\\u0041"
    """
    data, _, problems = tree(tmp_path, text)
    assert problems == []
    assert data == yaml.load(textwrap.dedent(text), Loader=loader)
    assert data["d"] == dt.date(2024, 1, 1)
    assert data["q"] == "12"
    assert data["t"] == "12"


def test_origins_are_lines_of_each_value(tmp_path: Path, loader: type[Any]) -> None:
    """Every key path maps to the line its value starts on; values on one line share an Origin."""
    _, smap, _ = tree(tmp_path, "sites:\n  - name: a\n    checks:\n      - {type: http, contains: [x]}\n")
    lines = {path: o.line for path, o in smap.origins.items()}
    assert lines[("sites", 0, "name")] == 2
    assert lines[("sites", 0, "checks", 0, "contains", 0)] == 4
    assert smap.origins[("sites", 0, "checks", 0)] is smap.origins[("sites", 0, "checks", 0, "type")]


def test_an_alias_is_built_again_at_its_own_path(
    tmp_path: Path, loader: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Origins and secrets of an aliased value are recorded under the alias's path too."""
    monkeypatch.setenv("SW_TEST_TOKEN", "t0ken")
    data, smap, problems = tree(tmp_path, "a: &x\n  b: ${SW_TEST_TOKEN}\nc: *x\n")
    assert problems == []
    assert data == {"a": {"b": "t0ken"}, "c": {"b": "t0ken"}}
    assert data["a"] is not data["c"]
    assert smap.secrets == {("a", "b"), ("c", "b")}
    assert smap.origins[("c", "b")] == smap.origins[("a", "b")] == Origin(str(tmp_path / "c.yaml"), 2)


def test_anchor_inside_a_skipped_duplicate_is_still_defined(tmp_path: Path, loader: type[Any]) -> None:
    """A duplicate key's value is not kept, but an anchor in it is usable, as with a composed tree."""
    data, _, problems = tree(tmp_path, "a: 1\na: &x {b: 2}\nc: *x\n")
    assert data == {"a": 1, "c": {"b": 2}}
    assert problems == ["2: a: duplicate key (the first one would be silently ignored)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("<<: {c: 1}\nd: 2\n", "1: YAML merge keys (<<) are not supported", id="merge-key"),
        pytest.param("1: x\n", "1: keys must be strings, got 1", id="int-key"),
        pytest.param("? [a]\n: 2\n", "1: keys must be strings, got []", id="list-key"),
        pytest.param("a: 1\nb: !custom x\n", "2: invalid YAML: could not determine a constructor", id="unknown-tag"),
        pytest.param("a: *nope\n", "1: invalid YAML: found undefined alias 'nope'", id="undefined-alias"),
        pytest.param("a: &x 1\nb: &x 2\n", "2: invalid YAML: second occurrence", id="duplicate-anchor"),
        pytest.param("a: &x [1, *x]\n", "1: invalid YAML: found an alias inside its own anchor", id="recursive"),
        pytest.param("a: 1\n---\nb: 2\n", "3: expected one YAML document, found several", id="two-documents"),
    ],
)
def test_yaml_problems_are_located(tmp_path: Path, loader: type[Any], text: str, expected: str) -> None:
    """Each is one located problem, never a traceback (merge keys, unknown tags and recursion once were)."""
    _, _, problems = tree(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_a_syntax_error_in_a_later_document_hides_the_first_ones_problems(tmp_path: Path, loader: type[Any]) -> None:
    """As when the whole stream was composed first: invalid YAML is the only problem, and no data."""
    data, _, problems = tree(tmp_path, "a: ${SW_TEST_SURELY_UNSET}\n---\nb: [\n")
    assert data is None
    assert len(problems) == 1
    assert problems[0].startswith("4: invalid YAML:")


@pytest.mark.parametrize(("text", "line", "path", "message"), BAD_CASES)
def test_config_errors_are_the_same_with_either_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, text: str, line: int, path: str, message: str
) -> None:
    """Every bad config of test_config gives the same problems with the fallback parser.

    Only the wording of YAML syntax errors differs: it is the parser's own.
    """
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    found = {}
    for name, chosen in (("python", yaml.SafeLoader), ("c", getattr(yaml, "CSafeLoader", yaml.SafeLoader))):
        monkeypatch.setattr(yamlsource, "_Loader", chosen)
        with pytest.raises(ConfigError) as info:
            load_config(config)
        found[name] = [
            (p.origin, p.path, p.message.startswith("invalid YAML") or p.message) for p in info.value.problems
        ]
    assert found["python"] == found["c"]
    assert any(o.line == line and p == path for o, p, _ in found["python"])

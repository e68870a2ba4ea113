"""Read YAML config files into plain data while remembering where every value came from.

The result is ordinary dicts and lists plus a :class:`SourceMap` from key paths to
``file:line``, so that validation errors found later can point at the exact line.
``${VAR}`` and ``${file:/path}`` are substituted while the data is built; the paths of
substituted values are remembered as secret so no error message ever echoes them.

This module reads one file: its text, its permissions, its documents, and its syntax errors
as located problems. The data is built from the parser's events by :mod:`sitewatch.config.yamltree`
(anchors and aliases: :mod:`sitewatch.config.yamlanchors`); the secrets are
:mod:`sitewatch.config.secrets`'.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import StreamEndEvent

from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SourceMap
from sitewatch.config.yamltree import Tree

__all__ = ["load_yaml_tree"]


try:  # the C loader is ~10x faster on big configs; fall back when libyaml is absent
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def load_yaml_tree(path: Path, smap: SourceMap, problems: list[Problem], prefix: KeyPath = ()) -> Any:
    """Parse one file into data under ``prefix``; syntax errors become problems."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(Origin(name, 1), "", f"cannot read file ({exc.strerror or exc})"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(Origin(name, 1), "", f"file is not UTF-8 text ({exc.reason})"))
        return None
    if _world_writable(path):
        problems.append(
            Problem(
                Origin(name, 1),
                "",
                "file is world-writable: anyone on this server could change what is probed and where tickets go;"
                f" run `chmod o-w {name}`",
            )
        )
        return None
    found: list[Problem] = []  # kept only if the whole stream is valid YAML, as before
    loader = _Loader(text)
    try:
        data, second = _read(Tree(name, smap, found, loader), loader, prefix)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        problems.append(Problem(Origin(name, line), "", message))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without marks
        problems.append(Problem(Origin(name, 1), "", f"invalid YAML: {exc}"))
        return None
    finally:
        loader.dispose()
    if data is _EMPTY:
        problems.append(Problem(Origin(name, 1), "", "file is empty (expected a mapping with sites:)"))
        return None
    if second is not None:
        problems.append(Problem(Origin(name, second), "", "expected one YAML document, found several (remove ---)"))
    problems += found
    return data


_EMPTY = object()


def _read(tree: Tree, loader: Any, prefix: KeyPath) -> tuple[Any, int | None]:
    """The first document's data (``_EMPTY`` when there is none) and the line of a second one.

    Every document is read, so that a syntax error anywhere in the file is reported.
    """
    loader.get_event()  # StreamStartEvent
    if loader.check_event(StreamEndEvent):
        return _EMPTY, None
    data = tree.document(prefix)
    second = None
    while not loader.check_event(StreamEndEvent):
        line = tree.skip_document()
        second = line if second is None else second
    return data, second


def _world_writable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IWOTH)
    except OSError:  # pragma: no cover - it was just read
        return False

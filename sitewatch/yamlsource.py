"""Read YAML config files into plain data while remembering where every value came from.

The result is ordinary dicts and lists plus a :class:`SourceMap` from key paths to
``file:line``, so that validation errors found later can point at the exact line.
``${VAR}`` and ``${file:/path}`` are substituted here; the paths of substituted
values are remembered as secret so no error message ever echoes them.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["KeyPath", "Origin", "Problem", "SourceMap", "expand_include", "format_path", "load_yaml_tree"]

KeyPath = tuple[str | int, ...]

try:  # the C loader is ~10x faster on big configs; fall back when libyaml is absent
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# One level of nesting, so systemd's ``${file:${CREDENTIALS_DIRECTORY}/token}`` reads as written.
_SUBST = re.compile(r"\$\$|\$\{((?:[^{}]|\$\{[^{}]*\})*)\}")
_PATH_VAR = re.compile(r"\$\{([^{}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was written: file name and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One config error: where, which key, and what was expected."""

    origin: Origin
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.origin}: {where}{self.message}"


def format_path(path: KeyPath) -> str:
    """Render ``("sites", 2, "checks", 0, "timeout")`` as ``sites[2].checks[0].timeout``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class SourceMap:
    """Maps key paths to origins and remembers which values are secrets."""

    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    secrets: set[KeyPath] = field(default_factory=set)
    default: Origin = Origin("<config>", 1)

    def origin(self, path: KeyPath) -> Origin:
        """The origin of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return self.default

    def is_secret(self, path: KeyPath) -> bool:
        """True when ``path`` (or a parent) holds a substituted value."""
        return any(path[:end] in self.secrets for end in range(len(path), 0, -1))

    def holds_secret(self, path: KeyPath) -> bool:
        """True when ``path``, a parent or anything below it holds a substituted value.

        Errors about a whole mapping (a sink whose ``type`` is unknown) may quote any part of it.
        """
        n = len(path)
        return self.is_secret(path) or any(key[:n] == path for key in self.secrets)

    def relocate(self, old: KeyPath, new: KeyPath) -> None:
        """Re-key every entry under ``old`` to live under ``new`` (for merged includes)."""
        n = len(old)
        for table in (self.origins,):
            for key in [k for k in table if k[:n] == old]:
                table[new + key[n:]] = table.pop(key)
        for key in [k for k in self.secrets if k[:n] == old]:
            self.secrets.discard(key)
            self.secrets.add(new + key[n:])

    def merge(self, other: SourceMap) -> None:
        """Adopt every entry of ``other``."""
        self.origins.update(other.origins)
        self.secrets |= other.secrets


class _Tree:
    """Turns one composed YAML node tree into data, recording origins and problems."""

    def __init__(self, file: str, smap: SourceMap, problems: list[Problem]) -> None:
        self.file = file
        self.smap = smap
        self.problems = problems
        self.constructor = yaml.constructor.SafeConstructor()

    def origin(self, node: yaml.Node) -> Origin:
        return Origin(self.file, node.start_mark.line + 1)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.smap.origins[path] = self.origin(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self.constructor.construct_object(node)
        if isinstance(value, str) and "$" in value and node.tag == "tag:yaml.org,2002:str":
            return self._substitute(value, path, node)
        return value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, path, "YAML merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key, str):
                self._problem(key_node, path, f"keys must be strings, got {key!r}")
                continue
            if key in out:
                self._problem(key_node, (*path, key), "duplicate key (the first one would be silently ignored)")
                continue
            out[key] = self.build(value_node, (*path, key))
        return out

    def _substitute(self, text: str, path: KeyPath, node: yaml.Node) -> str:
        substituted = False

        def replace(match: re.Match[str]) -> str:
            nonlocal substituted
            if match.group(0) == "$$":
                return "$"
            substituted = True
            ref = match.group(1).strip()
            try:
                return _lookup(ref, Path(self.file).parent)
            except LookupError as exc:
                self._problem(node, path, str(exc))
                return ""

        value = _SUBST.sub(replace, text)
        if substituted:
            self.smap.secrets.add(path)
        return value

    def _problem(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.origin(node), format_path(path), message))


def _lookup(ref: str, base: Path) -> str:
    if ref.startswith("file:"):
        target = Path(_PATH_VAR.sub(lambda m: _env(m.group(1) or m.group(2)), ref[5:].strip()))
        target = target if target.is_absolute() else base / target
        try:
            return target.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise LookupError(
                f"cannot read secret file {str(target)!r} ({exc.strerror or exc}); "
                "check the path and that the agent's user may read it"
            ) from None
    return _env(ref[4:] if ref.startswith("env:") else ref)


def _env(ref: str) -> str:
    name = ref.strip()
    if not _ENV_NAME.fullmatch(name):
        raise LookupError(f"expected ${{NAME}} or ${{file:/path}}, got ${{{ref}}} (write $$ for a literal $)")
    if name not in os.environ:
        raise LookupError(f"environment variable {name} is not set (set it, or use ${{file:/path}})")
    return os.environ[name]


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
    try:
        nodes = list(_compose_all(text))
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
    if not nodes:
        problems.append(Problem(Origin(name, 1), "", "file is empty (expected a mapping with sites:)"))
        return None
    if len(nodes) > 1:
        line = nodes[1].start_mark.line + 1
        problems.append(Problem(Origin(name, line), "", "expected one YAML document, found several (remove ---)"))
    return _Tree(name, smap, problems).build(nodes[0], prefix)


def _world_writable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IWOTH)
    except OSError:  # pragma: no cover - it was just read
        return False


def _compose_all(text: str) -> Iterator[yaml.Node]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


def expand_include(pattern: str, base: Path) -> list[Path] | None:
    """Files an ``include:`` entry names, sorted; None when a plain path is missing."""
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    if any(c in full for c in "*?["):
        return sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return [Path(full)] if os.path.isfile(full) else None

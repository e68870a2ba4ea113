"""``include:``: more files of sites (and maintenance windows) merged into the main config.

Each entry is a path, a folder (its ``*.yaml``) or a glob, relative to the including file; the sites of every
included file are appended in order, and their problems point at their own file and line.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from sitewatch.config.sourcemap import KeyPath, Problem, SourceMap, format_path
from sitewatch.config.yamlsource import load_yaml_tree

__all__ = ["expand_include", "merge_includes"]


def merge_includes(
    data: dict[str, Any],
    base: Path,
    smap: SourceMap,
    problems: list[Problem],
    *,
    warnings: list[Problem] | None = None,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Append the sites (and clients) of every included file to ``data``, in order.

    A glob or folder that matches no file is a warning, not an error (an empty ``sites.d/`` is
    a normal state); a plain path that is missing is an error. Files in ``skip`` are left out
    (a broken include at start: see :func:`sitewatch.config.loader.load_config`), and so are
    entries whose key (``include[2]``) is in it.
    """
    patterns = data.get("include", [])
    if isinstance(patterns, str):
        patterns = [patterns]
        smap.relocate(("include",), ("include", 0))
    if not isinstance(patterns, list):
        return  # the model reports the wrong type
    sites = data.setdefault("sites", [])
    if not isinstance(sites, list):
        return
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or f"include[{i}]" in skip:
            continue
        files = expand_include(pattern, base)
        if files is None:
            problems.append(Problem(smap.origin(("include", i)), f"include[{i}]", f"no such file: {pattern!r}"))
            continue
        if not files and warnings is not None:
            warnings.append(Problem(smap.origin(("include", i)), f"include[{i}]", f"matches no file: {pattern!r}"))
        for file in files:
            if str(file) in skip:
                continue
            scratch: KeyPath = ("@include", str(file))
            found: list[Problem] = []
            sub = load_yaml_tree(file, smap, found, prefix=scratch)
            moves: list[tuple[KeyPath, KeyPath]] = []
            if isinstance(sub, dict) and "clients" in sub and set(sub) <= {"sites", "clients"}:
                _take_clients(data, sub, scratch, moves)  # one file per client: its entry and its sites
                sub.setdefault("sites", [])
            if isinstance(sub, dict) and set(sub) == {"sites"} and isinstance(sub["sites"], list):
                for j, site in enumerate(sub["sites"]):
                    moves.append(((*scratch, "sites", j), ("sites", len(sites))))
                    sites.append(site)
            elif isinstance(sub, dict):
                moves.append((scratch, ("sites", len(sites))))
                sites.append(sub)
            for old, new in moves:
                smap.relocate(old, new)
                found = [_moved(p, old, new) for p in found]
            problems += found
            if sub is not None and not isinstance(sub, dict):
                where = smap.origin(scratch)
                problems.append(Problem(where, "", "expected one site (name:, url:, checks:) or a mapping with sites:"))
    data["include"] = [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else patterns


def _take_clients(
    data: dict[str, Any], sub: dict[str, Any], scratch: KeyPath, moves: list[tuple[KeyPath, KeyPath]]
) -> None:
    """Append an included file's ``clients:`` to the main list (a list or one mapping)."""
    entries = sub.pop("clients")
    clients = data.setdefault("clients", [])
    if not isinstance(clients, list):
        return
    for j, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        old = (*scratch, "clients", j) if isinstance(entries, list) else (*scratch, "clients")
        moves.append((old, ("clients", len(clients))))
        clients.append(entry)


def _moved(problem: Problem, old: KeyPath, new: KeyPath) -> Problem:
    """Re-express a problem found under a scratch include path at its merged path."""
    before, after = format_path(old), format_path(new)
    if problem.path == before or problem.path.startswith((before + ".", before + "[")):
        return Problem(problem.origin, after + problem.path[len(before) :], problem.message)
    return problem


def expand_include(pattern: str, base: Path) -> list[Path] | None:
    """Files an ``include:`` entry names, sorted; None when a plain path is missing.

    A folder (``sites.d/``) stands for every ``*.yaml`` file in it.
    """
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    if os.path.isdir(full):
        full = os.path.join(glob.escape(full), "*.yaml")
    if any(c in full for c in "*?["):
        return sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return [Path(full)] if os.path.isfile(full) else None

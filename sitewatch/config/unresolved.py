"""Secrets that could not be looked up: one line per reason, no knock-on errors, what each check lacks.

The YAML reader puts a placeholder where a ``${…}`` could not be looked up and records the
path (:attr:`SourceMap.unresolved`), so the rest of the config validates as if it were set.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

from sitewatch.config.sourcemap import KeyPath, Problem, SourceMap, format_path
from sitewatch.config.specs import CheckSpec, SiteSpec

__all__ = ["unresolved_by_check", "unresolved_problems", "without_knock_on"]

#: Further places named after the first one of an unset variable.
_MORE_PLACES = 3


def without_knock_on(problems: list[Problem], smap: SourceMap) -> list[Problem]:
    """Drop errors about a value that holds a placeholder: its real cause is reported on its own."""
    if not smap.unresolved:
        return problems
    paths = {format_path(p) for p in smap.unresolved}

    def caused(problem: Problem) -> bool:
        return any(problem.path == p or problem.path.startswith((p + ".", p + "[")) for p in paths)

    return [p for p in problems if not caused(p)]


def unresolved_problems(smap: SourceMap) -> list[Problem]:
    """One problem per reason (``environment variable X is not set``), at its first place, naming the others."""
    places: dict[str, list[KeyPath]] = collections.defaultdict(list)
    for path, reason in smap.unresolved.items():
        places[reason].append(path)
    out = []
    for reason, paths in places.items():
        paths.sort(key=lambda p: (smap.origin(p).file, smap.origin(p).line))
        first, rest = paths[0], paths[1:]
        also = ", ".join(str(smap.origin(p)) for p in rest[:_MORE_PLACES])
        if len(rest) > _MORE_PLACES:
            also += f" and {len(rest) - _MORE_PLACES} more"
        out.append(Problem(smap.origin(first), format_path(first), reason + (f"; also used at {also}" if also else "")))
    return out


def unresolved_by_check(sites: tuple[SiteSpec, ...], smap: SourceMap) -> Mapping[tuple[str, str], str]:
    """Why each check cannot run for lack of a secret (its own, or its site's), by the check's key.

    Only called on a config that loaded, where ``sites[i].checks[j]`` is ``sites[i].checks[j]``.
    """
    out: dict[tuple[str, str], str] = {}
    for path, reason in sorted(smap.unresolved.items(), key=lambda item: format_path(item[0])):
        if len(path) < 3 or path[0] != "sites" or not isinstance(path[1], int) or path[1] >= len(sites):
            continue
        site = sites[path[1]]
        targets: tuple[CheckSpec, ...]
        if path[2] == "checks" and len(path) > 3 and isinstance(path[3], int) and path[3] < len(site.checks):
            targets = (site.checks[path[3]],)
        elif path[2] == "checks":
            continue
        else:
            targets = site.checks
        for check in targets:
            out.setdefault(check.key, reason)
    return out

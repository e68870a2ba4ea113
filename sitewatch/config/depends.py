"""``depends_on:`` between sites, checks and hosts: resolved, checked for unknown names and cycles.

A site or a check may name other sites (``shop``: any of its checks failing), checks
(``shop/http``) or hosts (sites flagged ``host: true``: a server's tcp or health check). While
a parent fails, its children are still checked and exported but open no incident of their
own (sitewatch.incidents.tracker). Every ``depends_on`` of a site applies to each of its checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from sitewatch.config.sourcemap import KeyPath, Problem, SourceMap, format_path
from sitewatch.config.specs import SiteSpec

__all__ = ["Dependency", "attach_dependencies"]

#: (site, check): a site's check; (site, None): any check of the site.
Dependency = tuple[str, str | None]
_Node = tuple[str, str]


def _listed(value: Any) -> list[tuple[Any, int | None]]:
    """Each name with its index in the list (None for a single name)."""
    if value is None:
        return []
    return list(zip(value, range(len(value)), strict=True)) if isinstance(value, list) else [(value, None)]


def _targets(raw_sites: list[Any]) -> Iterator[tuple[KeyPath, str, str | None, list[tuple[Any, int | None]], bool]]:
    """(key path, site, check or None, the depends_on values, host flag) for every site and check."""
    for i, site in enumerate(raw_sites):
        if not isinstance(site, dict) or not isinstance(site.get("name"), str):
            continue
        yield ("sites", i, "depends_on"), site["name"], None, _listed(site.get("depends_on")), bool(site.get("host"))
        for j, check in enumerate(site.get("checks") or []):
            if isinstance(check, dict):
                name = check.get("name") or check.get("type")
                yield (
                    ("sites", i, "checks", j, "depends_on"),
                    site["name"],
                    str(name),
                    _listed(check.get("depends_on")),
                    False,
                )


def attach_dependencies(
    sites: tuple[SiteSpec, ...], raw_sites: Any, smap: SourceMap, problems: list[Problem]
) -> tuple[SiteSpec, ...]:
    """``sites`` with each check's ``depends_on`` resolved; unknown names and cycles become problems."""
    if not isinstance(raw_sites, list):
        return sites
    # Only the sites and checks that name a dependency or are hosts: a set, a key path and an
    # index entry for each of 10,000 sites without one were ~9 MB at the peak of a reload.
    named = [t for t in _targets(raw_sites) if t[3] or t[4]]
    hosts = {site for _, site, _, _, host in named if host}
    checks = {s.info.name: [c.name for c in s.checks] for s in sites} if any(t[3] for t in named) else {}
    own: dict[_Node, set[Dependency]] = {}
    site_deps: dict[str, set[Dependency]] = {}
    for path, site, check, values, _ in named:
        found: set[Dependency] = set()
        for value, k in values:
            here = path if k is None else (*path, k)
            dep = _resolve(value, checks)
            if isinstance(dep, str):
                problems.append(Problem(smap.origin(here), format_path(here), dep))
            else:
                found.add(dep)
        if check is None:
            site_deps[site] = found
        else:
            own[site, check] = found
    resolved: dict[_Node, frozenset[Dependency]] = {}
    for site, names in checks.items():  # checks left out in the file (a bare site: http) count too
        for name in names:
            deps = own.get((site, name), set()) | site_deps.get(site, set())
            if deps:
                resolved[site, name] = frozenset(deps)
    cycle = _cycle(resolved, checks)
    if cycle is not None:
        path = _first_path(raw_sites, cycle[0])
        text = " → ".join(f"{s}/{c}" for s, c in cycle)
        problems.append(Problem(smap.origin(path), format_path(path), f"dependency cycle: {text}"))
    return tuple(_with(s, resolved, s.info.name in hosts) for s in sites)


def _first_path(raw_sites: list[Any], node: _Node) -> KeyPath:
    """Where a cycle is reported: the check's first ``depends_on`` path, else its site's."""
    site_path: KeyPath = ("sites",)
    for path, site, check, _, _ in _targets(raw_sites):
        if site != node[0]:
            continue
        if check == node[1]:
            return path
        if check is None:
            site_path = path
    return site_path


def _resolve(value: Any, checks: dict[str, list[str]]) -> Dependency | str:
    """``"site"`` or ``"site/check"`` as a dependency, or what is wrong with it."""
    if not isinstance(value, str) or not value:
        return f"expected a site, a host or site/check, got {value!r}"
    site, _, check = value.partition("/")
    if site not in checks:
        return f"no site or host named {site!r} (depends_on names a site, a host or site/check)"
    if check and check not in checks[site]:
        return f"site {site!r} has no check named {check!r} (it has: {', '.join(checks[site]) or 'none'})"
    return (site, check or None)


def _parents(node: _Node, resolved: dict[_Node, frozenset[Dependency]], checks: dict[str, list[str]]) -> list[_Node]:
    out: list[_Node] = []
    for site, check in sorted(resolved.get(node, frozenset()), key=str):
        out += [(site, check)] if check is not None else [(site, c) for c in checks.get(site, [])]
    return out


def _cycle(resolved: dict[_Node, frozenset[Dependency]], checks: dict[str, list[str]]) -> list[_Node] | None:
    """One dependency cycle (its checks in order, the first repeated at the end), or None."""
    done: set[_Node] = set()
    for start in resolved:
        if start in done:
            continue
        stack: list[tuple[_Node, Iterator[_Node]]] = [(start, iter(_parents(start, resolved, checks)))]
        on_path = {start: 0}
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                on_path.pop(node)
                done.add(node)
            elif parent in on_path:
                return [n for n, _ in stack[on_path[parent] :]] + [parent]
            elif parent not in done:
                on_path[parent] = len(stack)
                stack.append((parent, iter(_parents(parent, resolved, checks))))
    return None


def _with(site: SiteSpec, resolved: dict[_Node, frozenset[Dependency]], host: bool) -> SiteSpec:
    changed = tuple(
        dataclasses.replace(c, depends_on=tuple(sorted(deps, key=str))) if (deps := resolved.get(c.key)) else c
        for c in site.checks
    )
    if host == site.host and all(a is b for a, b in zip(changed, site.checks, strict=True)):
        return site
    return dataclasses.replace(site, checks=changed, host=host)

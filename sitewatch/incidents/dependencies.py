"""Which checks a check depends on, and which depend on it: ``depends_on`` from the config.

Pure lookups (no I/O): the tracker asks whether any parent is failing before a child
opens an incident, and which failing children to list in the parent's ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sitewatch.config.specs import CheckSpec

__all__ = ["Dependencies"]

_Key = tuple[str, str]


class Dependencies:
    """Parents and children of every check of one config."""

    def __init__(self, checks: Iterable[CheckSpec] = (), *, implied: Mapping[str, str] | None = None) -> None:
        #: Check type → the check name of the same site it always depends on (pageload → http).
        self._implied = dict(implied or {})
        specs = list(checks)
        by_site: dict[str, list[str]] = {}
        for spec in specs:
            by_site.setdefault(spec.site.name, []).append(spec.name)
        self._parents: dict[_Key, tuple[_Key, ...]] = {}
        children: dict[_Key, set[_Key]] = {}
        for spec in specs:
            parents = self._resolve(spec, by_site)
            self._parents[spec.key] = parents
            for parent in parents:
                children.setdefault(parent, set()).add(spec.key)
        self._children = {k: tuple(sorted(v)) for k, v in children.items()}
        self._by_site = by_site

    def _resolve(self, spec: CheckSpec, by_site: Mapping[str, list[str]]) -> tuple[_Key, ...]:
        out: set[_Key] = set()
        for site, check in spec.depends_on:
            out |= {(site, check)} if check is not None else {(site, c) for c in by_site.get(site, [])}
        if spec.type in self._implied:
            out.add((spec.site.name, self._implied[spec.type]))
        out.discard(spec.key)
        return tuple(sorted(out))

    def parents(self, spec: CheckSpec) -> tuple[_Key, ...]:
        """The checks whose failure holds ``spec``'s incidents (known or, for a new spec, worked out now)."""
        found = self._parents.get(spec.key)
        return found if found is not None else self._resolve(spec, self._by_site)

    def children(self, key: _Key) -> tuple[_Key, ...]:
        """The checks that depend on ``key`` directly, sorted."""
        return self._children.get(key, ())

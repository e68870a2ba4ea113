"""Finds check classes through the ``sitewatch.checks`` entry-point group.

Built-in checks are registered exactly like third-party ones, so the core never
imports a concrete check.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from sitewatch.probe import AnyCheck, Check, CheckConfig

__all__ = ["ENTRY_POINT_GROUP", "RegistryError", "load_checks"]

ENTRY_POINT_GROUP = "sitewatch.checks"


class RegistryError(Exception):
    """A plugin could not be loaded or clashes with another; names the distribution."""


def _dist(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


@functools.cache
def load_checks() -> Mapping[str, type[AnyCheck]]:
    """Return every registered check class by its ``type`` name."""
    found: dict[str, type[AnyCheck]] = {}
    owners: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise RegistryError(f"check plugin {ep.name!r} from {_dist(ep)} failed to import: {exc!r}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Check)):
            raise RegistryError(f"check plugin {ep.name!r} from {_dist(ep)} is not a sitewatch.probe.Check subclass")
        config = getattr(cls, "Config", None)
        if not (isinstance(config, type) and issubclass(config, CheckConfig)):
            raise RegistryError(f"check {ep.name!r} from {_dist(ep)} has no Config derived from CheckConfig")
        if getattr(cls, "type", None) != ep.name:
            raise RegistryError(
                f"check plugin {ep.name!r} from {_dist(ep)} declares type {getattr(cls, 'type', None)!r}; "
                "the entry-point name and the class's type must match"
            )
        if ep.name in found and found[ep.name] is not cls:
            raise RegistryError(
                f"check type {ep.name!r} is registered twice: by {owners[ep.name]} and by {_dist(ep)}; "
                "uninstall one of them"
            )
        found[ep.name] = cls
        owners[ep.name] = _dist(ep)
    return found

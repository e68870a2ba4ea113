"""One installed extension (plugin, theme, module, composer package) and where it was read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "MAX_PER_KIND", "Component"]

#: ``kind`` label values (bounded).
KINDS = ("plugin", "mu-plugin", "dropin", "theme", "package", "module")
#: A tree with more than this many of one kind is cut (and said so): a runaway tree must not stall the check.
MAX_PER_KIND = 5000


@dataclass(frozen=True)
class Component:
    """An extension found on disk: ``name`` is the slug, package or module name feeds are keyed by."""

    kind: str
    name: str
    version: str | None
    where: str  # the file the version was read from
    title: str = ""  # the human name from its header, if it has one
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Details form: only the keys that carry something."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "version": self.version, "where": self.where}
        if self.title:
            out["title"] = self.title
        out.update(self.extra)
        return out

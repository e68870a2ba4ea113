"""Lazy package exports: a package names its public parts without importing them all at once.

A package ``__init__`` that imported every submodule would load, say, the whole web server
whenever one of its small helpers is imported, and could close an import circle through
the half-initialised package. Each name is imported from its module on first use instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``{submodule: names}`` on first use."""
    where = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return __getattr__

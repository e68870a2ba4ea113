"""Where every configured value came from: key paths, ``file:line`` origins, located problems.

:class:`SourceMap` maps a key path such as ``("sites", 3, "url")`` to the file and line it
was read from, and remembers which paths hold substituted secrets so no error echoes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["KeyPath", "Origin", "Problem", "SecretMode", "format_path", "SourceMap"]


KeyPath = tuple[str | int, ...]
SecretMode = Literal["resolve", "defer", "offline"]


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
    #: How ``${…}`` is treated: looked up (``resolve``), looked up with failures only recorded
    #: (``defer``: commands that use no secrets), or never looked up (``offline``: structure only).
    mode: SecretMode = "resolve"
    #: Paths whose ``${…}`` could not be looked up (a placeholder stands there), with why.
    unresolved: dict[KeyPath, str] = field(default_factory=dict)

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
        for key in [k for k in self.unresolved if k[:n] == old]:
            self.unresolved[new + key[n:]] = self.unresolved.pop(key)

    def merge(self, other: SourceMap) -> None:
        """Adopt every entry of ``other``."""
        self.origins.update(other.origins)
        self.secrets |= other.secrets

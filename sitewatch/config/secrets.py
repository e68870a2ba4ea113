"""Secrets in the config: ``${VAR}`` (or ``${env:VAR}``) from the environment, ``${file:/path}`` from a file.

systemd's credentials read as written: ``${file:${CREDENTIALS_DIRECTORY}/token}``. A value
that cannot be looked up raises :class:`LookupError` with what to do about it; the YAML
reader turns that into a located problem and marks the path secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["lookup"]

_PATH_VAR = re.compile(r"\$\{([^{}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def lookup(ref: str, base: Path) -> str:
    """The value ``${ref}`` stands for (a relative ``file:`` path is read from ``base``)."""
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

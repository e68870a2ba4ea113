"""Secrets in the config: ``${VAR}`` (or ``${env:VAR}``) from the environment, ``${file:/path}`` from a file.

systemd's credentials read as written: ``${file:${CREDENTIALS_DIRECTORY}/token}``. A value
that cannot be looked up raises :class:`LookupError` with what to do about it.
:func:`substitute` replaces the references in one string the YAML reader read: it marks the
path secret, and records why a reference could not be looked up, so that the loader turns
that into a located problem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sitewatch.config.sourcemap import KeyPath, SourceMap

__all__ = ["PLACEHOLDER", "lookup", "substitute"]

#: What stands for a secret that was not looked up: long enough for any length rule, never shown.
PLACEHOLDER = "sitewatch-unresolved-secret-0000000000000000"

# One level of nesting, so systemd's ``${file:${CREDENTIALS_DIRECTORY}/token}`` reads as written.
_SUBST = re.compile(r"\$\$|\$\{((?:[^{}]|\$\{[^{}]*\})*)\}")

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


def substitute(text: str, path: KeyPath, smap: SourceMap, file: str) -> str:
    """``text`` (read at ``path`` of ``file``) with each ``${…}`` replaced and ``$$`` made ``$``."""
    substituted = False

    def replace(match: re.Match[str]) -> str:
        nonlocal substituted
        if match.group(0) == "$$":
            return "$"
        substituted = True
        ref = match.group(1).strip()
        if smap.mode == "offline":
            smap.unresolved[path] = "not looked up (--offline)"
            return PLACEHOLDER
        try:
            return lookup(ref, Path(file).parent)
        except LookupError as exc:
            # A placeholder stands in, so the rest validates as if the secret were there: the
            # loader reports the reason once, and no knock-on error (too short, "set pat:").
            smap.unresolved[path] = str(exc)
            return PLACEHOLDER

    value = _SUBST.sub(replace, text)
    if substituted:
        smap.secrets.add(path)
    return value


def _env(ref: str) -> str:
    name = ref.strip()
    if not _ENV_NAME.fullmatch(name):
        raise LookupError(f"expected ${{NAME}} or ${{file:/path}}, got ${{{ref}}} (write $$ for a literal $)")
    if name not in os.environ:
        raise LookupError(f"environment variable {name} is not set (set it, or use ${{file:/path}})")
    return os.environ[name]

"""Durations (``500ms``, ``30s``, ``1h30m``, ``7d``) and sizes (``10MB``, ``2MiB``)."""

from __future__ import annotations

import re

__all__ = ["format_duration", "format_size", "parse_duration", "parse_size"]

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

# Decimal units follow SI (what disks and most humans mean); binary units are explicit.
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Return seconds for a duration such as ``500ms``, ``30s``, ``1h30m`` or ``7d``.

    Bare numbers are refused on purpose: ``timeout: 10`` could mean seconds or
    milliseconds, and a config that guesses wrong silently disables a check.
    """
    value = text.strip().replace(" ", "")
    if not _DURATION_FULL.fullmatch(value):
        raise ValueError(f"expected a duration like 10s, 5m or 26h, got {text!r}")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))


def parse_size(text: str) -> int:
    """Return bytes for a size such as ``10MB`` (10**6), ``2MiB`` (2**20) or ``512``."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"expected a size like 10MB or 2MiB, got {text!r}")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[(unit or "").lower()])


def format_duration(seconds: float) -> str:
    """Render seconds compactly for humans: ``850ms``, ``4.8s``, ``3m 20s``, ``2d 4h``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    total = int(round(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def format_size(size: float) -> str:
    """Render bytes with a binary unit: ``512 B``, ``1.5 KiB``, ``2.0 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - loop always returns

"""A check's structured details as labelled lines for a ticket body (never raw JSON).

Nested mappings become dotted labels (``phases.connect: 1.2 ms``), lists are joined, timings
(keys ending in ``_seconds``, or the members of ``phases``/``timings``) read as durations in the
reader's language, other numbers in its number format. Values from the site are made printable
and bounded, so a hostile body cannot inject lines or control codes into the ticket.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sitewatch.i18n import duration, finding, number, text

__all__ = ["evidence_lines"]

_MAX_LINES = 60
_MAX_VALUE = 300
_TIMINGS = {"phases", "timings", "phase_seconds"}
#: Members that repeat findings (a check's list of problems): shown in the reader's language too.
_FINDINGS = {"problems", "summary", "finding", "findings"}


def _printable(value: Any) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _value(value: Any, timing: bool, language: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return text(language, "word.yes" if value else "word.no")
    if isinstance(value, int | float):
        if timing:
            return duration(float(value), language, parts=1) if value >= 1 else _ms(float(value), language)
        return number(value, language)
    if isinstance(value, list | tuple):
        return _printable(", ".join(_value(v, timing, language) for v in value)) or "-"
    return _printable(value)


def _ms(seconds: float, language: str) -> str:
    unit = "мс" if language == "ru" else "ms"
    return f"{number(seconds * 1000, language)} {unit}"


def _walk(details: Mapping[str, Any], prefix: str, timing: bool, language: str) -> Iterator[str]:
    for key, value in details.items():
        label = f"{prefix}{key}"
        inner = timing or key in _TIMINGS or str(key).endswith("_seconds")
        if isinstance(value, Mapping):
            yield from _walk(value, f"{label}.", inner, language)
        elif key in _FINDINGS and isinstance(value, str | list | tuple):
            items = [value] if isinstance(value, str) else list(value)
            yield f"{_printable(label)}: {_printable('; '.join(finding(str(v), language) for v in items))}"
        else:
            yield f"{_printable(label)}: {_value(value, inner, language)}"


def evidence_lines(details: Mapping[str, Any], language: str = "en") -> list[str]:
    """One ``label: value`` line per leaf of ``details`` (at most 60; the rest counted)."""
    lines = list(_walk(details, "", False, language))
    if len(lines) > _MAX_LINES:
        more = len(lines) - _MAX_LINES
        lines = [*lines[:_MAX_LINES], f"… (+{more})"]
    return lines

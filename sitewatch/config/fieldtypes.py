"""Value types that more than one section of the config validates: durations above zero, time zones, SLA targets.

They are apart from the sections so that each section module (``agent:``, ``defaults:`` and
sites, ``clients:``) can use them without importing another section's models.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

import pydantic

from sitewatch.probe import Duration

__all__ = ["PositiveDuration", "SlaTarget", "TimeZone"]


PositiveDuration = Annotated[Duration, pydantic.Field(gt=0)]


def _timezone(value: Any) -> str:
    """An IANA time zone name that this machine's zone database knows."""
    expected = "expected an IANA time zone name like Europe/Moscow or UTC"
    if not isinstance(value, str) or not value:
        raise ValueError(f"{expected}, got {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} ({expected})") from None
    return value


#: ``timezone:`` — the zone people's times are shown in (tickets, pages, reports); logs stay UTC.
TimeZone = Annotated[str, pydantic.BeforeValidator(_timezone)]


def _sla(value: Any) -> float:
    """An SLA target in percent: ``99.9`` or ``"99.9%"``, above 0 and at most 100."""
    expected = "expected an SLA target in percent above 0 and at most 100, like 99.9"
    number = value[:-1].strip() if isinstance(value, str) and value.endswith("%") else value
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        raise ValueError(f"{expected}, got {value!r}")
    try:
        percent = float(number)
    except ValueError:
        raise ValueError(f"{expected}, got {value!r}") from None
    if not 0 < percent <= 100:  # also refuses nan
        raise ValueError(f"{expected}, got {value!r}")
    return percent


#: ``sla:`` — the availability promised to the client, in percent (site level or in defaults:).
SlaTarget = Annotated[float, pydantic.BeforeValidator(_sla)]

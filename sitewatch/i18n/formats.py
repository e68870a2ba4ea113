"""Durations, numbers and local times in a person's language, with plural forms from CLDR (Babel)."""

from __future__ import annotations

import datetime as dt
import functools
import math
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

__all__ = ["duration", "local_time", "number", "percent", "short_duration", "zone"]

#: (seconds, CLDR unit), largest first.
_UNITS = (
    (86400, "duration-day"),
    (3600, "duration-hour"),
    (60, "duration-minute"),
    (1, "duration-second"),
)


def duration(seconds: float, language: str = "en", *, parts: int = 2) -> str:
    """``3 минуты 50 секунд`` / ``3 minutes, 50 seconds``: the ``parts`` largest units, whole.

    Under a second it is milliseconds (``250 миллисекунд``); plural forms are CLDR's.
    """
    if seconds < 1:
        return format_unit(round(seconds * 1000), "duration-millisecond", length="long", locale=language)
    left = round(seconds)
    pieces: list[str] = []
    for size, unit in _UNITS:
        if left >= size and len(pieces) < parts:
            count, left = divmod(left, size)
            pieces.append(format_unit(count, unit, length="long", locale=language))
        elif pieces:
            break  # "1 day 0 hours 5 minutes" would mislead: stop at the first empty unit
    return format_list(pieces, style="unit", locale=language)


def short_duration(seconds: float, language: str = "en") -> str:
    """``120 мс`` / ``3 мин 50 с`` / ``2 ч``: the compact form for tables (CLDR short units)."""
    if seconds < 1:
        return format_unit(round(seconds * 1000), "duration-millisecond", length="short", locale=language)
    if seconds < 10:
        return format_unit(round(seconds, 1), "duration-second", length="short", locale=language)
    left = round(seconds)
    pieces: list[str] = []
    for size, unit in _UNITS:
        if left >= size and len(pieces) < 2:
            count, left = divmod(left, size)
            pieces.append(format_unit(count, unit, length="short", locale=language))
        elif pieces:
            break
    return format_list(pieces, style="unit-short", locale=language).replace("\u202f", " ")


def percent(ratio: float, language: str = "en") -> str:
    """``99,95 %`` / ``99.95%``: two decimals, truncated, never rounded up (99.996 % is not 100 %)."""
    # The epsilon undoes binary float error: 0.9995 * 10000 is 9994.999….
    truncated = math.floor(ratio * 10000 + 1e-6) / 10000
    return format_percent(truncated, format="#,##0.00%", locale=language).replace("\u202f", " ")


def number(value: float, language: str = "en") -> str:
    """A number as people write it (``0,123`` in Russian), at most three decimals."""
    return format_decimal(value, format="#,##0.###", locale=language)


@functools.lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (cached: tickets and pages ask for the same few zones)."""
    return ZoneInfo(name)


def local_time(ts: float, timezone: str = "UTC", language: str = "en") -> str:
    """``7 дек. 2026 г., 03:15 MSK`` / ``Dec 7, 2026, 03:15 MSK``: the date in the language's
    medium form, a 24-hour clock and the zone's own abbreviation (``+03`` where it has none)."""
    moment = dt.datetime.fromtimestamp(ts, dt.UTC).astimezone(zone(timezone))
    date = format_datetime(moment, "medium", locale=language).rsplit(",", 1)[0]
    # Babel puts narrow no-break spaces in some dates ("2027 г."); plain spaces survive every desk.
    return f"{date}, {moment:%H:%M} {moment.tzname()}".replace("\u202f", " ")

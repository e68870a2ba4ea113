"""``calendar:`` of a client — when its SLA clock runs.

``calendar: 24x7`` (the default) counts every second. Otherwise working hours per weekday in
the client's zone, public holidays of ``country`` (the ``holidays`` package, so Russia's
transferred days off and working Saturdays come with it), and the client's own ``days_off``
and ``working_days``::

    calendar:
      hours: {mon-fri: "09:00-18:00", sat: "10:00-14:00"}
      country: RU
      days_off: [2026-12-31]
      working_days: [2027-01-09]
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pydantic

__all__ = ["WEEKDAYS", "CalendarConfig", "HoursText"]

#: Weekday names as the config writes them, Monday first (index = ``date.weekday()``).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

#: ``"09:00-18:00"`` parsed: (start, end) as minutes after midnight.
HoursText = tuple[int, int]


class CalendarConfig(pydantic.BaseModel):
    """Working hours per weekday (``None`` hours: 24x7), holidays of ``country``, own days off and on."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    #: Weekday (0 = Monday) → (start, end) minutes after local midnight; None means 24x7.
    hours: dict[int, HoursText] | None = None
    country: str | None = None
    days_off: tuple[dt.date, ...] = ()
    working_days: tuple[dt.date, ...] = ()

    @pydantic.model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "24x7":
            return {}
        if isinstance(value, str):
            raise ValueError(
                f"expected 24x7 or a mapping with hours:, country:, days_off:, working_days:, got {value!r}"
            )
        return value

    @pydantic.field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        if value is None or value == "24x7":
            return None
        if not isinstance(value, dict) or not value:
            raise ValueError('expected weekdays with hours, e.g. {mon-fri: "09:00-18:00"}, or 24x7')
        out: dict[int, HoursText] = {}
        for key, span in value.items():
            for day in _days(str(key)):
                if day in out:
                    raise ValueError(f"{WEEKDAYS[day]} is given hours twice (in {key!r})")
                out[day] = _span(span, str(key))
        return out

    @pydantic.field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Imported here: the package costs ~7 MB of memory (~16 MB resident) and most agents
        # never name a country; an agent with 10,000 checks has to stay under 200 MB.
        import holidays  # noqa: PLC0415

        supported = holidays.list_supported_countries()
        if value.upper() not in supported:
            raise ValueError(f"no public holiday calendar for country {value!r} (expected a code like RU, KZ, BY)")
        return value.upper()

    @pydantic.model_validator(mode="after")
    def _needs_hours(self) -> CalendarConfig:
        if self.hours is None and (self.country or self.days_off or self.working_days):
            raise ValueError("country, days_off and working_days need working hours: (a 24x7 clock never stops)")
        clash = sorted(set(self.days_off) & set(self.working_days))
        if clash:
            raise ValueError(f"{clash[0]} is both a day off and a working day")
        return self

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe form, stored with each incident so its clock outlives a config change."""
        return {
            "hours": None if self.hours is None else {str(k): list(v) for k, v in sorted(self.hours.items())},
            "country": self.country,
            "days_off": [d.isoformat() for d in self.days_off],
            "working_days": [d.isoformat() for d in self.working_days],
        }


def _days(key: str) -> list[int]:
    """``mon``, ``mon-fri`` or ``sat,sun`` as weekday indexes."""
    out: list[int] = []
    for part in key.replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"expected weekdays like mon, mon-fri or sat,sun, got {key!r}")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"expected a range forward in the week (mon-fri), got {key!r}")
        out += range(start, end + 1)
    return out


def _span(value: Any, key: str) -> HoursText:
    match = _SPAN.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{key}: expected hours like "09:00-18:00", got {value!r}')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{key}: {value!r} is not a time of day")
    if end <= start:
        raise ValueError(f"{key}: hours {value!r} end before they start (a night shift needs two weekdays)")
    return start, end

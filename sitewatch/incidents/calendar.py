"""Service calendars: when the SLA clock runs, and deadlines counted in that time.

A ``24x7`` calendar counts every second. A working-hours calendar counts the configured hours
of each weekday in the client's time zone, skips the public holidays of a country (the
``holidays`` package: Russia's transferred days off included) and the client's own days off,
and counts the extra working days (Russia's working Saturdays, or a client's own) with the hours
of the weekday they stand in for (Monday's when that weekday has none). Pauses — time waiting for
the client — never count. Daylight-saving changes are handled by the zone database: a "09:00"
is 09:00 local on every day.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = ["ServiceCalendar", "WorkingHours"]

#: How far ahead a deadline is searched for: a target no calendar can meet in this many days is
#: a configuration error (a calendar with no working day at all), reported instead of looping.
_HORIZON_DAYS = 800
#: Seconds of a target left over from float rounding, not time still owed (unix seconds carry ~0.2 µs).
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One weekday's service hours, local time: ``start`` to ``end`` (end after start)."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"working hours end {self.end:%H:%M} is not after their start {self.start:%H:%M}")


@dataclass(frozen=True)
class ServiceCalendar:
    """When the clock runs. ``hours`` None means 24x7 (holidays and days off are then ignored)."""

    timezone: str = "UTC"
    hours: Mapping[int, WorkingHours] | None = None  # weekday (0 = Monday) -> hours
    country: str | None = None  # ISO 3166 code for public holidays, e.g. "RU"
    days_off: frozenset[dt.date] = frozenset()
    working_days: frozenset[dt.date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        if self.country is not None:
            _public_holidays(self.country, 2026)  # an unknown country fails here, at load

    @property
    def always(self) -> bool:
        """True for a 24x7 calendar."""
        return self.hours is None

    # -- days ----------------------------------------------------------------------------

    def day_hours(self, day: dt.date) -> WorkingHours | None:
        """The service hours on ``day`` (local date), or None when it is not a working day."""
        assert self.hours is not None
        if day in self.working_days or day in self._weekend_workdays(day.year):
            return self.hours.get(day.weekday()) or self.hours.get(0) or next(iter(self.hours.values()), None)
        if day in self.days_off or (self.country and day in _public_holidays(self.country, day.year)):
            return None
        return self.hours.get(day.weekday())

    def _weekend_workdays(self, year: int) -> frozenset[dt.date]:
        return _weekend_workdays(self.country, year) if self.country else frozenset()

    # -- service time ----------------------------------------------------------------------

    def service_intervals(self, start: float) -> Iterator[tuple[float, float]]:
        """Service time from ``start`` on, as (from, to) unix-second intervals in order."""
        if self.hours is None:
            yield start, float("inf")
            return
        day = dt.datetime.fromtimestamp(start, self._zone).date()
        for _ in range(_HORIZON_DAYS):
            hours = self.day_hours(day)
            if hours is not None:
                opens = dt.datetime.combine(day, hours.start, self._zone).timestamp()
                closes = dt.datetime.combine(day, hours.end, self._zone).timestamp()
                if closes > start:
                    yield max(opens, start), closes
            day += dt.timedelta(days=1)
        raise ValueError(f"no service time within {_HORIZON_DAYS} days of the start: the calendar has no working day")

    def deadline(self, start: float, target: float, pauses: Sequence[tuple[float, float]] = ()) -> float:
        """The moment ``target`` seconds of service time, outside ``pauses``, have passed since ``start``."""
        left = target
        for opens, closes in _minus(self.service_intervals(start), _merged(pauses)):
            # Within a microsecond is used up: float noise must not carry a deadline to the next working day.
            if closes - opens >= left - _EPSILON:
                return min(opens + left, closes)
            left -= closes - opens
        raise AssertionError("unreachable: service_intervals ends by raising")  # pragma: no cover

    def elapsed(self, start: float, end: float, pauses: Sequence[tuple[float, float]] = ()) -> float:
        """Service time between ``start`` and ``end``, outside ``pauses`` (what counts against a target)."""
        total = 0.0
        if end <= start:
            return total
        for opens, closes in _minus(self.service_intervals(start), _merged(pauses)):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total


def _merged(pauses: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Pauses sorted and joined where they overlap; empty ones dropped."""
    out: list[tuple[float, float]] = []
    for begin, end in sorted(p for p in pauses if p[1] > p[0]):
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


Interval = tuple[float, float]


def _minus(intervals: Iterable[Interval], pauses: list[Interval]) -> Iterator[Interval]:
    """``intervals`` with the (merged, sorted) ``pauses`` cut out."""
    ends = [end for _, end in pauses]
    for opens, closes in intervals:
        at = opens
        index = bisect.bisect_right(ends, at)
        while at < closes:
            if index >= len(pauses) or pauses[index][0] >= closes:
                yield at, closes
                break
            begin, end = pauses[index]
            if begin > at:
                yield at, begin
            at = max(at, end)
            index += 1


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    # Imported on first use (~7 MB of memory): most agents never name a country (see config.calendar).
    import holidays  # noqa: PLC0415

    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        raise ValueError(f"no public holiday calendar for country {country!r} (expected e.g. RU, KZ, BY)") from None


@functools.lru_cache(maxsize=64)
def _weekend_workdays(country: str, year: int) -> frozenset[dt.date]:
    import holidays  # noqa: PLC0415

    days = holidays.country_holidays(country, years=year)
    return frozenset(d for d in getattr(days, "weekend_workdays", ()) if d.year == year)

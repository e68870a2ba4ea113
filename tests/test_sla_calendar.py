"""The SLA clock's calendar: 24x7, working hours with Russia's public holidays and transferred
days, the client's own days, pauses while waiting for the client, daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sitewatch.incidents.calendar import ServiceCalendar, WorkingHours

MSK = ZoneInfo("Europe/Moscow")
NINE_TO_SIX = {day: WorkingHours(dt.time(9), dt.time(18)) for day in range(5)}
HOUR = 3600.0


def at(*parts: int, zone: ZoneInfo = MSK) -> float:
    """Unix seconds of a local wall-clock time."""
    return dt.datetime(*parts, tzinfo=zone).timestamp()  # type: ignore[misc]


def local(ts: float, zone: ZoneInfo = MSK) -> dt.datetime:
    """The local wall-clock time of unix seconds, without the zone (for comparisons)."""
    return dt.datetime.fromtimestamp(ts, zone).replace(tzinfo=None)


def working_hours_ru() -> ServiceCalendar:
    """09:00-18:00 Monday to Friday in Moscow, Russia's public holidays."""
    return ServiceCalendar("Europe/Moscow", NINE_TO_SIX, "RU")


def test_24x7_counts_every_second() -> None:
    """A 24x7 contract: the deadline is the start plus the target, holidays or not."""
    calendar = ServiceCalendar("Europe/Moscow")
    start = at(2027, 1, 1, 3, 15)  # a public holiday at night
    assert calendar.deadline(start, 15 * 60) == start + 15 * 60
    assert calendar.elapsed(start, start + 4 * HOUR) == 4 * HOUR


def test_worked_example_friday_evening_acked_monday_morning() -> None:
    """docs/sla.md's example: a P2 (respond within 1 h, working hours) opened Friday 17:50, acked Monday
    09:07: 10 min on Friday + 7 min on Monday = 17 min of service time, so the response met its target;
    the respond-by is Monday 09:50."""
    calendar = working_hours_ru()
    opened, acked = at(2026, 12, 4, 17, 50), at(2026, 12, 7, 9, 7)
    assert local(calendar.deadline(opened, HOUR)) == dt.datetime(2026, 12, 7, 9, 50)
    assert calendar.elapsed(opened, acked) == 17 * 60


def test_friday_before_a_russian_public_holiday_weekend() -> None:
    """Opened Friday 8 May 2026 17:50 with 2 h to respond: 10 min that day; Saturday 9 May (Victory Day)
    and Sunday are off, Monday 11 May is the day off in lieu; the clock resumes Tuesday 09:00 → 10:50."""
    calendar = working_hours_ru()
    assert local(calendar.deadline(at(2026, 5, 8, 17, 50), 2 * HOUR)) == dt.datetime(2026, 5, 12, 10, 50)


def test_a_transferred_working_saturday_counts() -> None:
    """Russia moved a day off to Monday 22 February 2027 and made Saturday 20 February a working day:
    a P2 opened Friday 19 February 17:50 is due Saturday 10:50."""
    calendar = working_hours_ru()
    assert local(calendar.deadline(at(2027, 2, 19, 17, 50), 2 * HOUR)) == dt.datetime(2027, 2, 20, 10, 50)


def test_the_clients_own_days_off_and_working_days() -> None:
    """A client's extra day off is skipped; its extra working Sunday counts with Monday's hours."""
    calendar = ServiceCalendar(
        "Europe/Moscow",
        NINE_TO_SIX,
        "RU",
        days_off=frozenset({dt.date(2026, 12, 7)}),
        working_days=frozenset({dt.date(2026, 12, 6)}),
    )
    # Friday 17:50 + 1 h: 10 min Friday, Sunday 6 Dec (their working day) 09:00 + 50 min.
    assert local(calendar.deadline(at(2026, 12, 4, 17, 50), HOUR)) == dt.datetime(2026, 12, 6, 9, 50)
    # From Sunday 17:30 + 1 h: 30 min Sunday, Monday 7 Dec is their day off, Tuesday 09:30.
    assert local(calendar.deadline(at(2026, 12, 6, 17, 30), HOUR)) == dt.datetime(2026, 12, 8, 9, 30)


def test_waiting_for_the_client_pauses_the_clock() -> None:
    """Two hours waiting for the client inside working hours push the deadline back two hours;
    a pause at night changes nothing (the clock was not running)."""
    calendar = working_hours_ru()
    start = at(2026, 12, 8, 10, 0)
    pause = (at(2026, 12, 8, 11, 0), at(2026, 12, 8, 13, 0))
    assert local(calendar.deadline(start, 4 * HOUR, [pause])) == dt.datetime(2026, 12, 8, 16, 0)
    night = (at(2026, 12, 8, 20, 0), at(2026, 12, 9, 8, 0))
    assert calendar.deadline(start, 4 * HOUR, [night]) == calendar.deadline(start, 4 * HOUR)
    assert calendar.elapsed(start, at(2026, 12, 8, 16, 0), [pause, pause]) == 4 * HOUR  # overlaps merge


def test_daylight_saving_change_keeps_local_hours() -> None:
    """Berlin moves to summer time on Sunday 29 March 2026: Friday 17:00 + 2 h is Monday 10:00 local."""
    berlin = ZoneInfo("Europe/Berlin")
    calendar = ServiceCalendar("Europe/Berlin", NINE_TO_SIX, "DE")
    due = calendar.deadline(at(2026, 3, 27, 17, 0, zone=berlin), 2 * HOUR)
    assert local(due, berlin) == dt.datetime(2026, 3, 30, 10, 0)


def test_bad_calendars_are_refused() -> None:
    """An unknown country, hours that end before they start, a calendar without working days."""
    with pytest.raises(ValueError, match="no public holiday calendar for country 'XX'"):
        ServiceCalendar("UTC", NINE_TO_SIX, "XX")
    with pytest.raises(ValueError, match="is not after their start"):
        WorkingHours(dt.time(18), dt.time(9))
    with pytest.raises(ValueError, match="no working day"):
        ServiceCalendar("UTC", {}).deadline(0.0, HOUR)


@given(
    start=st.floats(min_value=at(2026, 1, 1, 0, 0), max_value=at(2027, 12, 1, 0, 0)),
    target=st.floats(min_value=1, max_value=80 * HOUR),
    pause_at=st.floats(min_value=0, max_value=10 * 86400),
    pause_for=st.floats(min_value=0, max_value=3 * 86400),
)
# Float noise once carried the last 0.1 µs of a target past a pause to the next working day's opening.
@example(start=1810911599.0, target=1.8787136648606975, pause_at=226801.87871366486, pause_for=32400.0)
def test_elapsed_until_the_deadline_is_the_target(
    start: float, target: float, pause_at: float, pause_for: float
) -> None:
    """For any start, target and pause: the service time elapsed up to the deadline equals the target,
    and the deadline never falls inside a pause or outside working hours."""
    calendar = working_hours_ru()
    pause = [(start + pause_at, start + pause_at + pause_for)]
    due = calendar.deadline(start, target, pause)
    assert calendar.elapsed(start, due, pause) == pytest.approx(target, abs=1e-3)
    moment = local(due)
    assert dt.time(9) < moment.time() <= dt.time(18) or moment.time() == dt.time(18)

"""Respond-by and resolve-by: a priority's targets counted on the client's service calendar.

The rules a service desk's SLA module follows (Jira Service Management, Redmine's SLA plugins):

- the **response** clock runs from the incident's opening until the first acknowledgement;
- the **resolve** clock runs from the opening until the resolve, stopped while the team waits
  for the client (the pauses of :func:`sitewatch.store.life.life`);
- both count only service time: every second on ``24x7``, otherwise the working hours;
- a change of priority keeps the elapsed time and applies the new targets (deadlines move);
- a goal is *met* when it was reached with time to spare (at the deadline itself counts as met),
  *breached* once its deadline passed unmet; an unacknowledged incident that resolves on its own
  has responded at its resolve.

Pure: no clock is read here, ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sitewatch.incidents.calendar import ServiceCalendar, WorkingHours

__all__ = ["Goal", "Outcome", "SlaClock", "calendar_from", "sla_clock"]

Outcome = Literal["running", "paused", "met", "breached"]


def calendar_from(spec: Mapping[str, Any] | None, timezone: str) -> ServiceCalendar:
    """A :class:`ServiceCalendar` from a stored calendar (``CalendarConfig.as_dict()``) in ``timezone``."""
    return _calendar(json.dumps(dict(spec or {}), sort_keys=True), timezone)


@functools.lru_cache(maxsize=256)
def _calendar(spec_json: str, timezone: str) -> ServiceCalendar:
    spec = json.loads(spec_json)
    hours = spec.get("hours")
    if hours is None:
        return ServiceCalendar(timezone=timezone)
    table = {int(day): WorkingHours(_time(span[0]), _time(span[1])) for day, span in hours.items()}
    return ServiceCalendar(
        timezone=timezone,
        hours=table,
        country=spec.get("country"),
        days_off=frozenset(dt.date.fromisoformat(d) for d in spec.get("days_off") or ()),
        working_days=frozenset(dt.date.fromisoformat(d) for d in spec.get("working_days") or ()),
    )


def _time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


@dataclass(frozen=True, slots=True)
class Goal:
    """One SLA goal (response or resolve) of one incident, at ``now``."""

    target: float  # service seconds the contract allows
    deadline: float | None  # unix seconds; None while paused (it moves on when the clock resumes)
    outcome: Outcome
    done_at: float | None  # when it was reached (the ack, the resolve)
    elapsed: float  # service seconds used so far (or until done), waiting excluded
    left: float  # service seconds left (negative once breached)


@dataclass(frozen=True, slots=True)
class SlaClock:
    """Both goals of one incident."""

    response: Goal
    resolve: Goal


def sla_clock(
    calendar: ServiceCalendar,
    opened_at: float,
    response: float,
    resolve: float,
    *,
    acked_at: float | None,
    resolved_at: float | None,
    pauses: Sequence[tuple[float, float | None]],
    now: float,
) -> SlaClock:
    """Where the response and resolve clocks of one incident stand at ``now``."""
    closed = [(a, b) for a, b in pauses if b is not None]
    open_since = next((a for a, b in pauses if b is None), None)
    if resolved_at is not None and open_since is not None:  # the resolve ends a wait left open
        closed.append((open_since, resolved_at))
        open_since = None
    responded = acked_at if acked_at is not None else resolved_at
    # Waiting means someone answered, so the response clock never has pauses before its end.
    respond_goal = _goal(calendar, opened_at, response, responded, (), None, now)
    resolve_goal = _goal(calendar, opened_at, resolve, resolved_at, closed, open_since, now)
    return SlaClock(respond_goal, resolve_goal)


def _goal(  # noqa: PLR0917 - one call site, each argument a plain fact
    calendar: ServiceCalendar,
    start: float,
    target: float,
    done_at: float | None,
    pauses: Sequence[tuple[float, float]],
    paused_since: float | None,
    now: float,
) -> Goal:
    end = done_at if done_at is not None else (paused_since if paused_since is not None else now)
    elapsed = calendar.elapsed(start, max(end, start), pauses)
    left = target - elapsed
    if paused_since is not None and done_at is None:
        deadline = None if left > 0 else calendar.deadline(start, target, pauses)
        outcome: Outcome = "paused" if left > 0 else "breached"
        return Goal(target, deadline, outcome, None, elapsed, left)
    deadline = calendar.deadline(start, target, pauses)
    if done_at is not None:
        outcome = "met" if done_at <= deadline else "breached"
    else:
        outcome = "running" if now <= deadline else "breached"
    return Goal(target, deadline, outcome, done_at, elapsed, left)

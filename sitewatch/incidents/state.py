"""The per-check incident state machine. Pure: no I/O, no clock; time comes in with each result.

Results go in, incident events come out: ``opened`` after ``fail_after`` consecutive
failing results (or once failing for ``fail_for``), ``worsened``/``improved`` when the
severity of an open incident changes, ``resolved`` after ``recover_after`` consecutive
ok results. A check that keeps flipping opens one incident marked flapping instead of a
storm. While ``suppressed`` (maintenance, or a failing parent check) nothing opens; an
incident already open stays open and may still resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from sitewatch.config.policy import Policy
from sitewatch.probe import Status

__all__ = ["CheckState", "EventKind", "IncidentEvent", "OpenIncident", "step"]

EventKind = Literal["opened", "worsened", "improved", "resolved"]


@dataclass(frozen=True, slots=True)
class CheckState:
    """Everything the machine remembers about one site+check."""

    fail_streak: int = 0
    ok_streak: int = 0
    failing_since: float | None = None
    last_failing: bool = False
    flips: tuple[float, ...] = ()
    open: bool = False
    severity: Status | None = None
    opened_at: float | None = None
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """A transition the outside world (store, tickets) must hear about."""

    kind: EventKind
    at: float
    severity: Status | None
    summary: str
    opened_at: float | None = None  # for resolved: how long it lasted
    flapping: bool = False
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident that has not resolved (what a restarted agent must remember)."""

    id: int
    key: str
    opened_at: float
    severity: str | None
    flapping: bool


def _failing(status: Status, policy: Policy) -> bool:
    if status is Status.ERROR:
        return policy.error_is_failure
    return status is not Status.OK


def step(
    state: CheckState,
    status: Status,
    summary: str,
    at: float,
    policy: Policy,
    *,
    suppressed: bool | Callable[[], bool] = False,
) -> tuple[CheckState, list[IncidentEvent]]:
    """Feed one result; return the new state and the events it caused (zero or one).

    ``suppressed`` may be a callable: it is asked only when an incident would open,
    so the healthy majority of results never pays for the lookup behind it.
    """
    failing = _failing(status, policy)
    flips = tuple(t for t in state.flips if at - t <= policy.flap_window)
    if failing != state.last_failing:
        flips += (at,)
    if failing:
        new = replace(
            state,
            fail_streak=state.fail_streak + 1,
            ok_streak=0,
            failing_since=state.failing_since if state.failing_since is not None else at,
            last_failing=True,
            flips=flips,
        )
    else:
        new = replace(
            state, fail_streak=0, ok_streak=state.ok_streak + 1, failing_since=None, last_failing=False, flips=flips
        )
    flapping = len(flips) >= policy.flap_changes
    severity = status if failing else None

    if not new.open:
        long_enough = new.fail_streak >= policy.fail_after or (
            policy.fail_for is not None and new.failing_since is not None and at - new.failing_since >= policy.fail_for
        )
        # A flapping check never holds fail_after in a row: its flips open the incident.
        if failing and (long_enough or flapping) and not (suppressed() if callable(suppressed) else suppressed):
            new = replace(new, open=True, severity=severity, opened_at=at, flapping=flapping)
            return new, [IncidentEvent("opened", at, severity, summary, at, flapping)]
        return new, []

    if failing and severity is not None:
        if new.severity is not None and severity.rank != new.severity.rank:
            kind: EventKind = "worsened" if severity.rank > new.severity.rank else "improved"
            new = replace(new, severity=severity)
            return new, [IncidentEvent(kind, at, severity, summary, new.opened_at, new.flapping)]
        return new, []

    # A flapping incident waits for a calm window, not just recover_after oks in a row.
    calm = not flapping or new.ok_streak >= policy.recover_after * 3
    if new.ok_streak >= policy.recover_after and calm:
        event = IncidentEvent("resolved", at, None, summary, new.opened_at, new.flapping)
        return replace(new, open=False, severity=None, opened_at=None, flapping=False), [event]
    return new, []

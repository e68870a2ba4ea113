"""When each escalation step of an incident is due: pure arithmetic, no I/O, no clock.

A step is due ``after`` its delay from the opening, or ``at`` a deadline plus its offset; a
repeating step is due again every ``repeat`` seconds. Only the newest repeat that has come due is
returned, so an agent that was down for an hour sends one reminder, not six. Whether a due step
has already fired, and whether the incident was acknowledged, is the store's to say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sitewatch.config.escalation import EscalationStep
from sitewatch.incidents.calendar import ServiceCalendar

__all__ = ["Due", "due_steps", "escalation_deadlines", "step_level"]

_ALWAYS = ServiceCalendar()


@dataclass(frozen=True, slots=True)
class Due:
    """One firing of a step: its index in the chain, its repeat number, the moment it came due."""

    step: int
    repeat: int
    due_at: float


def escalation_deadlines(
    opened_at: float,
    sla: Mapping[str, float] | None,
    calendar: ServiceCalendar | None = None,
    pauses: Sequence[tuple[float, float]] = (),
) -> dict[str, float]:
    """``respond_by`` and ``resolve_by`` of an incident, for deadline-relative steps.

    The one place escalation computes deadlines: from the priority's SLA targets (``response``,
    ``resolve`` in seconds) on the client's service calendar (24x7 when None), waiting time excluded.
    When the incidents themselves carry respond-by and resolve-by, this is the function to point at them.
    """
    if not sla:
        return {}
    calendar = calendar or _ALWAYS
    out: dict[str, float] = {}
    for anchor, target in (("respond_by", "response"), ("resolve_by", "resolve")):
        if sla.get(target) is not None:
            out[anchor] = calendar.deadline(opened_at, float(sla[target]), pauses)
    return out


def step_level(steps: Sequence[EscalationStep], index: int) -> str:
    """The name a step goes by in messages: its ``level:``, else ``step N``."""
    return steps[index].level or f"step {index + 1}"


def due_steps(
    steps: Sequence[EscalationStep], opened_at: float, deadlines: Mapping[str, float], now: float
) -> list[Due]:
    """The firings due at ``now`` (those that fired already are filtered by the store's unique key)."""
    out: list[Due] = []
    for index, step in enumerate(steps):
        if step.after is not None:
            first = opened_at + step.after
        elif step.at is not None and step.at[0] in deadlines:
            first = deadlines[step.at[0]] + step.at[1]
        else:
            continue  # a deadline this incident has no target for (the config check names it)
        if first > now:
            continue
        repeat = 0
        if step.repeat:
            repeat = math.floor((now - first) / step.repeat)
        out.append(Due(index, repeat, first + repeat * (step.repeat or 0.0)))
    return out

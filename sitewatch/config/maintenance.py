"""Maintenance windows: one-off (``from``/``until``) or recurring (``cron`` + ``duration``), in UTC.

During a window results are still recorded and exported, but no incident opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pydantic
from cronsim import CronSim, CronSimError

from sitewatch.probe import Duration

__all__ = ["MaintenanceWindow", "active"]


class MaintenanceWindow(pydantic.BaseModel):
    """``{from, until}`` or ``{cron, duration}``; an optional ``reason`` for humans."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: dt.datetime | None = pydantic.Field(None, alias="from")
    until: dt.datetime | None = None
    cron: str | None = None
    duration: Duration | None = None
    reason: str = ""

    @pydantic.model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        one_off = self.start is not None or self.until is not None
        recurring = self.cron is not None or self.duration is not None
        if one_off == recurring:
            raise ValueError("a window is either from:/until: or cron:/duration:")
        if one_off:
            if self.start is None or self.until is None:
                raise ValueError("a one-off window needs both from: and until: (e.g. 2026-12-01T02:00:00Z)")
            if self.start.tzinfo is None or self.until.tzinfo is None:
                raise ValueError("write times with a zone, e.g. 2026-12-01T02:00:00Z, so DST never shifts a window")
            if self.until <= self.start:
                raise ValueError("until: must be after from:")
        else:
            if self.cron is None or self.duration is None:
                raise ValueError("a recurring window needs both cron: (UTC) and duration:")
            try:
                CronSim(self.cron, dt.datetime.now(dt.UTC))
            except CronSimError as exc:
                raise ValueError(f"expected a cron expression like '0 3 * * 0', got {self.cron!r} ({exc})") from None
        return self

    def contains(self, at: float) -> bool:
        """True when unix time ``at`` falls inside this window."""
        moment = dt.datetime.fromtimestamp(at, dt.UTC)
        if self.start is not None and self.until is not None:
            return self.start <= moment < self.until
        if self.cron is None or self.duration is None:  # pragma: no cover - the validator forbids it
            return False
        # The latest start at or before `moment`: a reverse cron walk, one step.
        latest = next(CronSim(self.cron, moment + dt.timedelta(seconds=1), reverse=True), None)
        return latest is not None and moment < latest + dt.timedelta(seconds=self.duration)


def active(windows: Iterable[MaintenanceWindow], at: float) -> MaintenanceWindow | None:
    """The first window covering ``at``, if any."""
    return next((w for w in windows if w.contains(at)), None)

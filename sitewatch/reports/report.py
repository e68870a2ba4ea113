"""The SLA report's numbers: availability, incidents and the verdict per site and check, for one period.

The numbers come from :mod:`sitewatch.reports.availability` (the arithmetic is in
docs/availability.md) and the store's incidents table; this module gathers them per
site. :mod:`sitewatch.reports.formats` writes them as table, CSV, JSON or HTML, and
:mod:`sitewatch.cli.report` is the ``sitewatch report`` command.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from sitewatch.config.specs import SiteSpec
from sitewatch.probe import format_duration, parse_duration
from sitewatch.reports.availability import Availability, maintenance_intervals, outages, tally
from sitewatch.reports.history import check_spans, counted_checks, site_rows, site_spans, windows_of
from sitewatch.store.database import Store

__all__ = [
    "CheckReport",
    "Incidents",
    "Period",
    "ReportError",
    "SiteReport",
    "build_report",
    "last",
    "month",
    "site_report",
]

_MONTH = re.compile(r"(\d{4})-(\d{2})")


class ReportError(Exception):
    """A report that cannot be made, with a message for the operator."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in unix seconds and how a human would name it."""

    start: float
    end: float
    label: str


def month(text: str, timezone: str = "UTC") -> Period:
    """``2026-11`` → that calendar month in ``timezone``: in UTC ``[2026-11-01T00:00Z, 2026-12-01T00:00Z)``."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ReportError(f"--month: expected a month like 2026-11, got {text!r}")
    year, number = int(match[1]), int(match[2])
    zone = dt.UTC if timezone == "UTC" else zoneinfo.ZoneInfo(timezone)
    first = dt.datetime(year, number, 1, tzinfo=zone)
    days = calendar.monthrange(year, number)[1]
    # Local midnights: aware datetimes in a ZoneInfo add wall-clock days, so a DST change stays inside.
    end = (first + dt.timedelta(days=days)).timestamp()
    return Period(first.timestamp(), end, f"{year:04d}-{number:02d}")


def last(text: str, now: float) -> Period:
    """``30d`` → ``[now - 30d, now)``."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ReportError(f"--since: {exc}") from None
    if seconds <= 0:
        raise ReportError(f"--since: expected a positive duration like 30d, got {text!r}")
    return Period(now - seconds, now, f"last {format_duration(seconds)}")


@dataclass(frozen=True, slots=True)
class Incidents:
    """Incidents opened in the period: how many, how many still open, mean time to resolve."""

    count: int
    still_open: int
    mttr: float | None  # mean of resolved_at - opened_at over the resolved ones


@dataclass(frozen=True, slots=True)
class CheckReport:
    """One check's line of the report."""

    name: str
    type: str
    counted: bool  # part of the site's availability
    availability: Availability
    longest_outage: float
    incidents: Incidents


@dataclass(frozen=True, slots=True)
class SiteReport:
    """One site: overall availability (from its counted checks), incidents, SLA verdict, and each check."""

    site: str
    availability: Availability
    longest_outage: float
    incidents: Incidents
    sla: float | None  # target, percent
    checks: tuple[CheckReport, ...]
    title: str | None = None  # the site's title: for people (HTML, JSON); tables keep the name

    @property
    def met(self) -> bool | None:
        """True/False against the target; None without a target or without observations."""
        ratio = self.availability.ratio
        if self.sla is None or ratio is None:
            return None
        return ratio * 100 >= self.sla - 1e-9  # 709 / 1000 * 100 is 70.89999999999999: noise is not a miss

    @property
    def allowed_downtime(self) -> float | None:
        """Seconds of downtime the target allows over the observed time."""
        if self.sla is None:
            return None
        return (1 - self.sla / 100) * (self.availability.up + self.availability.down)


def _incidents(store: Store, site: str, period: Period, checks: Sequence[str]) -> Incidents:
    rows = store.db.execute(
        "SELECT opened_at, resolved_at FROM incidents WHERE site = ? AND opened_at >= ? AND opened_at < ?"
        " AND check_name IN (SELECT value FROM json_each(?))",
        (site, period.start, period.end, json.dumps(list(checks))),
    ).fetchall()
    repaired = [r[1] - r[0] for r in rows if r[1] is not None]
    mttr = math.fsum(repaired) / len(repaired) if repaired else None
    return Incidents(len(rows), sum(r[1] is None for r in rows), mttr)


def _longest(intervals: Sequence[tuple[float, float]]) -> float:
    return max((hi - lo for lo, hi in intervals), default=0.0)


def site_report(store: Store, site: SiteSpec, period: Period) -> SiteReport:
    """Everything the report says about one site over ``period``."""
    start, end = period.start, period.end
    rows = site_rows(store, site, start, end)
    maintenance = maintenance_intervals(windows_of(site), start, end)
    counted = {c.name for c in counted_checks(site)}
    lines = []
    for check in site.checks:
        spans = check_spans(check, rows, start, end)
        lines.append(
            CheckReport(
                check.name,
                check.type,
                check.name in counted,
                tally(spans, maintenance, start, end),
                _longest(outages(spans, maintenance, start, end)),
                _incidents(store, site.info.name, period, [check.name]),
            )
        )
    spans = site_spans(site, rows, start, end)
    return SiteReport(
        site.info.name,
        tally(spans, maintenance, start, end),
        _longest(outages(spans, maintenance, start, end)),
        _incidents(store, site.info.name, period, sorted(counted)),
        site.sla,
        tuple(lines),
        site.title,
    )


def build_report(store: Store, sites: Sequence[SiteSpec], period: Period) -> list[SiteReport]:
    """One :class:`SiteReport` per site, in config order."""
    return [site_report(store, site, period) for site in sites]


# -- formatting ------------------------------------------------------------------------------


# -- command -------------------------------------------------------------------------------

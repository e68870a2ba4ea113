"""``sitewatch report``: availability, incidents and the SLA verdict per site, as table, CSV, JSON or HTML.

The numbers come from :mod:`sitewatch.reports.availability` (the arithmetic is in
docs/availability.md) and the store's incidents table; this module only gathers
them per site and formats them. It opens the store read-only, so it can run
beside the agent.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import html
import io
import json
import math
import re
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sitewatch.config.models import Config, SiteSpec
from sitewatch.probe import format_duration, parse_duration
from sitewatch.reports.availability import (
    Availability,
    check_spans,
    counted_checks,
    maintenance_intervals,
    outages,
    site_rows,
    site_spans,
    tally,
    windows_of,
)
from sitewatch.reports.table import render_table
from sitewatch.store.database import Store

__all__ = [
    "FORMATS",
    "CheckReport",
    "Incidents",
    "Period",
    "ReportError",
    "SiteReport",
    "as_json",
    "build_report",
    "format_percent",
    "last",
    "make_report",
    "month",
    "render",
    "render_csv",
    "render_html",
    "render_table_report",
    "report_command",
    "site_report",
]

Format = Literal["table", "csv", "json", "html"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "html")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class ReportError(Exception):
    """A report that cannot be made, with a message for the operator."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in unix seconds and how a human would name it."""

    start: float
    end: float
    label: str


def month(text: str) -> Period:
    """``2026-11`` → the UTC calendar month ``[2026-11-01T00:00Z, 2026-12-01T00:00Z)``."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ReportError(f"--month: expected a month like 2026-11, got {text!r}")
    year, number = int(match[1]), int(match[2])
    first = dt.datetime(year, number, 1, tzinfo=dt.UTC)
    days = calendar.monthrange(year, number)[1]
    return Period(first.timestamp(), (first + dt.timedelta(days=days)).timestamp(), f"{year:04d}-{number:02d}")


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
    )


def build_report(store: Store, sites: Sequence[SiteSpec], period: Period) -> list[SiteReport]:
    """One :class:`SiteReport` per site, in config order."""
    return [site_report(store, site, period) for site in sites]


# -- formatting ------------------------------------------------------------------------------


def format_percent(ratio: float | None) -> str:
    """``99.926%``: truncated to three decimals, never rounded up (99.9996 % is not 100 %)."""
    if ratio is None:
        return "-"
    # The nudge keeps float noise from truncating an exact value down: 23 / 40 * 100_000 is 57499.99999999999.
    return f"{math.floor(ratio * 100_000 + 1e-6) / 1000:.3f}%"


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _verdict(report: SiteReport) -> str:
    met = report.met
    if met is None:
        return "no data" if report.sla is not None else "-"
    return "met" if met else "MISSED"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)  # a report speaks in whole seconds; format_duration would say 0ms
    return format_duration(whole) if whole else "0s"


def _text_rows(reports: Sequence[SiteReport]) -> list[tuple[SiteReport | None, list[str]]]:
    """(the site's report, cells) for a site line, (None, cells) for each of its checks."""
    rows: list[tuple[SiteReport | None, list[str]]] = []
    for r in reports:
        a = r.availability
        sla = f"{r.sla:g}%" if r.sla is not None else "-"
        rows.append(
            (
                r,
                [
                    r.site,
                    "(site)",
                    format_percent(a.ratio),
                    _duration(a.down),
                    _duration(a.no_data),
                    _duration(a.maintenance),
                    str(r.incidents.count),
                    _duration(r.incidents.mttr),
                    _duration(r.longest_outage),
                    sla,
                    _verdict(r),
                ],
            )
        )
        for c in r.checks:
            ca = c.availability
            name = c.name if c.counted else f"{c.name} (not counted)"
            rows.append(
                (
                    None,
                    [
                        "",
                        name,
                        format_percent(ca.ratio),
                        _duration(ca.down),
                        _duration(ca.no_data),
                        _duration(ca.maintenance),
                        str(c.incidents.count),
                        _duration(c.incidents.mttr),
                        _duration(c.longest_outage),
                        "",
                        "",
                    ],
                )
            )
    return rows


#: The same columns for people reading a page rather than a terminal.
_HTML_HEADERS = (
    "Site",
    "Check",
    "Availability",
    "Downtime",
    "No data",
    "Maintenance",
    "Incidents",
    "MTTR",
    "Longest outage",
    "SLA",
    "Result",
)

_HEADERS = [
    "SITE",
    "CHECK",
    "AVAILABILITY",
    "DOWNTIME",
    "NO DATA",
    "MAINTENANCE",
    "INCIDENTS",
    "MTTR",
    "LONGEST",
    "SLA",
    "RESULT",
]


def _heading(period: Period) -> str:
    return f"Availability {period.label}: {_iso(period.start)} to {_iso(period.end)} (UTC)"


def render_table_report(reports: Sequence[SiteReport], period: Period) -> str:
    """An aligned plain-text table: a site line, then one line per check."""
    return f"{_heading(period)}\n\n{render_table(_HEADERS, [cells for _, cells in _text_rows(reports)])}\n"


_CSV_FIELDS = [
    "site",
    "check",
    "counted",
    "availability_percent",
    "up_seconds",
    "down_seconds",
    "maintenance_seconds",
    "no_data_seconds",
    "incidents",
    "incidents_open",
    "mttr_seconds",
    "longest_outage_seconds",
    "sla_percent",
    "sla_met",
    "period_start",
    "period_end",
]


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render_csv(reports: Sequence[SiteReport], period: Period) -> str:
    """One row per site (check empty) and per check; plain numbers in seconds and percent."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for r in reports:
        lines: list[tuple[str, bool, Availability, Incidents, float, float | None, bool | None]] = [
            ("", True, r.availability, r.incidents, r.longest_outage, r.sla, r.met)
        ]
        lines += [(c.name, c.counted, c.availability, c.incidents, c.longest_outage, None, None) for c in r.checks]
        for check, counted, a, inc, longest, sla, met in lines:
            ratio = a.ratio
            writer.writerow(
                [
                    r.site,
                    check,
                    "yes" if counted else "no",
                    _number(ratio * 100 if ratio is not None else None, 4),
                    _number(a.up),
                    _number(a.down),
                    _number(a.maintenance),
                    _number(a.no_data),
                    inc.count,
                    inc.still_open,
                    _number(inc.mttr),
                    _number(longest),
                    "" if sla is None else f"{sla:g}",
                    "" if met is None else ("yes" if met else "no"),
                    _iso(period.start),
                    _iso(period.end),
                ]
            )
    return out.getvalue()


def _availability_json(a: Availability) -> dict[str, Any]:
    return {
        "ratio": a.ratio,
        "up_seconds": a.up,
        "down_seconds": a.down,
        "maintenance_seconds": a.maintenance,
        "no_data_seconds": a.no_data,
    }


def _incidents_json(i: Incidents) -> dict[str, Any]:
    return {"count": i.count, "open": i.still_open, "mttr_seconds": i.mttr}


def as_json(reports: Sequence[SiteReport], period: Period) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    return {
        "period": {"label": period.label, "start": _iso(period.start), "end": _iso(period.end)},
        "sites": [
            {
                "site": r.site,
                "availability": _availability_json(r.availability),
                "incidents": _incidents_json(r.incidents),
                "longest_outage_seconds": r.longest_outage,
                "sla": {"target_percent": r.sla, "met": r.met, "allowed_downtime_seconds": r.allowed_downtime},
                "checks": [
                    {
                        "check": c.name,
                        "type": c.type,
                        "counted": c.counted,
                        "availability": _availability_json(c.availability),
                        "incidents": _incidents_json(c.incidents),
                        "longest_outage_seconds": c.longest_outage,
                    }
                    for c in r.checks
                ],
            }
            for r in reports
        ],
    }


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.site td { font-weight: 600; border-top: 2px solid #999; }
tr.check td { color: #555; }
.missed { color: #b00020; } .met { color: #1b5e20; }
p.note { color: #555; max-width: 60em; }
"""


def render_html(reports: Sequence[SiteReport], period: Period) -> str:
    """A self-contained page (inline CSS, no scripts); every value is escaped."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in _HTML_HEADERS)
    body = []
    for r, row in _text_rows(reports):
        kind = "site" if r is not None else "check"
        cells = []
        for i, cell in enumerate(row):
            css = ""
            if r is not None and i == len(row) - 1 and r.met is not None:
                css = ' class="met"' if r.met else ' class="missed"'
            cells.append(f"<td{css}>{e(cell)}</td>")
        body.append(f'<tr class="{kind}">{"".join(cells)}</tr>')
    title = e(_heading(period))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{title}</h1>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        '<p class="note">Availability = up / (up + down). Maintenance windows are excluded; time without data'
        " (agent stopped, gaps) is shown apart and never counted as up. A site is down while any of its"
        " counted checks is down. MTTR: mean time from an incident opening to its resolution.</p>\n"
        "</body></html>\n"
    )


def render(reports: Sequence[SiteReport], period: Period, fmt: Format) -> str:
    """The report in one of :data:`FORMATS`."""
    if fmt == "csv":
        return render_csv(reports, period)
    if fmt == "json":
        return json.dumps(as_json(reports, period), indent=2) + "\n"
    if fmt == "html":
        return render_html(reports, period)
    return render_table_report(reports, period)


# -- command -------------------------------------------------------------------------------


def _period(month_text: str | None, since: str | None, now: float) -> Period:
    period = month(month_text) if month_text else last(since or "30d", now)
    if period.start >= now:
        raise ReportError(f"{period.label} has not started yet")
    # The future has no data yet: a current month is reported so far.
    return Period(period.start, min(period.end, now), period.label)


def make_report(
    config: Config, *, site: str | None, month_text: str | None, since: str | None, fmt: Format, now: float
) -> str:
    """Validate the arguments, read the store read-only and render; raise :class:`ReportError`."""
    period = _period(month_text, since, now)
    sites = [s for s in config.sites if site is None or s.info.name == site]
    if not sites:
        names = ", ".join(s.info.name for s in config.sites) or "none"
        raise ReportError(f"no site {site!r} in {config.source} (sites: {names})")
    path = config.agent.state_dir / "sitewatch.db"
    if not path.is_file():
        raise ReportError(f"no history at {path}: has the agent run?")
    try:
        store = Store.open_readonly(path)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot open {path}: {exc}") from None
    try:
        reports = build_report(store, sites, period)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read {path}: {exc} (is it a sitewatch store?)") from None
    finally:
        store.close()
    return render(reports, period, fmt)


def report_command(
    config: Config, *, site: str | None, month_text: str | None, since: str | None, fmt: Format, now: float
) -> int:
    """``sitewatch report``: print the report; 0, or 3 with a message when it cannot be made."""
    try:
        text = make_report(config, site=site, month_text=month_text, since=since, fmt=fmt, now=now)
    except ReportError as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return 3
    sys.stdout.write(text)
    return 0

"""The report's output: a text table, CSV, JSON or a self-contained HTML page, from the same site reports."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sitewatch.probe import format_duration
from sitewatch.reports.availability import Availability
from sitewatch.reports.report import Incidents, Period, SiteReport
from sitewatch.reports.table import render_table

__all__ = [
    "Format",
    "FORMATS",
    "format_percent",
    "render_table_report",
    "render_csv",
    "as_json",
    "render_html",
    "render",
]


Format = Literal["table", "csv", "json", "html"]


FORMATS: tuple[Format, ...] = ("table", "csv", "json", "html")


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


def render_csv(reports: Sequence[SiteReport], period: Period, stamp: Callable[[float], str] | None = None) -> str:
    """One row per site (check empty) and per check; plain numbers in seconds and percent.

    ``stamp`` writes the period's bounds (default: ISO 8601 in UTC).
    """
    stamp = stamp or _iso
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
                    stamp(period.start),
                    stamp(period.end),
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
                "title": r.title,
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
        shown = [f"{r.title} ({r.site})", *row[1:]] if r is not None and r.title else row
        for i, cell in enumerate(shown):
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

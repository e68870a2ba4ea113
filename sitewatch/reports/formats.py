"""The report's output: a text table, CSV, JSON or a self-contained HTML page, from the same site reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from babel.units import format_unit

from sitewatch.i18n import short_duration, text
from sitewatch.i18n.formats import zone
from sitewatch.probe import format_duration
from sitewatch.reports.availability import Availability
from sitewatch.reports.page import render_html
from sitewatch.reports.report import Incidents, Period, SiteReport
from sitewatch.reports.table import render_table

__all__ = [
    "Format",
    "FORMATS",
    "format_percent",
    "local_iso",
    "render_table_report",
    "render_csv",
    "as_json",
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


def _verdict(report: SiteReport, language: str) -> str:
    met = report.met
    if met is None:
        return text(language, "report.no_data") if report.sla is not None else "-"
    # Upper case: a miss must stand out in a column of "met".
    return text(language, "report.met") if met else text(language, "report.missed").upper()


def _duration(seconds: float | None, language: str = "en") -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)  # a report speaks in whole seconds; format_duration would say 0ms
    if language != "en":  # the compact units of the reader's language (CLDR): "12 мин"
        zero = format_unit(0, "duration-second", length="short", locale=language)
        return short_duration(whole, language) if whole else zero
    return format_duration(whole) if whole else "0s"


def _text_rows(reports: Sequence[SiteReport], language: str = "en") -> list[tuple[SiteReport | None, list[str]]]:
    """(the site's report, cells) for a site line, (None, cells) for each of its checks."""

    def took(seconds: float | None) -> str:
        return _duration(seconds, language)

    rows: list[tuple[SiteReport | None, list[str]]] = []
    for r in reports:
        a = r.availability
        sla = f"{r.sla:g}%" if r.sla is not None else "-"
        cells = [r.site, text(language, "report.site_row"), format_percent(a.ratio), took(a.down), took(a.no_data)]
        cells += [took(a.maintenance), str(r.incidents.count), took(r.incidents.mttr), took(r.longest_outage)]
        rows.append((r, [*cells, sla, _verdict(r, language)]))
        for c in r.checks:
            ca = c.availability
            name = c.name if c.counted else text(language, "report.not_counted", check=c.name)
            cells = ["", name, format_percent(ca.ratio), took(ca.down), took(ca.no_data), took(ca.maintenance)]
            cells += [str(c.incidents.count), took(c.incidents.mttr), took(c.longest_outage), "", ""]
            rows.append((None, cells))
    return rows


def local_iso(at: float, timezone: str, *, z: bool = True) -> str:
    """ISO 8601 in ``timezone``: ``2026-11-01T00:00:00+03:00``; in UTC ``…Z`` (``+00:00`` when not ``z``)."""
    if timezone == "UTC" and z:
        return _iso(at)
    return dt.datetime.fromtimestamp(at, zone(timezone)).isoformat(timespec="seconds")


def render_table_report(
    reports: Sequence[SiteReport], period: Period, language: str = "en", timezone: str = "UTC"
) -> str:
    """An aligned plain-text table: a site line, then one line per check; headers and words in ``language``."""
    start, end = local_iso(period.start, timezone), local_iso(period.end, timezone)
    label = period.label  # "2026-11", or "last 30d" (English: the --since the operator typed)
    if language != "en" and not (len(label) == 7 and label[4] == "-"):
        label = text(language, "report.last", span=short_duration(period.end - period.start, language))
    heading = text(language, "report.table.heading", period=label, start=start, end=end, zone=timezone)
    headers = text(language, "report.table.cols").split("|")
    return f"{heading}\n\n{render_table(headers, [cells for _, cells in _text_rows(reports, language)])}\n"


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


def render(reports: Sequence[SiteReport], period: Period, fmt: Format) -> str:
    """The report in one of :data:`FORMATS`."""
    if fmt == "csv":
        return render_csv(reports, period)
    if fmt == "json":
        return json.dumps(as_json(reports, period), indent=2) + "\n"
    if fmt == "html":
        return render_html(reports, period)
    return render_table_report(reports, period)

"""A client's report: the same numbers, in the client's language and time zone, under its title.

HTML is for people: every word from the i18n catalog, percentages, durations and times as the
client's language writes them, times in its zone. CSV and JSON stay data: English keys and plain
numbers (scripts and spreadsheets read them), with the period's bounds as ISO 8601 in the client's
zone (``2026-11-01T00:00:00+03:00``) and, in JSON, who the client is.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from babel.dates import format_date

from sitewatch.i18n import duration, local_time, percent, text
from sitewatch.i18n.formats import zone
from sitewatch.reports.formats import Format, as_json, render, render_csv
from sitewatch.reports.report import Period, SiteReport

__all__ = ["ClientTerms", "render_for_client"]

_COLUMNS = ("site", "check", "availability", "downtime", "no_data", "maintenance", "incidents", "mttr", "longest")


@dataclass(frozen=True, slots=True)
class ClientTerms:
    """Who the report is for and how they read it."""

    name: str
    title: str
    language: str
    timezone: str


def _local_iso(at: float, timezone: str) -> str:
    return dt.datetime.fromtimestamp(at, zone(timezone)).isoformat(timespec="seconds")


def _label(period: Period, terms: ClientTerms) -> str:
    """``November 2026`` / ``ноябрь 2026`` for a month, else the period's own label."""
    if len(period.label) == 7 and period.label[4] == "-":
        first = dt.datetime.fromtimestamp(period.start, zone(terms.timezone)).date()
        return format_date(first, "LLLL yyyy", locale=terms.language)
    return period.label


def render_for_client(reports: Sequence[SiteReport], period: Period, fmt: Format, terms: ClientTerms) -> str:
    """The report of ``terms``' sites in ``fmt`` (``table`` stays the operator's English table)."""
    if fmt == "html":
        return _html(reports, period, terms)
    if fmt == "csv":
        return render_csv(reports, period, lambda at: _local_iso(at, terms.timezone))
    if fmt == "json":
        document = as_json(reports, period)
        document["period"].update(
            start=_local_iso(period.start, terms.timezone), end=_local_iso(period.end, terms.timezone)
        )
        document["client"] = {
            "name": terms.name,
            "title": terms.title,
            "language": terms.language,
            "timezone": terms.timezone,
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return render(reports, period, fmt)


def _rows(reports: Sequence[SiteReport], lang: str) -> list[tuple[str, list[str]]]:
    """(css class, cells) per site line and per check line."""

    def pct(ratio: float | None) -> str:
        return text(lang, "report.no_data") if ratio is None else percent(ratio, lang)

    def took(seconds: float | None) -> str:
        # A whole-second figure; none at all reads better as a dash than as "0 milliseconds".
        return "–" if seconds is None or round(seconds) == 0 else duration(round(seconds), lang)

    rows: list[tuple[str, list[str]]] = []
    for r in reports:
        a = r.availability
        verdict = "–" if r.sla is None else text(lang, "report.no_data")
        if r.met is not None:
            verdict = text(lang, "report.met" if r.met else "report.missed")
        css = "site" if r.met is None else ("site met" if r.met else "site missed")
        cells = [r.site, text(lang, "report.site_row"), pct(a.ratio), took(a.down), took(a.no_data)]
        cells += [took(a.maintenance), str(r.incidents.count), took(r.incidents.mttr), took(r.longest_outage)]
        cells += ["–" if r.sla is None else percent(r.sla / 100, lang), verdict]
        rows.append((css, cells))
        for c in r.checks:
            ca = c.availability
            name = c.name if c.counted else text(lang, "report.not_counted", check=c.name)
            cells = ["", name, pct(ca.ratio), took(ca.down), took(ca.no_data), took(ca.maintenance)]
            cells += [str(c.incidents.count), took(c.incidents.mttr), took(c.longest_outage), "", ""]
            rows.append(("check", cells))
    return rows


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.site td { font-weight: 600; border-top: 2px solid #999; }
tr.check td { color: #555; }
tr.missed td:last-child { color: #b00020; } tr.met td:last-child { color: #1b5e20; }
p.note { color: #555; max-width: 60em; }
"""


def _html(reports: Sequence[SiteReport], period: Period, terms: ClientTerms) -> str:
    """A self-contained page (inline CSS, no scripts); every value is escaped."""
    e = html.escape
    lang, tz = terms.language, terms.timezone
    span = text(lang, "report.period", start=local_time(period.start, tz, lang), end=local_time(period.end, tz, lang))
    title = text(lang, "report.heading", client=terms.title, period=_label(period, terms))
    head = "".join(f"<th>{e(text(lang, f'report.col.{c}'))}</th>" for c in (*_COLUMNS, "sla", "result"))
    body = "\n".join(
        f'<tr class="{css}">' + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>"
        for css, cells in _rows(reports, lang)
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{e(title)}</h1>\n<p>{e(span)}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        f'<p class="note">{e(text(lang, "report.note"))}</p>\n'
        "</body></html>\n"
    )

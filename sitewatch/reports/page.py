"""The report as an HTML page for people: every word from the i18n catalog, in the reader's zone.

One page serves the client (its title, language and zone: ``report --client``) and the operator
(``agent.language`` and ``agent.timezone``, titled with the words for "all sites"). Percentages,
durations and times are written as the reader's language writes them. The page is self-contained
(inline CSS, no scripts) and every value is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass

from babel.dates import format_date

from sitewatch.i18n import duration, local_time, percent, text
from sitewatch.i18n.formats import zone
from sitewatch.reports.report import Period, SiteReport

__all__ = ["ClientTerms", "operator_terms", "period_words", "render_html"]

_COLUMNS = ("site", "check", "availability", "downtime", "no_data", "maintenance", "incidents", "mttr", "longest")


@dataclass(frozen=True, slots=True)
class ClientTerms:
    """Who the report is for and how they read it (the operator's: no name, the words for "all sites")."""

    name: str
    title: str
    language: str
    timezone: str


def operator_terms(language: str = "en", timezone: str = "UTC") -> ClientTerms:
    """The operator's report: every site, in ``agent.language`` and ``agent.timezone``."""
    return ClientTerms("", text(language, "report.all_sites"), language, timezone)


def period_words(period: Period, language: str, timezone: str) -> str:
    """``November 2026`` / ``ноябрь 2026`` for a month, ``last 30 days`` / ``последние 30 дней`` otherwise."""
    if len(period.label) == 7 and period.label[4] == "-":
        first = dt.datetime.fromtimestamp(period.start, zone(timezone)).date()
        return format_date(first, "LLLL yyyy", locale=language)
    return text(language, "report.last", span=duration(period.end - period.start, language))


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
        site = f"{r.title} ({r.site})" if r.title else r.site
        cells = [site, text(lang, "report.site_row"), pct(a.ratio), took(a.down), took(a.no_data)]
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
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.site td { font-weight: 600; border-top: 2px solid #999; }
tr.check td { color: #555; }
tr.missed td:last-child { color: #b00020; } tr.met td:last-child { color: #1b5e20; }
table.breaches td, table.breaches th { text-align: left; vertical-align: top; }
table.breaches ul { margin: 0; padding-left: 1.2em; } li.late { color: #b00020; }
p.note { color: #555; max-width: 60em; }
"""


def render_html(
    reports: Sequence[SiteReport], period: Period, terms: ClientTerms | None = None, extra: str = ""
) -> str:
    """The whole page for ``terms`` (default: the operator's, in English and UTC); ``extra`` is HTML
    (already escaped) placed after the availability, e.g. the SLA compliance section."""
    terms = terms or operator_terms()
    e = html.escape
    lang, tz = terms.language, terms.timezone
    span = text(lang, "report.period", start=local_time(period.start, tz, lang), end=local_time(period.end, tz, lang))
    title = text(lang, "report.heading", client=terms.title, period=period_words(period, lang, tz))
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
        f"{extra}</body></html>\n"
    )

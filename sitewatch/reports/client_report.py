"""The report for the people who read it: a client's (its language and zone) or the operator's.

HTML is for people (:mod:`sitewatch.reports.page`), and so is the operator's table (headers and
words in ``agent.language``). CSV and JSON stay data: English keys and plain numbers (scripts and
spreadsheets read them); a client's carry the period's bounds as ISO 8601 in its zone
(``2026-11-01T00:00:00+03:00``) and, in JSON, who the client is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sitewatch.reports.formats import Format, as_json, local_iso, render, render_csv, render_table_report
from sitewatch.reports.page import ClientTerms, operator_terms, render_html
from sitewatch.reports.report import Period, SiteReport

__all__ = ["ClientTerms", "render_for_client", "render_for_operator"]


def render_for_client(
    reports: Sequence[SiteReport], period: Period, fmt: Format, terms: ClientTerms, language: str = "en"
) -> str:
    """``terms``' sites in ``fmt``; ``table`` is the operator's (in ``language``), in the client's zone."""
    if fmt == "html":
        return render_html(reports, period, terms)
    if fmt == "csv":
        return render_csv(reports, period, lambda at: local_iso(at, terms.timezone, z=False))
    if fmt == "json":
        document = as_json(reports, period)
        document["period"].update(
            start=local_iso(period.start, terms.timezone, z=False), end=local_iso(period.end, terms.timezone, z=False)
        )
        document["client"] = {
            "name": terms.name,
            "title": terms.title,
            "language": terms.language,
            "timezone": terms.timezone,
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return render_table_report(reports, period, language, terms.timezone)


def render_for_operator(
    reports: Sequence[SiteReport], period: Period, fmt: Format, language: str = "en", timezone: str = "UTC"
) -> str:
    """Every site's report: HTML and the table in ``language`` and ``timezone``; CSV and JSON as data (UTC)."""
    if fmt == "html":
        return render_html(reports, period, operator_terms(language, timezone))
    if fmt == "table":
        return render_table_report(reports, period, language, timezone)
    return render(reports, period, fmt)

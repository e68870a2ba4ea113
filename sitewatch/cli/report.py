"""``sitewatch report``: check the arguments, read the store read-only, print the report in the chosen format.

It opens the store read-only, so it can run beside the agent.
"""

from __future__ import annotations

import html
import json
import sqlite3
import sys

from sitewatch.config.models import Config
from sitewatch.reports.compliance import ClientCompliance, compliance, compliance_json, compliance_text
from sitewatch.reports.formats import Format, render
from sitewatch.reports.report import Period, ReportError, build_report, last, month
from sitewatch.store.database import Store

__all__ = ["make_report", "report_command"]


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
        clients = {s.client for s in sites} if site is not None else None
        sla = compliance(store, period.start, period.end, now, clients)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read {path}: {exc} (is it a sitewatch store?)") from None
    finally:
        store.close()
    return _with_compliance(render(reports, period, fmt), sla, fmt)


def _with_compliance(text: str, sla: list[ClientCompliance], fmt: Format) -> str:
    """The report with its SLA compliance section: a key of the JSON, a section after the table or the page."""
    if fmt == "json":
        document = json.loads(text)
        document["sla_compliance"] = compliance_json(sla)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return text + compliance_text(sla)
    if fmt == "html":
        section = f'<section id="sla-compliance"><pre>{html.escape(compliance_text(sla))}</pre></section>'
        return text.replace("</body>", section + "</body>") if "</body>" in text else text + section
    return text  # csv: one table of sites per file; the compliance is in the other formats


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

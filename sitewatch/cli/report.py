"""``sitewatch report``: check the arguments, read the store read-only, print the report in the chosen format.

It opens the store read-only, so it can run beside the agent. ``--client`` reports one client's
sites in its language and time zone (its months are its local months, for availability and SLA
compliance alike); ``--all-clients --out DIR`` writes one such file per client that has sites, for
the monthly mailing. Without ``--client`` the report is the operator's: ``agent.language`` and
``agent.timezone`` (its months are that zone's).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from sitewatch.config.specs import Config, SiteSpec
from sitewatch.reports.client_report import ClientTerms, render_for_client, render_for_operator
from sitewatch.reports.compliance import ClientCompliance, compliance, compliance_json
from sitewatch.reports.compliance_render import compliance_html, compliance_text
from sitewatch.reports.formats import Format
from sitewatch.reports.page import period_words
from sitewatch.reports.report import Period, ReportError, SiteReport, build_report, last, month
from sitewatch.store.database import Store

__all__ = ["make_report", "report_command", "write_client_reports"]

_SUFFIX = {"table": "txt", "csv": "csv", "json": "json", "html": "html"}


def _period(month_text: str | None, since: str | None, now: float, timezone: str = "UTC") -> Period:
    period = month(month_text, timezone) if month_text else last(since or "30d", now)
    if period.start >= now:
        raise ReportError(f"{period.label} has not started yet")
    # The future has no data yet: a current month is reported so far.
    return Period(period.start, min(period.end, now), period.label)


def _terms(config: Config, client: str) -> ClientTerms:
    book = config.client_book
    if client not in book.by_name:
        raise ReportError(f"no client {client!r} in {config.source} (clients: {', '.join(sorted(book.by_name))})")
    route = book.route(client, ())
    return ClientTerms(client, book.get(client).title or client, route.language, route.timezone)


def _sites(config: Config, site: str | None, client: str | None, tag: str | None) -> list[SiteSpec]:
    sites = [
        s
        for s in config.sites
        if (site is None or s.info.name == site)
        and (client is None or s.client == client)
        and (tag is None or tag in s.info.tags)
    ]
    if not sites:
        names = ", ".join(s.info.name for s in config.sites) or "none"
        if client is None and tag is None:
            raise ReportError(f"no site {site!r} in {config.source} (sites: {names})")
        wanted = ", ".join(f"{k} {v!r}" for k, v in (("site", site), ("client", client), ("tag", tag)) if v)
        raise ReportError(f"no site with {wanted} in {config.source} (sites: {names})")
    return sites


def _read(
    config: Config, sites: Sequence[SiteSpec], period: Period, now: float, clients: set[str] | None
) -> tuple[list[SiteReport], list[ClientCompliance]]:
    path = config.agent.state_dir / "sitewatch.db"
    if not path.is_file():
        raise ReportError(f"no history at {path}: has the agent run?")
    try:
        store = Store.open_readonly(path)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot open {path}: {exc}") from None
    try:
        reports = build_report(store, sites, period)
        return reports, compliance(store, period.start, period.end, now, clients)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read {path}: {exc} (is it a sitewatch store?)") from None
    finally:
        store.close()


def make_report(
    config: Config,
    *,
    site: str | None,
    month_text: str | None,
    since: str | None,
    fmt: Format,
    now: float,
    client: str | None = None,
    tag: str | None = None,
) -> str:
    """Validate the arguments, read the store read-only and render; raise :class:`ReportError`."""
    terms = _terms(config, client) if client is not None else None
    agent = config.agent
    period = _period(month_text, since, now, terms.timezone if terms else agent.timezone)
    sites = _sites(config, site, client, tag)
    # The compliance section covers the clients of the sites reported (all clients when unnarrowed).
    clients = {s.client for s in sites} if site is not None or client is not None or tag is not None else None
    reports, sla = _read(config, sites, period, now, clients)
    if terms is not None:
        text = render_for_client(reports, period, fmt, terms, agent.language)
        # The page is the client's; the table stays the operator's words, in the client's zone.
        reader = (terms.language, terms.timezone) if fmt == "html" else (agent.language, terms.timezone)
    else:
        text = render_for_operator(reports, period, fmt, agent.language, agent.timezone)
        reader = (agent.language, agent.timezone)
    titles = {name: config.client_book.get(name).title or name for name in config.client_book.by_name}
    return _with_compliance(text, sla, fmt, period=period, reader=reader, titles=titles)


def write_client_reports(
    config: Config, out: Path, *, month_text: str | None, since: str | None, fmt: Format, now: float, tag: str | None
) -> list[Path]:
    """One file per client with sites (in ``tag``, if given): ``<out>/<client>-<period>.<format>``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(config.client_book.by_name):
        if not any(s.client == name and (tag is None or tag in s.info.tags) for s in config.sites):
            continue
        body = make_report(
            config, site=None, month_text=month_text, since=since, fmt=fmt, now=now, client=name, tag=tag
        )
        label = month_text or f"last-{since or '30d'}"
        target = out / f"{name}-{label}.{_SUFFIX[fmt]}"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    if not written:
        raise ReportError(f"no client has sites{f' tagged {tag!r}' if tag else ''} in {config.source}")
    return written


def _with_compliance(
    text: str,
    sla: list[ClientCompliance],
    fmt: Format,
    *,
    period: Period,
    reader: tuple[str, str],
    titles: dict[str, str],
) -> str:
    """The report with its SLA compliance section: a key of the JSON, a section after the table or the page.

    ``reader`` is (language, zone) of whoever reads the table or the page.
    """
    language, timezone = reader
    if fmt == "json":
        document = json.loads(text)
        document["sla_compliance"] = compliance_json(sla)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return text + compliance_text(sla, language, timezone)
    if fmt == "html":
        section = compliance_html(sla, language, timezone, period_words(period, language, timezone), titles)
        return text.replace("</body>", section + "</body>", 1)
    return text  # csv: one table of sites per file; the compliance is in the other formats


def report_command(
    config: Config,
    *,
    site: str | None,
    month_text: str | None,
    since: str | None,
    fmt: Format,
    now: float,
    client: str | None = None,
    tag: str | None = None,
    all_clients: Path | None = None,
) -> int:
    """``sitewatch report``: print the report (or write one per client); 0, or 3 with a message when it cannot."""
    try:
        if all_clients is not None:
            for path in write_client_reports(
                config, all_clients, month_text=month_text, since=since, fmt=fmt, now=now, tag=tag
            ):
                print(path)
            return 0
        text = make_report(
            config, site=site, month_text=month_text, since=since, fmt=fmt, now=now, client=client, tag=tag
        )
    except (ReportError, OSError) as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return 3
    sys.stdout.write(text)
    return 0

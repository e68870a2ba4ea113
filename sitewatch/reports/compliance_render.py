"""The SLA compliance section for people: a plain-text block for the table, an HTML section for pages.

Both are in the reader's language (:mod:`sitewatch.i18n`), with times in the reader's zone. The
text block keeps ``1:07:05`` figures (the table is for a terminal); the HTML says durations as
the language writes them (``30 минут 1 секунда``) and percentages with the language's separator.
Every value in the HTML is escaped: site names and level names come from configs.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from babel.units import format_unit

from sitewatch.i18n import duration, local_time, percent, text
from sitewatch.reports.compliance import Breach, ClientCompliance, PriorityLine, client_month
from sitewatch.reports.page import period_words
from sitewatch.reports.table import render_table
from sitewatch.store.database import Store
from sitewatch.store.escalations import Fired

__all__ = ["client_section", "compliance_html", "compliance_text"]


def _hms(seconds: float | None) -> str:
    """``1:07:05``: hours, minutes, seconds (to the second, rounded down)."""
    if seconds is None:
        return "-"
    sign, whole = ("-" if seconds < 0 else ""), int(abs(seconds))
    return f"{sign}{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def compliance_text(report: Sequence[ClientCompliance], language: str = "en", timezone: str | None = None) -> str:
    """The table's "SLA compliance" block; times in ``timezone`` (default: each client's own zone)."""

    def t(message: str, **values: object) -> str:
        return text(language, message, **values)

    out = ["", t("compliance.text.heading")]
    if not report:
        return "\n".join([*out, "  " + t("compliance.text.none"), ""])
    for c in report:
        tz = timezone or c.timezone
        out.append("  " + t("compliance.text.client", client=c.client, zone=c.timezone))
        rows = [
            [ln.priority, str(ln.incidents), _hms(ln.response_target), _hms(ln.response_mean), _hms(ln.response_max)]
            + [str(ln.response_met), str(ln.response_breached), _hms(ln.resolve_target), _hms(ln.resolve_mean)]
            + [_hms(ln.resolve_max), str(ln.resolve_met), str(ln.resolve_breached), _pct(ln.met_percent)]
            for ln in c.lines
        ]
        out += ["    " + line for line in render_table(t("compliance.text.cols").split("|"), rows).splitlines()]
        for b in c.breaches:
            due = local_time(b.deadline, tz, language) if b.deadline is not None else t("compliance.paused")
            done = local_time(b.done_at, tz, language) if b.done_at is not None else t("compliance.not_yet")
            kind = t(f"compliance.text.kind.{b.kind}")
            values = {
                "priority": b.priority,
                "kind": kind,
                "key": b.key,
                "due": due,
                "done": done,
                "over": _hms(b.over),
            }
            out.append("    " + t("compliance.text.breach", **values))
            for f in b.steps:
                late = t("compliance.text.late", due=local_time(f.due_at, tz, language)) if f.late else ""
                at = local_time(f.fired_at, tz, language)
                said = t("compliance.text.repeat", count=f.repeat, level=f.level, at=at) if f.repeat else None
                out.append("      " + (said or t("compliance.text.step", level=f.level, at=at)) + late)
    return "\n".join([*out, ""])


class _Html:
    """The words and figures of one section, in one language and zone."""

    def __init__(self, language: str, timezone: str) -> None:
        self.language, self.timezone = language, timezone

    def t(self, message: str, **values: object) -> str:
        return html.escape(text(self.language, message, **values))

    def took(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        if round(seconds) < 1:  # i18n's duration speaks milliseconds below a second: a report speaks seconds
            return html.escape(format_unit(0, "duration-second", length="long", locale=self.language))
        return html.escape(duration(seconds, self.language, parts=3))

    def at(self, ts: float | None, absent: str) -> str:
        return self.t(absent) if ts is None else html.escape(local_time(ts, self.timezone, self.language))

    def pct(self, value: float | None) -> str:
        return "–" if value is None else html.escape(percent(value / 100, self.language))


def _line(w: _Html, ln: PriorityLine) -> str:
    cells = [html.escape(ln.priority), str(ln.incidents)]
    cells += [w.took(ln.response_target), w.took(ln.response_mean), w.took(ln.response_max)]
    cells += [str(ln.response_met), str(ln.response_breached)]
    cells += [w.took(ln.resolve_target), w.took(ln.resolve_mean), w.took(ln.resolve_max)]
    cells += [str(ln.resolve_met), str(ln.resolve_breached), w.pct(ln.met_percent)]
    missed = ln.response_breached + ln.resolve_breached
    return f'<tr class="{"missed" if missed else "met"}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _step(w: _Html, f: Fired) -> str:
    lang, tz = w.language, w.timezone
    timing = text(lang, "compliance.late", due=local_time(f.due_at, tz, lang)) if f.late else None
    timing = timing or text(lang, "compliance.on_time")
    values = {"level": f.level, "at": local_time(f.fired_at, tz, lang), "timing": timing}
    said = w.t("compliance.step_repeat", count=f.repeat, **values) if f.repeat else w.t("compliance.step", **values)
    late = ' class="late"' if f.late else ""
    return f'<li data-level="{html.escape(f.level)}"{late}>{said}</li>'


def _breach(w: _Html, b: Breach) -> str:
    steps = "<ul>" + "".join(_step(w, f) for f in b.steps) + "</ul>" if b.steps else w.t("compliance.no_steps")
    cells = [f"{html.escape(b.site)}<br><small>{html.escape(b.key)}</small>", html.escape(b.priority)]
    cells += [w.t(f"compliance.kind.{b.kind}"), w.at(b.opened_at, "compliance.not_yet")]
    cells += [w.at(b.deadline, "compliance.paused"), w.at(b.done_at, "compliance.not_yet"), w.took(b.over), steps]
    return (
        f'<tr data-incident="{html.escape(b.key)}" data-goal="{b.kind}">'
        + "".join(f"<td>{c}</td>" for c in cells)
        + "</tr>"
    )


def compliance_html(
    report: Sequence[ClientCompliance],
    language: str,
    timezone: str,
    period: str,
    titles: Mapping[str, str] | None = None,
) -> str:
    """``<section id="sla-compliance">``: per client a table of priorities and one of breaches.

    ``period`` names the period as the reader says it; ``titles`` are the clients' names for people.
    """
    w = _Html(language, timezone)
    out = [f'<section id="sla-compliance">\n<h2>{w.t("compliance.heading", period=period)}</h2>']
    if not report:
        out.append(f'<p class="none">{w.t("compliance.none")}</p>')
    sub = "".join(f"<th>{w.t(f'compliance.col.{c}')}</th>" for c in ("target", "mean", "max", "met", "missed"))
    for c in report:
        name = (titles or {}).get(c.client) or c.client
        out.append(f'<h3 data-client="{html.escape(c.client)}">{html.escape(name)}</h3>')
        out.append(
            '<table class="sla"><thead><tr>'
            f'<th rowspan="2">{w.t("compliance.col.priority")}</th>'
            f'<th rowspan="2">{w.t("compliance.col.incidents")}</th>'
            f'<th colspan="5">{w.t("compliance.col.response")}</th><th colspan="5">{w.t("compliance.col.resolve")}</th>'
            f'<th rowspan="2">{w.t("compliance.col.met_percent")}</th></tr>'
            f"<tr>{sub}{sub}</tr></thead><tbody>\n" + "\n".join(_line(w, ln) for ln in c.lines) + "\n</tbody></table>"
        )
        if c.breaches:
            heads = ("incident", "priority", "goal", "opened", "due", "done", "over", "steps")
            head = "".join(f"<th>{w.t(f'compliance.col.{h}')}</th>" for h in heads)
            out.append(f"<h4>{w.t('compliance.breaches', count=len(c.breaches))}</h4>")
            out.append(
                f'<table class="breaches"><thead><tr>{head}</tr></thead><tbody>\n'
                + "\n".join(_breach(w, b) for b in c.breaches)
                + "\n</tbody></table>"
            )
    out.append(f'<p class="note">{w.t("compliance.note")}</p>\n</section>\n')
    return "\n".join(out)


def client_section(store: Store, client: str, title: str, reader: tuple[str, str], now: float) -> str:
    """The section of ``client``'s month so far (its zone's month), for its own page; ``reader`` is (language, zone)."""
    language, timezone = reader
    period, found = client_month(store, client, timezone, now)
    words = period_words(period, language, timezone)
    return compliance_html([found] if found else [], language, timezone, words, {client: title})

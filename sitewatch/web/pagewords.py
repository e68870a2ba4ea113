"""The formatting helpers the status page template reads: words, times and units in the reader's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sitewatch.i18n import finding, local_time, percent, plural, severity_word, short_duration, text
from sitewatch.store.sla import IncidentSla

__all__ = ["page_filters"]


def page_filters(now: float, language: str, timezone: str) -> dict[str, Any]:
    """Formatting helpers handed to the template: every word, time and unit in ``language``, times
    local to ``timezone`` with its name."""

    def iso(ts: float | None) -> str:
        return "–" if ts is None else local_time(ts, timezone, language)

    def iso_text(stamp: str) -> str:  # an API timestamp ("2026-12-07T00:15:00Z")
        return iso(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())

    def ago(ts: float | None) -> str:
        if ts is None:
            return text(language, "page.never")
        return text(language, "page.ago", time=short_duration(max(now - ts, 0.0), language))

    def took(seconds: float | None) -> str:
        return "–" if seconds is None else short_duration(seconds, language)

    def pct(ratio: float | None) -> str:
        return text(language, "page.no_data") if ratio is None else percent(ratio, language)

    def deadline(sla: IncidentSla, kind: str) -> str:
        """A goal's deadline in the client's zone and language, and how it stands in the page's language."""
        goal = sla.clock.response if kind == "response" else sla.clock.resolve
        when = "–" if goal.deadline is None else local_time(goal.deadline, sla.timezone, sla.language)
        return f"{when} ({text(language, f'sla.{goal.outcome}')})"

    return {
        "lang": language,
        "iso": iso,
        "iso_text": iso_text,
        "ago": ago,
        "took": took,
        "pct": pct,
        "deadline": deadline,
        "t": lambda message, **values: text(language, message, **values),
        "plural": lambda message, count, **values: plural(language, message, count, **values),
        "severity": lambda status: severity_word(status, language),
        "finding": lambda summary: finding(summary, language),
    }

"""Ticket texts: what failed, since when, how bad, and what the client was promised.

English and Russian (the support team and many clients work in Russian), picked by
``tickets.language``; times in ``agent.timezone``. The payload carries both, so every sink
renders alike. Words, plurals, durations and dates come from ``sitewatch.i18n``.
"""

from __future__ import annotations

import string
from typing import Any

from sitewatch.i18n import duration, finding, local_time, severity_word, text
from sitewatch.tickets.evidence import evidence_lines

__all__ = ["body", "comment", "site_label", "title"]

_TITLE_MAX = 200

#: A summary can quote the probed site (a matched phrase, a ping body): keep tickets readable.
_SUMMARY_MAX = 500


def _summary(p: dict[str, Any]) -> str:
    """The payload's summary as one printable line of bounded length (it may carry a site's text)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(p.get("summary") or "")).split())
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _lang(p: dict[str, Any]) -> str:
    return str(p.get("language") or "en")


def _when(p: dict[str, Any], ts: float) -> str:
    """Local time in the payload's zone and language, with the zone's name."""
    return local_time(ts, str(p.get("timezone") or "UTC"), _lang(p))


def _t(p: dict[str, Any], name: str, **values: Any) -> str:
    return text(_lang(p), f"ticket.{name}", **values)


def _finding(p: dict[str, Any]) -> str:
    """The summary in the reader's language (the English one stays in logs and the API)."""
    return finding(_summary(p), _lang(p))


def _fields(p: dict[str, Any]) -> dict[str, str]:
    opened, at = p.get("opened_at") or p["at"], p["at"]
    return {
        **{k: str(p.get(k) or "") for k in ("site", "check", "severity", "priority", "key", "url", "agent")},
        "site_title": str(p.get("site_title") or p.get("site") or ""),
        "summary": _finding(p),
        "runbook": str(p.get("runbook") or ""),
        "since": _when(p, opened),
        "at": _when(p, at),
        "downtime": duration(at - opened, _lang(p)),
        **(_deadlines(p) if p.get("sla") else {"respond_by": "", "resolve_by": ""}),
    }


def _override(p: dict[str, Any], name: str) -> str | None:
    """An ops-supplied template for this sink, filled in; None to use the built-in text."""
    template = (p.get("templates") or {}).get(name)
    return string.Template(template).safe_substitute(_fields(p)) if template else None


def site_label(p: dict[str, Any]) -> str:
    """The site as people know it: ``title (name)`` when the site has a ``title:``, else its name."""
    name, shown = str(p.get("site") or ""), str(p.get("site_title") or "")
    return f"{shown} ({name})" if shown else name


def title(p: dict[str, Any]) -> str:
    """``[sitewatch] shop http CRITICAL: HTTP 503 …``, in the ticket's language (bounded).

    The ``[sitewatch] site check`` prefix is the same in every language; sinks find tickets by
    the incident key, never by title.
    """
    severity = str(p.get("severity") or "")
    word = severity.upper() if _lang(p) == "en" else severity_word(severity, _lang(p)).upper()
    line = _override(p, "title") or f"[sitewatch] {p['site']} {p['check']} {word}: {_finding(p)}"
    return line if len(line) <= _TITLE_MAX else line[: _TITLE_MAX - 1] + "…"


#: Dependent checks named in a parent's ticket before "…" (the count is always complete).
AFFECTED_SHOWN = 100


def body(p: dict[str, Any]) -> str:
    """The first ticket text: enough for the engineer on duty to start without opening anything else."""
    if (custom := _override(p, "body")) is not None:
        return custom
    lang, severity = _lang(p), str(p.get("severity") or "critical")
    what = "what_warning" if severity == "warning" else "what"  # a warning never says the site is down
    lines = [
        _t(p, what, check=p["check"], site=site_label(p), url=p.get("url", "")),
        _t(p, "finding", summary=_finding(p)),
        _t(p, "severity", severity=severity_word(severity, lang), priority=p["priority"]),
    ]
    sla = p.get("sla")
    if sla:
        response, resolve = duration(sla["response"], lang), duration(sla["resolve"], lang)
        lines.append(_t(p, "sla", priority=p["priority"], response=response, resolve=resolve))
    if p.get("respond_by") or p.get("resolve_by"):
        lines.append(_t(p, "deadlines", **_deadlines(p)))
    since = f"since.{severity}" if severity in {"critical", "error", "warning"} else "since.critical"
    lines += [
        _t(p, since, since=_when(p, p["opened_at"])),
        _t(p, "key", key=p["key"]),
        _t(p, "agent", agent=p.get("agent", "")),
    ]
    if p.get("runbook"):
        lines.append(_t(p, "runbook", runbook=p["runbook"]))
    if p.get("flapping"):
        lines.append(_t(p, "flapping"))
    affected = [str(a) for a in p.get("affected") or ()]
    if affected:
        shown = ", ".join(affected[:AFFECTED_SHOWN]) + (", …" if len(affected) > AFFECTED_SHOWN else "")
        lines.append(_t(p, "affected", count=len(affected), names=shown))
    details = p.get("details") or {}
    if details:
        lines += ["", _t(p, "evidence"), *evidence_lines(details, lang)]
    return "\n".join(lines)


def _deadlines(p: dict[str, Any]) -> dict[str, str]:
    """Respond-by and resolve-by in the client's zone and language; a paused clock says so."""
    return {
        name: _when(p, float(p[name])) if p.get(name) is not None else _t(p, "paused")
        for name in ("respond_by", "resolve_by")
    }


def comment(p: dict[str, Any]) -> str:
    """A follow-up: severity change, escalation step, or recovery with the downtime."""
    if p["event"] == "escalated":  # written when the step fired (tickets/oncall_text.py); no template replaces it
        return str(p.get("comment_text") or "")
    if (custom := _override(p, "comment")) is not None:
        return custom
    lang = _lang(p)
    if p["event"] == "resolved":
        downtime = duration(p["at"] - p["opened_at"], lang)
        return _t(p, "recovered", at=_when(p, p["at"]), summary=_finding(p), downtime=downtime)
    text = _t(p, "changed", severity=severity_word(p["severity"], lang), at=_when(p, p["at"]), summary=_finding(p))
    if p.get("previous_priority") and (p.get("respond_by") or p.get("resolve_by")):
        moved = _t(p, "priority_changed", previous=p["previous_priority"], priority=p["priority"], **_deadlines(p))
        text = f"{text}\n{moved}"
    return text

"""Ticket texts: what failed, since when, how bad, and what the client was promised.

English and Russian (the support team and many clients work in Russian), picked by
``tickets.language``; the payload carries the language so every sink renders alike.
"""

from __future__ import annotations

import datetime as dt
import json
import string
from typing import Any

from sitewatch.probe import format_duration

__all__ = ["body", "comment", "title"]

_TITLE_MAX = 200

_TEXT = {
    "en": {
        "what": "What failed: {check} check of site {site} ({url})",
        "finding": "Finding: {summary}",
        "severity": "Severity: {severity}; priority {priority}",
        "sla": "SLA for {priority}: respond within {response}, resolve within {resolve}",
        "since": "Failing since: {since}",
        "key": "Incident key: {key}",
        "agent": "Agent: {agent}",
        "runbook": "Runbook: {runbook}",
        "flapping": "Note: this check is flapping (changing state often); one ticket covers the whole period.",
        "details": "Details:",
        "recovered": "Recovered at {at}: {summary}. Downtime {downtime}. Resolved by sitewatch.",
        "changed": "Severity is now {severity} ({at}): {summary}",
    },
    "ru": {
        "what": "Что сломалось: проверка {check} сайта {site} ({url})",
        "finding": "Результат: {summary}",
        "severity": "Серьёзность: {severity}; приоритет {priority}",
        "sla": "SLA для {priority}: реакция в течение {response}, решение в течение {resolve}",
        "since": "Не работает с: {since}",
        "key": "Ключ инцидента: {key}",
        "agent": "Агент: {agent}",
        "runbook": "Инструкция: {runbook}",
        "flapping": "Внимание: проверка «мигает» (часто меняет состояние); один тикет на весь период.",
        "details": "Подробности:",
        "recovered": "Восстановлено {at}: {summary}. Простой {downtime}. Закрыто sitewatch.",
        "changed": "Серьёзность изменилась на {severity} ({at}): {summary}",
    },
}


#: A summary can quote the probed site (a matched phrase, a ping body): keep tickets readable.
_SUMMARY_MAX = 500


def _summary(p: dict[str, Any]) -> str:
    """The payload's summary as one printable line of bounded length (it may carry a site's text)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(p.get("summary") or "")).split())
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _t(p: dict[str, Any], name: str, **values: Any) -> str:
    return _TEXT.get(p.get("language", "en"), _TEXT["en"])[name].format(**values)


def _fields(p: dict[str, Any]) -> dict[str, str]:
    opened, at = p.get("opened_at") or p["at"], p["at"]
    return {
        **{k: str(p.get(k) or "") for k in ("site", "check", "severity", "priority", "key", "url", "agent")},
        "summary": _summary(p),
        "runbook": str(p.get("runbook") or ""),
        "since": _when(opened),
        "at": _when(at),
        "downtime": format_duration(at - opened),
    }


def _override(p: dict[str, Any], name: str) -> str | None:
    """An ops-supplied template for this sink, filled in; None to use the built-in text."""
    template = (p.get("templates") or {}).get(name)
    return string.Template(template).safe_substitute(_fields(p)) if template else None


def title(p: dict[str, Any]) -> str:
    """``[sitewatch] shop http CRITICAL: HTTP 503 …`` (bounded; identical in every language for search)."""
    text = (
        _override(p, "title")
        or f"[sitewatch] {p['site']} {p['check']} {str(p['severity'] or '').upper()}: {_summary(p)}"
    )
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def body(p: dict[str, Any]) -> str:
    """The first ticket text: enough for the engineer on duty to start without opening anything else."""
    if (custom := _override(p, "body")) is not None:
        return custom
    lines = [
        _t(p, "what", check=p["check"], site=p["site"], url=p.get("url", "")),
        _t(p, "finding", summary=_summary(p)),
        _t(p, "severity", severity=p["severity"], priority=p["priority"]),
    ]
    sla = p.get("sla")
    if sla:
        response, resolve = format_duration(sla["response"]), format_duration(sla["resolve"])
        lines.append(_t(p, "sla", priority=p["priority"], response=response, resolve=resolve))
    lines += [
        _t(p, "since", since=_when(p["opened_at"])),
        _t(p, "key", key=p["key"]),
        _t(p, "agent", agent=p.get("agent", "")),
    ]
    if p.get("runbook"):
        lines.append(_t(p, "runbook", runbook=p["runbook"]))
    if p.get("flapping"):
        lines.append(_t(p, "flapping"))
    details = p.get("details") or {}
    if details:
        lines += ["", _t(p, "details"), json.dumps(details, indent=2, ensure_ascii=False, default=str)[:4000]]
    return "\n".join(lines)


def comment(p: dict[str, Any]) -> str:
    """A follow-up: severity change or recovery with the downtime."""
    if (custom := _override(p, "comment")) is not None:
        return custom
    if p["event"] == "resolved":
        downtime = format_duration(p["at"] - p["opened_at"])
        return _t(p, "recovered", at=_when(p["at"]), summary=_summary(p), downtime=downtime)
    return _t(p, "changed", severity=p["severity"], at=_when(p["at"]), summary=_summary(p))

"""Ticket texts: what failed, since when, how bad, and what the client was promised."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sitewatch.probe import format_duration

__all__ = ["comment", "priority_for", "title", "body"]

_TITLE_MAX = 200


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def priority_for(severity: str | None) -> str:
    """Default mapping until per-site importance lands: critical/error → P2, warning → P3."""
    return "P3" if severity == "warning" else "P2"


def title(p: dict[str, Any]) -> str:
    """``[sitewatch] shop http CRITICAL: HTTP 503 …`` (bounded)."""
    text = f"[sitewatch] {p['site']} {p['check']} {str(p['severity'] or '').upper()}: {p['summary']}"
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def body(p: dict[str, Any]) -> str:
    """The first ticket text: enough for the engineer on duty to start without opening anything else."""
    lines = [
        f"What failed: {p['check']} check of site {p['site']} ({p.get('url', '')})",
        f"Finding: {p['summary']}",
        f"Severity: {p['severity']}; priority {p['priority']}",
        f"Failing since: {_when(p['opened_at'])}",
        f"Incident key: {p['key']}",
        f"Agent: {p.get('agent', '')}",
    ]
    if p.get("flapping"):
        lines.append("Note: this check is flapping (changing state often); one ticket covers the whole period.")
    details = p.get("details") or {}
    if details:
        lines += ["", "Details:", json.dumps(details, indent=2, ensure_ascii=False, default=str)[:4000]]
    return "\n".join(lines)


def comment(p: dict[str, Any]) -> str:
    """A follow-up: severity change or recovery with the downtime."""
    if p["event"] == "resolved":
        downtime = format_duration(p["at"] - p["opened_at"])
        return f"Recovered at {_when(p['at'])}: {p['summary']}. Downtime {downtime}. Resolved by sitewatch."
    return f"Severity is now {p['severity']} ({_when(p['at'])}): {p['summary']}"

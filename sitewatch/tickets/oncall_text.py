"""The texts of escalation steps: the on-call message and the ticket comment, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sitewatch.i18n import finding, local_time, text

__all__ = ["step_comment", "step_message"]


def step_message(p: Mapping[str, Any]) -> str:
    """The on-call message of a step, in the payload's language and zone."""
    lang, zone = str(p.get("language") or "en"), str(p.get("timezone") or "UTC")
    info = p["escalation"]
    summary = finding(" ".join(str(p.get("summary") or "").split())[:500], lang)  # the reader's language
    lines = [
        text(
            lang,
            "oncall.title",
            priority=p.get("priority") or "",
            site=p.get("site"),
            check=p.get("check"),
            summary=summary,
        ),
        text(lang, "oncall.level", level=info["level"], since=local_time(float(p["opened_at"]), zone, lang)),
    ]
    if info["repeat"]:
        lines.append(text(lang, "oncall.repeat", count=info["repeat"]))
    if p.get("respond_by") is not None:
        lines.append(text(lang, "oncall.respond_by", at=local_time(float(p["respond_by"]), zone, lang)))
    lines.append(text(lang, "ticket.key", key=p.get("key")))
    if info["late"]:
        lines.append(text(lang, "oncall.late", due=local_time(float(info["due_at"]), zone, lang)))
    return "\n".join(lines)


def step_comment(p: Mapping[str, Any], targets: Sequence[str]) -> str:
    """The ticket comment of a step's first firing."""
    lang, zone = str(p.get("language") or "en"), str(p.get("timezone") or "UTC")
    info = p["escalation"]
    at = local_time(float(p["at"]), zone, lang)
    if info["late"]:
        due = local_time(float(info["due_at"]), zone, lang)
        return text(lang, "ticket.escalated_late", level=info["level"], at=at, due=due, targets=", ".join(targets))
    return text(lang, "ticket.escalated", level=info["level"], at=at, targets=", ".join(targets))

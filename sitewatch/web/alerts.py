"""Alertmanager's webhook payload (version 4) and what each alert in it means for an incident.

Pure: the payload is validated, and each alert becomes a plan (its incident key,
severity, priority, site, summary) that :class:`~sitewatch.web.alertmanager.AlertmanagerBridge`
applies to the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch.incidents.priority import priority_for
from sitewatch.probe import Status, redact_url

__all__ = ["MAX_ALERTS", "clean", "alert_key", "severity_for"]

#: Alertmanager's default max_alerts is 0 (unlimited); a grouped flood is still one request.
MAX_ALERTS = 1000
_SUMMARY_MAX = 200
_TEXT_MAX = 2000
_LABELS_MAX = 64
_LABEL_VALUE_MAX = 200
_LOCATIONS_MAX = 50
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{1,32}")


#: severity label → sitewatch status. Alertmanager has no fixed vocabulary; these are the common ones.
_SEVERITY = {
    "critical": Status.CRITICAL,
    "page": Status.CRITICAL,
    "emergency": Status.CRITICAL,
    "alert": Status.CRITICAL,
    "error": Status.CRITICAL,
    "high": Status.CRITICAL,
    "major": Status.CRITICAL,
    "warning": Status.WARNING,
    "warn": Status.WARNING,
    "minor": Status.WARNING,
    "medium": Status.WARNING,
}


#: Severities that are worth a ticket but no hurry: warning, and P4 whatever the importance.
_LOW = frozenset({"info", "informational", "notice", "low", "none"})


_PRIORITIES = ("P1", "P2", "P3", "P4")


class _In(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class _Alert(_In):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: str = ""  # field names as Alertmanager spells them
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""


class _Payload(_In):
    version: str
    groupKey: str = ""
    status: Literal["firing", "resolved"] | None = None
    receiver: str = ""
    externalURL: str = ""
    alerts: Annotated[list[_Alert], pydantic.Field(max_length=MAX_ALERTS)]


def clean(text: object, limit: int) -> str:
    """Printable, single-spaced, at most ``limit`` characters: payload text is never trusted."""
    flat = "".join(c if c.isprintable() else " " for c in str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def alert_key(fingerprint: str, labels: Mapping[str, str]) -> str:
    """``am:v1:<fingerprint>``; without a usable fingerprint, the same kind of hash of the sorted labels."""
    if _FINGERPRINT.fullmatch(fingerprint):
        return f"am:v1:{fingerprint.lower()}"
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return f"am:v1:{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def severity_for(labels: Mapping[str, str], importance: str = "normal") -> tuple[Status, str]:
    """(status, priority) from the ``severity``, ``priority`` and ``importance`` labels."""
    raw = labels.get("severity", "").strip().lower()
    status = _SEVERITY.get(raw, Status.WARNING)  # unknown or missing: worth a look, not a page
    level = labels.get("importance", "").strip().lower()
    importance = level if level in ("high", "normal", "low") else importance
    priority = labels.get("priority", "").strip().upper()
    if priority not in _PRIORITIES:
        priority = "P4" if raw in _LOW else priority_for(status.value, importance)
    return status, priority


def _label_name(labels: Mapping[str, str], *names: str, default: str) -> str:
    for name in names:
        value = clean(labels.get(name, ""), 100)
        if value:
            return value
    return default


def _timestamp(text: str) -> float | None:
    """RFC 3339 → unix seconds; Alertmanager's zero time (0001-01-01) and junk → None."""
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.year < 2000:
        return None
    return parsed.timestamp()


def _link(url: str) -> str:
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return ""
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return ""
    return clean(redact_url(parsed), 500)


@dataclass(frozen=True, slots=True)
class _Planned:
    """One alert, validated and mapped, waiting to be applied."""

    key: str
    firing: bool
    site: str
    check: str
    status: Status
    priority: str
    summary: str
    starts: float | None
    ends: float | None
    url: str
    details: dict[str, Any]


def _plan(alert: _Alert, payload: _Payload, importance: str) -> _Planned:
    labels = dict(list(alert.labels.items())[:_LABELS_MAX])
    status, priority = severity_for(labels, importance)
    annotations = alert.annotations
    check = _label_name(labels, "alertname", default="alert")
    summary = clean(annotations.get("summary") or annotations.get("description") or check, _SUMMARY_MAX)
    details: dict[str, Any] = {
        "source": "alertmanager",
        "labels": {clean(k, 100): clean(v, _LABEL_VALUE_MAX) for k, v in labels.items()},
        "fingerprint": clean(alert.fingerprint, 64) or None,
        "starts_at": clean(alert.startsAt, 40) or None,
        "receiver": clean(payload.receiver, 100) or None,
        "alertmanager": _link(payload.externalURL) or None,
    }
    if annotations.get("description"):
        details["description"] = clean(annotations["description"], _TEXT_MAX)
    if annotations.get("locations"):  # `sitewatch rules --quorum`: the agents that see it failing
        details["locations"] = sorted({clean(w, 100) for w in annotations["locations"].split()})[:_LOCATIONS_MAX]
    if annotations.get("runbook_url"):
        details["runbook"] = _link(annotations["runbook_url"]) or None
    return _Planned(
        key=alert_key(alert.fingerprint, alert.labels),
        firing=alert.status == "firing",
        site=_label_name(labels, "site", "instance", "job", default="alertmanager"),
        check=check,
        status=status,
        priority=priority,
        summary=summary,
        starts=_timestamp(alert.startsAt),
        ends=_timestamp(alert.endsAt),
        url=_link(alert.generatorURL) or _link(payload.externalURL),
        details={k: v for k, v in details.items() if v is not None},
    )

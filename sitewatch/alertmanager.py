"""``POST /alertmanager``: Alertmanager's webhook (version 4) turned into sitewatch incidents.

Each alert becomes an incident keyed ``am:v1:<fingerprint>`` (Alertmanager's hash of the
alert's label set, so the same alert keeps its key across repeats, restarts and HA peers).
A firing alert opens it, a resolved one resolves it; both go through the same store and
outbox as the checks' incidents, so the desks see the same dedup, retries and texts.

Everything in the payload is untrusted: it is validated whole before anything is written
(a bad payload changes nothing), and every string that reaches a ticket is made printable
and truncated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
import yarl
from aiohttp import web

from sitewatch.logs import event
from sitewatch.probe import Size, Status, redact_url
from sitewatch.state import EventKind, IncidentEvent
from sitewatch.store import OpenIncident, Store
from sitewatch.tickets.render import priority_for
from sitewatch.tickets.settings import TicketsConfig
from sitewatch.webauth import WebSecurity

__all__ = ["PATH", "AlertmanagerBridge", "AlertmanagerConfig", "alert_key", "severity_for"]

PATH = "/alertmanager"
#: Alertmanager's default max_alerts is 0 (unlimited); a grouped flood is still one request.
MAX_ALERTS = 1000
_SUMMARY_MAX = 200
_TEXT_MAX = 2000
_LABELS_MAX = 64
_LABEL_VALUE_MAX = 200
#: Alertmanager's payload is 4 levels deep; deeper documents are refused before anything walks them.
MAX_DEPTH = 32
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


class AlertmanagerConfig(pydantic.BaseModel):
    """``agent.alertmanager:`` — accept Alertmanager's webhook at ``POST /alertmanager``."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    #: Bearer token Alertmanager sends (http_config.authorization.credentials); put it in ${ENV} or ${file:…}.
    token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: Request bodies above this are refused with 413 (lower Alertmanager's max_alerts instead).
    max_body: Size = 1024 * 1024
    #: Site importance for the priority matrix when an alert has no ``importance`` label.
    importance: Literal["high", "normal", "low"] = "normal"


# -- the payload, as Alertmanager documents it (extra fields ignored: newer versions add some) --


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


# -- mapping -----------------------------------------------------------------------------------


def _too_deep(document: object) -> bool:
    """True when lists and objects nest deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


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


# -- the HTTP handler --------------------------------------------------------------------------


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status, headers=headers)


class AlertmanagerBridge:
    """Validates, authenticates and applies Alertmanager notifications."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        store: Store,
        sinks: Sequence[str],
        log: logging.Logger,
        *,
        tickets: Callable[[], TicketsConfig] = TicketsConfig,
        security: WebSecurity | None = None,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._sinks = tuple(sinks)
        self._log = log
        self._tickets = tickets
        self._users = security if security is not None and security.users else None
        self._on_change = on_change
        self._clock = clock
        self._agent = socket.gethostname()

    async def authorized(self, header: str | None) -> bool:
        """A matching bearer token, or a web-config basic-auth user (Alertmanager sends one or the other)."""
        header = header or ""
        token = self._config.token
        if token is not None and header[:7].lower() == "bearer ":
            return hmac.compare_digest(header[7:].strip().encode(), token.encode())
        return self._users is not None and await self._users.check(header)

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /alertmanager``: 200 with what changed, or a 4xx/5xx JSON error and no change."""
        if request.method != "POST":
            return _error(405, "use POST with Alertmanager's webhook JSON", Allow="POST")
        if not await self.authorized(request.headers.get("Authorization")):
            event(self._log, logging.WARNING, "alertmanager_unauthorized", peer=request.remote or "")
            scheme = "Bearer" if self._config.token is not None else "Basic"
            return _error(401, "missing or wrong credentials", **{"WWW-Authenticate": f'{scheme} realm="sitewatch"'})
        raw = await self._read(request)
        if raw is None:
            return _error(413, f"body larger than {self._config.max_body} bytes; lower max_alerts in Alertmanager")
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body is not JSON")
        except RecursionError:  # the parser's own recursion limit: far deeper than any payload
            return _error(400, f"JSON nested deeper than {MAX_DEPTH} levels; not an Alertmanager payload")
        if _too_deep(document):
            return _error(400, f"JSON nested deeper than {MAX_DEPTH} levels; not an Alertmanager payload")
        if not isinstance(document, dict):
            return _error(400, "expected a JSON object (Alertmanager webhook payload)")
        if "version" not in document:
            return _error(400, "no version field; expected Alertmanager's webhook payload, version '4'")
        if document["version"] != "4":
            return _error(400, f"unsupported webhook version {clean(document['version'], 20)!r}; expected '4'")
        try:
            payload = _Payload.model_validate(document)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _error(400, f"invalid payload at {clean(where, 100)}: {clean(first['msg'], 200)}")
        plans = [_plan(a, payload, self._config.importance) for a in payload.alerts]
        try:
            counts = self._apply(plans)
        except sqlite3.Error as exc:
            # Alertmanager retries a 5xx, so an unwritable store delays the ticket instead of losing it.
            event(self._log, logging.ERROR, "alertmanager_store_failed", error=str(exc))
            return _error(503, "cannot write the incident store; Alertmanager will retry")
        if counts["opened"] or counts["resolved"] or counts["updated"]:
            self._on_change()
        return web.json_response({"status": "ok", **counts})

    async def _read(self, request: web.Request) -> bytes | None:
        limit = self._config.max_body
        if request.content_length is not None and request.content_length > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _apply(self, plans: list[_Planned]) -> dict[str, int]:
        counts = {"opened": 0, "updated": 0, "resolved": 0, "unchanged": 0}
        now = self._clock()
        # No await from this read to the last write: the event loop makes the batch atomic,
        # and the store's one-open-incident-per-key index backs that up.
        open_now = self._store.open_incidents()
        for plan in plans:
            kind = self._apply_one(plan, now, open_now.get(plan.key))
            counts[kind or "unchanged"] += 1
            if kind is not None:  # the same alert twice in one batch must see its own change
                open_now = self._store.open_incidents()
        return counts

    def _apply_one(self, plan: _Planned, now: float, current: OpenIncident | None) -> str | None:
        change: EventKind
        if plan.firing:
            if current is None:
                change = "opened"
            elif current.severity != plan.status.value:
                old = Status(current.severity) if current.severity else Status.CRITICAL
                change = "worsened" if plan.status.rank > old.rank else "improved"
            else:
                return None  # a repeat notification (repeat_interval): the ticket exists
        elif current is None:
            return None  # resolved for an alert we never opened (or already resolved)
        else:
            change = "resolved"
        # The store and the outbox record when sitewatch heard of it (so outbox ages stay true);
        # the ticket says what Alertmanager says: failing since startsAt, over at endsAt.
        since = current.opened_at if current is not None else now
        if plan.starts is not None and plan.starts <= now:
            since = plan.starts
        shown = now
        if change == "resolved" and plan.ends is not None and since <= plan.ends <= now:
            shown = plan.ends
        severity = None if change == "resolved" else plan.status
        incident = IncidentEvent(change, now, severity, plan.summary, since)
        payload = {**self._payload(plan, incident), "at": shown}
        try:
            self._store.record(
                plan.key,
                incident,
                site=plan.site,
                check=plan.check,
                sinks=self._sinks,
                payload=payload,
            )
        except sqlite3.IntegrityError:
            return None  # opened meanwhile by another writer: still one incident
        event(
            self._log,
            logging.WARNING if change in ("opened", "worsened") else logging.INFO,
            f"incident_{change}",
            site=plan.site,
            check=plan.check,
            severity=severity.value if severity else "ok",
            summary=plan.summary,
            source="alertmanager",
        )
        return {"opened": "opened", "resolved": "resolved"}.get(change, "updated")

    def _payload(self, plan: _Planned, incident: IncidentEvent) -> dict[str, Any]:
        """The same fields the check incidents carry, so every sink renders both alike."""
        tickets = self._tickets()
        target = tickets.sla.get(plan.priority)  # type: ignore[call-overload]
        return {
            "key": plan.key,
            "event": incident.kind,
            "site": plan.site,
            "check": plan.check,
            "type": "alertmanager",
            "url": plan.url,
            "severity": incident.severity.value if incident.severity else None,
            "priority": plan.priority,
            "sla": {"response": target.response, "resolve": target.resolve} if target else None,
            "language": tickets.language,
            "runbook": plan.details.get("runbook"),
            "summary": plan.summary,
            "at": incident.at,
            "opened_at": incident.opened_at,
            "flapping": False,
            "agent": self._agent,
            "details": plan.details,
        }

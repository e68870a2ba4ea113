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

import hmac
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import pydantic
from aiohttp import web

from sitewatch.config.agent import AlertmanagerConfig
from sitewatch.config.tickets import TicketsConfig
from sitewatch.incidents.state import EventKind, IncidentEvent, OpenIncident
from sitewatch.logs import event
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.web.alerts import _Payload, _plan, _Planned, clean
from sitewatch.web.auth import WebSecurity

__all__ = ["PATH", "AlertmanagerBridge"]

PATH = "/alertmanager"
#: Alertmanager's payload is 4 levels deep; deeper documents are refused before anything walks them.
MAX_DEPTH = 32


# -- the payload, as Alertmanager documents it (extra fields ignored: newer versions add some) --


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

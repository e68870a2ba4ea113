"""``webhook`` sink: a versioned JSON POST per incident event, optionally HMAC-signed.

The receiver cannot be searched, so every body carries ``key`` (one per incident)
and ``delivery_id`` (one per event): a receiver that remembers delivery ids sees
each event once even when a lost response makes us send it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp

from sitewatch.tickets.http_errors import check_status, transport_error
from sitewatch.tickets.render import body, comment, title

__all__ = ["PAYLOAD_VERSION", "WebhookSink"]

PAYLOAD_VERSION = 1


class WebhookSink:
    """POSTs ``{"version": 1, "event": "opened|worsened|improved|resolved|escalated", ...}``."""

    def __init__(
        self, name: str, session: aiohttp.ClientSession, url: str, secret: str | None, headers: dict[str, str]
    ) -> None:
        self.name = name
        self._session = session
        self._url = url
        self._secret = secret.encode() if secret else None
        self._headers = headers

    async def find_open(self, key: str) -> str | None:
        """A webhook cannot be searched."""
        return None

    async def open(self, payload: dict[str, Any]) -> str:
        """Send the opening event; the reference is the incident key."""
        await self._post(payload, {"title": title(payload), "text": body(payload)})
        return str(payload["key"])

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Send a severity change."""
        await self._post(payload, {"text": comment(payload)})

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Send the recovery."""
        await self._post(payload, {"text": comment(payload)})

    async def notify(self, payload: dict[str, Any]) -> None:
        """As an escalation target: ``event: escalated`` with the step and its message (edits are Telegram's)."""
        if payload.get("notice") is None:
            await self._post(payload, {"title": str(payload["title"]), "text": str(payload["text"])})

    async def _post(self, payload: dict[str, Any], texts: dict[str, str]) -> None:
        step = payload.get("escalation")
        # One id per step firing: a step's comment and its notification differ in their receivers, not here.
        suffix = f":{step['step']}:{step['repeat']}" if isinstance(step, dict) else ""
        document = {
            "version": PAYLOAD_VERSION,
            "delivery_id": f"{payload['incident_id']}:{payload['event']}:{payload['at']}{suffix}",
            **{k: payload[k] for k in _FIELDS if k in payload},
            **texts,
        }
        data = json.dumps(document, ensure_ascii=False, default=str).encode()
        headers = {"Content-Type": "application/json", **self._headers}
        if self._secret is not None:
            digest = hmac.new(self._secret, data, hashlib.sha256).hexdigest()
            headers["X-Sitewatch-Signature"] = f"sha256={digest}"
        try:
            async with self._session.post(self._url, data=data, headers=headers) as resp:
                await check_status(resp, f"webhook {self.name}")
        except aiohttp.ClientError as exc:
            raise transport_error(exc, f"webhook {self.name}") from None


_FIELDS = (
    "event",
    "key",
    "incident_id",
    "site",
    "client",
    "check",
    "type",
    "url",
    "severity",
    "priority",
    "summary",
    "at",
    "opened_at",
    "flapping",
    "agent",
    "details",
    "escalation",
    "respond_by",
    "resolve_by",
)

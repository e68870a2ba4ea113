"""``telegram`` notifier: escalation messages in a chat through the Bot API, edited on ack and resolve.

``sendMessage`` posts a step's text (with an **Acknowledge** button when the chat has
``allowed_users``); the acknowledgement and the resolve edit every message the incident sent
(``editMessageText``: "acknowledged by @ivan", "resolved after 12 min") and take the button away.
A 429 answer's ``parameters.retry_after`` becomes the outbox row's next attempt. The bot token is
part of every Bot API address, so no address and no error text leaves this module unscrubbed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

import aiohttp

from sitewatch.i18n import duration, local_time, text
from sitewatch.store.database import Store
from sitewatch.store.escalations import Message, messages, remember_message, update_message
from sitewatch.tickets import SinkError
from sitewatch.tickets.oncall_text import step_message
from sitewatch.untrusted import printable, read_body

__all__ = ["BotApi", "TelegramError", "TelegramNotifier", "ack_data", "fit", "read_ack"]

#: sendMessage and editMessageText take 1-4096 characters (counted in UTF-16 code units).
TEXT_LIMIT = 4096
#: A Bot API answer larger than this is not one (getUpdates returns at most 100 small updates).
_ANSWER_LIMIT = 1 << 20


class TelegramError(SinkError):
    """A Bot API refusal or a transport failure: ``code`` 0 for no answer at all."""

    def __init__(self, code: int, description: str, *, retry_after: float | None = None) -> None:
        retryable = code in (0, 409, 429) or code >= 500  # 409: another poll on the token, for now
        message = f"telegram: {code or 'no answer'}: {description}"
        super().__init__(message, permanent=not retryable, retry_after=retry_after)
        self.code = code
        self.description = description


class BotApi:
    """One bot: ``POST {api_url}/bot{token}/{method}`` with a JSON body, answers unwrapped."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str, token: str) -> None:
        self._session = session
        self._base = api_url.rstrip("/")
        self._token = token
        #: The key of the Acknowledge buttons' signatures: derived from the token, never sent.
        self.button_key = hmac.new(token.encode(), b"sitewatch acknowledge button", hashlib.sha256).digest()

    @property
    def identity(self) -> str:
        """Names this bot (address and a hash of the token) without revealing the token."""
        return f"{self._base}#{hashlib.sha256(self._token.encode()).hexdigest()[:12]}"

    async def call(self, method: str, params: dict[str, Any], *, timeout: float = 30.0) -> Any:  # noqa: ASYNC109
        """The ``result`` of ``method``, or :class:`TelegramError` (never carrying the token)."""
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            async with self._session.post(url, json=params, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                body = await read_body(resp.content, _ANSWER_LIMIT)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TelegramError(0, self._scrub(f"{type(exc).__name__}: {exc}")) from None
        try:
            answer = json.loads(body.data)
        except ValueError:
            raise TelegramError(status if status >= 400 else 502, f"not a Bot API answer (HTTP {status})") from None
        if isinstance(answer, dict) and answer.get("ok") is True:
            return answer.get("result")
        if not isinstance(answer, dict):
            raise TelegramError(502, "not a Bot API answer")
        parameters = answer.get("parameters")
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        retry_after = float(wait) if isinstance(wait, int | float) else None
        description = self._scrub(printable(str(answer.get("description") or ""), 300))
        raise TelegramError(int(answer.get("error_code") or status), description, retry_after=retry_after)

    def _scrub(self, message: str) -> str:
        return message.replace(self._token, "<token>")


def ack_data(key: bytes, incident_id: int) -> str:
    """The Acknowledge button's ``callback_data``: the incident, a nonce and their HMAC (≤ 64 bytes)."""
    nonce = secrets.token_urlsafe(6)
    return f"ack:{incident_id}:{nonce}:{_sign(key, incident_id, nonce)}"


def read_ack(key: bytes, data: str) -> int | None:
    """The incident a button's ``callback_data`` acknowledges; None when it is not ours or is forged."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "ack" or not parts[1].isdigit():
        return None
    incident_id, nonce, signature = int(parts[1]), parts[2], parts[3]
    return incident_id if hmac.compare_digest(signature, _sign(key, incident_id, nonce)) else None


def _sign(key: bytes, incident_id: int, nonce: str) -> str:
    digest = hmac.new(key, f"{incident_id}:{nonce}".encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()


def fit(message: str, limit: int = TEXT_LIMIT) -> str:
    """``message`` cut to ``limit`` UTF-16 code units (how Telegram counts), ending with … when cut."""
    if len(message.encode("utf-16-le")) // 2 <= limit:
        return message
    out, used = [], 1
    for char in message:
        used += len(char.encode("utf-16-le")) // 2
        if used > limit:
            break
        out.append(char)
    return "".join(out) + "…"


class TelegramNotifier:
    """One chat of one bot: sends a step's message, edits it when the incident is acked or resolved."""

    def __init__(
        self,
        name: str,
        api: BotApi,
        chat_id: int | str,
        store: Store,
        *,
        button: bool,
        language: str | None = None,
    ) -> None:
        self.name = name
        self.api = api
        self.chat_id = chat_id
        self._store = store
        self._button = button
        self.language = language

    async def notify(self, payload: dict[str, Any]) -> None:
        """A step's message (``notice`` absent) or an edit after the ack or the resolve."""
        notice = payload.get("notice")
        if notice is None:
            await self._send(payload)
        else:
            await self._edit_all(payload, str(notice))

    async def _send(self, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        message_text = str(payload["text"])
        if self.language and self.language != payload.get("language"):  # this chat reads another language
            message_text = step_message({**payload, "language": self.language})
        body = fit(message_text)
        params: dict[str, Any] = {"chat_id": self.chat_id, "text": body, "disable_web_page_preview": True}
        if self._button:
            label = text(self._lang(payload), "oncall.button")
            button = {"text": label, "callback_data": ack_data(self.api.button_key, incident_id)}
            params["reply_markup"] = {"inline_keyboard": [[button]]}
        sent = await self.api.call("sendMessage", params)
        message = Message(self.name, str(sent["chat"]["id"]), int(sent["message_id"]), body)
        remember_message(self._store, incident_id, message, float(payload["at"]))

    async def _edit_all(self, payload: dict[str, Any], notice: str) -> None:
        lang, zone = self._lang(payload), str(payload.get("timezone") or "UTC")
        at = float(payload["at"])
        when = local_time(at, zone, lang)
        if notice == "resolved":
            took = duration(at - float(payload["opened_at"]), lang)
            line = text(lang, "oncall.resolved", took=took, at=when)
        else:
            line = text(lang, "oncall.acked", by=payload.get("by") or "?", at=when)
        for message in messages(self._store, int(payload["incident_id"]), self.name):
            if line in message.text:
                continue  # edited by an earlier attempt of this row
            new = fit(f"{message.text}\n\n{line}")
            params = {"chat_id": message.chat_id, "message_id": message.message_id, "text": new}
            try:
                await self.api.call("editMessageText", params)  # no reply_markup: the button goes
            except TelegramError as exc:
                if exc.code != 400 or not _settled(exc.description):
                    raise
            update_message(self._store, message, new)

    def _lang(self, payload: dict[str, Any]) -> str:
        return self.language or str(payload.get("language") or "en")

    # A notifier takes no tickets: the outbox only sends it ``notify`` rows.
    async def find_open(self, key: str) -> str | None:
        """A chat holds no tickets."""
        return None

    async def open(self, payload: dict[str, Any]) -> str:
        """Refused: notifiers receive escalation steps only."""
        raise SinkError(f"telegram {self.name} is a notifier and takes no tickets", permanent=True)

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Refused: notifiers receive escalation steps only."""
        raise SinkError(f"telegram {self.name} is a notifier and takes no tickets", permanent=True)

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Refused: notifiers receive escalation steps only."""
        raise SinkError(f"telegram {self.name} is a notifier and takes no tickets", permanent=True)


def _settled(description: str) -> bool:
    """An edit refused because there is nothing (left) to do: already this text, or the message is gone."""
    return any(
        phrase in description
        for phrase in ("message is not modified", "message to edit not found", "message can't be edited")
    )

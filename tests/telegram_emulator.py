"""A strict Telegram Bot API emulator on loopback, for the telegram notifier's tests.

No maintained emulator installs from PyPI or npm that enforces the documented limits (npm's
``telegram-test-api`` accepts any edit and never rate-limits; ``tgfake`` is a Go module), so this
one follows the Bot API documentation (core.telegram.org/bots/api): requests are
``POST /bot<token>/<method>`` with a JSON or form body; answers are ``{"ok": true, "result": …}``
or ``{"ok": false, "error_code": N, "description": "…"}`` with the HTTP status equal to the
error code, and ``parameters.retry_after`` on a 429. Enforced as documented: a wrong token is
401 ``Unauthorized``; an unknown chat 400 ``Bad Request: chat not found``; text 1-4096
characters (UTF-16 code units) after entities parsing; ``callback_data`` 1-64 bytes
(``BUTTON_DATA_INVALID``); an edit that changes nothing 400 ``message is not modified``; a
second concurrent ``getUpdates`` terminates the first with 409 ``Conflict``; ``offset`` confirms
updates; answering a callback query twice, or an unknown one, is a 400. Answers go out gzip'd
and chunked in several writes, as a real server's do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.helpers import send_in_pieces

__all__ = ["BotApiEmulator", "TOKEN", "user"]

TOKEN = "123456789:AAE-emulated_bot_token-0123456789ab"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly"
    " the same as a current content and reply markup of the message"
)
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_OLD_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def user(user_id: int, username: str | None = None, first_name: str = "Ivan") -> dict[str, Any]:
    """A Telegram ``User`` object (a person, not a bot)."""
    out: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        out["username"] = username
    return out


class _Refusal(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass
class BotApiEmulator:
    """One bot and the chats it is a member of; tests read what it was sent and press its buttons."""

    token: str = TOKEN
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Every successful call: (method, params), in order.
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Messages by (chat id, message id): the current text and reply markup.
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: Callback query id → answered yet, and the answer.
    queries: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    #: Per method, retry_after values for the next calls (each answered 429 once).
    limits: dict[str, list[int]] = field(default_factory=dict)
    #: How many getUpdates were terminated by a newer one (409).
    conflicts: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500_000))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _polling: asyncio.Future[None] | None = None

    def add_chat(self, chat_id: int, title: str, username: str | None = None) -> None:
        """A group (negative id) or channel the bot may write to."""
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": title}
        if username:
            chat["username"] = username
        self.chats[chat_id] = chat

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to a chat, oldest first (current text and markup)."""
        return [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id]

    def push(self, update: dict[str, Any]) -> None:
        """Queue any other update (a plain message, say), with the next update_id."""
        self.updates.append({"update_id": next(self._update_ids), **update})
        self._arrived.set()

    def press(self, message: dict[str, Any], by: dict[str, Any], data: str | None = None) -> str:
        """A user taps the message's first inline button (or sends ``data``); returns the query id."""
        if data is None:
            data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query_id = str(next(self._ids) * 7919)
        self.queries[query_id] = None
        query = {"id": query_id, "from": by, "message": message, "chat_instance": "-42", "data": data}
        self.updates.append({"update_id": next(self._update_ids), "callback_query": query})
        self._arrived.set()
        return query_id

    def app(self) -> web.Application:
        """The aiohttp application serving ``/bot<token>/<method>``."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if request.match_info["token"] != self.token:
                raise _Refusal(401, "Unauthorized")
            method = request.match_info["method"]
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise _Refusal(404, "Not Found")
            params = await _params(request)
            if self.limits.get(method):
                wait = self.limits[method].pop(0)
                raise _Refusal(429, f"Too Many Requests: retry after {wait}", wait)
            result = await handler(params)
            self.calls.append((method, params))
            answer: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except _Refusal as refusal:
            answer = {"ok": False, "error_code": refusal.code, "description": refusal.description}
            if refusal.retry_after is not None:
                answer["parameters"] = {"retry_after": refusal.retry_after}
            status = refusal.code
        body = json.dumps(answer, ensure_ascii=False).encode()
        return await send_in_pieces(request, body, content_type="application/json", status=status, pieces=4)

    # -- methods ------------------------------------------------------------------------

    async def _m_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "sitewatch", "username": "sw_bot"}

    async def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        text = _text(p)
        markup = _markup(p.get("reply_markup"))
        message_id = next(self._ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": await self._m_getMe(p),
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        self.messages[(chat["id"], message_id)] = message
        return message

    async def _m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        message = self.messages.get((chat["id"], int(p.get("message_id") or 0)))
        if message is None:
            raise _Refusal(400, "Bad Request: message to edit not found")
        text = _text(p)
        markup = _markup(p.get("reply_markup"))
        if text == message["text"] and markup == message.get("reply_markup"):
            raise _Refusal(400, _NOT_MODIFIED)
        message["text"] = text
        message.pop("reply_markup", None)  # an edit without reply_markup takes the inline keyboard away
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self.queries or self.queries[query_id] is not None:
            raise _Refusal(400, _OLD_QUERY)
        if len(str(p.get("text") or "")) > 200:
            raise _Refusal(400, "Bad Request: MESSAGE_TOO_LONG")
        self.queries[query_id] = p
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self._polling is not None and not self._polling.done():
            self._polling.set_exception(_Refusal(409, _CONFLICT))
            self.conflicts += 1
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._polling = mine
        offset = int(p.get("offset") or 0)
        if offset > 0:  # confirms every update before it: they are never returned again
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        timeout = max(0, min(50, int(p.get("timeout") or 0)))
        allowed = p.get("allowed_updates") or None
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                ready = [u for u in self.updates if allowed is None or any(k in u for k in allowed)]
                left = deadline - asyncio.get_running_loop().time()
                if ready or left <= 0:
                    return ready[: int(p.get("limit") or 100)]
                self._arrived.clear()
                arrived = asyncio.ensure_future(self._arrived.wait())
                done, _ = await asyncio.wait({arrived, mine}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                arrived.cancel()
                if mine in done:
                    mine.result()  # raises the 409 that a newer request set
        finally:
            if self._polling is mine:
                self._polling = None

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        for chat in self.chats.values():
            if str(chat_id) == str(chat["id"]) or (chat.get("username") and chat_id == f"@{chat['username']}"):
                return chat
        raise _Refusal(400, "Bad Request: chat not found")


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise _Refusal(400, "Bad Request: invalid request body")
        return body
    form = {**request.query, **(await request.post())}
    return {k: json.loads(v) if k in ("reply_markup", "allowed_updates") else v for k, v in form.items()}


def _text(p: dict[str, Any]) -> str:
    text = str(p.get("text") or "")
    if not text.strip():
        raise _Refusal(400, "Bad Request: message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:
        raise _Refusal(400, "Bad Request: message is too long")
    return text


def _markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise _Refusal(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _Refusal(400, "Bad Request: BUTTON_DATA_INVALID")
            if not str(button.get("text") or "").strip():
                raise _Refusal(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    return markup

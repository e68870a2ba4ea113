"""The Acknowledge button: long polling ``getUpdates`` (no public endpoint) for button presses.

One poller per bot (two long polls on one token make the Bot API answer 409 Conflict). A press
whose ``callback_data`` carries a valid signature, from a user the chat's notifier allows, records
the acknowledgement (by the Telegram user, source ``telegram``) and answers the press; anyone
else gets a refusal and nothing is recorded. The offset confirms each update once handled, so a
restart sees only presses it has not answered; a press seen twice acks once (the life refuses a
second ack).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sitewatch.i18n import text
from sitewatch.logs import event
from sitewatch.probe import Clock
from sitewatch.store.database import Store
from sitewatch.store.life import change, life
from sitewatch.tickets.telegram import BotApi, TelegramError, TelegramNotifier, read_ack

__all__ = ["UpdatePoller", "user_name"]

#: Seconds to wait after a failed poll before the next (doubling up to the cap).
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


def user_name(user: Mapping[str, Any]) -> str:
    """How a Telegram user is recorded as the one who acknowledged: ``@username``, else ``telegram:ID``."""
    username = user.get("username")
    return f"@{username}" if isinstance(username, str) and username else f"telegram:{user.get('id')}"


class UpdatePoller:
    """Reads one bot's updates and turns allowed button presses into acknowledgements."""

    def __init__(
        self,
        api: BotApi,
        chats: Sequence[tuple[TelegramNotifier, tuple[int | str, ...]]],
        store: Store,
        clock: Clock,
        log: logging.Logger,
        *,
        poll_timeout: float = 25.0,
        on_ack: Callable[[], None] = lambda: None,
    ) -> None:
        self._api = api
        self._chats = chats
        self._store = store
        self._clock = clock
        self._log = log
        self._timeout = poll_timeout
        self._on_ack = on_ack
        self.offset: int | None = None

    async def run(self) -> None:
        """Poll until cancelled; failures back off and are logged once, and once when polling works again."""
        delay, failing = RETRY_FIRST, False
        while True:
            try:
                await self.poll_once()
            except TelegramError as exc:
                if not failing:
                    event(self._log, logging.WARNING, "telegram_poll_failing", code=exc.code, error=exc.description)
                failing = True
                await asyncio.sleep(exc.retry_after or delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            if failing:
                event(self._log, logging.INFO, "telegram_poll_recovered")
            delay, failing = RETRY_FIRST, False

    async def poll_once(self) -> int:
        """One long poll; handles what it returns and moves the offset past it. Returns the count."""
        params: dict[str, Any] = {"timeout": int(self._timeout), "allowed_updates": ["callback_query"]}
        if self.offset is not None:
            params["offset"] = self.offset
        updates = await self._api.call("getUpdates", params, timeout=self._timeout + 10)
        for update in updates or ():
            self.offset = max(self.offset or 0, int(update["update_id"]) + 1)
            query = update.get("callback_query")
            if isinstance(query, dict):
                await self._press(query)
        return len(updates or ())

    async def _press(self, query: dict[str, Any]) -> None:
        user = query.get("from") or {}
        chat = ((query.get("message") or {}).get("chat")) or {}
        notifier = self._notifier(chat)
        incident_id = read_ack(self._api.button_key, str(query.get("data") or ""))
        who = user_name(user)
        if notifier is None or incident_id is None or not _allowed(user, notifier[1]):
            event(self._log, logging.WARNING, "telegram_ack_refused", user=who, chat=chat.get("id"))
            await self._answer(query, text("en" if notifier is None else _lang(notifier[0]), "oncall.refused"), True)
            return
        lang = _lang(notifier[0])
        if change(self._store, incident_id, "ack", at=self._clock.time(), by=who, source="telegram"):
            event(self._log, logging.INFO, "incident_acked", incident=incident_id, by=who, source="telegram")
            self._on_ack()
            await self._answer(query, text(lang, "oncall.ack_recorded"), False)
            return
        current = life(self._store, incident_id)
        already = text(lang, "oncall.ack_already", by=current.acked_by) if current.acked_by else None
        await self._answer(query, already or text(lang, "oncall.ack_closed"), False)

    def _notifier(self, chat: Mapping[str, Any]) -> tuple[TelegramNotifier, tuple[int | str, ...]] | None:
        names = {str(chat.get("id"))}
        if chat.get("username"):
            names.add(f"@{chat['username']}")
        return next(((n, users) for n, users in self._chats if str(n.chat_id) in names), None)

    async def _answer(self, query: Mapping[str, Any], message: str, alert: bool) -> None:
        params = {"callback_query_id": query.get("id"), "text": message[:200], "show_alert": alert}
        try:
            await self._api.call("answerCallbackQuery", params)
        except TelegramError as exc:  # an old press (after a restart) can no longer be answered
            event(self._log, logging.INFO, "telegram_answer_failed", code=exc.code, error=exc.description)


def _allowed(user: Mapping[str, Any], allowed: tuple[int | str, ...]) -> bool:
    username = str(user.get("username") or "").lower()
    for entry in allowed:
        if isinstance(entry, int) and entry == user.get("id"):
            return True
        if isinstance(entry, str) and username and entry.lstrip("@").lower() == username:
            return True
    return False


def _lang(notifier: TelegramNotifier) -> str:
    return notifier.language or "en"

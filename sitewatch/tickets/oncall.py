"""The on-call side of an agent: its notifiers, the escalator and one button poller per Telegram bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp

from sitewatch.config.escalation import TelegramNotifierConfig
from sitewatch.config.specs import Config
from sitewatch.logs import event
from sitewatch.probe import Clock
from sitewatch.store.database import Store
from sitewatch.tickets import Sink
from sitewatch.tickets.escalator import Escalator
from sitewatch.tickets.factory import build_sink
from sitewatch.tickets.telegram import BotApi, TelegramNotifier
from sitewatch.tickets.telegram_updates import UpdatePoller

__all__ = ["OnCall"]


class OnCall:
    """Builds ``tickets: notifiers:``; runs the escalator and the pollers as tracked tasks."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        session: aiohttp.ClientSession,
        clock: Clock,
        log: logging.Logger,
        *,
        wake: Callable[[], None],
    ) -> None:
        self._log = log
        current = config()
        self._built = current.tickets.notifiers
        self.notifiers: dict[str, Sink] = {}
        bots: dict[str, tuple[BotApi, list[tuple[TelegramNotifier, tuple[int | str, ...]]], float]] = {}
        for entry in current.tickets.notifiers:
            if isinstance(entry, TelegramNotifierConfig):
                api = BotApi(session, entry.api_url, entry.bot_token)
                # One bot in many chats is one poller: two getUpdates on a token conflict (409).
                api, chats, timeout = bots.setdefault(api.identity, (api, [], entry.poll_timeout))
                notifier = TelegramNotifier(
                    entry.name, api, entry.chat_id, store, button=bool(entry.allowed_users), language=entry.language
                )
                chats.append((notifier, entry.allowed_users))
                bots[api.identity] = (api, chats, min(timeout, entry.poll_timeout))
                self.notifiers[entry.name] = notifier
            else:
                self.notifiers[entry.name] = build_sink(entry, store, session)
        self.escalator = Escalator(store, lambda: config().client_book, clock, log, wake=wake)
        self.pollers = [
            UpdatePoller(api, chats, store, clock, log, poll_timeout=timeout, on_ack=self.escalator.poke)
            for api, chats, timeout in bots.values()
            if any(users for _, users in chats)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start escalating and listening for button presses."""
        self._tasks.append(asyncio.create_task(self.escalator.run(), name="escalation"))
        for index, poller in enumerate(self.pollers):
            self._tasks.append(asyncio.create_task(poller.run(), name=f"telegram updates {index}"))

    def reconfigure(self, config: Config) -> None:
        """A reload: chains follow the new config at once; changed notifiers need a restart (their bots poll)."""
        if config.tickets.notifiers != self._built:
            event(
                self._log,
                logging.WARNING,
                "reload_notifiers_ignored",
                reason="tickets.notifiers changes need a restart",
            )

    async def close(self) -> None:
        """Stop firing steps and polling (what is queued stays in the outbox)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

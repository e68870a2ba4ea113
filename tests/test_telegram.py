"""The telegram notifier and the Acknowledge button against a strict Bot API emulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sitewatch.incidents.state import IncidentEvent
from sitewatch.logs import _FIELDS as FIELDS
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.store.life import life
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.telegram import BotApi, TelegramError, TelegramNotifier, ack_data, fit, read_ack
from sitewatch.tickets.telegram_updates import UpdatePoller
from tests.helpers import free_port, serve, wait_for
from tests.telegram_emulator import TOKEN, BotApiEmulator, user

L1, L2 = -1001000000001, -1001000000002
OPENED = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC


@dataclass
class Bot:
    emulator: BotApiEmulator
    url: str
    session: aiohttp.ClientSession

    def api(self, token: str = TOKEN, url: str | None = None) -> BotApi:
        return BotApi(self.session, url or self.url, token)


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    emulator = BotApiEmulator()
    emulator.add_chat(L1, "L1 on duty")
    emulator.add_chat(L2, "L2", username="acme_l2")
    async with serve(emulator.app()) as url, aiohttp.ClientSession() as session:
        yield Bot(emulator, url, session)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def open_incident(store: Store) -> int:
    event = IncidentEvent("opened", OPENED, Status.CRITICAL, "HTTP 503", OPENED)
    payload = {"key": "sw:v1:shop:http", "event": "opened", "at": OPENED, "opened_at": OPENED, "summary": "HTTP 503"}
    return store.record("sw:v1:shop:http", event, site="shop", check="http", sinks=[], payload=payload)


def step_payload(incident_id: int, language: str = "en") -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "key": "sw:v1:shop:http",
        "at": OPENED + 600,
        "opened_at": OPENED,
        "language": language,
        "timezone": "Europe/Moscow",
        "text": "P1 shop http: HTTP 503\nEscalation: L2",
        "site": "shop",
        "check": "http",
        "priority": "P1",
        "summary": "HTTP 503 Service Unavailable (expected 200-399)",
        "escalation": {"step": 1, "repeat": 0, "level": "L2", "late": False, "due_at": OPENED + 600},
    }


async def test_bot_api_errors_have_the_documented_shapes(bot: Bot) -> None:
    """Wrong token 401, unknown chat, text over 4096, callback_data over 64 bytes, unknown method: as documented."""
    async with bot.session.post(f"{bot.url}/bot1:wrong/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    async with bot.session.post(f"{bot.url}/bot{TOKEN}/sendMessage", json={"chat_id": 5, "text": "x"}) as resp:
        assert (resp.status, (await resp.json())["description"]) == (400, "Bad Request: chat not found")
    api = bot.api()
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("sendMessage", {"chat_id": L1, "text": "я" * 4097}, 400, "Bad Request: message is too long"),
        ("sendMessage", {"chat_id": L1, "text": " "}, 400, "Bad Request: message text is empty"),
        (
            "sendMessage",
            {
                "chat_id": L1,
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "d" * 65}]]},
            },
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ("sendPigeon", {}, 404, "Not Found"),
    ]
    for method, params, code, description in cases:
        with pytest.raises(TelegramError) as caught:
            await api.call(method, params)
        assert (caught.value.code, caught.value.description) == (code, description)
        assert caught.value.permanent
    sent = await api.call("sendMessage", {"chat_id": "@acme_l2", "text": "я" * 4096})  # the limit itself is fine
    assert sent["chat"]["id"] == L2
    with pytest.raises(TelegramError, match="message is not modified"):
        await api.call("editMessageText", {"chat_id": L2, "message_id": sent["message_id"], "text": "я" * 4096})


async def test_a_second_long_poll_terminates_the_first_with_409(bot: Bot) -> None:
    """Two getUpdates at once: the earlier one gets 409 Conflict, the newer one is served."""
    api = bot.api()
    first = asyncio.create_task(api.call("getUpdates", {"timeout": 20}, timeout=30))
    await wait_for(lambda: bot.emulator._polling is not None, timeout=5, what="the first long poll to arrive")
    assert await api.call("getUpdates", {"timeout": 0}) == []
    with pytest.raises(TelegramError) as caught:
        await first
    assert caught.value.code == 409
    assert caught.value.description.startswith("Conflict: terminated by other getUpdates request")
    assert not caught.value.permanent  # the poller backs off and tries again


def test_callback_data_is_short_and_cannot_be_forged() -> None:
    """The button's data fits 64 bytes for any incident id; a changed id or signature, or another key, is refused."""
    key, other = b"k" * 32, b"o" * 32
    data = ack_data(key, 9_999_999_999)
    assert len(data.encode()) <= 64
    assert read_ack(key, data) == 9_999_999_999
    prefix, incident, nonce, signature = data.split(":")
    assert read_ack(key, f"{prefix}:{int(incident) - 1}:{nonce}:{signature}") is None
    assert read_ack(key, f"{prefix}:{incident}:{nonce}:{signature[:-1]}A") is None
    assert read_ack(other, data) is None
    assert read_ack(key, "ack:1") is None


def test_long_texts_are_cut_to_what_telegram_counts() -> None:
    """Cutting counts UTF-16 code units (an emoji is two), and marks the cut."""
    assert fit("ok") == "ok"
    cut = fit("🚨" * 3000)
    assert cut.endswith("…")
    assert len(cut.encode("utf-16-le")) // 2 <= 4096


async def test_a_step_message_has_a_signed_button_and_is_edited_on_resolve(bot: Bot, tmp_path: Path) -> None:
    """sendMessage with the Acknowledge button; the resolve edits it ("Resolved after 10 min") and takes the button."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    api = bot.api()
    notifier = TelegramNotifier("telegram-l2", api, "@acme_l2", store, button=True)
    await notifier.notify(step_payload(incident))
    (message,) = bot.emulator.sent_to(L2)
    assert message["text"] == "P1 shop http: HTTP 503\nEscalation: L2"
    (button,) = message["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == "Acknowledge"
    assert read_ack(api.button_key, button["callback_data"]) == incident
    notice = {**step_payload(incident), "notice": "resolved", "at": OPENED + 600}
    await notifier.notify(notice)
    await notifier.notify(notice)  # the outbox retrying after a lost answer edits nothing twice
    (message,) = bot.emulator.sent_to(L2)
    assert message["text"].endswith("\n\nResolved after 10 minutes (Sep 21, 2026, 17:23 MSK)")
    assert "reply_markup" not in message
    assert [m for m, _ in bot.emulator.calls].count("editMessageText") == 1


async def test_messages_and_edits_speak_the_clients_language(bot: Bot, tmp_path: Path) -> None:
    """A Russian client's chat gets a Russian button and a Russian "resolved after"."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    notifier = TelegramNotifier("telegram-l1", bot.api(), L1, store, button=True)
    await notifier.notify(step_payload(incident, "ru"))
    await notifier.notify({**step_payload(incident, "ru"), "notice": "resolved", "at": OPENED + 720})
    (message,) = bot.emulator.sent_to(L1)
    assert "\n\nРешено через 12 минут" in message["text"]
    assert bot.emulator.calls[0][1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Принять"


async def test_429_retry_after_is_honoured_by_the_outbox(bot: Bot, tmp_path: Path) -> None:
    """A 429 with parameters.retry_after=3 puts the row's next attempt 3 s on; then it is sent once."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    store.db.execute(
        "INSERT INTO outbox (incident_id, sink, action, payload, created_at, next_at) VALUES (?, ?, 'notify', ?, 0, 0)",
        (incident, "telegram-l2", json.dumps(step_payload(incident))),
    )
    bot.emulator.limits["sendMessage"] = [3]
    notifier = TelegramNotifier("telegram-l2", bot.api(), L2, store, button=False)
    deliverer = Deliverer(store, {"telegram-l2": notifier}, logging.getLogger("sitewatch.test"))
    before = time.time()
    await deliverer.drain_once()
    next_at, error = store.db.execute("SELECT next_at, last_error FROM outbox").fetchone()
    assert 3.0 <= next_at - before <= 4.0
    assert error == "telegram: 429: Too Many Requests: retry after 3"
    assert bot.emulator.sent_to(L2) == []
    await deliverer.drain_once()  # not yet due: nothing is sent early
    assert bot.emulator.sent_to(L2) == []
    store.db.execute("UPDATE outbox SET next_at = 0")
    await deliverer.drain_once()
    assert len(bot.emulator.sent_to(L2)) == 1


async def test_the_token_never_appears_in_errors(bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Refusals and transport failures name no token: it is part of every Bot API address."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    down = bot.api(url=f"http://127.0.0.1:{free_port()}")
    for api in (down, bot.api(token="987654:secret-token-that-is-wrong")):
        notifier = TelegramNotifier("telegram-l2", api, L2, store, button=False)
        with pytest.raises(TelegramError) as caught:
            await notifier.notify(step_payload(incident))
        assert TOKEN not in str(caught.value)
        assert "secret-token-that-is-wrong" not in str(caught.value)
    assert caught.value.code == 401
    assert caught.value.permanent


async def test_only_allowed_users_acknowledge_with_the_button(bot: Bot, tmp_path: Path) -> None:
    """An unknown user and a forged button are refused and record nothing; an allowed user acks once."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    api = bot.api()
    notifier = TelegramNotifier("telegram-l2", api, L2, store, button=True)
    await notifier.notify(step_payload(incident))
    (message,) = bot.emulator.sent_to(L2)
    acks: list[int] = []
    poller = UpdatePoller(
        api,
        [(notifier, (4242, "@Ivan_Petrov"))],
        store,
        Clock(OPENED + 700),
        logging.getLogger("sitewatch.test"),
        poll_timeout=1,
        on_ack=lambda: acks.append(1),
    )
    stranger = bot.emulator.press(message, user(777, "mallory"))
    forged = bot.emulator.press(message, user(4242), data=f"ack:{incident}:AAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAA")
    assert await poller.poll_once() == 2
    assert life(store, incident).acked_at is None
    assert bot.emulator.queries[stranger]["show_alert"] is True  # type: ignore[index]
    assert bot.emulator.queries[stranger]["text"] == "You are not allowed to acknowledge incidents in this chat."  # type: ignore[index]
    assert bot.emulator.queries[forged]["show_alert"] is True  # type: ignore[index]
    ivan = bot.emulator.press(message, user(99, "ivan_petrov"))  # usernames match without @, in any case
    again = bot.emulator.press(message, user(4242))
    assert await poller.poll_once() == 2
    current = life(store, incident)
    assert (current.acked_at, current.acked_by) == (OPENED + 700, "@ivan_petrov")
    assert current.events[0].source == "telegram"
    assert bot.emulator.queries[ivan]["text"] == "Acknowledged: the escalation is stopped."  # type: ignore[index]
    assert bot.emulator.queries[again]["text"] == "Already acknowledged by @ivan_petrov."  # type: ignore[index]
    assert acks == [1]
    assert await poller.poll_once() == 0  # the offset confirmed them: none comes back


async def test_the_poller_backs_off_on_409_and_says_so_once(
    bot: Bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process polling the same token: one warning with the code, then one line when polling works again."""
    store = Store(tmp_path / "s.db")
    api = bot.api()
    notifier = TelegramNotifier("telegram-l2", api, L2, store, button=True)
    log = logging.getLogger("sitewatch.test.poller")
    poller = UpdatePoller(api, [(notifier, (4242,))], store, Clock(OPENED), log, poll_timeout=1)
    task = asyncio.create_task(poller.run())
    try:
        with caplog.at_level(logging.INFO, logger="sitewatch.test.poller"):
            await wait_for(lambda: bot.emulator._polling is not None, timeout=5, what="the poller's long poll")
            assert await api.call("getUpdates", {"timeout": 0}) == []  # "another instance" takes over once
            await wait_for(lambda: "telegram_poll_failing" in caplog.text, timeout=5, what="the warning")
            (failing,) = [r for r in caplog.records if r.getMessage() == "telegram_poll_failing"]
            assert vars(failing)[FIELDS]["code"] == 409
            bot.emulator.push({"message": {"message_id": 1, "text": "hi"}})  # not asked for (allowed_updates)
            await wait_for(lambda: "telegram_poll_recovered" in caplog.text, timeout=10, what="the recovery")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert caplog.text.count("telegram_poll_failing") == 1
    assert bot.emulator.conflicts == 1


async def test_a_chat_with_its_own_language_gets_the_message_in_it(bot: Bot, tmp_path: Path) -> None:
    """A notifier with language: ru writes an English client's step in Russian, finding included."""
    store = Store(tmp_path / "s.db")
    incident = open_incident(store)
    notifier = TelegramNotifier("telegram-l2", bot.api(), L2, store, button=False, language="ru")
    await notifier.notify(step_payload(incident, "en"))
    (message,) = bot.emulator.sent_to(L2)
    assert message["text"].splitlines()[:2] == [
        "P1 shop http: HTTP 503 Service Unavailable (ожидался код 200-399)",
        "Эскалация: L2; открыт с 21 сент. 2026 г., 17:13 MSK",
    ]

"""Escalation chains on an injected clock: steps on time and once, ack and resolve stop them, late steps."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sitewatch.config import ConfigError, load_config
from sitewatch.config.specs import Config
from sitewatch.incidents.calendar import ServiceCalendar, WorkingHours
from sitewatch.incidents.escalation import escalation_deadlines
from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.store.escalations import fire, fired
from sitewatch.store.life import change
from sitewatch.tickets.escalator import Escalator
from sitewatch.tickets.local import LocalSink
from sitewatch.tickets.outbox import Deliverer
from tests.configs import write_site_config

T0 = 1_790_000_000.0  # Monday 2026-09-21 17:13:20 Moscow time
KEY = "sw:v1:shop:http"

POLICY = """\
tickets:
  sinks: [{type: local}]
  notifiers:
    - {type: telegram, name: tg-l1, bot_token: "${TG_TOKEN}", chat_id: -1001, allowed_users: [4242]}
    - {type: telegram, name: tg-l2, bot_token: "${TG_TOKEN}", chat_id: -1002, allowed_users: ["@ivan"]}
    - {type: webhook, name: manager, url: "http://127.0.0.1:9/manager"}
clients:
  - name: acme
    timezone: Europe/Moscow
    sla: {P1: {response: 15m, resolve: 4h}}
    escalation:
      P1:
        - {after: 0m, level: L1, notify: [tg-l1], repeat: 10m}
        - {at: respond_by - 5m, level: L2, notify: [tg-l2]}
        - {after: 30m, level: manager, notify: [manager]}
sites:
  - {name: shop, url: "http://127.0.0.1:9/", client: acme}
"""


class Clock:
    """The injected clock: the test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class Recorder:
    """An escalation target that keeps what it was sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.got: list[dict[str, Any]] = []

    async def notify(self, payload: dict[str, Any]) -> None:
        self.got.append(payload)

    async def find_open(self, key: str) -> str | None:
        return None

    async def open(self, payload: dict[str, Any]) -> str:
        raise AssertionError("a notifier takes no tickets")

    update = resolve = open  # type: ignore[assignment]


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = POLICY) -> Config:
    monkeypatch.setenv("TG_TOKEN", "123:abc")
    return load_config(write_site_config(tmp_path, text))


def _open(store: Store, at: float = T0) -> int:
    payload = {
        "key": KEY,
        "event": "opened",
        "site": "shop",
        "check": "http",
        "severity": "critical",
        "priority": "P1",
        "sla": {"response": 900.0, "resolve": 14400.0},
        "client": "acme",
        "language": "en",
        "timezone": "Europe/Moscow",
        "summary": "HTTP 503 Service Unavailable",
        "at": at,
        "opened_at": at,
    }
    event = IncidentEvent("opened", at, Status.CRITICAL, payload["summary"], at)  # type: ignore[arg-type]
    return store.record(KEY, event, site="shop", check="http", sinks=["local"], payload=payload)


def _escalator(store: Store, config: Config, clock: Clock) -> Escalator:
    return Escalator(store, lambda: config.client_book, clock, logging.getLogger("sitewatch.test"))


def _rows(store: Store, after: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    rows = store.db.execute("SELECT sink, action, payload FROM outbox WHERE id > ? ORDER BY id", (after,))
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def _last_id(store: Store) -> int:
    return int(store.db.execute("SELECT MAX(id) FROM outbox").fetchone()[0])


async def test_steps_fire_on_time_each_once_and_comment_the_ticket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L1 at once, L2 at respond-by − 5m, the manager after 30m; L1 repeats; each firing is written once."""
    config = _config(tmp_path, monkeypatch)
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    clock = Clock(T0)
    escalator = _escalator(store, config, clock)
    mark = _last_id(store)
    assert escalator.tick() == 2
    assert [(s, a) for s, a, _ in _rows(store, mark)] == [("tg-l1", "notify"), ("local", "update")]
    assert escalator.tick() == 0  # the same moment again: nothing twice
    clock.now = T0 + 599
    assert escalator.tick() == 0
    clock.now = T0 + 600  # respond-by is 17:28:20, L2 at 17:23:20; L1's first reminder too
    mark = _last_id(store)
    assert escalator.tick() == 3
    rows = _rows(store, mark)
    assert [(s, a) for s, a, _ in rows] == [("tg-l1", "notify"), ("tg-l2", "notify"), ("local", "update")]
    l2 = rows[1][2]
    assert l2["text"].splitlines() == [
        "P1 shop http: HTTP 503 Service Unavailable",
        "Escalation: L2; open since Sep 21, 2026, 17:13 MSK",
        "Respond by Sep 21, 2026, 17:28 MSK",
        "Incident key: sw:v1:shop:http",
    ]
    assert "Reminder 1: not acknowledged yet" in rows[0][2]["text"]
    clock.now = T0 + 1800
    escalator.tick()
    assert [(f.level, f.repeat, f.late) for f in fired(store, incident)] == [
        ("L1", 0, False),
        ("L1", 1, False),
        ("L2", 0, False),
        ("L1", 3, False),  # the 20-minute reminder's pass never came: only the newest is sent
        ("manager", 0, False),
    ]
    targets = {"tg-l1": Recorder("tg-l1"), "tg-l2": Recorder("tg-l2"), "manager": Recorder("manager")}
    deliverer = Deliverer(store, {"local": LocalSink(store), **targets}, logging.getLogger("sitewatch.test"))
    while await deliverer.drain_once():
        pass
    comments = [r[0] for r in store.db.execute("SELECT body FROM ticket_comments ORDER BY id")]
    assert comments == [
        "Escalation L1 at Sep 21, 2026, 17:13 MSK: notified tg-l1.",
        "Escalation L2 at Sep 21, 2026, 17:23 MSK: notified tg-l2.",
        "Escalation manager at Sep 21, 2026, 17:43 MSK: notified manager.",
    ]
    assert [len(t.got) for t in targets.values()] == [3, 1, 1]
    assert store.outbox_stats(0)["dead"] == 0


async def test_an_ack_from_any_source_stops_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an ack no step fires, not even one racing it; the sent messages get an "acknowledged" edit."""
    config = _config(tmp_path, monkeypatch)
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    clock = Clock(T0)
    escalator = _escalator(store, config, clock)
    escalator.tick()
    assert change(store, incident, "ack", at=T0 + 300, by="ivan", source="cli")
    clock.now = T0 + 3600
    mark = _last_id(store)
    assert escalator.tick() == 1
    ((sink, action, notice),) = _rows(store, mark)
    assert (sink, action, notice["notice"], notice["by"], notice["at"]) == (
        "tg-l1",
        "notify",
        "acked",
        "ivan",
        T0 + 300,
    )
    assert escalator.tick() == 0
    assert [f.level for f in fired(store, incident)] == ["L1"]
    # A pass that read the life before the ack cannot fire after it: the store checks again.
    assert not fire(store, incident, 1, 0, level="L2", due_at=T0, at=T0 + 3600, late=False, rows=[])


async def test_a_resolve_stops_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolved incident fires nothing more; its messages get a "resolved" edit, queued once."""
    config = _config(tmp_path, monkeypatch)
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    clock = Clock(T0)
    escalator = _escalator(store, config, clock)
    escalator.tick()
    payload = {"key": KEY, "event": "resolved", "at": T0 + 720, "opened_at": T0, "summary": "HTTP 200"}
    store.record(
        KEY,
        IncidentEvent("resolved", T0 + 720, None, "HTTP 200", T0),
        site="shop",
        check="http",
        sinks=[],
        payload=payload,
    )
    clock.now = T0 + 3600
    mark = _last_id(store)
    escalator.tick()
    assert [(s, p["notice"], p["at"]) for s, _, p in _rows(store, mark)] == [("tg-l1", "resolved", T0 + 720)]
    assert escalator.tick() == 0
    assert [f.level for f in fired(store, incident)] == ["L1"]


async def test_steps_due_while_the_agent_was_down_go_out_once_marked_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent starting 40 minutes into an incident sends each due step once, saying it is late."""
    config = _config(tmp_path, monkeypatch)
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    clock = Clock(T0 + 2430)
    mark = _last_id(store)
    _escalator(store, config, clock).tick()
    got = fired(store, incident)
    assert [(f.level, f.repeat, f.late) for f in got] == [("L1", 4, True), ("L2", 0, True), ("manager", 0, True)]
    rows = _rows(store, mark)
    l2 = next(p for s, _, p in rows if s == "tg-l2")
    assert l2["text"].endswith(
        "Sent late: this step came due at Sep 21, 2026, 17:23 MSK, while the agent was not running."
    )
    comments = [p["comment_text"] for s, a, p in rows if a == "update"]
    assert comments[0] == (
        "Escalation L1 at Sep 21, 2026, 17:53 MSK, sent late (due Sep 21, 2026, 17:53 MSK, while the agent was"
        " not running): notified tg-l1."
    )
    assert len(comments) == 3  # each level's first firing comments, even a reminder's
    clock.now += 5  # killed and started again: nothing goes twice
    assert _escalator(store, config, clock).tick() == 0


def test_deadline_steps_count_service_time() -> None:
    """respond-by on a working-hours calendar: a P2 opened Friday 17:50 with 15 m left is due Monday 09:05."""
    hours = {d: WorkingHours(dt.time(9), dt.time(18)) for d in range(5)}
    calendar = ServiceCalendar("Europe/Moscow", hours)
    zone = calendar._zone
    opened = dt.datetime(2026, 9, 25, 17, 50, tzinfo=zone).timestamp()
    deadlines = escalation_deadlines(opened, {"response": 900, "resolve": 3600}, calendar)
    assert dt.datetime.fromtimestamp(deadlines["respond_by"], zone) == dt.datetime(2026, 9, 28, 9, 5, tzinfo=zone)
    assert escalation_deadlines(opened, {"response": 900, "resolve": 3600})["respond_by"] == opened + 900
    assert escalation_deadlines(opened, None) == {}


_STEP = "clients[0].escalation.P1[0]"


@pytest.mark.parametrize(
    ("step", "where", "message"),
    [
        ("{after: 0m, notify: [pager]}", f"{_STEP}.notify[0]", "expected a notifier or an email/webhook sink"),
        ("{after: 0m, notify: [local]}", f"{_STEP}.notify[0]", "got 'local'"),
        ("{at: resolve_by, notify: [tg]}", f"{_STEP}.at", "resolve_by needs an SLA target for P1"),
        ("{after: 1m, at: respond_by, notify: [tg]}", _STEP, "set exactly one of after:"),
        ("{at: respond_by - soon, notify: [tg]}", f"{_STEP}.at", "in 'respond_by - soon'"),
        ("{at: reply_by, notify: [tg]}", f"{_STEP}.at", "expected respond_by or resolve_by"),
        ("{after: 0m, repeat: 10s, notify: [tg]}", _STEP, "repeat: must be at least 1m"),
        ("{after: 0m, notify: []}", f"{_STEP}.notify", "at least 1 item"),
    ],
)
def test_policy_errors_name_the_file_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, where: str, message: str
) -> None:
    """A bad step is a located config error naming what was expected."""
    text = f"""\
tickets:
  notifiers: [{{type: telegram, name: tg, bot_token: "${{TG_TOKEN}}", chat_id: -1001}}]
clients:
  - name: acme
    escalation:
      P1:
        - {step}
"""
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, monkeypatch, text)
    (problem,) = caught.value.problems
    assert problem.path == where
    assert message in problem.message
    assert problem.origin.line == 12  # the step's line (after the five lines of agent: and defaults:)


@pytest.mark.parametrize(
    ("notifier", "where", "message"),
    [
        (
            "{type: telegram, name: local, bot_token: x, chat_id: 1}",
            "tickets.notifiers[0].name",
            "already a sink's name",
        ),
        ("{type: telegram, bot_token: x, chat_id: '#ops'}", "tickets.notifiers[0].chat_id", ""),
        (
            "{type: telegram, bot_token: x, chat_id: 1, allowed_users: ['ivan petrov']}",
            "tickets.notifiers[0].allowed_users",
            "user id",
        ),
        ("{type: telegram, bot_token: x, chat_id: 1, poll_timeout: 2m}", "tickets.notifiers[0].poll_timeout", ""),
        (
            "{type: webhook, name: boss, url: 'http://127.0.0.1:9/', templates: {title: 'x'}}",
            "tickets.notifiers[0].templates",
            "belong on tickets: sinks:",
        ),
    ],
)
def test_notifier_errors_are_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notifier: str, where: str, message: str
) -> None:
    """A notifier that clashes with a sink's name or has a bad chat, user or timeout is a located error."""
    text = f"tickets:\n  sinks: [{{type: local}}]\n  notifiers:\n    - {notifier}\n"
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, monkeypatch, text)
    paths = [p.path for p in caught.value.problems]
    assert any(p.startswith(where) for p in paths), paths
    assert any(message in p.message for p in caught.value.problems)


def test_a_sinks_comment_template_does_not_replace_the_escalation_comment() -> None:
    """Ops' comment template is for severity changes and recoveries; a step's comment says which level was told."""
    from sitewatch.tickets.render import comment

    payload = {
        "event": "escalated",
        "comment_text": "Escalation L2 at 03:10: notified tg-l2.",
        "templates": {"comment": "x"},
    }
    assert comment(payload) == "Escalation L2 at 03:10: notified tg-l2."

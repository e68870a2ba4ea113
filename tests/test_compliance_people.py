"""SLA compliance for people: the client's report and page in its language and zone, the operator's in
``agent.language`` and ``agent.timezone``, each breach with the escalation steps that fired.

The store is the real one: incidents opened and resolved by the tracker, acknowledgements by
:func:`sitewatch.store.life.change`, escalation firings by :func:`sitewatch.store.escalations.fire`,
every time injected. The month boundary is exercised on both sides: an incident opened at 01:00 on
1 December in Moscow is still 30 November in UTC.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sitewatch.cli.report import make_report
from sitewatch.config import load_config
from sitewatch.config.specs import Config
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.i18n.catalog import tables
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store
from sitewatch.store.escalations import fire
from sitewatch.store.life import change, life, open_incident_id
from sitewatch.web.access import Access
from sitewatch.web.server import build_app
from sitewatch.web.statuspage import StatusPage
from tests.helpers import serve
from tests.statuspage_helpers import fixed_availability

MSK = ZoneInfo("Europe/Moscow")
LOG = logging.getLogger("sitewatch.test")
OPERATOR = "operator-token-0123456789abcdef"
TOKEN = "romashka-token-0123456789abcdef"


def msk(*args: int) -> float:
    """Unix seconds of a Moscow wall-clock time."""
    return dt.datetime(*args, tzinfo=MSK).timestamp()


NOW = msk(2026, 12, 9, 12, 0)
#: shop's second incident: nobody acks for 31 minutes 1 second (P2 response: 30 minutes).
BREACH = msk(2026, 12, 8, 3, 0)


def _config(tmp_path: Path, language: str, timezone: str) -> Config:
    path = tmp_path / f"config-{language}.yaml"
    path.write_text(
        f"agent: {{state_dir: '{tmp_path}', language: {language}, timezone: {timezone},"
        f" operator_token: {OPERATOR}}}\n"
        "clients:\n"
        "  - name: romashka\n"
        "    title: ООО «Ромашка»\n"
        "    language: ru\n"
        "    timezone: Europe/Moscow\n"
        "    calendar: 24x7\n"
        f"    token: {TOKEN}\n"
        "    sla: {P2: {response: 30m, resolve: 4h}}\n"
        "sites:\n"
        "  - {name: shop, url: 'https://shop.example/', client: romashka, fail_after: 1, recover_after: 1}\n"
        "  - {name: bank, url: 'https://bank.example/', client: romashka, fail_after: 1, recover_after: 1}\n",
        encoding="utf-8",
    )
    return load_config(path)


def _observe(tracker: IncidentTracker, cfg: Config, site: str, status: Status, at: float) -> None:
    spec = next(c for c in cfg.checks if c.site.name == site)
    summary = "HTTP 503" if status == Status.CRITICAL else "ok"
    tracker.observe(spec, RunRecord(site, spec.name, spec.type, Result(status, summary), at, 0.1))


def _incident(store: Store, key: str) -> int:
    incident = open_incident_id(store, key)
    assert incident is not None
    return incident


def _record(tmp_path: Path) -> None:
    """Three incidents of one client: one in Moscow's November, two in its December (one breached)."""
    cfg = _config(tmp_path, "en", "UTC")
    store = Store(tmp_path / "sitewatch.db")

    def so_far(key: str) -> tuple[float | None, tuple[tuple[float, float | None], ...]]:
        incident = open_incident_id(store, key)
        lived = life(store, incident) if incident is not None else None
        return (lived.acked_at, lived.pauses) if lived else (None, ())

    tracker = IncidentTracker(
        store,
        ["local"],
        LOG,
        lambda *_: None,
        cfg.tickets,
        route=lambda spec: cfg.client_book.route(spec.client, spec.site.tags),
        life=so_far,
    )
    # November 30, 23:30 in Moscow: November for the client, whatever UTC says.
    _observe(tracker, cfg, "bank", Status.CRITICAL, msk(2026, 11, 30, 23, 30))
    change(store, _incident(store, "sw:v1:bank:http"), "ack", at=msk(2026, 11, 30, 23, 35), by="ivanov")
    _observe(tracker, cfg, "bank", Status.OK, msk(2026, 11, 30, 23, 50))
    # December 1, 01:00 in Moscow (30 November, 22:00 UTC): acked in 10 minutes, resolved in an hour.
    _observe(tracker, cfg, "shop", Status.CRITICAL, msk(2026, 12, 1, 1, 0))
    change(store, _incident(store, "sw:v1:shop:http"), "ack", at=msk(2026, 12, 1, 1, 10), by="ivanov")
    _observe(tracker, cfg, "shop", Status.OK, msk(2026, 12, 1, 2, 0))
    # December 8, 03:00: the chain fires (L1, its reminder, L2; the manager's step late after a restart).
    _observe(tracker, cfg, "shop", Status.CRITICAL, BREACH)
    shop = _incident(store, "sw:v1:shop:http")
    steps = [(0, 0, "L1", 0, 0), (0, 1, "L1", 600, 600), (1, 0, "L2", 1500, 1500), (2, 0, "manager", 1800, 1860)]
    for step, repeat, level, due, at in steps:
        rows = [(f"notify-{level}", "notify", {"level": level})]
        assert fire(
            store, shop, step, repeat, level=level, due_at=BREACH + due, at=BREACH + at, late=due != at, rows=rows
        )
    change(store, shop, "ack", at=BREACH + 1861, by="petrov")
    _observe(tracker, cfg, "shop", Status.OK, BREACH + 2 * 3600)
    store.close()


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """The store of :func:`_record` in ``tmp_path``."""
    _record(tmp_path)
    return tmp_path


def _visible(page: str) -> str:
    """The text a person reads: no style, no tags, entities decoded."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _english_fragments() -> set[str]:
    """The literal words of every English catalog text that no Russian text also uses."""
    russian = " ".join(tables()["ru"].values())
    out = set()
    for message in tables()["en"].values():
        for raw in re.split(r"\{[^}]*\}", message):
            piece = raw.strip(" .,:;()–-«»→/%'\"")
            if re.search(r"[A-Za-z]{2}", piece) and piece not in russian:
                out.add(piece)
    return out


def _english_left(page: str) -> list[str]:
    text = _visible(page)
    return sorted(w for w in _english_fragments() if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text))


def test_the_english_check_bites() -> None:
    """The check below would catch an English heading or status word left in a Russian page."""
    assert _english_left("<h2>SLA compliance, декабрь 2026</h2><td>missed</td>") == ["SLA compliance", "missed"]
    assert _english_left("<h2>Соблюдение SLA, декабрь 2026</h2><style>td { color: red }</style>") == []


def test_a_clients_html_report_has_its_compliance_in_its_words(recorded: Path) -> None:
    """Russian from heading to units, Moscow times, a real table; the breach lists the steps that fired."""
    cfg = _config(recorded, "en", "UTC")
    page = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="html", now=NOW, client="romashka")
    assert "<pre>" not in page
    section = page[page.index('<section id="sla-compliance">') :]
    assert "<h2>Соблюдение SLA, декабрь 2026</h2>" in section
    assert '<h3 data-client="romashka">ООО «Ромашка»</h3>' in section
    # P2: two incidents this (Moscow) month, 30 minutes / 4 hours; 1 response met, 1 missed, 2 resolves met.
    row = re.search(r'<tr class="missed"><td>P2</td>(.*?)</tr>', section)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row[1])
    assert cells[0] == "2"
    assert (cells[1], cells[3], cells[4], cells[5]) == ("30 минут", "31 минута 1 секунда", "1", "1")
    assert (cells[6], cells[9], cells[10], cells[11]) == ("4 часа", "2", "0", "75,00%")
    breach = re.search(r'<tr data-incident="sw:v1:shop:http" data-goal="response">(.*?)</tr>', section)
    assert breach is not None
    for piece in (
        "<td>реакция</td>",
        "<td>8 дек. 2026 г., 03:00 MSK</td>",  # opened
        "<td>8 дек. 2026 г., 03:30 MSK</td>",  # due
        "<td>8 дек. 2026 г., 03:31 MSK</td>",  # acknowledged
        "<td>1 минута 1 секунда</td>",  # over by, to the second
        '<li data-level="L1">L1: 8 дек. 2026 г., 03:00 MSK, вовремя</li>',
        '<li data-level="L1">L1 (напоминание 1): 8 дек. 2026 г., 03:10 MSK, вовремя</li>',
        '<li data-level="L2">L2: 8 дек. 2026 г., 03:25 MSK, вовремя</li>',
        '<li data-level="manager" class="late">manager: 8 дек. 2026 г., 03:31 MSK, с опозданием'
        " (срок был 8 дек. 2026 г., 03:30 MSK)</li>",
    ):
        assert piece in breach[1], piece
    assert "sw:v1:bank:http" not in section  # opened in Moscow's November
    assert _english_left(page.replace("manager", "")) == []  # a level's name is the config's, not a text


def test_a_clients_json_keeps_english_keys_with_the_fired_steps(recorded: Path) -> None:
    """JSON: the same compliance as data, each breach with its incident's firings (late flagged)."""
    cfg = _config(recorded, "en", "UTC")
    text = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="json", now=NOW, client="romashka")
    (client,) = json.loads(text)["sla_compliance"]
    (line,) = client["priorities"]
    assert (line["incidents"], line["response"]["breached"], line["met_percent"]) == (2, 1, 75.0)
    (breach,) = client["breaches"]
    assert (breach["kind"], breach["over_seconds"]) == ("response", 61.0)
    steps = [(s["level"], s["repeat"], s["fired_at"] - BREACH, s["late"]) for s in breach["escalations"]]
    assert steps == [("L1", 0, 0, False), ("L1", 1, 600, False), ("L2", 0, 1500, False), ("manager", 0, 1860, True)]
    assert breach["escalations"][0]["targets"] == ["notify-L1"]


def test_the_operators_report_follows_agent_language_and_timezone(recorded: Path) -> None:
    """agent.language ru, agent.timezone Moscow: the page all Russian, titled for all sites, Moscow's month."""
    cfg = _config(recorded, "ru", "Europe/Moscow")
    page = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="html", now=NOW)
    assert '<html lang="ru">' in page
    assert "<h1>Все сайты: доступность, декабрь 2026</h1>" in page
    assert "с 1 дек. 2026 г., 00:00 MSK по 9 дек. 2026 г., 12:00 MSK" in page
    assert '<tr class="missed"><td>P2</td><td>2</td>' in page  # the boundary incident is December's
    assert _english_left(page.replace("manager", "")) == []
    document = json.loads(make_report(cfg, site=None, month_text="2026-12", since=None, fmt="json", now=NOW))
    assert document["period"]["start"] == "2026-11-30T21:00:00Z"  # data: UTC, English keys, plain numbers
    assert document["sla_compliance"][0]["priorities"][0]["incidents"] == 2
    csv_text = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="csv", now=NOW)
    assert csv_text.startswith("site,check,counted,availability_percent,")


def test_the_operators_month_in_utc_starts_at_utc_midnight(recorded: Path) -> None:
    """The same store with agent.timezone UTC: 01:00 on 1 December in Moscow was November, so one incident."""
    cfg = _config(recorded, "en", "UTC")
    document = json.loads(make_report(cfg, site=None, month_text="2026-12", since=None, fmt="json", now=NOW))
    assert document["period"]["start"] == "2026-12-01T00:00:00Z"
    assert document["sla_compliance"][0]["priorities"][0]["incidents"] == 1
    page = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="html", now=NOW)
    assert "<h1>All sites: availability, December 2026</h1>" in page
    assert "<h2>SLA compliance, December 2026</h2>" in page
    assert '<li data-level="L2">L2: Dec 8, 2026, 00:25 UTC, on time</li>' in page


def test_the_operators_table_speaks_agent_language(recorded: Path) -> None:
    """The table's headers, status words and compliance block in Russian, its bounds in Moscow time."""
    cfg = _config(recorded, "ru", "Europe/Moscow")
    table = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="table", now=NOW)
    heading, _, header, *_ = table.splitlines()
    assert heading == (
        "Доступность за 2026-12: с 2026-12-01T00:00:00+03:00 по 2026-12-09T12:00:00+03:00 (Europe/Moscow)"
    )
    assert header.split()[:3] == ["САЙТ", "ПРОВЕРКА", "ДОСТУПНОСТЬ"]
    assert "shop  (сайт)" in table
    assert "Соблюдение SLA" in table
    assert "клиент romashka (Europe/Moscow)" in table
    assert (
        "нарушено: P2, реакция, sw:v1:shop:http: срок 8 дек. 2026 г., 03:30 MSK, выполнено 8 дек. 2026 г., 03:31 MSK,"
        " просрочка 0:01:01" in table
    )
    assert "эскалация L1 (напоминание 1): 8 дек. 2026 г., 03:10 MSK\n" in table
    assert "эскалация manager: 8 дек. 2026 г., 03:31 MSK, с опозданием (срок был 8 дек. 2026 г., 03:30 MSK)" in table
    assert not re.search(r"\b(SITE|CHECK|breached|client|escalation)\b", table)


@pytest.fixture
async def client_app(recorded: Path) -> AsyncIterator[str]:
    """The status page and API over the recorded store, its clock at :data:`NOW`."""
    cfg = _config(recorded, "en", "UTC")
    store = Store(recorded / "sitewatch.db")
    page = StatusPage(store, lambda: cfg.sites, fixed_availability({}), lambda: NOW, clients=lambda: cfg.client_book)
    access = Access(None, lambda: OPERATOR, lambda: {"romashka": TOKEN})
    app = build_app(ResultBook(), CollectorRegistry(), {}, lambda: (True, "ok"), page=page, access=access)
    try:
        async with serve(app) as url:
            yield url
    finally:
        page.close()
        store.close()


async def _get(url: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp,
    ):
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def test_the_client_page_shows_this_months_compliance(client_app: str) -> None:
    """/clients/romashka/: December's (Moscow) compliance in Russian, the breach and its steps."""
    status, page = await _get(f"{client_app}/clients/romashka/")
    assert status == 200
    assert "<h2>Соблюдение SLA, декабрь 2026</h2>" in page
    assert '<tr data-incident="sw:v1:shop:http" data-goal="response">' in page
    assert "с опозданием (срок был 8 дек. 2026 г., 03:30 MSK)" in page


async def test_the_client_api_gives_a_months_compliance(client_app: str) -> None:
    """/api/clients/romashka/sla: this month by default, ?month= another; bad or future months are a 400."""
    status, body = await _get(f"{client_app}/api/clients/romashka/sla")
    assert status == 200
    assert (body["month"], body["start"], body["until"]) == (
        "2026-12",
        "2026-12-01T00:00:00+03:00",
        "2026-12-09T12:00:00+03:00",
    )
    assert [b["escalations"][-1]["level"] for b in body["breaches"]] == ["manager"]
    status, body = await _get(f"{client_app}/api/clients/romashka/sla?month=2026-11")
    assert (status, body["priorities"][0]["incidents"], body["breaches"]) == (200, 1, [])
    status, body = await _get(f"{client_app}/api/clients/romashka/sla?month=2027-01")
    assert (status, body) == (400, {"error": "month: 2027-01 has not started yet", "parameter": "month"})
    status, body = await _get(f"{client_app}/api/clients/romashka/sla?month=december")
    assert (status, body["parameter"]) == (400, "month")
    assert "expected a month like 2026-11" in body["error"]

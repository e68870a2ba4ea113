"""The SLA clock end to end: client calendars in config, deadlines in tickets, the docs' worked examples,
priority changes, breaches counted once as deadlines pass, and the month's compliance to the second."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sitewatch.cli.report import make_report
from sitewatch.config import ConfigError, load_config
from sitewatch.config.specs import Config
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.incidents.deadlines import calendar_from, sla_clock
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.reports.compliance import compliance
from sitewatch.reports.compliance_render import compliance_text
from sitewatch.store.database import Store
from sitewatch.store.life import change, life, open_incident_id
from sitewatch.store.sla import clocks
from sitewatch.tickets.render import body, comment, title
from sitewatch.tickets.sla_watch import SlaWatch
from sitewatch.web.metrics import SitewatchCollector
from tests.configs import write_site_config
from tests.helpers import free_port, running_agent, serve, wait_for
from tests.statuspage_helpers import agent_config, fixed_availability, page_app, target_app

MSK = ZoneInfo("Europe/Moscow")
LOG = logging.getLogger("sitewatch.test")

#: The docs' client: 09:00–18:00 Monday to Friday in Moscow, Russia's public holidays; P2 = 30m / 8h.
CLIENTS = """\
tickets:
  sla:
    P2: {response: 30m, resolve: 8h}
    P3: {response: 4h, resolve: 3d}
clients:
  - name: romashka
    language: ru
    timezone: Europe/Moscow
    calendar:
      hours: {mon-fri: "09:00-18:00"}
      country: RU
  - name: allday
    timezone: Europe/Moscow
    calendar: 24x7
sites:
  - {name: shop, url: "https://shop.example/", client: romashka, fail_after: 1, recover_after: 1}
  - {name: bank, url: "https://bank.example/", client: allday, fail_after: 1, recover_after: 1}
"""


def msk(*args: int) -> float:
    """Unix seconds of a Moscow wall-clock time."""
    return dt.datetime(*args, tzinfo=MSK).timestamp()


def _config(tmp_path: Path) -> Config:
    return load_config(write_site_config(tmp_path, CLIENTS))


def _tracker(store: Store, cfg: Config) -> IncidentTracker:
    def so_far(key: str) -> tuple[float | None, tuple[tuple[float, float | None], ...]]:
        incident = open_incident_id(store, key)
        lived = life(store, incident) if incident is not None else None
        return (lived.acked_at, lived.pauses) if lived else (None, ())

    return IncidentTracker(
        store,
        ["local"],
        LOG,
        lambda *_: None,
        cfg.tickets,
        route=lambda spec: cfg.client_book.route(spec.client, spec.site.tags),
        life=so_far,
    )


def _observe(tracker: IncidentTracker, cfg: Config, site: str, status: Status, at: float) -> list[str]:
    spec = next(c for c in cfg.checks if c.site.name == site)
    summary = "HTTP 503" if status == Status.CRITICAL else "slow: 4.2 s" if status == Status.WARNING else "ok"
    record = RunRecord(site, spec.name, spec.type, Result(status, summary), at, 0.1)
    return [e.kind for e in tracker.observe(spec, record)]


def _payloads(store: Store) -> list[dict[str, object]]:
    return [json.loads(r[0]) for r in store.db.execute("SELECT payload FROM outbox ORDER BY id")]


# -- the docs' worked examples (docs/sla.md, "Worked examples") ------------------------------------


def test_docs_example_friday_evening_p2_acked_monday_is_met(tmp_path: Path) -> None:
    """P2 opened Fri 2026-12-04 17:50 MSK on 09:00–18:00: respond by Mon 09:20, resolve by Mon 16:50; ack 09:07 met."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    opened = msk(2026, 12, 4, 17, 50)
    assert _observe(tracker, cfg, "shop", Status.CRITICAL, opened) == ["opened"]
    (payload,) = _payloads(store)
    assert payload["respond_by"] == msk(2026, 12, 7, 9, 20)
    assert payload["resolve_by"] == msk(2026, 12, 7, 16, 50)
    text = body(payload)
    assert "Реакция до 7 дек. 2026 г., 09:20 MSK; решение до 7 дек. 2026 г., 16:50 MSK" in text
    incident = open_incident_id(store, "sw:v1:shop:http")
    assert incident is not None
    assert change(store, incident, "ack", at=msk(2026, 12, 7, 9, 7), by="ivanov")
    sla = clocks(store, [incident], msk(2026, 12, 7, 12, 0))[incident]
    assert (sla.clock.response.outcome, sla.clock.response.elapsed) == ("met", 17 * 60.0)  # 10 min Fri + 7 min Mon
    assert sla.clock.resolve.outcome == "running"


def test_docs_example_friday_before_womens_day(tmp_path: Path) -> None:
    """P2 opened Fri 2027-03-05 17:50: Mon 8 March is a public holiday: respond by Tue 09:20, resolve by Tue 16:50."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    assert _observe(tracker, cfg, "shop", Status.CRITICAL, msk(2027, 3, 5, 17, 50)) == ["opened"]
    (payload,) = _payloads(store)
    assert (payload["respond_by"], payload["resolve_by"]) == (msk(2027, 3, 9, 9, 20), msk(2027, 3, 9, 16, 50))
    assert "Реакция до 9 мар. 2027 г., 09:20 MSK" in body(payload)


def test_docs_example_friday_before_a_working_saturday() -> None:
    """Fri 2027-02-19 17:50: Sat 20 Feb is a working day in Russia (Monday's hours), Mon 22 and Tue 23 are off."""
    calendar = calendar_from({"hours": {str(d): [540, 1080] for d in range(5)}, "country": "RU"}, "Europe/Moscow")
    opened = msk(2027, 2, 19, 17, 50)
    assert calendar.deadline(opened, 30 * 60) == msk(2027, 2, 20, 9, 20)
    assert calendar.deadline(opened, 8 * 3600) == msk(2027, 2, 20, 16, 50)
    assert calendar.deadline(opened, 10 * 3600) == msk(2027, 2, 24, 9, 50)  # 10m Fri, 9h Sat, then Wednesday


def test_waiting_for_the_client_moves_resolve_by_and_never_counts() -> None:
    """Two hours waiting (one pause still open freezes resolve-by); resolve met though the wall clock ran past it."""
    calendar = calendar_from({}, "Europe/Moscow")  # 24x7
    opened = msk(2026, 12, 7, 10, 0)
    args = {"acked_at": opened + 60, "resolved_at": None}
    waiting = sla_clock(calendar, opened, 900, 4 * 3600, **args, pauses=[(opened + 600, None)], now=opened + 3600)
    assert (waiting.resolve.outcome, waiting.resolve.deadline, waiting.resolve.elapsed) == ("paused", None, 600.0)
    pauses = [(opened + 600, opened + 600 + 7200)]
    done = sla_clock(
        calendar, opened, 900, 4 * 3600, acked_at=opened + 60, resolved_at=opened + 5.5 * 3600, pauses=pauses, now=0
    )
    assert done.resolve.deadline == opened + 6 * 3600
    assert (done.resolve.outcome, done.resolve.elapsed) == ("met", 3.5 * 3600)


# -- priority changes -------------------------------------------------------------------------


def test_priority_change_recomputes_the_deadlines_and_the_update_says_them(tmp_path: Path) -> None:
    """warning (P3: 4h) → critical (P2: 30m): the update names P3 → P2 and the new deadlines; the store's terms move."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    opened = msk(2026, 12, 7, 10, 0)  # Monday, working hours
    assert _observe(tracker, cfg, "shop", Status.WARNING, opened) == ["opened"]
    assert _observe(tracker, cfg, "shop", Status.CRITICAL, opened + 600) == ["worsened"]
    first, update = _payloads(store)
    assert (first["priority"], first["respond_by"]) == ("P3", msk(2026, 12, 7, 14, 0))
    assert (update["priority"], update["previous_priority"]) == ("P2", "P3")
    assert (update["respond_by"], update["resolve_by"]) == (msk(2026, 12, 7, 10, 30), msk(2026, 12, 7, 18, 0))
    assert "Приоритет P3 → P2: реакция до 7 дек. 2026 г., 10:30 MSK; решение до 7 дек. 2026 г., 18:00 MSK" in comment(
        update
    )
    incident = open_incident_id(store, "sw:v1:shop:http")
    assert incident is not None
    assert clocks(store, [incident], opened + 700)[incident].priority == "P2"


# -- breaches counted once, when the deadline passes --------------------------------------------


def _samples(collector: SitewatchCollector, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == name
    }


def test_a_breach_is_counted_once_when_its_deadline_passes(tmp_path: Path) -> None:
    """Nobody acks a 24x7 P2: nothing before respond-by, one breach after it, still one on later sweeps and restarts."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    opened = msk(2026, 12, 5, 3, 0)  # Saturday night: the 24x7 client's clock runs
    assert _observe(tracker, cfg, "bank", Status.CRITICAL, opened) == ["opened"]
    watch = SlaWatch(store, LOG)
    assert watch.sweep(opened + 1799) == []
    (settled,) = watch.sweep(opened + 1800.5)
    assert (settled.kind, settled.outcome, settled.client, settled.priority) == ("response", "breached", "allday", "P2")
    assert watch.sweep(opened + 7200) == []
    incident = open_incident_id(store, "sw:v1:bank:http")
    assert incident is not None
    change(store, incident, "ack", at=opened + 3600, by="petrov")
    (measured,) = watch.sweep(opened + 3700)
    assert measured.response_seconds == 3600.0
    collector = SitewatchCollector(ResultBook(), {}, LOG, sla=SlaWatch(store, LOG).snapshot)  # a restarted agent
    breaches = _samples(collector, "sitewatch_sla_breaches_total")
    assert breaches == {(("client", "allday"), ("kind", "response"), ("priority", "P2")): 1.0}
    count = _samples(collector, "sitewatch_sla_response_seconds_count")
    assert count == {(("client", "allday"), ("priority", "P2")): 1.0}
    buckets = _samples(collector, "sitewatch_sla_response_seconds_bucket")
    assert buckets[(("client", "allday"), ("le", "1800.0"), ("priority", "P2"))] == 0.0
    assert buckets[(("client", "allday"), ("le", "3600.0"), ("priority", "P2"))] == 1.0


# -- the month's compliance -------------------------------------------------------------------


def test_month_compliance_to_the_second(tmp_path: Path) -> None:
    """One P2 met (17m of 30m), one missed by 1 s (30m 01s): 50 % of responses met, the breach listed to the second."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    first = msk(2026, 12, 4, 17, 50)
    _observe(tracker, cfg, "shop", Status.CRITICAL, first)
    shop = open_incident_id(store, "sw:v1:shop:http")
    assert shop is not None
    change(store, shop, "ack", at=msk(2026, 12, 7, 9, 7), by="ivanov")
    _observe(tracker, cfg, "shop", Status.OK, msk(2026, 12, 7, 11, 0))
    second = msk(2026, 12, 8, 3, 0)
    _observe(tracker, cfg, "bank", Status.CRITICAL, second)
    bank = open_incident_id(store, "sw:v1:bank:http")
    assert bank is not None
    change(store, bank, "ack", at=second + 1801, by="petrov")
    _observe(tracker, cfg, "bank", Status.OK, second + 3600)
    start, end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp(), dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    report = compliance(store, start, end, now=msk(2026, 12, 9, 0, 0))
    allday, romashka = report
    (line,) = romashka.lines
    assert (line.response_met, line.response_breached, line.response_mean) == (1, 0, 1020.0)
    assert (line.resolve_met, line.resolve_breached, line.met_percent) == (1, 0, 100.0)
    (bank_line,) = allday.lines
    assert (bank_line.response_met, bank_line.response_breached, bank_line.response_max) == (0, 1, 1801.0)
    (breach,) = allday.breaches
    assert (breach.kind, breach.over, breach.deadline) == ("response", 1.0, second + 1800)
    text = compliance_text(report)
    assert "breached: P2 response of sw:v1:bank:http" in text
    assert "over by 0:00:01" in text
    assert "0:17:00" in text


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "where", "message"),
    [
        ('{hours: {mon-fri: "09:00-18:00", sut: "10:00-12:00"}}', "clients[0].calendar.hours", "got 'sut'"),
        ('{hours: {mon: "18:00-09:00"}}', "clients[0].calendar.hours", "end before they start"),
        ('{hours: {mon: "9-18"}}', "clients[0].calendar.hours", 'expected hours like "09:00-18:00"'),
        ('{hours: {mon-fri: "09:00-18:00"}, country: XX}', "clients[0].calendar.country", "'XX'"),
        ("24/7", "clients[0].calendar", "expected 24x7 or a mapping"),
        ("{country: RU}", "clients[0].calendar", "need working hours"),
        ('{hours: {mon: "09:00-18:00"}, days_off: [2026-13-01]}', "clients[0].calendar.days_off[0]", "date"),
        ('{hours: {mon: "09:00-18:00"}, workdays: []}', "clients[0].calendar.workdays", ""),
    ],
)
def test_calendar_errors_are_located(tmp_path: Path, calendar: str, where: str, message: str) -> None:
    """A bad calendar names the file, the line of the calendar, the dotted key and what was expected."""
    path = write_site_config(tmp_path, f"clients:\n  - name: acme\n    calendar: {calendar}\nsites: []\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = (str(p) for p in caught.value.problems)
    assert f"config.yaml:8: {where}" in problem
    assert message in problem


def test_a_working_hours_calendar_from_config(tmp_path: Path) -> None:
    """Ranges and lists of weekdays, own days off and working days reach the client's route."""
    path = write_site_config(
        tmp_path,
        "clients:\n  - name: acme\n    calendar:\n"
        '      hours: {"mon-thu": "09:00-18:00", "fri": "09:00-16:45"}\n'
        "      days_off: [2026-12-31]\n      working_days: [2026-12-26]\nsites: []\n",
    )
    route = load_config(path).client_book.route("acme", ())
    assert route.calendar.hours == {0: (540, 1080), 1: (540, 1080), 2: (540, 1080), 3: (540, 1080), 4: (540, 1005)}
    assert route.calendar.days_off == (dt.date(2026, 12, 31),)
    calendar = calendar_from(route.calendar.as_dict(), "UTC")
    assert calendar.day_hours(dt.date(2026, 12, 26)) is not None  # a Saturday made a working day
    assert calendar.day_hours(dt.date(2026, 12, 31)) is None


# -- where people read the deadlines ---------------------------------------------------------


def test_report_ends_with_the_compliance_section(tmp_path: Path) -> None:
    """`sitewatch report` (table and JSON) carries the month's SLA compliance of the clients' incidents."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "sitewatch.db")
    tracker = _tracker(store, cfg)
    opened = msk(2026, 12, 4, 17, 50)
    _observe(tracker, cfg, "shop", Status.CRITICAL, opened)
    store.close()
    now = msk(2026, 12, 9, 0, 0)
    table = make_report(cfg, site=None, month_text="2026-12", since=None, fmt="table", now=now)
    assert "SLA compliance" in table
    assert "client romashka (Europe/Moscow)" in table
    # The operator's table: agent.language and agent.timezone (English and UTC here), whoever the client is.
    assert "breached: P2 response of sw:v1:shop:http: due Dec 7, 2026, 06:20 UTC, done not yet" in table
    document = json.loads(make_report(cfg, site="shop", month_text="2026-12", since=None, fmt="json", now=now))
    (client,) = document["sla_compliance"]
    assert client["client"] == "romashka"
    assert client["priorities"][0]["response"]["breached"] == 1


async def test_status_page_shows_deadlines_in_the_clients_zone(tmp_path: Path) -> None:
    """The open incident's row says respond-by and resolve-by in Moscow time, with their state in the page's words."""
    cfg = _config(tmp_path)
    opened = msk(2026, 12, 4, 17, 50)
    async with page_app(tmp_path, cfg.sites, fixed_availability({}), lambda: opened + 60) as served:
        tracker = _tracker(served.store, cfg)
        _observe(tracker, cfg, "shop", Status.CRITICAL, opened)
        async with aiohttp.ClientSession() as session, session.get(served.url + "/") as resp:
            html = await resp.text()
    assert "7 дек. 2026 г., 09:20 MSK (running)<br>7 дек. 2026 г., 16:50 MSK (running)" in html


async def test_the_running_agent_counts_a_missed_response_in_metrics(tmp_path: Path) -> None:
    """A running agent: nobody acks a P2 due in 1 s; its sweep counts one breach and /metrics shows it."""
    async with serve(target_app()) as url:
        config = agent_config(tmp_path, url, f"127.0.0.1:{free_port()}")
        with config.open("a", encoding="utf-8") as extra:
            extra.write("tickets:\n  sla: {P2: {response: 1s, resolve: 1h}}\n")
        async with running_agent(config) as agent, aiohttp.ClientSession() as session:
            line = 'sitewatch_sla_breaches_total{client="default",kind="response",priority="P2"} 1.0'

            async def breached() -> bool:
                async with session.get(f"http://{agent.web.bound[0]}/metrics") as resp:
                    return line in await resp.text()

            await wait_for(breached, timeout=30, what="the response breach in /metrics")
            async with session.get(f"http://{agent.web.bound[0]}/metrics") as resp:
                text = await resp.read()
            promtool = shutil.which("promtool")
            if promtool is not None:  # `make test` installs it: the new families must lint clean
                proc = await asyncio.create_subprocess_exec(
                    promtool, "check", "metrics", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
                said, _ = await asyncio.wait_for(proc.communicate(text), timeout=60)
                assert b"sitewatch_sla" not in said, said.decode()
            outcomes = [tuple(r) for r in agent.store.db.execute("SELECT response_outcome FROM incident_sla")]
            assert outcomes == [("breached",)]


def test_templates_may_name_the_deadlines(tmp_path: Path) -> None:
    """A sink's own title template gets $respond_by in the client's zone and language."""
    cfg = _config(tmp_path)
    store = Store(tmp_path / "s.db")
    _observe(_tracker(store, cfg), cfg, "shop", Status.CRITICAL, msk(2026, 12, 4, 17, 50))
    (payload,) = _payloads(store)
    assert title({**payload, "templates": {"title": "[$priority] $site до $respond_by"}}) == (
        "[P2] shop до 7 дек. 2026 г., 09:20 MSK"
    )

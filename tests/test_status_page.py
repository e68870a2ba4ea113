"""The status page over HTTP: states per site and check, escaping, uptime, sparklines, incidents, no external URLs."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import aiohttp
import pytest

from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.reports.history import site_availability
from sitewatch.store.database import Store
from tests.statuspage_helpers import Dom, fixed_availability, page_app, record, site

NOW = 1_800_000_000.0
DAY = 86400.0


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as client, client.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_board_shows_each_site_worst_state_and_its_checks(tmp_path: Path) -> None:
    """A site's card takes its worst check's status; problems come first; a site never run is pending."""
    sites = [site("shop", "http", "tls"), site("blog"), site("crm"), site("new")]
    async with page_app(tmp_path, sites, fixed_availability({}), lambda: NOW) as app:
        record(app.book, "shop", "http", Status.OK, "HTTP 200 OK", at=NOW - 20, took=0.12)
        record(app.book, "shop", "tls", Status.WARNING, "certificate expires in 6 days", at=NOW - 15, took=0.03)
        record(app.book, "blog", "http", Status.CRITICAL, "HTTP 500 Internal Server Error", at=NOW - 5, took=0.25)
        record(app.book, "crm", "http", Status.OK, "HTTP 200 OK", at=NOW - 3, took=1.5)
        status, content_type, html = await get(app.url + "/")
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    dom = Dom(html)
    cards = dom.find("data-site")
    assert [(c.attrs["data-site"], c.attrs["data-status"]) for c in cards] == [
        ("blog", "critical"),
        ("shop", "warning"),
        ("new", "pending"),
        ("crm", "ok"),
    ]
    shop = dom.text(cards[1])
    assert "certificate expires in 6 days" in shop
    assert "15 sec ago" in shop
    assert "120 ms" in shop
    checks = {(e.attrs["data-check"], e.attrs["data-status"]) for e in dom.find("data-check")}
    assert {("http", "ok"), ("tls", "warning"), ("http", "pending")} <= checks
    assert '<meta http-equiv="refresh" content="30">' in html
    assert "<script" not in html


async def test_everything_is_escaped(tmp_path: Path) -> None:
    """Markup in a site name, a summary, an incident and a dead-letter error comes out as text."""
    evil = "<script>alert('x')</script>"
    sites = [site(f"shop{evil}", "http")]
    async with page_app(tmp_path, sites, fixed_availability({}), lambda: NOW) as app:
        record(app.book, f"shop{evil}", "http", Status.CRITICAL, f"page contains {evil}", at=NOW - 1, took=0.1)
        event = IncidentEvent("opened", NOW - 60, Status.CRITICAL, f"page contains {evil}", NOW - 60)
        app.store.record(
            "sw:v1:shop:http", event, site=f"shop{evil}", check="http", sinks=["desk"], payload={"key": "k"}
        )
        app.store.db.execute("UPDATE outbox SET state = 'dead', last_error = ?", (f"HTTP 400 {evil}",))
        _, _, html = await get(app.url + "/")
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 4
    dom = Dom(html)
    assert [c.attrs["data-site"] for c in dom.find("data-site")] == [f"shop{evil}"]  # the parser unescapes it back


async def test_uptime_per_window_and_sparkline(tmp_path: Path) -> None:
    """Each window shows its ratio truncated to 0.01 % (never rounded up to 100 %); a site with runs gets a line."""
    ratios = {DAY: 0.99996, 7 * DAY: 0.5, 30 * DAY: None}
    async with page_app(tmp_path, [site("shop"), site("quiet")], fixed_availability(ratios), lambda: NOW) as app:
        app.store.append_history(
            [("shop", "http", NOW - DAY + i * 1800 + 1, "ok", 0.1 + (i % 5) / 10) for i in range(48)]
        )
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    (shop,) = dom.find("data-site", "shop")
    uptime = {e.attrs["data-uptime"]: dom.text(e) for e in dom.find("data-uptime")[:3]}
    assert uptime == {"24h": "24h 99.99%", "7d": "7d 50.00%", "30d": "30d no data"}
    assert "100 ms–500 ms" in dom.text(shop)
    paths = re.findall(r'<path d="([^"]+)"', html)
    assert len(paths) == 1  # only shop has history
    assert paths[0].startswith("M")
    assert paths[0].count("L") == 47
    assert "no response times in the last 24 h" in dom.text(dom.find("data-site", "quiet")[0])


async def test_uptime_is_cached_briefly_and_computed_off_the_loop(tmp_path: Path) -> None:
    """A reload within a window's 1/1440 reuses the figure, later it is computed again; never on the loop's thread."""
    calls: list[float] = []
    clock = [NOW]
    threads: set[int] = set()

    def counting(store: Store, spec: object, start: float, end: float) -> object:
        calls.append(end - start)
        threads.add(threading.get_ident())
        assert store.db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0  # its own connection works
        return type("A", (), {"ratio": 1.0})()

    async with page_app(tmp_path, [site("shop")], counting, lambda: clock[0]) as app:  # type: ignore[arg-type]
        await get(app.url + "/")
        await get(app.url + "/")
        assert len(calls) == 3
        clock[0] += 61  # the 24 h figure is due again, the 7 d and 30 d ones are not
        await get(app.url + "/")
        assert calls[3:] == [DAY]
    assert threads
    assert threading.get_ident() not in threads


async def test_incidents_and_deliveries_with_their_tickets(tmp_path: Path) -> None:
    """Open incidents list each sink's ticket and delivery state; dead letters and pending counts show."""
    async with page_app(tmp_path, [site("shop")], fixed_availability({}), lambda: NOW) as app:
        opened = IncidentEvent("opened", NOW - 600, Status.CRITICAL, "HTTP 503", NOW - 600)
        app.store.record("sw:v1:shop:http", opened, site="shop", check="http", sinks=["local", "jira"], payload={})
        app.store.db.execute("UPDATE outbox SET state = 'done' WHERE sink = 'local'")
        app.store.db.execute("INSERT INTO ticket_refs (incident_id, sink, ref) SELECT id, 'local', '17' FROM incidents")
        app.store.db.execute("UPDATE outbox SET state = 'dead', last_error = 'HTTP 401' WHERE sink = 'jira'")
        from sitewatch.engine.results import TicketStats

        app.book.ticket_stats = lambda: TicketStats(1, 3, 1, 42.0, {}, tuple(app.store.dead_letters()))
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    (row,) = dom.find("data-incident", "sw:v1:shop:http")
    text = dom.text(row)
    assert "shop / http" in text
    assert "10 min ago" in text
    assert "local: 17 (delivered)" in text
    assert "jira: – (dead)" in text
    assert "HTTP 401" in text
    assert dom.text(dom.find("data-deliveries", "pending")[0]) == "3 pending"
    assert dom.text(dom.find("data-deliveries", "dead")[0]) == "1 dead letter"


async def test_page_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    """No src/href to another host, no external stylesheet or script: the page works with no way out."""
    sites = [site("shop", url="https://shop.example.com/?token=secret")]
    async with page_app(tmp_path, sites, fixed_availability({}), lambda: NOW) as app:
        record(app.book, "shop", "http", Status.OK, "see https://cdn.example.net/x.js", at=NOW - 1, took=0.1)
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    assert not [u for u in dom.urls if re.match(r"(?i)\s*(https?:)?//", u)]
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(dom.tags)
    assert "@import" not in html
    assert "url(" not in html
    assert "token=secret" not in html  # the site URL is shown without its query


@pytest.mark.parametrize("path", ["/", "/api/incidents", "/api/sites/shop/history"])
async def test_head_and_get_only(tmp_path: Path, path: str) -> None:
    """The new read-only endpoints refuse writes with 405."""
    async with page_app(tmp_path, [site("shop")], fixed_availability({}), lambda: NOW) as app:
        async with aiohttp.ClientSession() as client, client.post(app.url + path, data=b"{}") as resp:
            assert resp.status == 405


async def test_uptime_figures_from_a_known_history(tmp_path: Path) -> None:
    """With the real availability arithmetic: a day of one-minute runs, 36 of them failing, reads 97.50 % for 24 h;
    an hour down three days ago brings 7 d and 30 d to 93.60 %; time without runs counts for nothing."""
    # make_spec's http check runs every 60 s with a 5 s timeout: one run stands for at most 65 s.
    day = [
        ("shop", "http", NOW - DAY + i * 60, "critical" if 600 <= i < 636 else "ok", 0.2) for i in range(1440)
    ]  # 1404 ok minutes, 36 down: 84,240 s up, 2,160 s down
    outage = [("shop", "http", NOW - 3 * DAY + i * 60, "critical", 0.2) for i in range(60)]  # 3,600 s down
    outage.append(("shop", "http", NOW - 3 * DAY + 3600, "ok", 0.2))  # then up, until its 65 s reach ends
    async with page_app(tmp_path, [site("shop")], site_availability, lambda: NOW) as app:
        app.store.append_history(day + outage)
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    uptime = {e.attrs["data-uptime"]: dom.text(e) for e in dom.find("data-uptime")}
    # 84,240 / 86,400 = 0.975; (84,240 + 65) / (84,240 + 65 + 2,160 + 3,600) = 0.93604…
    assert uptime == {"24h": "24h 97.50%", "7d": "7d 93.60%", "30d": "30d 93.60%"}


async def test_uptime_below_the_sla_target_is_marked(tmp_path: Path) -> None:
    """With `sla: 99.9` a window measured below it is marked; one at or above it, or with no data, is not."""
    ratios = {DAY: 0.999, 7 * DAY: 0.9989, 30 * DAY: None}
    sites = [site("shop", sla=99.9), site("blog")]
    async with page_app(tmp_path, sites, fixed_availability(ratios), lambda: NOW) as app:
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    assert [c.attrs["data-site"] for c in dom.find("data-site")] == ["blog", "shop"]
    marked = [(e.attrs["data-uptime"], "data-below-sla" in e.attrs) for e in dom.find("data-uptime")]
    assert marked[:3] == [("24h", False), ("7d", False), ("30d", False)]  # blog has no target: never marked
    assert marked[3:] == [("24h", False), ("7d", True), ("30d", False)]
    assert [dom.text(e) for e in dom.find("data-sla")] == ["SLA 99.9%"]


async def test_each_card_links_its_history_relative_to_the_page(tmp_path: Path) -> None:
    """A card links to its site's JSON history with a relative URL that the agent answers."""
    async with page_app(tmp_path, [site("shop.example-1")], fixed_availability({}), lambda: NOW) as app:
        _, _, html = await get(app.url + "/")
        (link,) = [u for u in Dom(html).urls if "history" in u]
        assert link == "api/sites/shop.example-1/history"
        status, content_type, _ = await get(f"{app.url}/{link}")
    assert (status, content_type) == (200, "application/json; charset=utf-8")


async def test_a_shared_window_is_read_not_computed(tmp_path: Path) -> None:
    """A window another component keeps current (the agent's 30-day cache) is shown as it has it, never recomputed."""
    windows: list[float] = []

    def counting(store: Store, spec: object, start: float, end: float) -> object:
        windows.append(end - start)
        return type("A", (), {"ratio": 1.0})()

    shared = {"30d": lambda: {"shop": 0.25}}
    async with page_app(tmp_path, [site("shop"), site("new")], counting, lambda: NOW, shared=shared) as app:  # type: ignore[arg-type]
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    texts = [dom.text(e) for e in dom.find("data-uptime", "30d")]
    assert texts == ["30d no data", "30d 25.00%"]  # "new" (first: pending) is absent from the cache
    assert sorted(windows) == [DAY, DAY, 7 * DAY, 7 * DAY]


#: Words of the English page that must not appear on a Russian one.
ENGLISH_PAGE = ("last run", "summary", "history", "Open incidents", "sites:", " ago", "never", "no data", "UTC")


async def test_page_in_russian_with_local_time(tmp_path: Path) -> None:
    """`agent.language: ru`, `agent.timezone: Europe/Moscow`: headings, statuses, findings, plurals, units
    and times are Russian, the time carries its zone; the English summary stays in the API."""
    sites = [site("shop", "http", "tls"), site("blog"), site("crm"), site("new")]
    people = ("ru", "Europe/Moscow")
    async with page_app(tmp_path, sites, fixed_availability({86400: 0.99996}), lambda: NOW, people=people) as app:
        record(app.book, "shop", "http", Status.OK, "HTTP 200 OK in 120ms", at=NOW - 20, took=0.12)
        expiring = "certificate for shop expires in 6 days (2026-12-13)"
        record(app.book, "shop", "tls", Status.WARNING, expiring, at=NOW - 15, took=0.03)
        failing = "HTTP 500 Internal Server Error (expected 200-399)"
        record(app.book, "blog", "http", Status.CRITICAL, failing, at=NOW - 5, took=0.25)
        record(app.book, "crm", "http", Status.OK, "HTTP 200 OK in 1.5s", at=NOW - 3, took=1.5)
        _, _, html = await get(app.url + "/")
    dom = Dom(html)
    text = " ".join(dom.text(e) for e in dom.marked)
    assert '<html lang="ru">' in html
    assert "<h1>Состояние сайтов (sitewatch)</h1>" in html
    assert "4 сайта:" in html
    blog, shop = dom.text(dom.find("data-site")[0]), dom.text(dom.find("data-site")[1])
    assert "критично" in blog
    assert "HTTP 500 Internal Server Error (ожидался код 200-399)" in blog
    assert "сертификат для shop истекает через 6 дней (2026-12-13)" in shop
    assert "15 с назад" in shop
    assert "120 мс" in shop
    assert "99,99%" in shop
    assert "MSK" in html
    for english in ENGLISH_PAGE:
        assert english not in text, english

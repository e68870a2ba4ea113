"""Client pages and filters: the tokens' config rules, ``?client=``/``?tag=``, a client page's month and words."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sitewatch.config import ConfigError, load_config
from sitewatch.config.specs import Config
from sitewatch.engine.results import ResultBook
from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.web.access import Access
from sitewatch.web.server import build_app
from sitewatch.web.statuspage import StatusPage
from tests.helpers import serve
from tests.statuspage_helpers import Dom, Fixed, record

NOW = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC).timestamp()  # 01:30 on 1 December in Moscow
OPERATOR = "operator-token-0123456789abcdef"
ACME = "acme-token-0123456789abcdef00"


def _write(tmp_path: Path, agent: str = f"operator_token: {OPERATOR}", acme_token: str = ACME) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent: {{state_dir: '{tmp_path}', {agent}}}\n"
        "clients:\n"
        f"  - {{name: acme, language: ru, timezone: Europe/Moscow, token: {acme_token}}}\n"
        "  - {name: beta, token: beta-token-0123456789abcdef00}\n"
        "sites:\n"
        "  - {name: shop-a, url: 'https://a.example/', client: acme, tags: [magento], sla: 99.9}\n"
        "  - {name: blog-a, url: 'https://b.example/', client: acme, tags: [wordpress]}\n"
        "  - {name: shop-b, url: 'https://c.example/', client: beta, tags: [magento]}\n"
        "  - {name: house, url: 'https://d.example/'}\n",
        encoding="utf-8",
    )
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_client_tokens_need_operator_credentials(tmp_path: Path) -> None:
    """Without an operator token or users, ``/`` would show every client to anyone: a located error."""
    problems = _problems(_write(tmp_path, agent="timezone: UTC"))
    assert len(problems) == 2
    assert all("needs operator credentials too: set agent.operator_token" in p for p in problems)
    assert ":3: clients[0].token:" in problems[0]


def test_two_holders_of_one_token_are_refused_without_showing_it(tmp_path: Path) -> None:
    """A client token equal to another's (or the operator's) could not tell them apart; the message hides it."""
    (problem,) = _problems(_write(tmp_path, acme_token=OPERATOR))
    assert "clients[0].token: the same token as agent.operator_token; give each client its own" in problem
    assert OPERATOR not in problem


@dataclass
class App:
    url: str
    config: Config


def _availability(_store: Store, site: Any, start: float, end: float) -> Fixed:
    """99.5 % over the month so far (it starts at 21:00 UTC on 30 November in Moscow), 100 % otherwise."""
    month = dt.datetime(2026, 11, 30, 21, tzinfo=dt.UTC).timestamp()
    return Fixed(0.995 if start == month else 1.0)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    """The page and API of the config above, an open incident on every site, each summary naming its site."""
    config = load_config(_write(tmp_path))
    store = Store(tmp_path / "pages.db")
    book = ResultBook()
    book.configure((c.key, c.type) for s in config.sites for c in s.checks)
    for n, site in enumerate(config.sites):
        record(book, site.info.name, "http", Status.CRITICAL, f"down: {site.info.name}", at=NOW - 60, took=0.1)
        event = IncidentEvent("opened", NOW - 600 + n, Status.CRITICAL, f"down: {site.info.name}", NOW - 600)
        key = f"sw:v1:{site.info.name}:http"
        store.record(key, event, site=site.info.name, check="http", sinks=["local"], payload={})
    page = StatusPage(store, lambda: config.sites, _availability, lambda: NOW, clients=lambda: config.client_book)
    tokens = {c.name: c.token for c in config.client_book.by_name.values() if c.token}
    access = Access(None, lambda: config.agent.operator_token, lambda: tokens)
    web_app = build_app(book, CollectorRegistry(), {}, lambda: (True, "ok"), page=page, access=access)
    try:
        async with serve(web_app) as url:
            yield App(url, config)
    finally:
        page.close()
        store.close()


async def _get(url: str, token: str = OPERATOR) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.mark.parametrize(
    ("query", "sites"),
    [
        ("", {"shop-a", "blog-a", "shop-b", "house"}),
        ("?client=acme", {"shop-a", "blog-a"}),
        ("?client=default", {"house"}),
        ("?tag=magento", {"shop-a", "shop-b"}),
        ("?client=acme&tag=magento", {"shop-a"}),
        ("?tag=nothing", set()),
    ],
)
async def test_operator_filters_by_client_and_tag(app: App, query: str, sites: set[str]) -> None:
    """``?client=`` and ``?tag=`` narrow the status page's cards and incidents and /api/incidents alike."""
    status, html = await _get(f"{app.url}/{query}")
    assert status == 200
    dom = Dom(html)
    assert {e.attrs["data-site"] for e in dom.find("data-site")} == sites
    assert {e.attrs["data-incident"].split(":")[2] for e in dom.find("data-incident")} == sites
    status, body = await _get(f"{app.url}/api/incidents{query}")
    assert status == 200
    assert {i["site"] for i in body["incidents"]} == sites


async def test_an_unknown_client_filter_is_a_bad_parameter(app: App) -> None:
    """The operator gets a 400 listing the clients (a client token never reaches this route)."""
    status, body = await _get(f"{app.url}/api/incidents?client=acne")
    assert status == 400
    assert body == {
        "error": "client: expected one of the configured clients (acme, beta, default), got 'acne'",
        "parameter": "client",
    }


async def test_a_client_page_is_in_its_words_with_the_month_so_far(app: App) -> None:
    """Russian, Moscow time, the month by Moscow's calendar (December already) and no deliveries section."""
    status, html = await _get(f"{app.url}/clients/acme/", ACME)
    assert status == 200
    dom = Dom(html)
    assert '<html lang="ru">' in html
    assert {e.attrs["data-site"] for e in dom.find("data-site")} == {"shop-a", "blog-a"}
    (month,) = [e for e in dom.find("data-uptime", "2026-12") if e.attrs.get("data-below-sla") is not None]
    assert "99,5" in dom.text(month)  # below shop-a's 99.9 % target, written the Russian way
    assert "MSK" in html or "+03" in html
    assert 'id="deliveries"' not in html
    assert "../../api/clients/acme/sites/shop-a/history" in html


async def test_the_client_history_link_resolves_for_the_client(app: App) -> None:
    """The page's history link works with the client's token; another client's site there is a 404."""
    status, body = await _get(f"{app.url}/api/clients/acme/sites/shop-a/history", ACME)
    assert (status, body["site"]) == (200, "shop-a")
    status, body = await _get(f"{app.url}/api/clients/acme/sites/shop-b/history", ACME)
    assert (status, body) == (404, {"error": "not found"})


async def test_a_client_sees_its_tickets_but_not_their_delivery_errors(app: App, tmp_path: Path) -> None:
    """The operator reads a failing delivery's error; the client's page and API show the ticket without it."""
    store = Store(tmp_path / "pages.db")
    try:
        store.db.execute("UPDATE outbox SET state = 'pending', last_error = 'HTTP 500 from desk-internal.example'")
        store.db.commit()
    finally:
        store.close()
    _, operator = await _get(f"{app.url}/api/incidents?client=acme")
    assert {t["last_error"] for i in operator["incidents"] for t in i["tickets"]} == {
        "HTTP 500 from desk-internal.example"
    }
    status, mine = await _get(f"{app.url}/api/clients/acme/incidents", ACME)
    assert status == 200
    assert [t["sink"] for i in mine["incidents"] for t in i["tickets"]] == ["local", "local"]
    assert {t["last_error"] for i in mine["incidents"] for t in i["tickets"]} == {None}
    status, bad = await _get(f"{app.url}/api/clients/acme/incidents?state=closed", ACME)
    assert (status, bad["parameter"]) == (400, "state")  # the operator's API's rule and words
    assert "expected open, resolved or all" in bad["error"]
    _, html = await _get(f"{app.url}/clients/acme/", ACME)
    assert "desk-internal" not in html

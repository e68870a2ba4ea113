"""Clients: the ``clients:`` config, located errors, and each client's incidents routed to its own sinks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.config import ConfigError, load_config
from sitewatch.config.specs import Config
from sitewatch.config.tickets import WebhookSinkConfig
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store
from sitewatch.tickets.factory import build_sinks
from sitewatch.tickets.outbox import Deliverer
from tests.configs import write_site_config

_SINKS = """\
tickets:
  language: en
  sla: {P2: {response: 1h, resolve: 8h}}
  sinks:
    - {type: webhook, name: hook, url: "http://127.0.0.1:9/default", secret: s0}
    - {type: webhook, name: magento-team, url: "http://127.0.0.1:9/magento"}
clients:
  - name: acme
    language: ru
    timezone: Europe/Moscow
    sla: {P2: {response: 30m, resolve: 4h}}
    routing:
      sinks: [hook]
      overrides: {hook: {url: "http://127.0.0.1:9/acme", secret: s1}}
      rules: [{tags: [magento], sinks: [magento-team]}]
  - name: beta
    routing:
      sinks: [hook]
      overrides: {hook: {url: "http://127.0.0.1:9/beta"}}
"""


def _config(tmp_path: Path, sites: str, extra: str = _SINKS) -> Path:
    return write_site_config(tmp_path, extra + sites)


def _load(tmp_path: Path, sites: str, extra: str = _SINKS) -> Config:
    return load_config(_config(tmp_path, sites, extra))


def _problems(tmp_path: Path, sites: str, extra: str = _SINKS) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, sites, extra)
    return [str(p) for p in caught.value.problems]


def test_sites_name_their_client_and_default_otherwise(tmp_path: Path) -> None:
    """A site's ``client:`` is on its spec and checks; one without is the default client's."""
    cfg = _load(
        tmp_path,
        "sites:\n  - {name: a, url: 'https://a.example/', client: acme}\n  - {name: d, url: 'https://d.example/'}\n",
    )
    assert [(s.info.name, s.client) for s in cfg.sites] == [("a", "acme"), ("d", "default")]
    assert {c.client for c in cfg.checks} == {"acme", "default"}
    assert cfg.client_book.get("acme") is not None


def test_old_tickets_sla_is_the_default_clients(tmp_path: Path) -> None:
    """``tickets: sla:`` and ``tickets: language:`` remain the default client's terms; a client's own win."""
    book = _load(tmp_path, "sites: []\n").client_book
    default = book.route(None, ())
    assert default.sla["P2"].response == 3600
    assert default.language == "en"
    assert default.timezone == "UTC"
    acme = book.route("acme", ())
    assert acme.sla["P2"].response == 1800
    assert acme.language == "ru"
    assert acme.timezone == "Europe/Moscow"


def test_unknown_client_is_a_located_error(tmp_path: Path) -> None:
    """A site naming a client that is not configured: file:line, the key, what was expected."""
    (problem,) = _problems(tmp_path, "sites:\n  - name: a\n    url: https://a.example/\n    client: acne\n")
    assert ":28: sites[0].client: expected one of the configured clients (acme, beta, default), got 'acne'" in problem


def test_duplicate_client_and_bad_routing_are_located(tmp_path: Path) -> None:
    """A second client of the same name, an unknown sink and a field a sink cannot override are all reported."""
    extra = _SINKS + "  - name: acme\n    routing: {sinks: [nope], overrides: {hook: {headers: {}}}}\n"
    problems = _problems(tmp_path, "sites: []\n", extra)
    assert any(":25: clients[2].name: duplicate client name 'acme' (first defined at" in p for p in problems)
    assert any(
        "clients[2].routing.sinks[0]: expected one of the configured sinks (hook, magento-team), got 'nope'" in p
        for p in problems
    )
    assert any(
        "clients[2].routing.overrides.hook.headers: expected one of secret, url, got 'headers'" in p for p in problems
    )


def test_client_name_must_be_label_safe(tmp_path: Path) -> None:
    """The key becomes a metric label: upper case and spaces are refused."""
    problems = _problems(tmp_path, "sites: []\n", "clients:\n  - name: Acme Shop\n")
    assert any("clients[0].name" in p and "lower-case letters" in p for p in problems)


def test_a_client_in_its_own_included_file(tmp_path: Path) -> None:
    """One file per client: an included file with ``clients:`` and ``sites:`` adds both; its errors point there."""
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "gamma.yaml").write_text(
        "clients:\n  - name: gamma\n    language: ru\nsites:\n  - {name: g, url: 'https://g.example/', client: gamma}\n"
        "  - {name: h, url: 'https://h.example/', client: delta}\n",
        encoding="utf-8",
    )
    path = _config(tmp_path, "include: ['clients/*.yaml']\n", "")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = map(str, caught.value.problems)
    assert problem.startswith(f"{tmp_path / 'clients' / 'gamma.yaml'}:6: sites[1].client:")
    assert "'delta'" in problem
    (tmp_path / "clients" / "gamma.yaml").write_text(
        "clients:\n  - name: gamma\n    language: ru\n"
        "sites:\n  - {name: g, url: 'https://g.example/', client: gamma}\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert cfg.sites[0].client == "gamma"
    assert cfg.client_book.route("gamma", ()).language == "ru"


def test_routing_names_each_clients_sinks_and_tag_rules_add(tmp_path: Path) -> None:
    """A client's overridden sink is its own copy; a tag rule adds a sink; the default client gets every sink."""
    book = _load(tmp_path, "sites: []\n").client_book
    assert book.route("acme", ("wordpress",)).sinks == ("hook@acme",)
    assert book.route("acme", ("magento",)).sinks == ("hook@acme", "magento-team")
    assert book.route("beta", ("magento",)).sinks == ("hook@beta",)
    assert book.route(None, ()).sinks == ("hook", "magento-team")
    derived = {s.name: s for s in book.derived_sinks() if isinstance(s, WebhookSinkConfig)}
    assert derived["hook@acme"].url == "http://127.0.0.1:9/acme"
    assert derived["hook@acme"].secret == "s1"
    assert derived["hook@beta"].secret == "s0"  # not overridden: the base sink's


def _tracker(store: Store, cfg: list[Config]) -> IncidentTracker:
    return IncidentTracker(
        store, ["hook"], logging.getLogger("sitewatch.test"), lambda *_: None,
        route=lambda spec: cfg[0].client_book.route(spec.client, spec.site.tags),
    )  # fmt: skip


def _run(tracker: IncidentTracker, cfg: Config, status: Status, at: float) -> list[str]:
    (spec,) = cfg.checks
    record = RunRecord(
        spec.site.name, spec.name, spec.type, Result(status, "HTTP 503" if status != Status.OK else "ok"), at, 0.1
    )
    return [e.kind for e in tracker.observe(spec, record)]


def _outbox(store: Store) -> list[tuple[str, str, str | None]]:
    rows = store.db.execute("SELECT sink, action, payload FROM outbox ORDER BY id").fetchall()
    import json

    return [(r[0], r[1], json.loads(r[2]).get("client")) for r in rows]


_SITE = (
    "sites:\n  - name: shop\n    url: https://shop.example/\n    fail_after: 1\n    recover_after: 1\n"
    "    tags: [magento]\n"
)


def test_a_clients_outage_goes_only_to_its_sinks(tmp_path: Path) -> None:
    """An outage of acme's site opens in acme's copy of the sink and the tag's team, none in beta's or the default."""
    cfg = [_load(tmp_path, _SITE + "    client: acme\n")]
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    assert _run(tracker, cfg[0], Status.CRITICAL, 1_800_000_000.0) == ["opened"]
    assert _outbox(store) == [("hook@acme", "open", "acme"), ("magento-team", "open", "acme")]


def test_a_reload_moving_the_site_keeps_its_open_ticket_single(tmp_path: Path) -> None:
    """Moved to beta while open: follow-ups go only where the ticket was opened; the next incident follows beta."""
    cfg = [_load(tmp_path, _SITE + "    client: acme\n")]
    store = Store(tmp_path / "s.db")
    tracker = _tracker(store, cfg)
    assert _run(tracker, cfg[0], Status.CRITICAL, 1_800_000_000.0) == ["opened"]
    cfg[0] = load_config(_config(tmp_path, _SITE + "    client: beta\n"), previous=cfg[0])
    assert cfg[0].sites[0].client == "beta"
    assert _run(tracker, cfg[0], Status.OK, 1_800_000_060.0) == ["resolved"]
    rows = _outbox(store)
    assert [r[:2] for r in rows] == [
        ("hook@acme", "open"), ("magento-team", "open"), ("hook@acme", "resolve"), ("magento-team", "resolve")
    ]  # fmt: skip
    assert not [r for r in rows if r[0] == "hook@beta"]
    assert _run(tracker, cfg[0], Status.CRITICAL, 1_800_000_120.0) == ["opened"]
    assert _outbox(store)[-1] == ("hook@beta", "open", "beta")


async def _receiver(seen: list[tuple[str, dict[str, Any]]]) -> tuple[web.AppRunner, int]:
    async def take(request: web.Request) -> web.Response:
        seen.append((request.path, await request.json()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def test_two_clients_desks_each_get_only_their_own(tmp_path: Path) -> None:
    """Through real HTTP sinks: acme's outage reaches acme's desk once and beta's desk not at all."""
    seen_a: list[tuple[str, dict[str, Any]]] = []
    seen_b: list[tuple[str, dict[str, Any]]] = []
    (runner_a, port_a), (runner_b, port_b) = await _receiver(seen_a), await _receiver(seen_b)
    try:
        sinks = (
            "tickets:\n  sinks:\n    - {type: webhook, name: hook, url: 'http://127.0.0.1:9/none'}\n"
            f"clients:\n  - name: acme\n    routing: {{overrides: {{hook: {{url: 'http://127.0.0.1:{port_a}/a'}}}}}}\n"
            f"  - name: beta\n    routing: {{overrides: {{hook: {{url: 'http://127.0.0.1:{port_b}/b'}}}}}}\n"
        )
        site_b = "  - {name: other, url: 'https://other.example/', client: beta}\n"
        cfg = _load(tmp_path, _SITE + "    client: acme\n" + site_b, sinks)
        store = Store(tmp_path / "s.db")
        tracker = _tracker(store, [cfg])
        spec = next(c for c in cfg.checks if c.site.name == "shop")
        record = RunRecord("shop", spec.name, spec.type, Result(Status.CRITICAL, "HTTP 503"), 1_700_000_000.0, 0.1)
        assert [e.kind for e in tracker.observe(spec, record)] == ["opened"]
        async with aiohttp.ClientSession() as session:
            built = build_sinks(cfg.tickets, store, session, cfg.client_book.derived_sinks())
            assert set(built) == {"hook", "hook@acme", "hook@beta"}
            delivered = await Deliverer(store, built, logging.getLogger("sitewatch.test")).drain_once()
        assert delivered == 1
        assert [(path, body["key"], body["client"]) for path, body in seen_a] == [("/a", "sw:v1:shop:http", "acme")]
        assert seen_b == []
    finally:
        await runner_a.cleanup()
        await runner_b.cleanup()

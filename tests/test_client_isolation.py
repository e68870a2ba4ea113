"""Client isolation over every route of a running agent's web app, with every kind of caller.

The routes are enumerated from the app's router, so a route added later is walked too: with
client A's token, client B's token, no token, a wrong one and the operator's, each route must
answer as the table says and A's answers must carry no byte of B's site names, check names or
incident summaries (and B's none of A's).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from sitewatch.agent import Agent
from tests.helpers import free_port, running_agent, serve, wait_for

OPERATOR = "operator-token-0123456789abcdef"
TOKENS = {"acme": "acme-token-0123456789abcdef", "beta": "beta-token-0123456789abcdef"}
WRONG = "wrong-token-0123456789abcdef00"
#: Each client's own words: its site and check names (its summaries are read from the agent).
OWN = {"acme": ("acme-private-shop", "acme-only-check"), "beta": ("beta-private-shop", "beta-only-check")}
OTHER = {"acme": "beta", "beta": "acme"}


def _target() -> web.Application:
    async def acme(_: web.Request) -> web.Response:
        return web.Response(text="down", status=500)

    async def beta(_: web.Request) -> web.Response:
        return web.Response(text="down", status=503)

    app = web.Application()
    app.router.add_get("/a", acme)
    app.router.add_get("/b", beta)
    return app


@dataclass
class Running:
    agent: Agent
    url: str
    #: Per client, the strings that must never reach another client.
    secrets: dict[str, set[str]]


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    """Two clients, one failing site each (open incidents, local tickets, history), tokens for all."""
    monkeypatch.setenv("ISO_OPERATOR", OPERATOR)
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"ISO_{name.upper()}", token)
    async with serve(_target()) as target:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"agent: {{listen: '127.0.0.1:{free_port()}', state_dir: '{tmp_path}', operator_token: '${{ISO_OPERATOR}}',"
            " alertmanager: {enabled: true, token: 'isolation-alertmanager-token-000'}}\n"
            "defaults: {interval: 1s, timeout: 900ms, fail_after: 1}\n"
            # SLA terms with a response due at once: each client's compliance lists a breach naming its site.
            "tickets: {sla: {P2: {response: 1s, resolve: 1h}}}\n"
            "clients:\n"
            "  - {name: acme, language: ru, timezone: Europe/Moscow, token: '${ISO_ACME}'}\n"
            "  - {name: beta, token: '${ISO_BETA}'}\n"
            "sites:\n"
            f"  - {{name: {OWN['acme'][0]}, url: '{target}/a', client: acme, tags: [magento],"
            f" checks: [{{type: http, name: {OWN['acme'][1]}}}]}}\n"
            f"  - {{name: {OWN['beta'][0]}, url: '{target}/b', client: beta, tags: [wordpress],"
            f" checks: [{{type: http, name: {OWN['beta'][1]}}}]}}\n",
            encoding="utf-8",
        )
        async with running_agent(config) as agent:

            def delivered() -> bool:
                agent.flush_history()
                done = agent.store.db.execute("SELECT COUNT(DISTINCT site) FROM incidents").fetchone()[0]
                return bool(done == 2 and all(agent.store.history(OWN[c][0], 0) for c in OWN))

            await wait_for(delivered, timeout=20, what="an incident and history for each client's site")

            def breached() -> bool:  # past respond-by: the compliance of each client has its breach
                now = agent.store.db.execute("SELECT MAX(opened_at) FROM incidents").fetchone()[0] + 1.5
                return time.time() > now

            await wait_for(breached, timeout=10, what="both responses past due")
            summaries = dict(agent.store.db.execute("SELECT site, summary FROM incidents").fetchall())
            secrets = {c: {*OWN[c], summaries[OWN[c][0]]} for c in OWN}
            # The test means something only if each client's words are absent from the other's.
            for client, words in secrets.items():
                assert not any(w in other for w in words for other in secrets[OTHER[client]])
            yield Running(agent, f"http://{agent.web.bound[0]}", secrets)


def _headers(who: str) -> dict[str, str]:
    token = {"operator": OPERATOR, "wrong": WRONG, **TOKENS}.get(who)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


#: Every kind of caller; ``acme`` and ``beta`` are the clients' tokens.
CALLERS = ("acme", "beta", "none", "wrong", "operator")


def _requests(app: web.Application) -> list[tuple[str, str, str | None]]:
    """(method, path, client in the path) for every route, with each client's name and site filled in."""
    out: list[tuple[str, str, str | None]] = []
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        canonical = resource.canonical
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        for method in methods:
            if method == "HEAD":
                continue  # aiohttp adds HEAD beside each GET: same handler, no body to compare
            for owner in ("acme", "beta") if "{client}" in canonical or "{name}" in canonical else (None,):
                path = canonical.replace("{client}", owner or "").replace("{name}", OWN[owner][0] if owner else "")
                path = path.replace("{token}", "no-such-token").replace("{kind}", "fail")
                assert not re.search(r"\{\w+\}", path), f"a new placeholder in {canonical}: fill it in this test"
                # Operator filters and bad parameters must not open anything either.
                out.append((method, path + "?client=beta&tag=wordpress&state=all", owner))
                out.append((method, path + "?since=bad&limit=0", owner))
    return out


def _expected(path: str, owner: str | None, who: str) -> set[int]:
    """The statuses the table allows for ``who`` on ``path`` (whose client part names ``owner``)."""
    if path.startswith("/ping/"):
        return {404}  # open for cron jobs; an unknown token is 404 whoever asks
    if path.startswith("/alertmanager"):
        return {401, 405}  # checks its own token (ours is not it); GET is 405 before any token is read
    client_route = path.startswith(("/clients/", "/api/clients/"))
    if who in ("none", "wrong"):
        return {401}
    if who == "operator":
        return {200, 308, 400}
    if client_route:
        return {200, 308, 400} if owner == who else {404}
    return {403}


async def test_every_route_keeps_each_client_to_its_own(running: Running) -> None:
    """No route gives a client another client's site, check or summary; refusals are 401/403/404 as tabled."""
    requests = _requests(running.agent.web.app)
    assert any(p.startswith("/clients/") for _, p, _ in requests)
    assert any(p.startswith("/metrics") for _, p, _ in requests)
    failures: list[str] = []
    async with aiohttp.ClientSession() as http:
        for method, path, owner in requests:
            for who in CALLERS:
                async with http.request(
                    method, running.url + path, headers=_headers(who), allow_redirects=False
                ) as resp:
                    body = await resp.read()
                if resp.status not in _expected(path, owner, who):
                    failures.append(f"{who} {method} {path}: {resp.status}")
                if who in ("acme", "beta"):
                    leaked = [w for w in running.secrets[OTHER[who]] if w.encode() in body]
                    if leaked:
                        failures.append(f"{who} {method} {path}: shows {leaked}")
                if who in ("none", "wrong"):
                    leaked = [w for c in OWN for w in running.secrets[c] if w.encode() in body]
                    if leaked:
                        failures.append(f"{who} {method} {path}: shows {leaked}")
    assert failures == []


async def test_each_client_sees_its_own_and_the_operator_all(running: Running) -> None:
    """The positive half: a client's page and API show its site and incident; the operator's show both."""
    async with aiohttp.ClientSession() as http:
        for client, words in OWN.items():
            async with http.get(f"{running.url}/clients/{client}/", headers=_headers(client)) as resp:
                page = await resp.text()
            assert resp.status == 200
            assert all(w in page for w in words)  # the summary is in the client's language here
            async with http.get(f"{running.url}/api/clients/{client}/incidents", headers=_headers(client)) as resp:
                body = await resp.json()
            assert [i["site"] for i in body["incidents"]] == [words[0]]
            assert body["incidents"][0]["summary"] in running.secrets[client]
        async with http.get(f"{running.url}/", headers=_headers("operator")) as resp:
            page = await resp.text()
        assert all(w in page for c in OWN for w in running.secrets[c])


async def test_each_client_reads_its_own_sla_compliance_only(running: Running) -> None:
    """``/api/clients/<name>/sla`` and the page's section: the client's own breach; the other client's is a 404."""
    async with aiohttp.ClientSession() as http:
        for client, (site, _) in OWN.items():
            async with http.get(f"{running.url}/api/clients/{client}/sla", headers=_headers(client)) as resp:
                body = await resp.json()
            assert resp.status == 200
            assert (body["client"], [p["incidents"] for p in body["priorities"]]) == (client, [1])
            assert [(b["site"], b["kind"]) for b in body["breaches"]] == [(site, "response")]
            other = OTHER[client]
            async with http.get(f"{running.url}/api/clients/{other}/sla", headers=_headers(client)) as resp:
                assert resp.status == 404
                assert OWN[other][0] not in await resp.text()
            async with http.get(f"{running.url}/clients/{client}/", headers=_headers(client)) as resp:
                page = await resp.text()
            assert f'<tr data-incident="sw:v1:{site}:{OWN[client][1]}" data-goal="response">' in page


async def test_a_browser_opens_a_client_page_with_the_clients_name_and_token(running: Running) -> None:
    """Basic auth ``<client>:<token>`` opens that client's page (a browser's prompt), in its language."""
    basic = base64.b64encode(f"acme:{TOKENS['acme']}".encode()).decode()
    wrong = base64.b64encode(f"beta:{TOKENS['acme']}".encode()).decode()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running.url}/clients/acme/", headers={"Authorization": f"Basic {basic}"}) as resp:
            page = await resp.text()
        assert resp.status == 200
        assert '<html lang="ru">' in page
        async with http.get(f"{running.url}/clients/beta/", headers={"Authorization": f"Basic {wrong}"}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Basic")


async def test_metrics_join_each_site_to_its_client_and_tags(running: Running) -> None:
    """``sitewatch_site_info{site,client,tags}``: one series per site, so a client label costs one series a site."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.url}/metrics", headers=_headers("operator")) as resp,
    ):
        text = await resp.text()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "sitewatch_site_info"]
    assert {(s.labels["site"], s.labels["client"], s.labels["tags"], s.value) for s in samples} == {
        (OWN["acme"][0], "acme", ",magento,", 1.0),
        (OWN["beta"][0], "beta", ",wordpress,", 1.0),
    }

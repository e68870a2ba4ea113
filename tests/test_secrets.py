"""Known secrets in the config never show up in logs, /metrics, /api/status, tickets or the store."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from tests.helpers import free_port, serve, wait_for

SECRETS = {
    "SW_TEST_BASIC": "basic-pw-8d1f3a",
    "SW_TEST_BEARER": "bearer-tok-55c2e9",
    "SW_TEST_HOOK": "hook-secret-a7710b",
    "SW_TEST_PING": "pingtoken0123456789abcdef0011",
    "SW_TEST_AM": "alertmanager-token-6d1e0f93c2",
}

#: An Alertmanager notification whose ticket goes through the same sinks.
ALERT = {
    "version": "4",
    "groupKey": '{}:{alertname="Down"}',
    "status": "firing",
    "receiver": "sitewatch",
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.test",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Down", "site": "db1", "severity": "critical"},
            "annotations": {"summary": "db1 is down"},
            "startsAt": "2026-11-26T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.test/graph",
            "fingerprint": "0123456789abcdef",
        }
    ],
}


async def test_a_full_cycle_leaks_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Probes, a failure, an incident with tickets, a failed and a good reload: no secret anywhere."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    hooks: list[bytes] = []

    async def down(_: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    async def hook(request: web.Request) -> web.Response:
        hooks.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", down)
    app.router.add_post("/hook", hook)
    async with serve(app) as url:
        path = tmp_path / "config.yaml"
        path.write_text(
            textwrap.dedent(f"""\
            agent:
              listen: "127.0.0.1:{free_port()}"
              state_dir: {tmp_path / "state"}
              alertmanager: {{enabled: true, token: "${{SW_TEST_AM}}"}}
            defaults: {{interval: 200ms, timeout: 150ms, fail_after: 1}}
            tickets:
              sinks:
                - type: local
                - {{type: webhook, url: "{url}/hook", secret: "${{SW_TEST_HOOK}}"}}
            sites:
              - name: shop
                url: {url}/?token=${{SW_TEST_BEARER}}
                checks:
                  - type: http
                    basic_auth: {{username: ops, password: "${{SW_TEST_BASIC}}"}}
                  - type: http
                    name: api
                    bearer_token: ${{SW_TEST_BEARER}}
                  - {{type: heartbeat, token: "${{SW_TEST_PING}}"}}
            """),
            encoding="utf-8",
        )
        agent = Agent(load_config(path), logging.getLogger("sitewatch.test"))
        with caplog.at_level(logging.DEBUG, logger="sitewatch"):
            await agent.start()
            try:
                await wait_for(lambda: len(hooks) >= 2, timeout=15, what="tickets for both http checks")
                path.write_text(path.read_text().replace("sites:", "sites: [oops"), encoding="utf-8")
                assert agent.reload() is False
                async with aiohttp.ClientSession() as client:
                    base = f"http://{agent.web.bound[0]}"
                    bearer = {"Authorization": f"Bearer {SECRETS['SW_TEST_AM']}"}
                    async with client.post(base + "/alertmanager", json=ALERT, headers=bearer) as resp:
                        assert resp.status == 200, await resp.text()
                    await wait_for(lambda: len(hooks) >= 3, timeout=15, what="the Alertmanager ticket")
                    pages = {}
                    for page in ("/metrics", "/api/status", "/", "/api/incidents?state=all", "/api/sites/shop/history"):
                        async with client.get(base + page) as resp:
                            assert resp.status == 200, page
                            pages[page] = await resp.text()
            finally:
                await agent.close()
    store = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    surfaces = {
        "logs": caplog.text + "".join(str(getattr(r, "sitewatch_fields", "")) for r in caplog.records),
        **pages,
        "webhook": b"".join(hooks).decode(),
        "store": store.decode("utf-8", "replace"),
    }
    # The surfaces are real, not empty.
    assert "shop" in surfaces["/api/status"]
    assert "shop" in surfaces["/"]
    assert "db1" in surfaces["/api/incidents?state=all"]
    assert '"results": [' in surfaces["/api/sites/shop/history"]
    assert "shop" in surfaces["/api/sites/shop/history"]
    for where, text in surfaces.items():
        for secret in SECRETS.values():
            assert secret not in text, f"{secret} leaked into {where}"

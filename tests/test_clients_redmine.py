"""Two clients, one real Redmine, two projects: each client's tickets land in its own project, never the other.

Runs under `make test-integration`, which starts Redmine with projects ``sitewatch`` and
``sitewatch-b`` (.ci/redmine.sh); skipped elsewhere, failed when that run lacks Redmine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.agent import Agent
from tests.helpers import free_port, running_agent, serve, wait_for

PROJECTS = {"acme": "sitewatch", "beta": "sitewatch-b"}


@pytest.fixture
def redmine_env() -> dict[str, str]:
    """REDMINE_URL, REDMINE_API_KEY and REDMINE_CF_ID from the integration run."""
    if not os.environ.get("REDMINE_URL"):
        if os.environ.get("SITEWATCH_REQUIRE_REDMINE"):
            pytest.fail("REDMINE_URL is not set although the integration run requires Redmine")
        pytest.skip("no Redmine here: `make test-integration` installs and starts one")
    return {k: os.environ[k] for k in ("REDMINE_URL", "REDMINE_API_KEY", "REDMINE_CF_ID")}


class Target:
    """Acme's site fails until ``healthy`` is set; beta's always fails."""

    def __init__(self) -> None:
        self.healthy = False

    def app(self) -> web.Application:
        async def acme(_: web.Request) -> web.Response:
            return web.Response(text="ok" if self.healthy else "down", status=200 if self.healthy else 500)

        async def beta(_: web.Request) -> web.Response:
            return web.Response(text="down", status=503)

        app = web.Application()
        app.router.add_get("/a", acme)
        app.router.add_get("/b", beta)
        return app


def _config(tmp_path: Path, target: str, sites: dict[str, str], acme_site_client: str = "acme") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent: {{listen: '127.0.0.1:{free_port()}', state_dir: '{tmp_path}'}}\n"
        "defaults: {interval: 1s, timeout: 900ms, fail_after: 1, recover_after: 1}\n"
        "tickets:\n  sinks:\n"
        "    - {type: redmine, name: redmine, url: '${REDMINE_URL}', api_key: '${REDMINE_API_KEY}',"
        " project: nowhere, key_field_id: '${REDMINE_CF_ID}', priority_ids: {P2: 4, P3: 3}}\n"
        "clients:\n"
        + "".join(
            f"  - {{name: {c}, routing: {{overrides: {{redmine: {{project: {p}}}}}}}}}\n" for c, p in PROJECTS.items()
        )
        + "sites:\n"
        f"  - {{name: {sites['acme']}, url: '{target}/a', client: {acme_site_client}}}\n"
        f"  - {{name: {sites['beta']}, url: '{target}/b', client: beta}}\n",
        encoding="utf-8",
    )
    return path


async def _issues(http: aiohttp.ClientSession, env: dict[str, str], project: str, site: str) -> list[dict[str, Any]]:
    """Every issue (open or closed) in ``project`` whose incident key is the site's http check's."""
    params = {"project_id": project, "status_id": "*", f"cf_{env['REDMINE_CF_ID']}": f"sw:v1:{site}:http"}
    async with http.get(
        f"{env['REDMINE_URL']}/issues.json", params=params, headers={"X-Redmine-API-Key": env["REDMINE_API_KEY"]}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["issues"])


def _delivered(agent: Agent, site: str, action: str) -> bool:
    row = agent.store.db.execute(
        "SELECT COUNT(*) FROM outbox o JOIN incidents i ON i.id = o.incident_id"
        " WHERE i.site = ? AND o.action = ? AND o.state = 'done'",
        (site, action),
    ).fetchone()
    return bool(row[0])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.slow
async def test_each_clients_outage_opens_one_issue_in_its_own_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redmine_env: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """Both sites fail: one issue in each client's project, none in the other's; a reload moving acme's
    site to beta while its ticket is open closes that one ticket in acme's project on recovery."""
    for name, value in redmine_env.items():
        monkeypatch.setenv(name, value)
    run = uuid.uuid4().hex[:8]
    sites = {c: f"{c}-shop-{run}" for c in PROJECTS}
    target = Target()
    async with serve(target.app()) as url, running_agent(_config(tmp_path, url, sites)) as agent:
        await wait_for(
            lambda: all(_delivered(agent, s, "open") for s in sites.values()),
            timeout=60,
            what="both clients' issues opened in Redmine",
        )
        for client, project in PROJECTS.items():
            other = PROJECTS["beta" if client == "acme" else "acme"]
            # The project filter is Redmine's own: an issue found here is in that project.
            assert len(await _issues(http, redmine_env, project, sites[client])) == 1
            assert await _issues(http, redmine_env, other, sites[client]) == []
        opened = (await _issues(http, redmine_env, PROJECTS["acme"], sites["acme"]))[0]["id"]
        # Move acme's site to beta while its incident is open, then let it recover.
        _config(tmp_path, url, sites, acme_site_client="beta")
        assert agent.reload()
        target.healthy = True
        await wait_for(lambda: _delivered(agent, sites["acme"], "resolve"), timeout=60, what="the resolve delivered")
        (closed,) = await _issues(http, redmine_env, PROJECTS["acme"], sites["acme"])
        assert (closed["id"], closed["status"]["id"]) == (opened, 5)  # the sink's closed_status_id
        assert await _issues(http, redmine_env, PROJECTS["beta"], sites["acme"]) == []

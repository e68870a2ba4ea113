"""The whole agent on loopback: /metrics parsed back, promtool, a real Prometheus, /api/status, reload."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import textwrap
from asyncio.subprocess import DEVNULL, PIPE, STDOUT
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sitewatch.agent import Agent
from tests.helpers import free_port, need, running_agent, serve, wait_for
from tests.statuspage_helpers import target_app


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """A site with a good page and a 500 page."""
    async with serve(target_app()) as url:
        yield url


def write_config(path: Path, target: str, listen: str, sites: tuple[str, ...] = ("good", "bad")) -> Path:
    entries = {"good": f"{target}/", "bad": f"{target}/bad"}
    body = "".join(f"  - name: {name}\n    url: {entries[name]}\n" for name in sites)
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          listen: {listen}
          state_dir: {path.parent}
        defaults:
          interval: 1s
          timeout: 900ms
        sites:
        """)
        + body,
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def agent(tmp_path: Path, target: str) -> AsyncIterator[Agent]:
    """A running agent watching `target`, stopped at teardown."""
    async with running_agent(write_config(tmp_path / "config.yaml", target, f"127.0.0.1:{free_port()}")) as running:
        yield running


async def scrape(agent: Agent, path: str = "/metrics") -> str:
    async with aiohttp.ClientSession() as client, client.get(f"http://{agent.web.bound[0]}{path}") as resp:
        assert resp.status == 200
        return await resp.text()


def values(text: str, name: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[sample.labels.get("site", "")] = sample.value
    return out


async def test_metrics_reflect_results_and_pass_promtool(agent: Agent) -> None:
    """probe_success is 1 for the good page and 0 for the 500; the exposition passes promtool."""
    text = ""

    async def both_reported() -> bool:
        nonlocal text
        text = await scrape(agent)
        return len(values(text, "probe_success")) == 2

    await wait_for(both_reported, timeout=10, what="both sites in /metrics")
    assert values(text, "probe_success") == {"good": 1.0, "bad": 0.0}
    assert values(text, "probe_http_status_code") == {"good": 200.0, "bad": 500.0}
    assert values(text, "sitewatch_build_info")
    assert "sitewatch_scheduler_lag_seconds_bucket" in text
    assert "sitewatch_check_runs_total" in text
    promtool = need("promtool")
    proc = await asyncio.create_subprocess_exec(promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT)
    output, _ = await proc.communicate(text.encode())
    assert proc.returncode == 0, output.decode()


async def test_status_api_and_healthz(agent: Agent) -> None:
    """/api/status lists each check's last result; /healthz says the scheduler runs."""

    async def reported() -> bool:
        doc = json.loads(await scrape(agent, "/api/status"))
        return all(c["status"] != "pending" for c in doc["checks"])

    await wait_for(reported, timeout=10, what="every check reported")
    doc = json.loads(await scrape(agent, "/api/status"))
    by_site = {c["site"]: c for c in doc["checks"]}
    assert by_site["bad"]["status"] == "critical"
    assert by_site["bad"]["summary"] == "HTTP 500 Internal Server Error (expected 200-399)"
    assert by_site["good"]["details"]["status_code"] == 200
    assert doc["tickets"]["dead"] == 0
    assert set(doc["tickets"]) >= {"open_incidents", "pending", "dead_letters"}
    health = json.loads(await scrape(agent, "/healthz"))
    assert health["status"] == "ok"


async def test_reload_removes_a_sites_series(agent: Agent, tmp_path: Path, target: str) -> None:
    """After a reload without site `bad`, none of its series remain."""
    await wait_for(lambda: len(agent.book.latest) == 2, timeout=10, what="both results")
    write_config(tmp_path / "config.yaml", target, agent.config.agent.listen, sites=("good",))
    assert agent.reload() is True
    text = await scrape(agent)
    assert 'site="bad"' not in text
    assert values(text, "probe_success") == {"good": 1.0}


async def test_reload_with_a_broken_file_keeps_the_running_config(
    agent: Agent, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken file on reload is refused with its errors logged; the checks keep running."""
    (tmp_path / "config.yaml").write_text("sites:\n  - name: x\n    url: nope\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="sitewatch"):
        assert agent.reload() is False
    assert {c.site.name for c in agent.config.checks} == {"good", "bad"}
    assert any("sites[0].url" in str(getattr(r, "sitewatch_fields", {})) for r in caplog.records)


@contextlib.asynccontextmanager
async def prometheus(tmp_path: Path, scrape_job: str) -> AsyncIterator[int]:
    """A real Prometheus (Debian package) scraping every second with ``scrape_job``; yields its port."""
    binary = need("prometheus")
    port = free_port()
    config = "global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n" + textwrap.indent(
        textwrap.dedent(scrape_job), "  "
    )
    (tmp_path / "prometheus.yml").write_text(config, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=DEVNULL,
        stderr=DEVNULL,
    )
    try:
        yield port
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


@pytest.mark.slow
async def test_real_prometheus_scrapes_the_agent(agent: Agent, tmp_path: Path, target: str) -> None:
    """A real Prometheus scrapes /metrics and answers queries; a site removed by reload goes stale there."""
    found: dict[str, str] = {}
    job = f"""\
        - job_name: sitewatch
          static_configs: [{{targets: ["{agent.web.bound[0]}"]}}]
        """
    async with prometheus(tmp_path, job) as port:

        async def queried() -> bool:
            try:
                async with (
                    aiohttp.ClientSession() as client,
                    client.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "probe_success"}) as resp,
                ):
                    data = await resp.json()
            except aiohttp.ClientError:
                return False
            found.clear()
            found.update({r["metric"]["site"]: r["value"][1] for r in data["data"]["result"]})
            return len(found) == 2

        await wait_for(queried, timeout=30, what="Prometheus to scrape both sites")
        assert found == {"good": "1", "bad": "0"}
        write_config(tmp_path / "config.yaml", target, agent.config.agent.listen, sites=("good",))
        assert agent.reload() is True
        # Prometheus marks series missing from a scrape as stale: the query stops returning them.
        await wait_for(
            lambda: _only_good(queried, found),
            timeout=30,
            what="the removed site to go stale in Prometheus",
        )
    assert found == {"good": "1"}


async def _only_good(queried: Any, found: dict[str, str]) -> bool:
    await queried()
    return set(found) == {"good"}

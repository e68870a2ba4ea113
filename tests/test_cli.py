"""The command line as an engineer uses it: check-config, probe, demo (subprocesses, real servers)."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yarl
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, serve, start_demo, wait_for


async def sitewatch(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitewatch.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="<html>shop</html>", content_type="text/html")

    async def down(_: web.Request) -> web.Response:
        return web.Response(text="Error establishing a database connection", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/down", down)
    async with serve(app) as url:
        yield url


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        sites:
          - name: shop
            url: {url}/
          - name: blog
            url: {url}/down
            checks:
              - type: http
                not_contains: ["Error establishing a database connection"]
        """),
        encoding="utf-8",
    )
    return path


async def test_check_config_summarises_a_good_file(tmp_path: Path, site: str) -> None:
    """A valid file: exit 0 and a short summary of sites and checks by type."""
    code, out, _ = await sitewatch("check-config", "-c", str(config(tmp_path, site)))
    assert code == 0
    assert "sites:  2" in out
    assert "checks: 2 (http: 2)" in out


async def test_check_config_prints_every_error(tmp_path: Path) -> None:
    """A broken file: exit 1 and each error on its own file:line line, then what to do."""
    path = tmp_path / "bad.yaml"
    path.write_text("defaults:\n  timeout: ten\nsites:\n  - name: a\n    url: nope\n", encoding="utf-8")
    code, out, err = await sitewatch("check-config", "-c", str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0] == f"{path}:2: defaults.timeout: expected a duration like 10s, 5m or 26h, got 'ten'"
    assert lines[1].startswith(f"{path}:5: sites[0].url: expected a URL")
    assert lines[2] == f"{path}: 2 errors; fix them and run `sitewatch check-config -c {path}` again"
    assert out == ""


async def test_probe_failing_site_exits_nonzero_with_a_reason(tmp_path: Path, site: str) -> None:
    """`probe` prints an aligned table and exits 2 when a site fails, naming the reason."""
    code, out, _ = await sitewatch("probe", "-c", str(config(tmp_path, site)))
    assert code == 2
    header, *rows = out.strip().splitlines()
    assert header.split() == ["SITE", "CHECK", "STATUS", "TIME", "SUMMARY"]
    blog = next(r for r in rows if r.startswith("blog"))
    assert "CRITICAL" in blog
    assert "page contains 'Error establishing a database connection'" in blog
    assert header.index("SUMMARY") == blog.index("page contains")


async def test_probe_one_healthy_site_exits_zero(tmp_path: Path, site: str) -> None:
    """`probe SITE` runs only that site; ok means exit 0."""
    code, out, _ = await sitewatch("probe", "-c", str(config(tmp_path, site)), "shop")
    assert code == 0
    assert "blog" not in out
    assert "OK" in out


async def test_probe_unknown_site_says_which_exist(tmp_path: Path, site: str) -> None:
    """Naming a site that is not configured exits 3 and lists the configured ones."""
    code, _, err = await sitewatch("probe", "-c", str(config(tmp_path, site)), "nope")
    assert code == 3
    assert "no site 'nope'" in err
    assert "shop, blog" in err


#: README: "within two intervals (10 s)" of printing where to look; the demo's interval is 5 s.
DEMO_DEADLINE = 10.0
DEMO_SUCCESS = {"demo-healthy": 1.0, "demo-slow": 1.0, "demo-error": 0.0, "demo-fatal": 0.0}


async def _probe_success(client: aiohttp.ClientSession, listen: str) -> dict[str, float]:
    try:
        async with client.get(f"http://{listen}/metrics") as resp:
            text = await resp.text()
    except aiohttp.ClientError:
        return {}
    return {
        sample.labels["site"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "probe_success"
    }


def _printed_urls(lines: list[str], label: str) -> list[str]:
    """The URLs on the line starting ``label``; a bare path after the first URL is on the same server."""
    (line,) = [line for line in lines if line.startswith(label)]
    words = [word.rstrip(",") for word in line.removeprefix(label).split()]
    base = str(yarl.URL(words[0]).origin())
    return [word if word.startswith("http") else base + word for word in words if "/" in word]


@pytest.mark.slow
async def test_demo_prints_where_to_look_and_reports_within_two_intervals() -> None:
    """`sitewatch demo` (what `make run` starts) prints the /metrics, status page and API URLs, which answer;
    within 10 s of printing them probe_success is 1 for the healthy and slow pages, 0 for the two broken ones."""
    listen = f"127.0.0.1:{free_port()}"
    proc = await start_demo(listen)
    assert proc.stdout is not None
    out: list[str] = []
    try:
        # Python's start under load is not part of the claim: the clock starts at the printed lines.
        async with asyncio.timeout(30):
            while not out or out[-1] != "stop with Ctrl-C":
                line = await proc.stdout.readline()
                assert line, "the demo exited before printing where to look"
                out.append(line.decode().rstrip("\n"))
        printed = time.monotonic()
        success: dict[str, float] = {}
        async with aiohttp.ClientSession() as client:

            async def as_documented() -> bool:
                success.clear()
                success.update(await _probe_success(client, listen))
                return success == DEMO_SUCCESS

            await wait_for(as_documented, timeout=DEMO_DEADLINE, what="the documented probe_success values")
            took = time.monotonic() - printed
            metrics, page, api = (_printed_urls(out, label) for label in ("metrics:", "status page:", "status API:"))
            assert (metrics, page) == ([f"http://{listen}/metrics"], [f"http://{listen}/"])
            assert api == [
                f"http://{listen}{path}" for path in ("/api/status", "/api/incidents", "/api/sites/demo-error/history")
            ]
            for url in metrics + page + api:
                async with client.get(url) as resp:
                    assert resp.status == 200, url
                    answer = await resp.text()
                    if "/api/" in url:
                        assert resp.content_type == "application/json", url
                # Every answer is about the demo, except the incident list: no incident has opened yet.
                assert "demo-error" in answer or url.endswith("/api/incidents"), url
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert took <= DEMO_DEADLINE, took
    assert proc.returncode == 0, err.decode()
    assert "agent_stopped" in err.decode()

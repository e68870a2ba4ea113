"""The command line as an engineer uses it: check-config, probe, demo (subprocesses, real servers)."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
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


@pytest.mark.slow
async def test_demo_serves_metrics_with_the_broken_pages_down() -> None:
    """`sitewatch demo` (what `make run` starts) exports probe_success for all four demo pages."""
    listen = f"127.0.0.1:{free_port()}"
    proc = await start_demo(listen)
    success: dict[str, float] = {}
    try:

        async def all_reported() -> bool:
            try:
                async with aiohttp.ClientSession() as client, client.get(f"http://{listen}/metrics") as resp:
                    text = await resp.text()
            except aiohttp.ClientError:
                return False
            success.clear()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "probe_success":
                        success[sample.labels["site"]] = sample.value
            return len(success) == 4

        await wait_for(all_reported, timeout=30, what="four demo sites in /metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert success == {"demo-healthy": 1.0, "demo-slow": 1.0, "demo-error": 0.0, "demo-fatal": 0.0}
    assert proc.returncode == 0, err.decode()
    assert f"http://{listen}/metrics" in out.decode()
    assert "agent_stopped" in err.decode()

"""Compare the pageload check's phase timings with blackbox_exporter's http prober.

Both probe the same local aiohttp target (plain HTTP and HTTPS, a controlled
server delay and a body large enough to have a transfer phase), interleaved, and
the medians per phase are printed side by side. Not part of the test suite:

    .venv/bin/python bench/pageload_vs_blackbox.py [--runs 30]

Installs Debian's prometheus-blackbox-exporter with apt-get when it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import trustme
import yarl
from aiohttp import web

from sitewatch.config.registry import load_checks
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Context, SiteInfo, SystemClock

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
DELAY = 0.05  # server think time before the headers: the processing phase
BODY = b"<html><body>" + b"x" * 2_000_000 + b"</body></html>"  # a transfer phase worth measuring
BLACKBOX_CONFIG = """
modules:
  http_get:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        insecure_skip_verify: true
"""
_SAMPLE = re.compile(r'^probe_http_duration_seconds\{phase="(\w+)"\} (\S+)$', re.MULTILINE)


def blackbox_binary() -> str:
    """Path of the exporter, installing the Debian package if needed."""
    found = shutil.which("prometheus-blackbox-exporter")
    if found is None:
        print("installing prometheus-blackbox-exporter with apt-get ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "prometheus-blackbox-exporter"], check=True)
        found = shutil.which("prometheus-blackbox-exporter")
    if found is None:
        raise SystemExit("prometheus-blackbox-exporter is not installed and apt-get could not install it")
    return found


def free_port() -> int:
    """An ephemeral loopback port (the exporter needs one on its command line)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def page(_: web.Request) -> web.Response:
    """The target: think for DELAY, then send a 2 MB page."""
    await asyncio.sleep(DELAY)
    return web.Response(body=BODY, content_type="text/html")


@contextlib.asynccontextmanager
async def target(ssl_context: ssl.SSLContext | None) -> AsyncIterator[str]:
    """Serve the target on loopback; yields its URL."""
    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def blackbox(workdir: Path) -> AsyncIterator[str]:
    """Run the exporter with an http module; yields its base URL once it answers."""
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        blackbox_binary(),
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.get(f"{base}/metrics") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.05)  # waiting for a child process to listen; no event to await
            else:
                raise SystemExit("blackbox_exporter did not start")
        yield base
    finally:
        proc.terminate()
        await proc.wait()


async def probe_blackbox(client: aiohttp.ClientSession, base: str, url: str) -> dict[str, float]:
    """One blackbox probe of ``url``: phase → seconds."""
    async with client.get(f"{base}/probe", params={"module": "http_get", "target": url}) as resp:
        text = await resp.text()
    if "probe_success 1" not in text:
        raise SystemExit(f"blackbox probe of {url} failed:\n{text}")
    return {phase: float(value) for phase, value in _SAMPLE.findall(text)}


async def probe_sitewatch(session: aiohttp.ClientSession, resolver: ProbeResolver, url: str) -> dict[str, float]:
    """One run of the pageload check on ``url``: phase → seconds."""
    cls = load_checks()["pageload"]
    check = cls(cls.Config.model_validate({"verify_tls": False}), SiteInfo("bench", yarl.URL(url)))
    ctx = Context(session, check.site, "pageload", 10.0, SystemClock(), resolver, logging.getLogger("bench"))
    result = await check.run(ctx)
    if not result.ok:
        raise SystemExit(f"pageload of {url} failed: {result.summary}")
    return {dict(s.labels)["phase"]: s.value for s in result.samples if s.name == "probe_http_duration_seconds"}


def table(rows: list[tuple[str, str, float, float]]) -> str:
    """The comparison, one line per target and phase."""
    out = [f"{'target':<7} {'phase':<11} {'sitewatch':>11} {'blackbox':>11} {'ratio':>7}"]
    for name, phase, ours, theirs in rows:
        ratio = f"{ours / theirs:.2f}" if theirs > 0 else "-"
        out.append(f"{name:<7} {phase:<11} {ours * 1000:>9.3f}ms {theirs * 1000:>9.3f}ms {ratio:>7}")
    return "\n".join(out)


async def main(runs: int) -> None:
    """Probe both targets ``runs`` times with each tool, interleaved, and print the medians."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    resolver = ProbeResolver(fallback=None)
    session = make_session(resolver, user_agent="sitewatch-bench")
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with blackbox(Path(tmp)) as base, aiohttp.ClientSession() as client:
            for name, ctx in (("http", None), ("https", server_ctx)):
                async with target(ctx) as url:
                    ours: list[dict[str, float]] = []
                    theirs: list[dict[str, float]] = []
                    for _ in range(runs):
                        ours.append(await probe_sitewatch(session, resolver, url))
                        theirs.append(await probe_blackbox(client, base, url))
                    for phase in PHASES:
                        rows.append(
                            (
                                name,
                                phase,
                                statistics.median(r.get(phase, 0.0) for r in ours),
                                statistics.median(r.get(phase, 0.0) for r in theirs),
                            )
                        )
    await session.close()
    print(f"median of {runs} runs per tool; target: {DELAY * 1000:.0f}ms think time, {len(BODY)} byte body")
    print(table(rows))
    print("resolve is ~0 for both: the target is an IP literal, so neither tool asks DNS")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))

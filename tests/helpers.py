"""Shared test helpers: loopback servers, a test resolver, a one-shot check runner and a running agent."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yarl
from aiohttp import web

from sitewatch.config.registry import load_checks
from sitewatch.engine.results import RunRecord
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import SiteInfo

if TYPE_CHECKING:
    from sitewatch.agent import Agent

__all__ = [
    "free_port",
    "make_spec",
    "need",
    "need_daemon",
    "run_check",
    "running_agent",
    "send_in_pieces",
    "serve",
    "wait_for",
]


def free_port() -> int:
    """A loopback port free right now, for a server (the agent, Alertmanager) that wants one in its config."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(tool: str, package: str = "prometheus") -> str:
    """Path of a tool from the Debian ``package`` that `make test` installs; skip only outside CI."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: `make test` should have installed Debian package {package}")
        pytest.skip(f"{tool} not installed (run `make test`, which installs {package})")
    return path


def need_daemon(tool: str, package: str) -> str:
    """Path of a server binary the tests start themselves (redis-server, dnsmasq).

    Skips when it is missing, except in CI or under ``SITEWATCH_REQUIRE_SERVICES=1``
    (set by `make test`, which installs ``package``): there a missing binary fails.
    """
    path = shutil.which(tool) or next(
        (p for d in ("/usr/sbin", "/sbin") if os.access(p := os.path.join(d, tool), os.X_OK)), None
    )
    if path is None:
        if os.environ.get("CI") or os.environ.get("SITEWATCH_REQUIRE_SERVICES"):
            pytest.fail(f"{tool} is missing: `make test` should have installed Debian package {package}")
        pytest.skip(f"{tool} not installed (run `make test`, which installs Debian package {package})")
    return path


@contextlib.asynccontextmanager
async def running_agent(config: Path, **options: Any) -> AsyncIterator[Agent]:
    """An agent started from the config file ``config`` and closed afterwards; ``options`` go to ``Agent``."""
    from sitewatch.agent import Agent
    from sitewatch.config.loader import load_config

    agent = Agent(load_config(config), logging.getLogger("sitewatch.test"), **options)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.close()


async def start_demo(listen: str, stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """`sitewatch demo` (what `make run` starts) in a subprocess listening on ``listen``; stderr is piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "demo", "--listen", listen, stdout=stdout, stderr=asyncio.subprocess.PIPE
    )


@contextlib.asynccontextmanager
async def failing_site(status: int, text: str, path: str = "/") -> AsyncIterator[str]:
    """A site whose ``path`` (an aiohttp route, ``/{site}`` for any page) answers ``status`` with ``text``."""

    async def fail(_: web.Request) -> web.Response:
        return web.Response(status=status, text=text)

    app = web.Application()
    app.router.add_get(path, fail)
    async with serve(app) as url:
        yield url


@contextlib.asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1", ssl_context: Any = None) -> AsyncIterator[str]:
    """Serve ``app`` on an ephemeral loopback port; yields the base URL without a trailing slash."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    bound_host, port = runner.addresses[0][:2]
    scheme = "https" if ssl_context is not None else "http"
    try:
        yield f"{scheme}://{bound_host}:{port}"
    finally:
        await runner.cleanup()


async def send_in_pieces(
    request: web.Request,
    body: bytes,
    *,
    content_type: str = "text/html; charset=UTF-8",
    pieces: int = 16,
    compress: bool = True,
    status: int = 200,
) -> web.StreamResponse:
    """Answer ``body`` as a real server over a real network does: gzip'd, chunked, in ``pieces`` writes.

    The event loop turns between writes, so a client's read sees one piece at a time
    (a client that takes one read for the whole body gets only the first).
    """
    data = gzip.compress(body) if compress else body
    headers = {"Content-Type": content_type, **({"Content-Encoding": "gzip"} if compress else {})}
    response = web.StreamResponse(status=status, headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    size = -(-len(data) // pieces)
    try:
        for start in range(0, len(data), size):
            await response.write(data[start : start + size])
            for _ in range(4):  # pacing, not waiting: let the client's read run between pieces
                await asyncio.sleep(0)
        await response.write_eof()
    except ConnectionResetError:
        pass  # a client that stops at its cap closes the connection: not the server's failure
    return response


def make_spec(
    check_type: str,
    settings: Mapping[str, Any] | None = None,
    *,
    url: str = "http://127.0.0.1/",
    site: str = "site",
    name: str | None = None,
    interval: float = 60.0,
    timeout: float = 5.0,
) -> Any:
    """A validated CheckSpec, built the way the config loader builds one."""
    from sitewatch.config.sourcemap import Origin
    from sitewatch.config.specs import CheckSpec

    cls = load_checks()[check_type]
    info = SiteInfo(site, yarl.URL(url))
    config = cls.Config.model_validate(dict(settings or {}))
    return CheckSpec(info, name or check_type, check_type, interval, timeout, config, cls, Origin("test", 1))


async def run_check(
    check_type: str,
    settings: Mapping[str, Any] | None = None,
    *,
    url: str = "http://127.0.0.1/",
    timeout: float = 5.0,  # noqa: ASYNC109 - the check's configured timeout, not ours
    hosts: Mapping[str, Sequence[str]] | None = None,
    resolver: ProbeResolver | None = None,
) -> RunRecord:
    """Run one check once through the real scheduler path; ``hosts`` is the test resolver's table."""
    from sitewatch.engine.scheduler import Scheduler

    resolver = resolver or ProbeResolver(static=hosts or {}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    scheduler = Scheduler.for_one_shot(session=session, resolver=resolver, log=logging.getLogger("sitewatch.test"))
    try:
        return await scheduler.run_once(make_spec(check_type, settings, url=url, timeout=timeout))
    finally:
        await session.close()


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = "") -> None:  # noqa: ASYNC109
    """Poll ``predicate`` until true or fail after ``timeout`` seconds (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)

"""Floods of idle connections and slowloris clients under a 1024 descriptor limit, and an idle keep-alive client.

The agent runs as systemd starts it (soft ``RLIMIT_NOFILE`` 1024) and, worse, with the hard limit
at 1024 too, so raising the soft limit cannot help and only the listener's cap and the descriptors
reserved for the probes stand between an attack on the listener and a false outage of every site.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sitewatch.limits import AcceptFailures, listener_cap, reserved_descriptors
from tests.agent_process import AgentProcess, agent_process, get
from tests.helpers import free_port, serve, wait_for

pytestmark = pytest.mark.slow

SITES = 3
IDLE = 2000
#: A shop's home page, about 60 KiB, sent gzip'd and chunked.
PAGE = (
    "<html><body>" + "".join(f"<div class='product'>item {i} in stock</div>\n" for i in range(1500)) + "</body></html>"
)


@pytest.fixture
def own_limit() -> None:
    """This process holds 2,000 client sockets: it needs a soft limit above that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 500:
        pytest.skip(f"hard descriptor limit {hard} is too low to open {IDLE} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


@pytest.fixture
async def sites() -> AsyncIterator[str]:
    """One healthy loopback server for all the sites (its port)."""

    async def home(_: web.Request) -> web.Response:
        response = web.Response(text=PAGE, content_type="text/html")
        response.enable_compression()
        response.enable_chunked_encoding()
        return response

    app = web.Application()
    app.router.add_get("/", home)
    async with serve(app) as base:
        yield base


def write_config(tmp_path: Path, base: str, listen: str, listener: str) -> Path:
    """Sites that fail at once if a probe fails (fail_after 1), every second."""
    sites = "\n".join(
        f"  - {{name: shop{i}, url: '{base}/', checks: [{{type: http, contains: ['item 1499 in stock']}}]}}"
        for i in range(SITES)
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "{listen}", state_dir: {tmp_path}, listener: {listener}}}
        defaults: {{interval: 1s, timeout: 1s, fail_after: 1, recover_after: 1}}
        sites:
        """)
        + sites
        + "\n",
        encoding="utf-8",
    )
    return path


def runs(metrics: str, status: str) -> float:
    """Sum of sitewatch_check_runs_total for ``status``."""
    pattern = rf'^sitewatch_check_runs_total{{[^}}]*status="{status}"}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, metrics, flags=re.MULTILINE))


async def hold(listen: str, count: int) -> list[asyncio.StreamWriter]:
    """Open ``count`` connections that send nothing; the ones the agent accepted at the time."""
    host, port = listen.rsplit(":", 1)
    gate = asyncio.Semaphore(200)

    async def one() -> asyncio.StreamWriter | None:
        async with gate:
            try:
                async with asyncio.timeout(10):
                    _, writer = await asyncio.open_connection(host, int(port))
            except (OSError, TimeoutError):
                return None
            return writer

    return [w for w in await asyncio.gather(*(one() for _ in range(count))) if w is not None]


@pytest.mark.parametrize("hard", [1024, None], ids=["hard-1024", "systemd-default"])
async def test_2000_idle_connections_are_no_outage(
    own_limit: None, sites: str, tmp_path: Path, hard: int | None
) -> None:
    """Under soft limit 1024, 2,000 idle connections: no check fails, no incident, /healthz and /metrics answer."""
    limit = (1024, hard or resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    listen = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path, sites, listen, "{header_timeout: 60s, idle_timeout: 60s}")
    async with agent_process(config, listen, nofile=limit) as agent:
        await wait_for(lambda: _all_ran(agent), timeout=15, what="every check to run once")
        before = await get(listen, "/metrics")
        clients = await hold(listen, IDLE)
        try:
            ok_before = runs(before[1], "ok")
            # Three more rounds of every check while the connections are held.
            await wait_for(lambda: _ran_more(listen, ok_before + 3 * SITES), timeout=20, what="3 more rounds")
            health, body = await get(listen, "/healthz")
            metrics = await get(listen, "/metrics")
        finally:
            for writer in clients:
                writer.close()
    assert health == 200, body
    assert metrics[0] == 200
    assert runs(metrics[1], "ok") >= ok_before + 3 * SITES
    failed = [s for s in ("warning", "critical", "error") if runs(metrics[1], s)]
    assert not failed, [line for line in agent.lines if "check_status" in line]
    assert re.search(r"^sitewatch_open_incidents 0(\.0)?$", metrics[1], flags=re.MULTILINE)
    assert not [line for line in agent.lines if "Too many open files" in line]
    assert len(agent.events("listener_accept_failed")) <= 1
    if hard is None:
        assert agent.events("fd_limit_raised"), agent.lines[:5]
    else:
        assert agent.events("listener_cap_lowered"), agent.lines[:5]
    assert len(agent.events("listener_full")) <= 2


def _all_ran(agent: AgentProcess) -> bool:
    return len([line for line in agent.lines if "check_status" in line and "status=ok" in line]) >= SITES


async def _ran_more(listen: str, ok_runs: float) -> bool:
    status, body = await get(listen, "/metrics")
    return status == 200 and runs(body, "ok") >= ok_runs


async def test_slowloris_connections_are_closed_after_the_header_timeout(
    own_limit: None, sites: str, tmp_path: Path
) -> None:
    """Clients that send a request head one byte a second are closed once header_timeout (2 s) has passed."""
    listen = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path, sites, listen, "{header_timeout: 2s}")
    head = b"GET /metrics HTTP/1.1\r\nHost: agent\r\nUser-Agent: slow\r\nX-Padding: " + b"a" * 200
    host, port = listen.rsplit(":", 1)

    async def slow() -> float:
        reader, writer = await asyncio.open_connection(host, int(port))
        opened = time.monotonic()
        try:
            for byte in head:
                if reader.at_eof():
                    break
                writer.write(bytes([byte]))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):  # the client's pace: one byte a second
                        if not await reader.read(1):
                            break
            return time.monotonic() - opened
        finally:
            writer.close()

    async with agent_process(config, listen) as agent:
        lasted = await asyncio.gather(*(slow() for _ in range(50)))
        assert (await get(listen, "/healthz"))[0] == 200
    # The agent's timer starts when it accepts, which under load comes a little before this side's
    # `opened`: the floor only shows the head timeout (not something earlier) closed them.
    assert all(1.5 <= t <= 5.0 for t in lasted), sorted(lasted)
    assert not [line for line in agent.lines if "Traceback" in line]


def test_the_listener_cap_leaves_the_probes_their_descriptors(caplog: pytest.LogCaptureFixture) -> None:
    """Under 1024 the cap is what is left after the probes' reserve; with room, the configured value stands."""
    import logging

    log = logging.getLogger("sitewatch.test")
    assert listener_cap(512, 256, log, soft=1_048_576) == 512
    cap = listener_cap(512, 256, log, soft=1024)
    assert cap == 1024 - reserved_descriptors(256)
    assert cap + reserved_descriptors(256) <= 1024
    assert listener_cap(512, 5000, log, soft=1024) == 16  # never below what an operator needs
    assert "listener_cap_lowered" in caplog.text


def test_accept_failures_are_one_event_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    """Thousands of accept() failures in a burst are one event; after a quiet spell the next burst is another."""
    import logging

    now = [0.0]
    handler = AcceptFailures(logging.getLogger("sitewatch.test"), quiet=30, clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    try:
        context = {"message": "socket.accept() out of system resource", "exception": OSError(24, "Too many open files")}
        with caplog.at_level(logging.ERROR, logger="sitewatch.test"):
            for _ in range(5000):
                handler(loop, context)
                now[0] += 0.001
            now[0] += 60
            handler(loop, context)
    finally:
        loop.close()
    lines = [r for r in caplog.records if r.getMessage() == "listener_accept_failed"]
    assert len(lines) == 2
    assert lines[1].sitewatch_fields["previous_episode_failures"] == 5000  # type: ignore[attr-defined]


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """One whole HTTP answer (head and Content-Length body); returns the head."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert length, head
    await reader.readexactly(int(length.group(1)))
    return head


async def test_an_idle_keep_alive_client_is_closed_after_the_idle_timeout(sites: str, tmp_path: Path) -> None:
    """A keep-alive client that got its answers and then sends nothing is closed once idle_timeout (2 s) has passed,
    not at once (the connection did serve a second request) and not after the default 75 s."""
    listen = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path, sites, listen, "{idle_timeout: 2s}")
    host, port = listen.rsplit(":", 1)
    request = b"GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n"  # HTTP/1.1: keep-alive unless told otherwise
    async with agent_process(config, listen) as agent:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for _ in range(2):
                writer.write(request)
                await writer.drain()
                head = await _answer(reader)
                assert b"connection: close" not in head.lower(), head
            answered = time.monotonic()
            async with asyncio.timeout(15):  # the deadline: far below the default 75 s, far above 2 s
                rest = await reader.read()  # b"" at EOF: the agent closed the connection
            idle = time.monotonic() - answered
        finally:
            writer.close()
    assert rest == b""
    # The agent's timer starts when it has sent the answer, a little before this side read it.
    assert 1.5 <= idle <= 6.0, idle
    assert not [line for line in agent.lines if "Traceback" in line]

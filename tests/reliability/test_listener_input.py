"""Malformed requests to a real ``sitewatch run``: a 4xx each, one event line each in its log, never a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sitewatch.web.requestlog import BAD_REQUESTS_PER_MINUTE, RateLimit
from tests.agent_process import AgentProcess, agent_process, get
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.slow

TOKEN = "am-token-0123456789abcdef"


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[AgentProcess]:
    """An agent with the Alertmanager bridge on and no sites."""
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f'agent: {{listen: "{listen}", state_dir: {tmp_path}, alertmanager: {{enabled: true, token: {TOKEN}}}}}\n',
        encoding="utf-8",
    )
    async with agent_process(config, listen) as running:
        yield running


async def send(listen: str, data: bytes) -> bytes:
    """Write ``data`` on a raw connection in 64 KiB pieces and read the answer until the server closes."""
    host, port = listen.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for at in range(0, len(data), 65536):
            writer.write(data[at : at + 65536])
            try:
                await writer.drain()
            except ConnectionError:
                break  # the server answered and closed before the rest was sent
        async with asyncio.timeout(10):
            return await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0


async def test_json_nested_100000_deep_is_a_400(agent: AgentProcess) -> None:
    """Alertmanager's payload is 4 levels deep; 100,000 levels is refused with a JSON 400, not a 500 traceback."""
    body = b"[" * 100_000 + b"]" * 100_000
    head = (
        f"POST /alertmanager HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    answer = await send(agent.listen, head.encode() + body)
    assert status(answer) == 400, answer[:200]
    assert b"nested deeper than 32 levels" in answer
    deep_object = b'{"version": "4", "alerts": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}"
    head = head.replace(f"Content-Length: {len(body)}", f"Content-Length: {len(deep_object)}")
    assert status(await send(agent.listen, head.encode() + deep_object)) == 400
    assert (await get(agent.listen, "/healthz"))[0] == 200
    assert not [line for line in agent.lines if "Traceback" in line or "RecursionError" in line]


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"GET /" + b"a" * 8192 + b" HTTP/1.1\r\nHost: agent\r\n\r\n", "LineTooLong: Got more than 8190 bytes"),
        (
            b"GET / HTTP/1.1\r\nHost: agent\r\nX-Big: " + b"b" * (1024 * 1024) + b"\r\n\r\n",
            "LineTooLong: Got more than 8190 bytes",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: agent\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"\r\n",
            "BadHttpMessage: Too many headers received",
        ),
    ],
    ids=["8KB-url", "1MB-header", "20000-headers"],
)
async def test_oversized_requests_are_one_event_line_each(
    agent: AgentProcess, request_bytes: bytes, reason: str
) -> None:
    """A URL, header or header count over aiohttp's limits: a 4xx, and one http_bad_request line with the reason."""
    answer = await send(agent.listen, request_bytes)
    assert status(answer) in (0, 400, 431), answer[:200]  # 0: closed before the answer could be read
    await wait_for(lambda: bool(agent.events("http_bad_request")), timeout=5, what="the http_bad_request event")
    assert (await get(agent.listen, "/healthz"))[0] == 200
    [line] = agent.events("http_bad_request")
    assert "status=" in line
    assert "peer=127.0.0.1" in line
    assert reason.lower() in line.lower(), line
    assert len(line) < 400
    assert not [line for line in agent.lines if "Traceback" in line or line.startswith(("  File", "Error handling"))]


async def test_a_flood_of_bad_requests_is_rate_limited(agent: AgentProcess) -> None:
    """Sixty malformed requests log at most BAD_REQUESTS_PER_MINUTE lines; the agent keeps answering."""
    bad = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: agent\r\n\r\n"
    await asyncio.gather(*(send(agent.listen, bad) for _ in range(60)))
    assert (await get(agent.listen, "/healthz"))[0] == 200
    await wait_for(lambda: bool(agent.events("http_bad_request")), timeout=5, what="the first event")
    assert 1 <= len(agent.events("http_bad_request")) <= BAD_REQUESTS_PER_MINUTE
    assert len(agent.lines) < 2 * BAD_REQUESTS_PER_MINUTE + 5, agent.lines


def test_rate_limit_reports_what_it_held_back() -> None:
    """Within a minute the limit holds events back and counts them; the next minute's first event gets the count."""
    now = [1000.0]
    limit = RateLimit(3, clock=lambda: now[0])
    assert [limit.allow() for _ in range(5)] == [True, True, True, False, False]
    now[0] += 61
    assert limit.allow() is True
    assert limit.take_suppressed() == 2
    assert limit.take_suppressed() == 0

"""The running agent's HTTP surfaces under hostile clients: clear 4xx, bounded bodies, nothing changes or crashes.

Requests are written on raw sockets so that paths reach the server byte for byte (an HTTP client
library would normalise ``..`` away before sending).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sitewatch.agent import Agent
from sitewatch.web.pings import PING_BODY_LIMIT
from tests.helpers import free_port, running_agent, wait_for

TOKEN = "5f0c1e9a7b3d42e8a6c4b2d0e8f6a4c2"


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    monkeypatch.setenv("RELIABILITY_PING_TOKEN", TOKEN)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}}}
        sites:
          - name: shop
            url: https://shop.example.com/
            checks:
              - type: heartbeat
                name: backup
                interval: 1h
                token: ${{RELIABILITY_PING_TOKEN}}
                max_age: 1h
        """),
        encoding="utf-8",
    )
    async with running_agent(path) as running:
        yield running


async def raw(agent: Agent, method: str, path: str, body: bytes = b"", *, pace: bool = False) -> tuple[int, bytes]:
    """Send one request as raw bytes; with ``pace`` the body arrives in two parts, 0.2 s apart."""
    host, port = agent.web.bound[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: agent\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + (body[: len(body) // 2] if pace else body))
        await writer.drain()
        if pace:
            await asyncio.sleep(0.2)  # the client's own pace: the server sees the body in two reads
            writer.write(body[len(body) // 2 :])
            await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, response.partition(b"\r\n\r\n")[2]


def heartbeat(agent: Agent) -> Any:
    """The live heartbeat check instance."""
    return next(c for c in agent.scheduler.checks() if c.push_token)


async def test_wrong_methods_are_405(agent: Agent) -> None:
    """Read-only endpoints refuse writes with 405; the ping endpoint refuses PUT and DELETE."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/metrics", "/api/status", "/healthz"):
            assert (await raw(agent, method, path, b"{}"))[0] == 405, (method, path)
    for method in ("PUT", "DELETE"):
        assert (await raw(agent, method, f"/ping/{TOKEN}"))[0] == 405
    assert heartbeat(agent).last == {}


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/ping/..%2f..%2fetc%2fpasswd",
        "/api/..%2f..%2fetc/passwd",
        "/static/../../etc/passwd",
        "//etc/passwd",
    ],
)
async def test_path_traversal_is_a_4xx_and_serves_no_file(agent: Agent, path: str) -> None:
    """No path escapes to the file system: a 4xx without file content, and no ping is recorded."""
    status, body = await raw(agent, "GET", path)
    assert 400 <= status < 500, (path, status)
    assert b"root:" not in body
    assert heartbeat(agent).last == {}


async def test_unknown_tokens_all_get_the_same_404(agent: Agent) -> None:
    """Wrong, short, huge and near-miss tokens get one identical answer and change nothing."""
    answers = {
        await raw(agent, "POST", f"/ping/{token}", b"ok")
        for token in ("f" * 32, "x", TOKEN[:-1], TOKEN + "0", TOKEN.upper(), "%00" + TOKEN, "a" * 4000)
    }
    assert answers == {(404, b'{"error": "unknown token"}')}
    assert heartbeat(agent).last == {}


async def test_huge_and_malformed_bodies_are_bounded(agent: Agent) -> None:
    """A 5 MB body or binary garbage is cut to the ping limit, made printable, and the agent stays up."""
    status, _ = await raw(agent, "POST", f"/ping/{TOKEN}/fail", b"\xff\x00\x1b[31m" + b"A" * (5 * 1024 * 1024))
    assert status in (200, 413)
    if status == 200:
        body = heartbeat(agent).last["fail"].body
        assert len(body) <= PING_BODY_LIMIT
        assert body.isprintable()
    assert (await raw(agent, "POST", "/api/status", b"{" * 100_000))[0] in (405, 413)
    assert (await raw(agent, "GET", "/healthz"))[0] in (200, 503)  # still answering


async def test_ping_body_arriving_in_two_parts_is_kept_whole(agent: Agent) -> None:
    """A job log posted in two TCP writes is stored whole (it is well under the limit)."""
    log = ("line %04d: pg_dump progress\n" * 200 % tuple(range(200))).encode()
    assert len(log) < PING_BODY_LIMIT
    assert (await raw(agent, "POST", f"/ping/{TOKEN}/fail", log, pace=True))[0] == 200
    await wait_for(lambda: "fail" in heartbeat(agent).last, timeout=5, what="the ping")
    assert heartbeat(agent).last["fail"].body == log.decode()


async def test_status_page_and_apis_refuse_writes(agent: Agent) -> None:
    """The page and the JSON APIs are read-only: writes are 405 and change nothing."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/incidents", "/api/sites/shop/history"):
            assert (await raw(agent, method, path, b'{"state": "resolved"}'))[0] == 405, (method, path)
    assert heartbeat(agent).last == {}


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/sites/shop/history?since=yesterday", 400, b'"parameter": "since"'),
        ("/api/sites/shop/history?since=2026-11-20T00:00:00", 400, b"add a zone"),
        ("/api/sites/shop/history?since=" + "9" * 5000, 400, b'"parameter": "since"'),
        ("/api/sites/nope/history", 404, b"nope"),
        ("/api/sites/%2e%2e%2f%2e%2e%2fetc%2fpasswd/history", 404, b"error"),
        ("/api/incidents?state=everything", 400, b'"parameter": "state"'),
        ("/api/incidents?limit=-1", 400, b'"parameter": "limit"'),
        ("/api/incidents?limit=99999999999999999999", 400, b'"parameter": "limit"'),
    ],
)
async def test_bad_api_parameters_are_named_4xx(agent: Agent, path: str, status: int, words: bytes) -> None:
    """Bad query parameters and unknown sites get a JSON 4xx naming what was wrong; nothing is served from disk."""
    got, body = await raw(agent, "GET", path)
    assert got == status, (path, got, body[:200])
    assert words in body
    assert b"root:" not in body
    assert (await raw(agent, "GET", "/healthz"))[0] in (200, 503)

"""The http check against a deliberately misbehaving server (raw sockets): every case ends in time, with a reason."""

from __future__ import annotations

import asyncio
import gzip
import resource

import pytest

from sitewatch.probe import Status
from tests.conftest import Behaviour, HostileServers
from tests.helpers import run_check

TIMEOUT = 1.0


async def _request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def never_finishes_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    await writer.drain()
    await asyncio.Event().wait()


async def one_byte_per_tick(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.2)  # the hostile server's own pace, not a test wait


async def endless_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"y" * 65536
    while True:
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()


BOMB = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)


async def gzip_bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(BOMB)}\r\n\r\n"
    writer.write(head.encode() + BOMB)
    await writer.drain()


async def huge_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Junk: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
    await writer.drain()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"\x16\x03\x01 this is not HTTP at all \xff\xfe\r\n\r\n")
    await writer.drain()
    writer.close()


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"z" * 1000)
    await writer.drain()
    writer.transport.abort()  # RST instead of FIN


async def silent_tls_port(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()  # accepts, never handshakes, never speaks


@pytest.mark.parametrize(
    ("behaviour", "scheme", "status", "words"),
    [
        (never_finishes_headers, "http", Status.ERROR, "timed out after 1.0s waiting for the response headers"),
        (one_byte_per_tick, "http", Status.ERROR, "timed out after 1.0s reading the body"),
        (endless_chunked, "http", Status.OK, "HTTP 200"),  # capped at max_body, judged on what was read
        (gzip_bomb, "http", Status.OK, "HTTP 200"),
        (huge_headers, "http", Status.ERROR, "invalid HTTP response"),
        (garbage, "http", Status.ERROR, "invalid HTTP response"),
        (reset_mid_body, "http", Status.ERROR, "response body from"),
        (silent_tls_port, "https", Status.ERROR, "timed out after 1.0s in the TLS handshake"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
async def test_hostile_target_ends_in_time_with_a_reason(
    hostile: HostileServers, behaviour: Behaviour, scheme: str, status: Status, words: str
) -> None:
    """Each hostile behaviour gives the expected status within the timeout, and memory stays bounded."""
    address = await hostile(behaviour)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = await run_check("http", {"max_body": "1MiB"}, url=f"{scheme}://{address}/", timeout=TIMEOUT)
    assert record.result.status is status, record.result.summary
    assert words in record.result.summary
    assert record.result.summary  # always a reason in words
    assert record.duration < TIMEOUT + 0.6
    assert record.result.details.get("body_bytes", 0) <= 1024 * 1024
    # ru_maxrss is in KiB: a 200 MB bomb inflated in memory would show here.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 64 * 1024

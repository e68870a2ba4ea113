"""Real-world response shapes that broke the http check, served raw on loopback in many small writes."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Callable

import yarl

from sitewatch.net.httpclient import ProbeResolver
from sitewatch.net.httpexchange import HttpAnswer, exchange
from sitewatch.probe import Status
from tests.helpers import run_check

#: Builds the bytes one connection is answered with, from that server's own port.
Script = Callable[[int], bytes]


@contextlib.asynccontextmanager
async def raw_site(script: Script, piece: int = 7) -> AsyncIterator[int]:
    """A server that reads one request head and writes ``script(port)`` in ``piece``-byte writes; yields its port."""
    port = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            data = script(port)
            for at in range(0, len(data), piece):
                writer.write(data[at : at + piece])
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def chunked_gzip(text: bytes, piece: int = 400) -> bytes:
    """``text`` gzip'd and sent chunked, as PHP behind nginx sends a page."""
    packed = gzip.compress(text)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(packed[i : i + piece]), packed[i : i + piece]) for i in range(0, len(packed), piece)
    )
    return chunks + b"0\r\n\r\n"


PAGE = b"<html><head><title>Shop</title></head><body>" + b"<p>Welcome to the shop</p>" * 800 + b"</body></html>"
FINAL = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Encoding: gzip\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n" + chunked_gzip(PAGE)
)


async def fetch(port: int, path: str = "/") -> HttpAnswer:
    resolver = ProbeResolver(static={}, fallback=None)
    url = yarl.URL(f"http://127.0.0.1:{port}{path}")
    return await exchange("GET", url, headers={}, body=None, resolver=resolver, user_agent="sitewatch-test")


async def test_early_hints_before_the_answer_are_skipped() -> None:
    """``103 Early Hints`` (as Cloudflare sends it) is interim: the 200 after it is the answer, with its own headers."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </app.js>; rel=preload\r\n\r\n"
    async with raw_site(lambda _: hints + FINAL) as port:
        got = await fetch(port)
        record = await run_check("http", {"contains": ["Welcome to the shop"]}, url=f"http://127.0.0.1:{port}/")
    assert (got.status, got.reason, got.body) == (200, "OK", PAGE)
    assert "link" not in got.headers
    assert got.headers["content-type"] == "text/html; charset=UTF-8"
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("HTTP 200 OK in ")


async def test_unsolicited_continue_and_several_interim_answers_are_skipped() -> None:
    """An unsolicited ``100 Continue`` and then a ``102 Processing`` both precede the real 503, which is judged."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
    final = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown"
    async with raw_site(lambda _: interim + final, piece=3) as port:
        got = await fetch(port)
        record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")
    assert (got.status, got.reason, got.body) == (503, "Service Unavailable", b"down")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary.startswith("HTTP 503 Service Unavailable (expected")


async def test_interim_answers_without_end_are_bounded() -> None:
    """A server that sends 103s forever does not hold the probe: the head bound applies across interim answers."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" * 3000
    async with raw_site(lambda _: hints, piece=4096) as port:
        record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")
    assert record.result.status is Status.ERROR
    assert "response headers larger than 64 KiB" in record.result.summary


async def test_redirect_without_location_is_critical() -> None:
    """A 302 with no Location leads nowhere: critical, as blackbox_exporter fails it, never OK."""
    reply = b"HTTP/1.1 302 Found\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nmoved"
    async with raw_site(lambda _: reply) as port:
        record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "HTTP 302 redirect without Location"


async def test_body_cut_at_max_body_says_it_was_cut() -> None:
    """A page larger than max_body is judged on its first part, and the summary says the body is larger."""
    big = b"<html>" + b"<p>catalogue row</p>" * 150_000 + b"</html>"  # ~2.9 MiB, gzip'd and chunked
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_gzip(big)
    async with raw_site(lambda _: reply, piece=1400) as port:
        record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")
    assert record.result.status is Status.OK
    assert record.result.summary.endswith(", first 2.0 MiB read, body is larger"), record.result.summary
    assert record.result.details["body_truncated"] is True


async def test_redirect_to_a_port_that_is_not_http_names_the_hop() -> None:
    """A redirect to an SSH port says it is not an HTTP server and which page redirected there."""
    async with raw_site(lambda _: b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") as ssh:
        location = f"http://127.0.0.1:{ssh}/admin"
        moved = f"HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        async with raw_site(lambda _: moved) as port:
            record = await run_check("http", {"allow_private_redirects": True}, url=f"http://127.0.0.1:{port}/old")
    assert record.result.status is Status.ERROR
    summary = record.result.summary
    assert summary.startswith(f"invalid HTTP response from 127.0.0.1:{ssh}: not an HTTP server at 127.0.0.1:{ssh}")
    assert summary.endswith(f"reached by redirect from http://127.0.0.1:{port}/old"), summary
    assert "Expected HTTP/" not in summary


async def test_bare_lf_line_endings_are_accepted_with_a_warning() -> None:
    """A head with bare LF line ends (old CGI scripts, hand-written servers) is parsed and reported as a warning."""
    reply = b"HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: %d\n\n" % len(PAGE) + PAGE
    async with raw_site(lambda _: reply, piece=5) as port:
        got = await fetch(port)
        record = await run_check("http", {"contains": ["Welcome to the shop"]}, url=f"http://127.0.0.1:{port}/")
    assert (got.status, got.body, got.bare_lf) == (200, PAGE, True)
    assert record.result.status is Status.WARNING
    assert "server uses bare LF line endings (RFC 9112 allows clients to accept; fix the server)" in (
        record.result.summary
    )


async def test_proper_line_ends_with_lf_in_the_body_are_not_bare_lf() -> None:
    """A CRLF head followed by a body full of plain LFs, in one write or split at CR|LF, is no warning."""
    body = b"line one\nline two\n" * 200
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    for piece in (len(reply), 16):  # 16 splits the head between a CR and its LF
        async with raw_site(lambda _: reply, piece=piece) as port:
            got = await fetch(port)
        assert (got.body, got.bare_lf) == (body, False), piece

"""The http check's own HTTP/1.1 client against raw loopback servers that answer byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
import zlib
from collections.abc import Callable

import pytest
import trustme
import yarl

from sitewatch.net.httpclient import ProbeResolver
from sitewatch.net.httpexchange import exchange
from sitewatch.net.phases import measure_phases
from sitewatch.net.response import MAX_HEAD, ExchangeError, HttpAnswer
from tests.helpers import run_check

Reply = Callable[[bytes], bytes]


class RawServer:
    """Answers each connection with ``reply(request head)``, then closes; records every request head."""

    def __init__(self, reply: Reply, ssl_context: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.ssl_context = ssl_context
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            writer.write(self.reply(head))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await close(writer)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


def answer(status: str, *headers: str, body: bytes = b"") -> Reply:
    head = "\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n"
    return lambda _: head.encode("latin-1") + body


async def fetch(url: str, method: str = "GET", **kwargs: object) -> HttpAnswer:
    resolver = ProbeResolver(static={"shop.test": ["127.0.0.1"]}, fallback=None)
    options: dict[str, object] = {"headers": {}, "body": None, "user_agent": "sitewatch-test", **kwargs}
    return await exchange(method, yarl.URL(url), resolver=resolver, **options)  # type: ignore[arg-type]


async def test_request_head_and_timed_phases() -> None:
    """One request per connection: Host with the port, our User-Agent, Connection: close; phases add up."""
    async with RawServer(
        answer("200 OK", "Content-Length: 5", "Content-Type: text/plain; charset=koi8-r", body=b"hello")
    ) as srv:
        with measure_phases() as timer:
            got = await fetch(f"http://shop.test:{srv.port}/a?b=1", headers={"X-Probe": "yes"})
    head = srv.requests[0].decode()
    assert head.startswith("GET /a?b=1 HTTP/1.1\r\n")
    assert f"\r\nHost: shop.test:{srv.port}\r\n" in head
    assert "\r\nUser-Agent: sitewatch-test\r\n" in head
    assert "\r\nConnection: close\r\n" in head
    assert "\r\nX-Probe: yes\r\n" in head
    assert (got.status, got.reason, got.body, got.truncated, got.content_length) == (200, "OK", b"hello", False, 5)
    assert got.charset == "koi8-r"
    assert got.peer == "127.0.0.1"
    assert all(timer.phases[p] > 0 for p in ("resolve", "connect", "processing", "transfer")), timer.phases
    assert timer.phases["tls"] == 0


async def test_head_response_does_not_wait_for_the_announced_body() -> None:
    """A HEAD answer announces a length but carries no body: done at the headers, not at the timeout."""
    async with RawServer(answer("200 OK", "Content-Length: 1000")) as srv:
        async with asyncio.timeout(3):
            got = await fetch(f"http://127.0.0.1:{srv.port}/", method="HEAD")
    assert (got.status, got.body, got.content_length, got.truncated) == (200, b"", 1000, False)
    assert srv.requests[0].startswith(b"HEAD / HTTP/1.1")


async def test_post_body_is_sent_with_its_length() -> None:
    """A configured body goes out with Content-Length and a text Content-Type unless one is given."""
    async with RawServer(answer("201 Created", "Content-Length: 0")) as srv:
        got = await fetch(f"http://127.0.0.1:{srv.port}/form", method="POST", body="q=привет".encode())
    request = srv.requests[0]
    assert got.status == 201
    assert b"\r\nContent-Length: 14\r\n" in request
    assert b"Content-Type: text/plain; charset=utf-8" in request
    assert request.endswith("q=привет".encode())


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(b"a" * 5000)),
        ("deflate", zlib.compress(b"a" * 5000)),
        ("deflate", zlib.compress(b"a" * 5000)[2:-4]),  # raw deflate, as some servers send it
    ],
)
async def test_compressed_bodies_are_inflated(encoding: str, packed: bytes) -> None:
    reply = answer("200 OK", f"Content-Encoding: {encoding}", f"Content-Length: {len(packed)}", body=packed)
    async with RawServer(reply) as srv:
        got = await fetch(f"http://127.0.0.1:{srv.port}/")
    assert got.body == b"a" * 5000
    assert got.truncated is False


@pytest.mark.parametrize(("size", "truncated"), [(1000, False), (1001, True)])
async def test_body_cap_is_exact(size: int, truncated: bool) -> None:
    """A body of exactly max_body is whole; one byte more is cut at the cap and said to be."""
    async with RawServer(answer("200 OK", f"Content-Length: {size}", body=b"z" * size)) as srv:
        got = await fetch(f"http://127.0.0.1:{srv.port}/", max_body=1000)
    assert len(got.body) == 1000
    assert got.truncated is truncated


async def test_inflated_body_is_capped_without_inflating_the_rest() -> None:
    packed = gzip.compress(b"\0" * 5_000_000)
    reply = answer("200 OK", "Content-Encoding: gzip", f"Content-Length: {len(packed)}", body=packed)
    async with RawServer(reply) as srv:
        got = await fetch(f"http://127.0.0.1:{srv.port}/", max_body=4096)
    assert (len(got.body), got.truncated) == (4096, True)


async def test_body_ended_by_closing_the_connection_is_complete() -> None:
    """No Content-Length, not chunked: the body ends where the connection does (HTTP/1.0 style)."""
    async with RawServer(lambda _: b"HTTP/1.0 200 OK\r\n\r\nuntil the end") as srv:
        got = await fetch(f"http://127.0.0.1:{srv.port}/")
    assert (got.status, got.body, got.truncated) == (200, b"until the end", False)


async def test_short_body_is_a_broken_body() -> None:
    async with RawServer(answer("200 OK", "Content-Length: 100", body=b"only this")) as srv:
        with pytest.raises(ExchangeError) as caught:
            await fetch(f"http://127.0.0.1:{srv.port}/")
    assert caught.value.kind == "body"
    assert caught.value.detail.startswith(f"response body from 127.0.0.1:{srv.port} is broken")
    assert "after 9 bytes" in caught.value.detail


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (lambda _: b"", "disconnected", "closed the connection without a complete response"),
        (lambda _: b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "protocol", "invalid HTTP response from 127.0.0.1:"),
        (
            lambda _: b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * (MAX_HEAD + 10) + b"\r\n\r\n",
            "protocol",
            "response headers larger than 64 KiB",
        ),
        (
            answer("200 OK", "Content-Encoding: gzip", "Content-Length: 7", body=b"notgzip"),
            "body",
            "cannot inflate the gzip body",
        ),
    ],
)
async def test_broken_answers_name_what_broke(reply: Reply, kind: str, words: str) -> None:
    async with RawServer(reply) as srv:
        with pytest.raises(ExchangeError) as caught:
            await fetch(f"http://127.0.0.1:{srv.port}/")
    assert caught.value.kind == kind
    assert words in caught.value.detail


async def test_header_with_a_line_break_is_refused_before_connecting() -> None:
    async with RawServer(answer("200 OK", "Content-Length: 0")) as srv:
        with pytest.raises(ExchangeError) as caught:
            await fetch(f"http://127.0.0.1:{srv.port}/", headers={"X-A": "b\r\nX-Injected: 1"})
    assert caught.value.kind == "request"
    assert srv.requests == []


async def test_credentials_in_the_url_become_basic_auth() -> None:
    async with RawServer(answer("200 OK", "Content-Length: 0")) as srv:
        await fetch(f"http://ops:s3cret@127.0.0.1:{srv.port}/")
    assert b"\r\nAuthorization: Basic b3BzOnMzY3JldA==\r\n" in srv.requests[0]


async def test_tls_phase_and_certificate_errors(ca: trustme.CA, server_ssl: ssl.SSLContext) -> None:
    """Verified against the system store the test CA is unknown (critical kind); unverified it is read."""
    async with RawServer(answer("200 OK", "Content-Length: 2", body=b"ok"), ssl_context=server_ssl) as srv:
        with pytest.raises(ExchangeError) as caught:
            await fetch(f"https://shop.test:{srv.port}/")
        with measure_phases() as timer:
            got = await fetch(f"https://shop.test:{srv.port}/", verify_tls=False)
    assert caught.value.kind == "certificate"
    assert "TLS certificate of shop.test is not valid" in caught.value.detail
    assert got.body == b"ok"
    assert timer.phases["tls"] > 0


class Proxy:
    """A forward proxy on loopback: answers absolute-form requests itself, tunnels CONNECT to the target."""

    def __init__(self, refuse_connect: bool = False) -> None:
        self.refuse_connect = refuse_connect
        self.heads: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        if not head.startswith(b"CONNECT ") or self.refuse_connect:
            if self.refuse_connect:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nvia proxy!")
            await close(writer)
            return
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1" if host == "shop.test" else host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                with contextlib.suppress(ConnectionError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
            finally:
                await close(dst)

        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


async def test_plain_request_through_a_proxy_uses_the_absolute_form() -> None:
    async with Proxy() as proxy:
        got = await fetch("http://shop.test/page?x=1", proxy=f"http://user:pw@127.0.0.1:{proxy.port}")
    assert got.body == b"via proxy!"
    head = proxy.heads[0].decode()
    assert head.startswith("GET http://shop.test/page?x=1 HTTP/1.1\r\n")
    assert "\r\nProxy-Authorization: Basic dXNlcjpwdw==\r\n" in head
    assert "\r\nHost: shop.test\r\n" in head


async def test_https_through_a_proxy_tunnels_and_verifies_the_site(server_ssl: ssl.SSLContext) -> None:
    """CONNECT (with the proxy's credentials) to the site, then TLS with the site's name inside the tunnel.

    The site never sees the proxy's credentials; a refused CONNECT says so.
    """
    async with RawServer(answer("200 OK", "Content-Length: 6", body=b"secret"), ssl_context=server_ssl) as srv:
        async with Proxy() as proxy:
            with measure_phases() as timer:
                got = await fetch(
                    f"https://shop.test:{srv.port}/", proxy=f"http://user:pw@127.0.0.1:{proxy.port}", verify_tls=False
                )
        async with Proxy(refuse_connect=True) as strict:
            with pytest.raises(ExchangeError) as caught:
                await fetch(f"https://shop.test:{srv.port}/", proxy=f"http://127.0.0.1:{strict.port}")
    assert got.body == b"secret"
    assert proxy.heads[0].startswith(f"CONNECT shop.test:{srv.port} HTTP/1.1\r\n".encode())
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwdw==\r\n" in proxy.heads[0]
    assert b"Proxy-Authorization" not in srv.requests[0]  # the proxy's credentials stay with the proxy
    assert timer.phases["tls"] > 0
    assert caught.value.kind == "proxy"
    assert "403 Forbidden" in caught.value.detail


async def test_unknown_charset_is_read_as_utf8() -> None:
    """A charset Python does not know must not crash the check: the page is judged as UTF-8."""
    reply = answer(
        "200 OK", "Content-Type: text/html; charset=x-unheard-of", "Content-Length: 9", body="всё".encode() + b"ok!"
    )
    async with RawServer(reply) as srv:
        record = await run_check("http", {"contains": ["всё"]}, url=f"http://127.0.0.1:{srv.port}/")
    assert record.result.ok, record.result.summary


async def test_several_addresses_are_raced_and_a_refusing_one_is_skipped() -> None:
    """A name with two addresses: the first refuses, the second answers (happy eyeballs)."""
    async with RawServer(answer("200 OK", "Content-Length: 2", body=b"ok")) as srv:
        resolver = ProbeResolver(static={"two.test": ["127.0.0.2", "127.0.0.1"]}, fallback=None)
        with measure_phases() as timer:
            got = await exchange(
                "GET",
                yarl.URL(f"http://two.test:{srv.port}/"),
                headers={},
                body=None,
                resolver=resolver,
                user_agent="t",
            )
    assert got.body == b"ok"
    assert timer.peer == "127.0.0.1"

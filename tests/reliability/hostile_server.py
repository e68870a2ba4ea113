"""A deliberately misbehaving web server (raw asyncio streams) and a resolver with a name that never answers.

One plain port serves every behaviour by path (``/slow-headers``, ``/drip``, ...); a second port
accepts TCP and then says nothing, which is what a TLS client sees as a handshake that never ends.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
import struct
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp.abc import ResolveResult

from sitewatch.net.httpclient import ProbeResolver

__all__ = ["BOMB_SIZE", "HangingResolver", "HostileServer"]

Writer = asyncio.StreamWriter
#: What the gzip bomb inflates to; it travels as about 200 KB.
BOMB_SIZE = 200 * 1024 * 1024
#: One chunk of the endless bodies; big enough to fill buffers quickly.
_CHUNK = b"y" * 65536


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"\0" * BOMB_SIZE, 9)


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


class HostileServer:
    """Serves a catalogue of broken HTTP behaviours on 127.0.0.1; use as ``async with``."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._bomb = b""
        self.port = 0
        self.tls_port = 0
        #: Requests seen, as ``(path, Host header)``: lets tests prove what was (not) fetched.
        self.requests: list[tuple[str, str]] = []
        self._routes: dict[str, Callable[[Writer, dict[str, list[str]]], Awaitable[None]]] = {
            "/ok": self._ok,
            "/slow-headers": self._slow_headers,
            "/drip": self._drip,
            "/endless": self._endless,
            "/endless-chunked": self._endless_chunked,
            "/gzip-bomb": self._gzip_bomb,
            "/huge-headers": self._huge_headers,
            "/loop": self._loop,
            "/chain": self._chain,
            "/redirect": self._redirect,
            "/garbage": self._garbage,
            "/reset": self._reset,
        }

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>`` of the plain port."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HostileServer:
        # Compressing 200 MB of zeros takes a second: off the loop, and once per test session.
        self._bomb = await asyncio.to_thread(_bomb)
        plain = await asyncio.start_server(self._tracked(self._serve), "127.0.0.1", 0)
        silent = await asyncio.start_server(self._tracked(self._silent), "127.0.0.1", 0)
        self._servers = [plain, silent]
        self.port = plain.sockets[0].getsockname()[1]
        self.tls_port = silent.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening and end every handler (most never end on their own)."""
        for server in self._servers:
            server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        self._handlers.clear()
        for server in self._servers:
            await server.wait_closed()

    def _tracked(
        self, handler: Callable[[asyncio.StreamReader, Writer], Awaitable[None]]
    ) -> Callable[[asyncio.StreamReader, Writer], Awaitable[None]]:
        async def run(reader: asyncio.StreamReader, writer: Writer) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._handlers.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass  # the client gave up, which is the point
            except asyncio.CancelledError:
                # Only close() cancels a handler; ending quietly keeps asyncio's stream callback from logging it.
                return
            finally:
                self._handlers.discard(task)
                writer.transport.abort()

        return run

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        target = head.split(" ", 2)[1]
        host = next((ln.split(":", 1)[1].strip() for ln in head.split("\r\n") if ln.lower().startswith("host:")), "")
        url = urllib.parse.urlsplit(target)
        self.requests.append((url.path, host))
        prefix = "/" + url.path.strip("/").split("/", 1)[0]
        route = self._routes.get(prefix)
        if route is None:
            writer.write(_head("404 Not Found", "Content-Length: 0"))
        else:
            await route(writer, urllib.parse.parse_qs(url.query) | {"path": [url.path]})
        await writer.drain()

    async def _silent(self, _reader: asyncio.StreamReader, _writer: Writer) -> None:
        await asyncio.Event().wait()  # accepts, never handshakes, never speaks

    async def _ok(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Content-Length: 4", "Connection: close") + b"fine")

    async def _slow_headers(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
        await writer.drain()
        await asyncio.Event().wait()

    async def _drip(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Content-Length: 1000"))
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(1.0)  # the server's own pace: one byte per second

    async def _endless(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Connection: close"))  # no length: the body ends at EOF, i.e. never
        while True:
            writer.write(_CHUNK)
            await writer.drain()

    async def _endless_chunked(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Transfer-Encoding: chunked"))
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK))
            await writer.drain()

    async def _gzip_bomb(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Content-Encoding: gzip", f"Content-Length: {len(self._bomb)}") + self._bomb)

    async def _huge_headers(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(1024):  # 1024 headers of 1 KiB: 1 MiB in all
            writer.write(b"X-Junk-%d: %s\r\n" % (i, b"a" * 1010))
        writer.write(b"\r\n")

    async def _loop(self, writer: Writer, q: dict[str, list[str]]) -> None:
        other = "/loop/b" if q["path"][0] == "/loop/a" else "/loop/a"
        writer.write(_head("302 Found", f"Location: {other}", "Content-Length: 0"))

    async def _chain(self, writer: Writer, q: dict[str, list[str]]) -> None:
        hop = int(q["path"][0].rsplit("/", 1)[1])
        if hop >= int(q.get("hops", ["50"])[0]):
            await self._ok(writer, q)
            return
        hops = q.get("hops", ["50"])[0]
        writer.write(_head("302 Found", f"Location: /chain/{hop + 1}?hops={hops}", "Content-Length: 0"))

    async def _redirect(self, writer: Writer, q: dict[str, list[str]]) -> None:
        writer.write(_head("302 Found", f"Location: {q['to'][0]}", "Content-Length: 0"))

    async def _garbage(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(b"\x16\x03\x01\x00 SSH-2.0-OpenSSH \xff\xfe\x00 not HTTP at all\r\n\r\n")

    async def _reset(self, writer: Writer, _q: dict[str, list[str]]) -> None:
        writer.write(_head("200 OK", "Content-Length: 100000") + b"z" * 1000)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        # SO_LINGER 0 makes close() send RST instead of FIN: a reset, not a clean end.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


class HangingResolver(ProbeResolver):
    """The test resolver, plus names in ``hang`` whose lookup never answers (a blackholed DNS server)."""

    def __init__(self, static: Mapping[str, Sequence[str]], hang: Sequence[str] = ("blackhole.test",)) -> None:
        super().__init__(static=static, fallback=None)
        self._hang = {h.lower() for h in hang}
        self.hanging = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Never return for hanging names; otherwise behave as the test resolver."""
        if host.lower().rstrip(".") in self._hang:
            self.hanging += 1
            try:
                await asyncio.Event().wait()
            finally:
                self.hanging -= 1
        return await super().resolve(host, port, family)

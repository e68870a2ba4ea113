"""One HTTP/1.1 request on a fresh connection, as lean as a probe can make it.

The ``http`` check sends one request per connection and reads one response:
no pool, no cookies, no keep-alive, no retries. aiohttp's client does all of
those and more for every request, and on loopback that machinery cost more
CPU than the connection itself (``bench/results/2026-11-27-fleet-steps.md``).
This module does only what a probe needs: resolve (through the agent's
:class:`~sitewatch.httpclient.ProbeResolver`, so ``resolve:``, the IP family
preference and the redirect guards apply unchanged), connect with happy
eyeballs, TLS, write the request, parse the response with llhttp (httptools),
inflate gzip/deflate up to a cap, and time each phase into the current
:class:`~sitewatch.httpclient.PhaseTimer`.

Every failure is an :class:`ExchangeError` whose ``kind`` says which step broke
and whose ``detail`` says how, in words.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import aiohappyeyeballs
import httptools
import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.httpclient import ForbiddenAddress, PhaseTimer, current_timer

__all__ = ["ExchangeError", "HttpAnswer", "exchange", "tls_context"]


ErrorKind = Literal[
    "request", "resolve", "forbidden", "connect", "certificate", "tls", "proxy", "disconnected", "body", "protocol"
]

#: Response headers beyond this are refused (aiohttp allowed 8 KiB per line; a whole head of 64 KiB is generous).
MAX_HEAD = 64 * 1024
#: As aiohttp's connector: the delay before racing the next address family.
HAPPY_EYEBALLS_DELAY = 0.25
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ExchangeError(Exception):
    """The request did not produce a complete response; ``kind`` names the step that broke."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class HttpAnswer:
    """What came back: status line, headers (names lower-cased), the (inflated, capped) body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    truncated: bool
    content_length: int
    peer: str | None
    location: str | None = None
    #: The head used bare LF line ends (accepted as RFC 9112 allows; worth a warning).
    bare_lf: bool = False

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """One client context per mode for the whole process (building one loads the CA store)."""
    if verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _host_header(url: yarl.URL) -> str:
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    port = url.port
    return host if port is None or port == _DEFAULT_PORTS.get(url.scheme) else f"{host}:{port}"


def _basic(user: str | None, password: str | None) -> str:
    token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _head(
    method: str, target: str, url: yarl.URL, *, headers: Mapping[str, str], body: bytes | None, user_agent: str
) -> bytes:
    if not headers and body is None and url.user is None:  # the common probe: built in one format
        return (
            f"{method} {target} HTTP/1.1\r\nHost: {_host_header(url)}\r\nUser-Agent: {user_agent}\r\n"
            "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n"
        ).encode()
    fields = {
        "host": ("Host", _host_header(url)),
        "user-agent": ("User-Agent", user_agent),
        "accept": ("Accept", "*/*"),
        "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
    }
    if url.user is not None:
        fields["authorization"] = ("Authorization", _basic(url.user, url.password))
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0") or not name or ":" in name:
            raise ExchangeError("request", f"request header {name[:40]!r} contains a line break or is not a name")
        fields[name.lower()] = (name, value)
    if body is not None:
        fields.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
        fields["content-length"] = ("Content-Length", str(len(body)))
    fields["connection"] = ("Connection", "close")
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in fields.values()), "", ""]
    return "\r\n".join(lines).encode("utf-8") + (body or b"")


class _Inflater:
    """Inflates gzip or deflate bodies without ever holding more than the cap."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z: zlib._Decompress | None = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16) if encoding == "gzip" else None

    def feed(self, data: bytes, room: int) -> tuple[bytes, bool]:
        """Inflate ``data`` into at most ``room`` bytes; the flag is True when output was left over."""
        if self._z is None:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send it
            self._z = zlib.decompressobj(wbits=zlib.MAX_WBITS if data[:1] and data[0] & 0x0F == 8 else -zlib.MAX_WBITS)
        try:
            out = self._z.decompress(data, room)
        except zlib.error as exc:
            raise ExchangeError("body", f"cannot inflate the {self.encoding} body: {exc}") from None
        return out, bool(self._z.unconsumed_tail)


class _Response(asyncio.Protocol):
    """Parses one response as it arrives; ``done`` resolves when the whole message is in (or broke).

    The head's arrival is timed in its parser callback rather than through a second future.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_body: int, head_only: bool, host: str, timer: PhaseTimer | None
    ) -> None:
        self.parser = httptools.HttpResponseParser(self)
        # RFC 9112 §2.2 lets a client accept a bare LF as a line end; the answer reports it (``bare_lf``).
        self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self.head_in = False
        self.status = 0
        self.interim = False  # inside a 1xx answer, which precedes the real one (RFC 9110 §15.2)
        self.bare_lf = False
        self._cr = False  # the previous piece of the head ended with CR
        self.timer = timer
        self.done: asyncio.Future[None] = loop.create_future()
        self.host = host
        self.max_body = max_body
        self.head_only = head_only
        self.head_bytes = 0  # bytes received before the head was complete
        self.head_fields = 0  # bytes of header names and values parsed
        self.reason = bytearray()
        self.headers: dict[str, str] = {}
        self.location: str | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.overflow = False  # body bytes arrived beyond the cap
        self.complete = False
        self.inflater: _Inflater | None = None
        self.framed = False  # the body's end is known from Content-Length or chunking (else: at EOF)

    # -- asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        if not self.head_in and not self.bare_lf:
            self._scan_line_ends(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("protocol", "the server switched protocols (upgrade), not an HTTP response")
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ExchangeError):
                self._fail(cause.kind, cause.detail)
            else:  # pragma: no cover - our callbacks raise only ExchangeError
                self._fail("protocol", str(cause or exc))
        except httptools.HttpParserError as exc:
            if self.parser.get_status_code() == 0:  # not even a status line: some other protocol answered
                self._fail("protocol", f"not an HTTP server at {self.host} (its answer is not an HTTP status line)")
            else:
                self._fail("protocol", str(exc).strip() or type(exc).__name__)
        if not self.head_in:
            # llhttp buffers a header of any size: bound the head here (the body is capped separately).
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                self._fail("protocol", f"response headers larger than {MAX_HEAD // 1024} KiB")
        if self.size >= self.max_body and not self.done.done():
            self._finish()  # at the cap: what was read is judged, the rest is neither read nor kept

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if not self.head_in:
            self._fail("disconnected", f"{self.host} closed the connection without a complete response")
        elif exc is None and not self.framed:
            self._finish()  # a body delimited by the end of the connection (HTTP/1.0 style)
        else:
            why = f"{exc.strerror or exc}" if isinstance(exc, OSError) else "the connection closed"
            self._fail("body", f"{why} after {self.size} bytes of the body")

    def _scan_line_ends(self, data: bytes) -> None:
        # Only the head is scanned: it ends at the first CRLF blank line when line ends are proper.
        end = data.find(b"\r\n\r\n")
        part = data if end < 0 else data[:end]
        crlf = part.count(b"\r\n") + (1 if self._cr and part[:1] == b"\n" else 0)
        self.bare_lf = part.count(b"\n") > crlf
        self._cr = part[-1:] == b"\r"

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        # A new message after a 1xx: nothing of the interim answer belongs to the final one.
        self.reason.clear()
        self.headers = {}
        self.location = None

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_fields += len(name) + len(value)
        if self.head_fields > MAX_HEAD:
            raise ExchangeError("protocol", f"response headers larger than {MAX_HEAD // 1024} KiB")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "location" and self.location is None:
            self.location = text
        self.headers[key] = text

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue, 103 Early Hints): read on
            self.interim = True
            return
        self.status = status
        encoding = self.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self.inflater = _Inflater("gzip" if encoding == "x-gzip" else encoding)
        self.framed = "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "")
        self.head_in = True
        if (timer := self.timer) is not None:  # timed here: one future and loop turn fewer than awaiting it
            timer._add_since("processing", "ready")
            timer._mark("headers")
            timer.stage = "reading the body"
        if self.head_only:
            self.complete = True
            self._finish()

    def on_body(self, body: bytes) -> None:
        room = self.max_body - self.size
        if room <= 0 or self.done.done():
            self.overflow = True
            return
        if self.inflater is not None:
            body, more = self.inflater.feed(body, room)
        else:
            body, more = body[:room], len(body) > room
        self.chunks.append(body)
        self.size += len(body)
        self.overflow = self.overflow or more

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self._finish()

    # -- endings
    def release(self) -> list[bytes]:
        """Hand over the body pieces and drop the parser.

        The parser holds this object for its callbacks and this object holds the
        parser: a cycle only the cyclic collector frees, which ``sitewatch run`` has
        made rare, so every run's page stayed in memory until a full collection.
        """
        if not self.done.done():
            self.done.cancel()  # anything the transport still reports is for nobody
        chunks, self.chunks = self.chunks, []
        del self.parser
        self.inflater = None
        return chunks

    def _finish(self) -> None:
        if not self.done.done():
            self.truncated = self.overflow or (self.size >= self.max_body and not self.complete)
            self.done.set_result(None)

    def _fail(self, kind: ErrorKind, detail: str) -> None:
        if kind == "protocol":
            detail = f"invalid HTTP response from {self.host}: {detail}"
        elif kind == "body":
            detail = f"response body from {self.host} is broken: {detail}"
        error = ExchangeError(kind, detail)
        if not self.done.done():
            self.done.set_exception(error)


class _Tunnel(asyncio.Protocol):
    """Reads a proxy's answer to CONNECT (up to the blank line) and nothing more."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.buffer = bytearray()
        self.answered: asyncio.Future[bytes] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and not self.answered.done():
            self.answered.set_result(bytes(self.buffer[:end]))
        elif len(self.buffer) > MAX_HEAD and not self.answered.done():
            self.answered.set_exception(ExchangeError("proxy", "the proxy's answer to CONNECT is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(ExchangeError("proxy", "the proxy closed the connection during CONNECT"))


@dataclass
class _Plan:
    """Where the TCP connection goes and what the request line names."""

    host: str
    port: int
    target: str
    proxy: yarl.URL | None = None
    tunnel: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _plan(url: yarl.URL, proxy: str | None) -> _Plan:
    host, port = url.raw_host or "", url.port or _DEFAULT_PORTS[url.scheme]
    target = url.raw_path_qs or "/"
    if proxy is None:
        return _Plan(host, port, target)
    via = yarl.URL(proxy)
    extra = {"Proxy-Authorization": _basic(via.user, via.password)} if via.user is not None else {}
    via_port = via.port or _DEFAULT_PORTS[via.scheme]
    if url.scheme == "https":
        return _Plan(via.raw_host or "", via_port, target, via, tunnel=True, extra=extra)
    absolute = str(url.with_user(None).with_fragment(None))
    return _Plan(via.raw_host or "", via_port, absolute, via, extra=extra)


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> int | None:
    """The address family of an IP literal, None for a name.

    Cached: for a name both parses fail, and two exceptions per probe is a cost on the hot path.
    """
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    else:
        return socket.AF_INET
    try:
        socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return None
    return socket.AF_INET6


async def _addresses(
    host: str, port: int, resolver: AbstractResolver, timer: PhaseTimer | None
) -> list[aiohappyeyeballs.AddrInfoType]:
    family = _literal(host)
    if family is not None:  # as aiohttp: an address is not resolved, so no resolve phase
        sockaddr = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    if timer is not None:
        timer._mark("dns")
        timer.stage = "resolving the name"
    try:
        found = await resolver.resolve(host, port, socket.AF_UNSPEC)
    except ForbiddenAddress as exc:
        raise ExchangeError("forbidden", str(exc)) from None
    except OSError as exc:
        raise ExchangeError("resolve", f"cannot resolve {host}: {exc.strerror or exc}") from None
    if timer is not None:
        timer._add_since("resolve", "dns")
    infos: list[aiohappyeyeballs.AddrInfoType] = []
    for r in found:
        family = r["family"]
        sockaddr = (r["host"], r["port"]) if family == socket.AF_INET else (r["host"], r["port"], 0, 0)
        infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
    return infos


class _Idle(asyncio.Protocol):
    """Holds a fresh TCP connection until TLS is started on it."""


async def _connect(
    loop: asyncio.AbstractEventLoop,
    plan: _Plan,
    resolver: AbstractResolver,
    timer: PhaseTimer | None,
    protocol: asyncio.BaseProtocol,
) -> asyncio.Transport:
    """A TCP connection to the plan's host (the site or the proxy), read by ``protocol``."""
    infos = await _addresses(plan.host, plan.port, resolver, timer)
    if timer is not None:
        timer._mark("tcp")
        timer.stage = "connecting"
    try:
        if len(infos) == 1:  # the usual case: asyncio connects an address without a resolver round trip
            address = infos[0][4]
            transport, _ = await loop.create_connection(lambda: protocol, address[0], address[1])
        else:
            sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY)
            try:
                transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
            except BaseException:
                sock.close()
                raise
    except OSError as exc:
        raise ExchangeError("connect", f"cannot connect to {plan.host}:{plan.port}: {exc.strerror or exc}") from None
    if timer is not None:
        timer._add_since("connect", "tcp")
        timer.peer = str(transport.get_extra_info("peername")[0])
    return transport


async def _handshake(
    loop: asyncio.AbstractEventLoop,
    raw: asyncio.Transport,
    reader: asyncio.Protocol,
    *,
    name: str,
    context: ssl.SSLContext,
    timer: PhaseTimer | None,
    where: str,
) -> asyncio.Transport:
    """Start TLS on ``raw`` (the ``tls`` phase) and hand the secured transport to ``reader``."""
    if timer is not None:
        timer._mark("tls")
        timer.stage = "in the TLS handshake"
    try:
        secured = await loop.start_tls(raw, reader, context, server_hostname=name, ssl_shutdown_timeout=0.1)
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or exc
        raise ExchangeError("certificate", f"TLS certificate of {name} is not valid: {reason}") from None
    except ssl.SSLError as exc:
        raise ExchangeError("tls", f"TLS handshake with {where} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise ExchangeError("tls", f"TLS handshake with {where} failed: {exc.strerror or exc}") from None
    if secured is None:  # pragma: no cover - only while the loop closes
        raise ExchangeError("tls", f"TLS handshake with {where} failed: the connection closed")
    if timer is not None:
        timer._add_since("tls", "tls")
    reader.connection_made(secured)
    return secured


async def _open(
    loop: asyncio.AbstractEventLoop,
    url: yarl.URL,
    plan: _Plan,
    *,
    resolver: AbstractResolver,
    response: _Response,
    verify: bool,
    timer: PhaseTimer | None,
) -> asyncio.Transport:
    """The transport the request goes out on: plain, TLS, through a proxy, or TLS in a CONNECT tunnel."""
    site = f"{url.raw_host}:{url.port}"
    name = url.raw_host or ""
    if plan.proxy is None:
        if url.scheme != "https":
            return await _connect(loop, plan, resolver, timer, response)
        raw = await _connect(loop, plan, resolver, timer, _Idle())
        try:
            return await _handshake(
                loop, raw, response, name=name, context=tls_context(verify), timer=timer, where=site
            )
        except BaseException:
            raw.abort()
            raise
    # Through a proxy. An https:// proxy gets TLS itself (verified); a tunnel runs the site's TLS inside.
    reader: asyncio.Protocol = _Tunnel(loop) if plan.tunnel else response
    proxy_tls = plan.proxy.scheme == "https"
    raw = await _connect(loop, plan, resolver, timer, _Idle() if proxy_tls else reader)
    try:
        if proxy_tls:
            proxy = plan.proxy.raw_host or ""
            where = f"{proxy}:{plan.port}"
            raw = await _handshake(loop, raw, reader, name=proxy, context=tls_context(True), timer=timer, where=where)
        if not isinstance(reader, _Tunnel):
            return raw
        extra = "".join(f"{k}: {v}\r\n" for k, v in plan.extra.items())
        raw.write(f"CONNECT {site} HTTP/1.1\r\nHost: {site}\r\n{extra}\r\n".encode())
        answer = await reader.answered
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            raise ExchangeError("proxy", f"the proxy refused CONNECT to {site}: {status_line[:80]!r}")
        return await _handshake(loop, raw, response, name=name, context=tls_context(verify), timer=timer, where=site)
    except BaseException:
        raw.abort()
        raise


async def exchange(
    method: str,
    url: yarl.URL,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    resolver: AbstractResolver,
    user_agent: str,
    verify_tls: bool = True,
    max_body: int = 2 * 1024 * 1024,
    proxy: str | None = None,
) -> HttpAnswer:
    """Send one request on a new connection and read its response (body capped at ``max_body``).

    Redirects are not followed: that policy is the caller's. Cancellation (the
    check's deadline) closes the connection wherever it was.
    """
    loop = asyncio.get_running_loop()
    timer = current_timer()
    plan = _plan(url, proxy)
    request = _head(
        method,
        plan.target,
        url,
        # Proxy credentials go on a request to the proxy; through a tunnel they went with CONNECT
        # only, and must never reach the site inside it.
        headers={**plan.extra, **headers} if plan.extra and not plan.tunnel else headers,
        body=body,
        user_agent=user_agent,
    )
    response = _Response(loop, max_body, method == "HEAD", f"{url.raw_host}:{url.port}", timer)
    try:
        transport = await _open(loop, url, plan, resolver=resolver, response=response, verify=verify_tls, timer=timer)
    except BaseException:
        response.release()  # nobody will await it: a late connection_lost must not leave an unread error
        raise
    try:
        if timer is not None:
            timer._mark("ready")
            timer.stage = "waiting for the response headers"
        transport.write(request)
        await response.done
        if timer is not None:
            timer.body_done()
    finally:
        # A capped or abandoned response is dropped, not drained.
        if response.complete:
            transport.close()
        else:
            transport.abort()
        chunks = response.release()
    length = response.headers.get("content-length", "")
    return HttpAnswer(
        status=response.status,
        reason=response.reason.decode("utf-8", errors="replace"),
        headers=response.headers,
        body=b"".join(chunks),
        truncated=response.truncated,
        content_length=int(length) if length.isdigit() else -1,
        peer=timer.peer if timer is not None else str(transport.get_extra_info("peername")[0]),
        location=response.location,
        bare_lf=response.bare_lf,
    )

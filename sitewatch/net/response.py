"""The response side of the lean HTTP exchange: llhttp (httptools) parsing, capped gzip/deflate inflation.

:class:`_Response` is the asyncio protocol one request's connection reads into; what it
collects becomes an :class:`HttpAnswer`, and whatever breaks an :class:`ExchangeError`.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Literal

import httptools

from sitewatch.net.phases import PhaseTimer

__all__ = ["ErrorKind", "MAX_HEAD", "ExchangeError", "HttpAnswer"]


ErrorKind = Literal[
    "request", "resolve", "forbidden", "connect", "certificate", "tls", "proxy", "disconnected", "body", "protocol"
]


#: Response headers beyond this are refused (aiohttp allowed 8 KiB per line; a whole head of 64 KiB is generous).
MAX_HEAD = 64 * 1024


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
    #: Over TLS: earliest notAfter (unix seconds) of the chain the full handshake behind this
    #: connection verified (this one's, or the one a resumed session descends from).
    cert_expiry: float | None = None
    #: The TLS handshake resumed a session (no certificate was sent).
    tls_resumed: bool = False

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None


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

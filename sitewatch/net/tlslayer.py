"""TLS for the lean HTTP exchange: one :class:`ssl.SSLObject` over the TCP transport, nothing more.

asyncio's ``loop.start_tls`` runs every record through a general-purpose state machine
(flow control, buffer protocols, a shutdown timer) and cannot offer a session to resume.
A probe needs neither the generality nor the timer: it writes one request, reads one
response and closes. :class:`TlsLayer` is the protocol of the raw TCP transport: it feeds
what arrives into the ``SSLObject``'s memory BIO, drives the handshake, and hands decrypted
bytes to the probe's own protocol through :class:`TlsTransport`.

Closing sends ``close_notify``: OpenSSL marks a session that ended without one as not
resumable, and a probe that resumes sessions needs the next one to be offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from sitewatch.net.tlsoffer import CompactSession, offer

__all__ = ["TlsLayer", "TlsTransport"]

_READ = 64 * 1024


class TlsTransport(asyncio.Transport):
    """The decrypted side of a :class:`TlsLayer`, as the probe's protocol sees it."""

    def __init__(self, layer: TlsLayer) -> None:
        super().__init__()
        self._layer = layer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt ``data`` and send it."""
        layer = self._layer
        layer.sslobj.write(data)
        layer.flush()

    def close(self) -> None:
        """Send close_notify (keeps the session resumable), then close the connection."""
        self._layer.close()

    def abort(self) -> None:
        """Drop the connection at once (a capped or abandoned response)."""
        self._layer.raw.abort()

    def is_closing(self) -> bool:
        """Whether the TCP connection is closing."""
        return self._layer.raw.is_closing()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Deliver decrypted data to ``protocol`` from now on (a TLS tunnel through a TLS proxy)."""
        assert isinstance(protocol, asyncio.Protocol)
        self._layer.app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol decrypted data goes to."""
        return self._layer.app

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``ssl_object`` is the SSLObject; anything else comes from the TCP transport."""
        if name == "ssl_object":
            return self._layer.sslobj
        return self._layer.raw.get_extra_info(name, default)


class TlsLayer(asyncio.Protocol):
    """Protocol of the raw transport: the handshake first, then records to ``app``.

    ``handshaken`` resolves when the handshake is done (or fails with the ``ssl``
    error, or ``ConnectionResetError`` if the peer went away during it).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        raw: asyncio.Transport,
        app: asyncio.Protocol,
        *,
        context: ssl.SSLContext,
        server_hostname: str,
        session: ssl.SSLSession | CompactSession | None,
    ) -> None:
        self._loop = loop
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        if session is not None and not offer(self.sslobj, session) and isinstance(session, ssl.SSLSession):
            self.sslobj.session = session  # ssl's own way: through a DER copy of the session
        self.raw = raw
        self.app = app
        self.handshaken: asyncio.Future[None] = loop.create_future()
        self._open = False  # the handshake succeeded: records go to ``app``
        # Held only until the handshake ends: the transport refers to this layer, and a cycle
        # would keep the SSLObject's OpenSSL memory until a full collection.
        self._transport: TlsTransport | None = None

    def start(self, transport: TlsTransport) -> None:
        """Take over the raw transport and send the ClientHello; ``app`` gets ``transport`` once secured."""
        self._transport = transport
        self.raw.set_protocol(self)
        self._handshake()

    def close(self) -> None:
        """Send close_notify (OpenSSL marks a session ended without one not resumable), then close."""
        if not self.raw.is_closing():
            # WantRead: our close_notify is written; the peer's is not waited for.
            with contextlib.suppress(ssl.SSLError, ValueError):
                self.sslobj.unwrap()
            self.flush()
            self.raw.close()

    def flush(self) -> None:
        """Send whatever OpenSSL has written into the outgoing BIO (nothing once the connection closes)."""
        if self._out.pending and not self.raw.is_closing():
            self.raw.write(self._out.read())

    def _handshake(self) -> None:
        try:
            self.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return
        except (ssl.SSLError, OSError) as exc:
            self.flush()  # the alert, so the server logs why
            if not self.handshaken.done():
                self.handshaken.set_exception(exc)
            return
        self._open = True
        transport, self._transport = self._transport, None
        if not self.handshaken.done():  # cancelled meanwhile: the caller aborts the connection
            self.handshaken.set_result(None)
        # The client's last handshake flight (TLS 1.3, or a resumed TLS 1.2) goes out with the
        # request, which the caller writes as soon as it wakes: one loopback send less per probe.
        # Scheduled after the caller's wake-up, the flush only matters if nothing was written.
        self._loop.call_soon(self.flush)
        if transport is not None:
            self.app.connection_made(transport)

    # -- asyncio.Protocol of the raw transport
    def data_received(self, data: bytes) -> None:
        self._in.write(data)
        if not self._open:
            if self.handshaken.done():  # failed or abandoned: nothing more to read
                return
            self._handshake()
            if not self._open:
                return
        sslobj, app = self.sslobj, self.app
        while True:
            try:
                chunk = sslobj.read(_READ)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError as exc:
                self._open = False
                app.connection_lost(exc)
                self.raw.abort()
                break
            if not chunk:  # the server's close_notify: answer it (the session stays resumable) and close
                self.close()
                break
            app.data_received(chunk)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._open:
            self.app.connection_lost(exc)
        elif not self.handshaken.done():
            self.handshaken.set_exception(exc or ConnectionResetError("the connection closed"))

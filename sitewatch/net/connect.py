"""The connecting side of the lean HTTP exchange: resolve, happy eyeballs, an optional proxy tunnel, TLS.

Addresses come from the agent's :class:`~sitewatch.net.httpclient.ProbeResolver` (so the
``resolve:`` overrides, the family preference and the address guards apply), and each
phase is timed into the current :class:`~sitewatch.net.phases.PhaseTimer`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
import ssl
from dataclasses import dataclass, field

import aiohappyeyeballs
import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.net.addresses import ForbiddenAddress
from sitewatch.net.phases import PhaseTimer
from sitewatch.net.response import MAX_HEAD, ExchangeError
from sitewatch.net.tlslayer import TlsLayer, TlsTransport
from sitewatch.net.tlsoffer import CompactSession

__all__ = ["HAPPY_EYEBALLS_DELAY"]


#: As aiohttp's connector: the delay before racing the next address family.
HAPPY_EYEBALLS_DELAY = 0.25
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class _Plan:
    """Where the TCP connection goes and what the request line names."""

    host: str
    port: int
    target: str
    proxy: yarl.URL | None = None
    tunnel: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _basic(user: str | None, password: str | None) -> str:
    token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


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
    session: ssl.SSLSession | CompactSession | None = None,
) -> TlsTransport:
    """Start TLS on ``raw`` (the ``tls`` phase), offering ``session``; ``reader`` gets the secured transport."""
    if timer is not None:
        timer._mark("tls")
        timer.stage = "in the TLS handshake"
    layer = TlsLayer(loop, raw, reader, context=context, server_hostname=name, session=session)
    secured = TlsTransport(layer)
    try:
        layer.start(secured)
        await layer.handshaken
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or exc
        raise ExchangeError("certificate", f"TLS certificate of {name} is not valid: {reason}") from None
    except ssl.SSLError as exc:
        raise ExchangeError("tls", f"TLS handshake with {where} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise ExchangeError("tls", f"TLS handshake with {where} failed: {exc.strerror or exc}") from None
    if timer is not None:
        timer._add_since("tls", "tls")
    return secured

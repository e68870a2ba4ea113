"""The agent's one HTTP client: a resolver that never blocks a thread pool, a
connector that times TCP connect and TLS handshake separately, and per-request
phase timings in the style of blackbox_exporter, taken at the few points where
aiohttp resolves, connects and reads headers rather than through its (costly)
tracing signals.

Per-request settings (phase timer, ``resolve:`` override, IP family preference, the
address policy of :mod:`sitewatch.net.addresses`) travel in context variables: aiohttp
resolves and connects inside the task that made the request (we disable its DNS cache,
which would share lookups between requests), so the values set around a request are the
ones its connect sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import ssl
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from sitewatch.net.addresses import ForbiddenAddress, _untrusted, forbidden_address, private_address
from sitewatch.net.phases import _timer

__all__ = ["ProbeConnector", "ProbeResolver", "ip_preference", "make_session", "resolve_override"]

IpProtocol = Literal["auto", "ip4", "ip6"]


_NO_OVERRIDE: Mapping[str, str] = types.MappingProxyType({})
_override: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("sitewatch_resolve", default=_NO_OVERRIDE)
_family: contextvars.ContextVar[tuple[IpProtocol, bool]] = contextvars.ContextVar(
    "sitewatch_family", default=("auto", True)
)


@contextlib.contextmanager
def resolve_override(addresses: Mapping[str, str]) -> Iterator[None]:
    """Inside the block, connect to ``addresses[host]`` instead of resolving ``host``.

    The Host header, SNI and certificate check still use the real name: this is
    how one backend behind a load balancer is probed.
    """
    token = _override.set({k.lower(): v for k, v in addresses.items()})
    try:
        yield
    finally:
        _override.reset(token)


@contextlib.contextmanager
def ip_preference(protocol: IpProtocol, fallback: bool = True) -> Iterator[None]:
    """Prefer (or, without ``fallback``, require) IPv4 or IPv6 for requests in the block."""
    token = _family.set((protocol, fallback))
    try:
        yield
    finally:
        _family.reset(token)


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return {"hostname": host, "host": address, "port": port, "family": family, "proto": 0, "flags": 0}


class ProbeResolver(AbstractResolver):
    """Resolves through c-ares (aiodns) so a blackholed name costs only its own request.

    ``static`` maps names to addresses before anything else is asked; tests use it
    to send real hostnames to loopback. With ``fallback=None`` unknown names fail.
    """

    def __init__(
        self,
        static: Mapping[str, Sequence[str]] | None = None,
        fallback: AbstractResolver | None | Literal["default"] = "default",
    ) -> None:
        self._static = {k.lower(): list(v) for k, v in (static or {}).items()}
        if fallback == "default":
            fallback = aiohttp.AsyncResolver()
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` honouring overrides and the IP family preference."""
        key = host.lower().rstrip(".")
        override = _override.get().get(key)
        if override is not None:
            return [_result(host, override, port)]
        if key in self._static:
            results = [_result(host, a, port) for a in self._static[key]]
        elif self._fallback is not None:
            results = await self._fallback.resolve(host, port, family)
        else:
            raise OSError(socket.EAI_NONAME, "name not known (not in the static table)")
        private = _untrusted.get()
        if private is not None:
            bad = [r["host"] for r in results if forbidden_address(r["host"])]
            if bad:
                raise ForbiddenAddress(f"{host} resolves to {bad[0]}, a link-local/metadata address: refused")
            inside = [r["host"] for r in results if private_address(r["host"], private)]
            if inside:
                raise ForbiddenAddress(
                    f"{host} resolves to {inside[0]}, a private address, and the site is public: refused"
                )
        return _by_preference(host, results)

    async def close(self) -> None:
        """Release the c-ares channel."""
        if self._fallback is not None:
            await self._fallback.close()


def _by_preference(host: str, results: list[ResolveResult]) -> list[ResolveResult]:
    protocol, fallback = _family.get()
    if protocol == "auto":
        return results
    wanted = socket.AF_INET if protocol == "ip4" else socket.AF_INET6
    preferred = [r for r in results if r["family"] == wanted]
    if not fallback:
        if not preferred:
            raise OSError(socket.EAI_NONAME, f"{host} has no {protocol} address")
        return preferred
    return preferred + [r for r in results if r["family"] != wanted]


class ProbeConnector(aiohttp.TCPConnector):
    """A TCP connector that records TCP-connect and TLS-handshake time separately.

    aiohttp's tracing reports connection creation as one span; blackbox-style
    phases need the split, so this overrides the single step where aiohttp opens
    the socket and then wraps it in TLS. The body mirrors aiohttp 3.11–3.14.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's own signature
    ) -> aiohttp.connector.Connection:
        """Get a connection; from here until the headers arrive is the ``processing`` phase."""
        connection = await super().connect(req, traces, timeout)
        if (timer := _timer.get()) is not None:
            timer._mark("ready")
            timer.stage = "waiting for the response headers"
        return connection

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[aiohappyeyeballs.AddrInfoType],
        req: aiohttp.ClientRequest,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's own signature
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, aiohttp.client_proto.ResponseHandler]:
        timer = _timer.get()
        if timer is None:
            return await super()._wrap_create_connection(
                *args, addr_infos=addr_infos, req=req, timeout=timeout, client_error=client_error, **kwargs
            )
        try:
            async with asyncio.timeout(timeout.sock_connect):
                timer._mark("tcp")
                timer.stage = "connecting"
                sock = await aiohappyeyeballs.start_connection(
                    addr_infos=addr_infos, happy_eyeballs_delay=self._happy_eyeballs_delay, loop=self._loop
                )
                timer._add_since("connect", "tcp")
                timer.peer = str(sock.getpeername()[0])
                timer._mark("tls")
                if kwargs.get("ssl"):
                    timer.stage = "in the TLS handshake"
                if kwargs.get("ssl") and sys.version_info >= (3, 11):
                    kwargs.setdefault("ssl_shutdown_timeout", 0.1)
                transport, proto = await self._loop.create_connection(*args, **kwargs, sock=sock)
                if kwargs.get("ssl"):
                    timer._add_since("tls", "tls")
                else:
                    timer._marks.pop("tls", None)
                return transport, proto
        except ssl.SSLCertVerificationError as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc


class _TimedResolver(AbstractResolver):
    """Times the ``resolve`` phase around the real resolver.

    aiohttp calls the resolver only for names (never for IP literals), exactly where
    its ``on_dns_resolvehost_*`` trace signals would fire; timing here instead of
    through a TraceConfig spares every request the trace objects and the half-dozen
    awaited signal sends (about 4 % of the agent's CPU at 1,000 probes/s).
    """

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve through the wrapped resolver; on success the time goes to ``resolve``."""
        timer = _timer.get()
        if timer is None:
            return await self._inner.resolve(host, port, family)
        timer._mark("dns")
        timer.stage = "resolving the name"
        results = await self._inner.resolve(host, port, family)
        timer._add_since("resolve", "dns")
        return results

    async def close(self) -> None:
        """The wrapped resolver belongs to the caller, who closes it."""


class ProbeResponse(aiohttp.ClientResponse):
    """Marks the end of the ``processing`` phase when the response headers have been read."""

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        """Read the status line and headers, then start the ``transfer`` phase."""
        response = await super().start(connection)
        if (timer := _timer.get()) is not None:
            timer._add_since("processing", "ready")
            timer._mark("headers")
            timer.stage = "reading the body"
        return response


def make_session(resolver: AbstractResolver, *, user_agent: str) -> aiohttp.ClientSession:
    """Build the agent's shared session: fresh connection per probe, no cookies, no DNS cache."""
    connector = ProbeConnector(
        resolver=_TimedResolver(resolver),
        use_dns_cache=False,  # every probe resolves, as blackbox_exporter does
        force_close=True,  # every probe pays (and measures) connect and TLS
        limit=0,  # concurrency is the scheduler's job
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        response_class=ProbeResponse,
        headers={"User-Agent": user_agent},
        auto_decompress=True,
        raise_for_status=False,
    )

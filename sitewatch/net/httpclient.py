"""The agent's one HTTP client: a resolver that never blocks a thread pool, a
connector that times TCP connect and TLS handshake separately, and per-request
phase timings in the style of blackbox_exporter, taken at the few points where
aiohttp resolves, connects and reads headers rather than through its (costly)
tracing signals.

Per-request settings (phase timer, ``resolve:`` override, IP family preference)
travel in context variables: aiohttp resolves and connects inside the task that
made the request (we disable its DNS cache, which would share lookups between
requests), so the values set around a request are the ones its connect sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import ipaddress
import socket
import ssl
import sys
import time
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "ForbiddenAddress",
    "PhaseTimer",
    "ProbeConnector",
    "ProbeResolver",
    "current_timer",
    "ip_preference",
    "make_session",
    "measure_phases",
    "PRIVATE_NETWORKS",
    "Network",
    "forbidden_address",
    "private_address",
    "resolve_override",
    "untrusted_target",
]

IpProtocol = Literal["auto", "ip4", "ip6"]


class PhaseTimer:
    """Accumulates phase durations (seconds) over every request made while active.

    Phases follow blackbox_exporter: ``resolve``, ``connect``, ``tls``,
    ``processing`` (connection ready → response headers) and ``transfer``
    (headers → body read, reported by :meth:`body_done`). A plain slotted class:
    one is made per probe, and a dataclass with factories cost ~1 % of the agent.
    """

    __slots__ = ("_marks", "peer", "phases", "stage")

    def __init__(self) -> None:
        self.phases: dict[str, float] = {"resolve": 0.0, "connect": 0.0, "tls": 0.0, "processing": 0.0, "transfer": 0.0}
        self._marks: dict[str, float] = {}
        #: Where the current request is, in words, for "timed out while …" messages.
        self.stage = "starting"
        #: The address the latest connection reached (redirect policy compares hops against it).
        self.peer: str | None = None

    def _mark(self, name: str) -> None:
        self._marks[name] = time.perf_counter()

    def _add_since(self, phase: str, mark: str) -> None:
        start = self._marks.pop(mark, None)
        if start is not None:
            self.phases[phase] += time.perf_counter() - start

    def body_done(self) -> None:
        """Mark the end of reading a response body (closes the transfer phase)."""
        self._add_since("transfer", "headers")
        self.stage = "done"

    @property
    def total(self) -> float:
        """Sum of all phases."""
        return sum(self.phases.values())


_timer: contextvars.ContextVar[PhaseTimer | None] = contextvars.ContextVar("sitewatch_timer", default=None)
_NO_OVERRIDE: Mapping[str, str] = types.MappingProxyType({})
_override: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("sitewatch_resolve", default=_NO_OVERRIDE)
_family: contextvars.ContextVar[tuple[IpProtocol, bool]] = contextvars.ContextVar(
    "sitewatch_family", default=("auto", True)
)


def current_timer() -> PhaseTimer | None:
    """The phase timer of the enclosing :func:`measure_phases` block, if any."""
    return _timer.get()


class measure_phases:  # lower case: it reads as the function it replaced, ``with measure_phases() as t``
    """Time every request made inside the block; yields the accumulating timer.

    A class, not a generator context manager: it is entered once per probe.
    """

    __slots__ = ("_timer", "_token")

    def __init__(self) -> None:
        self._timer = PhaseTimer()

    def __enter__(self) -> PhaseTimer:
        self._token = _timer.set(self._timer)
        return self._timer

    def __exit__(self, *exc: object) -> None:
        _timer.reset(self._token)


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


class ForbiddenAddress(OSError):
    """A redirect led somewhere the agent must not go: refused, never connected to."""


#: Where a probed site must never send the agent: link-local ranges and cloud metadata endpoints.
_FORBIDDEN = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Networks a public site may not redirect into unless the check allows it (RFC 1918,
#: carrier-grade NAT, loopback, unique-local IPv6): the agent sits inside them.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "::1/128", "fc00::/7")
)


def _address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``address`` (scope and brackets dropped), IPv4-mapped IPv6 unwrapped."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", maxsplit=1)[0])
    except ValueError:
        return None
    # ::ffff:169.254.169.254 reaches the IPv4 host: judge it as that host.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def forbidden_address(address: str) -> bool:
    """True for addresses a redirect must not reach (169.254.169.254 and friends)."""
    ip = _address(address)
    return ip is not None and any(ip in net for net in _FORBIDDEN)


def private_address(address: str, networks: Sequence[Network] = PRIVATE_NETWORKS) -> bool:
    """True when ``address`` lies in one of ``networks`` (by default the private and loopback ranges)."""
    return _private(address, tuple(networks))


@functools.lru_cache(maxsize=4096)
def _private(address: str, networks: tuple[Network, ...]) -> bool:
    # Asked once per probe with the peer's address: parsing it each time was ~1 % of the agent's CPU.
    ip = _address(address)
    return ip is not None and any(ip.version == net.version and ip in net for net in networks)


#: None outside a redirect hop; inside one, the networks the hop may not enter besides the forbidden ones.
_untrusted: contextvars.ContextVar[tuple[Network, ...] | None] = contextvars.ContextVar(
    "sitewatch_untrusted", default=None
)


@contextlib.contextmanager
def untrusted_target(private: Sequence[Network] = ()) -> Iterator[None]:
    """Inside the block, names resolving to link-local/metadata addresses are refused (redirect hops).

    ``private`` adds networks to refuse: a public site's redirect into the agent's own
    network is refused this way.
    """
    token = _untrusted.set(tuple(private))
    try:
        yield
    finally:
        _untrusted.reset(token)


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

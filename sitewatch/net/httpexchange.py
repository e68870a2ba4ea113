"""One HTTP/1.1 request on a fresh connection, as lean as a probe can make it.

The ``http`` check sends one request per connection and reads one response:
no pool, no cookies, no keep-alive, no retries. aiohttp's client does all of
those and more for every request, and on loopback that machinery cost more
CPU than the connection itself (``bench/results/2026-11-27-fleet-steps.md``).
This module does only what a probe needs: resolve (through the agent's
:class:`~sitewatch.net.httpclient.ProbeResolver`, so ``resolve:``, the IP family
preference and the redirect guards apply unchanged), connect with happy
eyeballs, TLS, write the request, parse the response with llhttp (httptools),
inflate gzip/deflate up to a cap, and time each phase into the current
:class:`~sitewatch.net.phases.PhaseTimer`.

Every failure is an :class:`ExchangeError` whose ``kind`` says which step broke
and whose ``detail`` says how, in words.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Mapping

import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.net.connect import _DEFAULT_PORTS, _basic, _connect, _handshake, _Idle, _Plan, _plan, _Tunnel
from sitewatch.net.phases import PhaseTimer, current_timer
from sitewatch.net.response import ExchangeError, HttpAnswer, _Response
from sitewatch.net.tlssessions import SessionKey, TlsSessions, chain_expiry

__all__ = ["exchange", "tls_context"]


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


async def _open(
    loop: asyncio.AbstractEventLoop,
    url: yarl.URL,
    plan: _Plan,
    *,
    resolver: AbstractResolver,
    response: _Response,
    verify: bool,
    timer: PhaseTimer | None,
    sessions: TlsSessions | None,
) -> tuple[asyncio.Transport, SessionKey | None]:
    """The transport the request goes out on (plain, TLS, through a proxy, TLS in a CONNECT tunnel).

    With it, the key of the TLS session to keep when the exchange completes: only a direct
    connection resumes sessions (behind a proxy the peer address says nothing of the site).
    """
    site = f"{url.raw_host}:{url.port}"
    name = url.raw_host or ""
    if plan.proxy is None:
        if url.scheme != "https":
            return await _connect(loop, plan, resolver, timer, response), None
        raw = await _connect(loop, plan, resolver, timer, _Idle())
        key: SessionKey | None = None
        session = None
        if sessions is not None:
            key = (name, plan.port, str(raw.get_extra_info("peername")[0]), verify)
            session = sessions.offer(key)
        try:
            secured = await _handshake(
                loop, raw, response, name=name, context=tls_context(verify), timer=timer, where=site, session=session
            )
        except BaseException:
            raw.abort()
            if key is not None and sessions is not None:
                sessions.forget(key)
            raise
        return secured, key
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
            return raw, None
        extra = "".join(f"{k}: {v}\r\n" for k, v in plan.extra.items())
        raw.write(f"CONNECT {site} HTTP/1.1\r\nHost: {site}\r\n{extra}\r\n".encode())
        answer = await reader.answered
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            raise ExchangeError("proxy", f"the proxy refused CONNECT to {site}: {status_line[:80]!r}")
        context = tls_context(verify)
        return await _handshake(loop, raw, response, name=name, context=context, timer=timer, where=site), None
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
    tls_sessions: TlsSessions | None = None,
) -> HttpAnswer:
    """Send one request on a new connection and read its response (body capped at ``max_body``).

    Redirects are not followed: that policy is the caller's. Cancellation (the
    check's deadline) closes the connection wherever it was. ``tls_sessions``: the
    caller's sessions to resume (:mod:`sitewatch.net.tlssessions` says when it may not).
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
        transport, key = await _open(
            loop, url, plan, resolver=resolver, response=response, verify=verify_tls, timer=timer, sessions=tls_sessions
        )
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
            if key is not None and tls_sessions is not None:
                tls_sessions.forget(key)
        chunks = response.release()
    expiry, resumed = None, False
    sslobj = transport.get_extra_info("ssl_object") if url.scheme == "https" else None
    if sslobj is not None:
        resumed = bool(sslobj.session_reused)
        if key is None or tls_sessions is None:
            expiry = chain_expiry(sslobj)
        else:
            expiry = tls_sessions.keep(key, sslobj)
            if not response.complete:  # aborted without close_notify: OpenSSL will not resume it
                tls_sessions.forget(key)
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
        cert_expiry=expiry,
        tls_resumed=resumed,
    )

"""TLS session resumption in the http check, against real TLS 1.2 and 1.3 servers on 127.0.0.1.

What a resumed probe may report about the certificate is what the full handshake it descends
from verified; these tests hold the documented bound (sitewatch/net/tlssessions.py): a new
certificate shows at once when the server declines the old session, and at the latest at the
forced full handshake (every FULL_EVERY probes, or MAX_AGE seconds) when it accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme

from sitewatch.engine.scheduler import RunRecord, Scheduler
from sitewatch.net import tlslayer, tlsoffer, tlssessions
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.net.tlssessions import FULL_EVERY, MAX_AGE, TlsSessions
from sitewatch.probe import Status
from tests.helpers import make_spec

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
FIRST = NOW + dt.timedelta(days=30)  # the certificate the site starts with
SECOND = NOW + dt.timedelta(days=90)  # the one that replaces it
PAGE = b"<!doctype html><title>shop</title><p>Welcome</p>" + b"<p>catalogue line</p>\n" * 2000
VERSIONS = pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"])


def server_context(ca: trustme.CA, not_after: dt.datetime, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A server context pinned to one TLS version with a leaf for 127.0.0.1 expiring at ``not_after``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ctx.maximum_version = version
    ca.issue_cert("127.0.0.1", not_after=not_after).configure_cert(ctx)
    return ctx


class Site:
    """An HTTPS site on 127.0.0.1: the page gzip'd and chunked in small writes; two ways to swap its certificate."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (again, on the same port after a restart)."""
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", self.port, ssl=self.ctx)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def reload_certificate(self, ca: trustme.CA, not_after: dt.datetime) -> None:
        """New certificate in the same context: its ticket key stays, so old sessions still resume."""
        ca.issue_cert("127.0.0.1", not_after=not_after).configure_cert(self.ctx)

    async def restart(self, ctx: ssl.SSLContext) -> None:
        """A new context (a restart, or nginx's reload): new ticket keys, old sessions are declined."""
        await self.stop()
        self.ctx = ctx
        await self.start()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            body = gzip.compress(PAGE)
            for start in range(0, len(body), 512):
                piece = body[start : start + 512]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                for _ in range(4):  # pacing, not waiting: the client reads the body a piece at a time
                    await asyncio.sleep(0)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def site(ctx: ssl.SSLContext) -> AsyncIterator[Site]:
    """A running :class:`Site`."""
    running = Site(ctx)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


class Prober:
    """One http check instance probed repeatedly, as the scheduler does (its sessions live in the check)."""

    def __init__(self, port: int, **settings: Any) -> None:
        self.spec = make_spec(
            "http", {"verify_tls": False, "contains": ["Welcome"], **settings}, url=f"https://127.0.0.1:{port}/"
        )
        self.check: Any = self.spec.build()
        self.resolver = ProbeResolver(static={}, fallback=None)

    async def probe(self) -> RunRecord:
        """Run the check once; its result must be ok."""
        session = make_session(self.resolver, user_agent="sitewatch-test")
        scheduler = Scheduler.for_one_shot(session=session, resolver=self.resolver, log=logging.getLogger("test"))
        try:
            record = await scheduler.run_once(self.spec, self.check)
        finally:
            await session.close()
        assert record.result.status is Status.OK, record.result.summary
        return record


def expiry(record: RunRecord) -> float:
    """The exported probe_ssl_earliest_cert_expiry."""
    (value,) = [s.value for s in record.result.samples if s.name == "probe_ssl_earliest_cert_expiry"]
    return value


def resumed(record: RunRecord) -> bool:
    """Whether the probe's handshake resumed a session."""
    flag = record.result.details["tls_resumed"]
    assert isinstance(flag, bool)
    return flag


def tls_phase(record: RunRecord) -> float:
    """probe_http_duration_seconds{phase="tls"}."""
    (value,) = [s.value for s in record.result.samples if s.labels == (("phase", "tls"),)]
    return value


@VERSIONS
async def test_consecutive_probes_resume_with_a_full_handshake_every_n(ca: trustme.CA, version: ssl.TLSVersion) -> None:
    """Probes 2…N resume the first one's session; probe N+1 is a full handshake; the expiry and tls phase stay."""
    async with site(server_context(ca, FIRST, version)) as srv:
        prober = Prober(srv.port)
        records = [await prober.probe() for _ in range(FULL_EVERY + 2)]
    assert [resumed(r) for r in records] == [False] + [True] * (FULL_EVERY - 1) + [False, True]
    assert {expiry(r) for r in records} == {FIRST.timestamp()}
    assert all(tls_phase(r) > 0 for r in records)  # a resumed handshake is timed too


@VERSIONS
async def test_tls_resumption_false_does_a_full_handshake_every_probe(ca: trustme.CA, version: ssl.TLSVersion) -> None:
    """With ``tls_resumption: false`` no session is offered; the expiry is read from every handshake."""
    async with site(server_context(ca, FIRST, version)) as srv:
        prober = Prober(srv.port, tls_resumption=False)
        records = [await prober.probe() for _ in range(3)]
    assert [resumed(r) for r in records] == [False, False, False]
    assert [expiry(r) for r in records] == [FIRST.timestamp()] * 3


@VERSIONS
async def test_certificate_replaced_with_a_restart_shows_in_the_next_probe(
    ca: trustme.CA, version: ssl.TLSVersion
) -> None:
    """The server restarts with a new certificate while a session is cached: the very next probe shows it."""
    async with site(server_context(ca, FIRST, version)) as srv:
        prober = Prober(srv.port)
        before = [await prober.probe() for _ in range(2)]
        await srv.restart(server_context(ca, SECOND, version))
        after = await prober.probe()
    assert [resumed(r) for r in before] == [False, True]  # the session was cached and in use
    assert not resumed(after)  # the server declined it: a full handshake
    assert expiry(before[-1]) == FIRST.timestamp()
    assert expiry(after) == SECOND.timestamp()


@VERSIONS
async def test_certificate_replaced_under_old_sessions_shows_at_the_forced_full_handshake(
    ca: trustme.CA, version: ssl.TLSVersion
) -> None:
    """A server that keeps resuming old sessions after a new certificate: the new expiry shows within FULL_EVERY probes.

    Resumed probes report what the full handshake they descend from verified; the first
    full handshake after the swap (forced after FULL_EVERY - 1 resumptions) reads the new one.
    """
    async with site(server_context(ca, FIRST, version)) as srv:
        prober = Prober(srv.port)
        first = await prober.probe()
        srv.reload_certificate(ca, SECOND)
        after = [await prober.probe() for _ in range(FULL_EVERY)]
    assert not resumed(first)
    assert [resumed(r) for r in after] == [True] * (FULL_EVERY - 1) + [False]
    assert [expiry(r) for r in after] == [FIRST.timestamp()] * (FULL_EVERY - 1) + [SECOND.timestamp()]


async def test_session_older_than_max_age_forces_a_full_handshake(ca: trustme.CA) -> None:
    """Past MAX_AGE since the last full handshake a probe does a full one, and sees a replaced certificate."""
    now = [1000.0]
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_3)) as srv:
        prober = Prober(srv.port)
        prober.check.tls_sessions = TlsSessions(clock=lambda: now[0])
        await prober.probe()
        srv.reload_certificate(ca, SECOND)
        now[0] += MAX_AGE - 1
        young = await prober.probe()
        now[0] += 1
        old = await prober.probe()
    assert resumed(young)
    assert expiry(young) == FIRST.timestamp()
    assert not resumed(old)
    assert expiry(old) == SECOND.timestamp()


async def test_an_expired_certificate_is_never_vouched_for_by_a_session(ca: trustme.CA) -> None:
    """Once the clock passes the verified certificate's notAfter, the next probe does a full handshake."""
    wall = [NOW.timestamp()]
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_2)) as srv:
        prober = Prober(srv.port)
        prober.check.tls_sessions = TlsSessions(wall=lambda: wall[0])
        await prober.probe()
        before = await prober.probe()
        wall[0] = FIRST.timestamp()
        at_expiry = await prober.probe()
    assert resumed(before)
    assert not resumed(at_expiry)


async def test_a_failed_probe_drops_the_session(ca: trustme.CA) -> None:
    """After a probe that failed (server away), the next one proves the certificate with a full handshake."""
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_3)) as srv:
        prober = Prober(srv.port)
        await prober.probe()
        assert resumed(await prober.probe())
        await srv.stop()
        session = make_session(prober.resolver, user_agent="sitewatch-test")
        scheduler = Scheduler.for_one_shot(session=session, resolver=prober.resolver, log=logging.getLogger("test"))
        try:
            failed = await scheduler.run_once(prober.spec, prober.check)
        finally:
            await session.close()
        await srv.start()
        again = await prober.probe()
    assert failed.result.status is Status.ERROR
    assert not resumed(again)


@pytest.mark.parametrize("fast", [True, False], ids=["set_session", "ssl-copy"])
async def test_session_offered_with_or_without_the_ssl_copy_resumes(
    ca: trustme.CA, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Here the session goes to OpenSSL directly; where that path is refused, ssl's own copy resumes too."""
    offered: list[bool] = []

    def spy(sslobj: ssl.SSLObject, session: ssl.SSLSession) -> bool:
        offered.append(tlsoffer.offer(sslobj, session) if fast else False)
        return offered[-1]

    monkeypatch.setattr(tlslayer, "offer", spy)
    if not fast:  # ssl's own SSLSession, as kept where the layout check fails
        monkeypatch.setattr(tlssessions, "compact", lambda sslobj: None)
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_3)) as srv:
        prober = Prober(srv.port)
        records = [await prober.probe() for _ in range(3)]
    assert [resumed(r) for r in records] == [False, True, True]
    assert offered == [fast, fast]  # on CPython 3.11 the layout self-check passes: the fast path is the one used


async def test_kept_session_holds_no_certificate(ca: trustme.CA) -> None:
    """The session kept between probes is OpenSSL's without the peer certificate (a fifth of the memory); it resumes."""
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_2)) as srv:
        prober = Prober(srv.port)
        await prober.probe()
        (held,) = prober.check.tls_sessions._held.values()
        again = await prober.probe()
    assert isinstance(held.session, tlsoffer.CompactSession)
    assert resumed(again)
    assert expiry(again) == FIRST.timestamp()


def test_peer_field_is_cut_from_session_der() -> None:
    """Only the [3] peer element goes; the other fields and a long-form length are rewritten minimally."""
    fields = b"\x02\x01\x01" + b"\xa3\x82\x01\x00" + b"C" * 256 + b"\x04\x81\x90" + b"K" * 144
    der = b"\x30\x82" + len(fields).to_bytes(2, "big") + fields
    assert tlsoffer._without_peer(der) == b"\x30\x81\x96\x02\x01\x01\x04\x81\x90" + b"K" * 144
    assert tlsoffer._without_peer(b"\x04\x00") is None


async def test_a_changed_address_is_a_new_server(ca: trustme.CA) -> None:
    """Sessions are keyed by the peer address too: the same name and port at another address gets none."""
    async with site(server_context(ca, FIRST, ssl.TLSVersion.TLSv1_3)) as srv:
        prober = Prober(srv.port)
        await prober.probe()
    sessions = prober.check.tls_sessions
    ((name, port, address, verify),) = sessions._held
    assert (name, port, address, verify) == ("127.0.0.1", srv.port, "127.0.0.1", False)
    assert sessions.offer((name, port, "127.0.0.2", verify)) is None
    assert sessions.offer((name, port, address, True)) is None  # nor another verification setting
    assert sessions.offer((name, port, address, verify)) is not None

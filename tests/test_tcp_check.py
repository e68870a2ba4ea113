"""The ``tcp`` check against real services on loopback: Redis, an SMTP server, TLS, and hostile peers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pydantic
import pytest
import trustme
from aiosmtpd.smtp import SMTP

from checks.tcp_config import TcpConfig
from sitewatch.probe import Status
from tests.helpers import free_port, need_daemon, run_check, wait_for


def samples(record: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in record.result.samples}  # type: ignore[attr-defined]


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[int]:
    """Debian's redis-server on 127.0.0.1 (no persistence), stopped by its PID; yields its port."""
    binary = need_daemon("redis-server", "redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", str(tmp_path), "--daemonize", "no"], stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        await wait_for(lambda: _accepts(port), what="redis-server to listen")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def mariadb(tmp_path: Path) -> AsyncIterator[int]:
    """Debian's mariadbd on 127.0.0.1 with an empty data directory, stopped by its PID; yields its port.

    No system tables are needed to send the handshake: grant tables are skipped and InnoDB is
    off (the data directory stays a few KB and the server is up in a fraction of a second).
    """
    binary = need_daemon("mariadbd", "mariadb-server")
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    args = [
        binary,
        "--no-defaults",
        f"--datadir={data}",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        f"--socket={tmp_path / 'mysqld.sock'}",
        f"--pid-file={tmp_path / 'mysqld.pid'}",
        f"--log-error={tmp_path / 'error.log'}",
        "--skip-grant-tables",
        "--skip-innodb",
        "--default-storage-engine=Aria",
        "--default-tmp-storage-engine=Aria",
        "--skip-log-bin",
        "--user=root",  # ignored unless started as root, which mariadbd otherwise refuses
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        await wait_for(lambda: _accepts(port), what="mariadbd to listen")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextlib.asynccontextmanager
async def tcp_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """An asyncio server on 127.0.0.1; yields its port. Connection handlers are cancelled and awaited at exit."""
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)  # type: ignore[misc]
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
async def smtp() -> AsyncIterator[int]:
    """aiosmtpd's SMTP server on 127.0.0.1 (a real 220 banner and EHLO answers); yields its port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(object(), hostname="mx.test"), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_redis_ping_pong(redis: int) -> None:
    """PING to a real Redis answers +PONG: ok, the summary quotes it, every phase is timed."""
    steps = [{"send": "PING"}, {"expect": r"^\+PONG"}]
    record = await run_check(
        "tcp", {"port": redis, "steps": steps}, url="http://cache.test/", hosts={"cache.test": ["127.0.0.1"]}
    )
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith(f"connected to cache.test:{redis} (127.0.0.1) in ")
    assert record.result.summary.endswith("got '+PONG'")
    found = samples(record)
    assert found[("probe_failed_due_to_regex", ())] == 0
    assert found[("probe_tcp_duration_seconds", (("phase", "connect"),))] > 0
    assert found[("probe_tcp_duration_seconds", (("phase", "first_byte"),))] > 0


async def test_redis_wrong_answer_is_critical_and_says_what_came(redis: int) -> None:
    """A real answer other than the expected one is critical once max_read bytes came, and is quoted."""
    steps = [{"send": "GET missing-key"}, {"expect": r"^\+OK"}]
    record = await run_check("tcp", {"host": "127.0.0.1", "port": redis, "steps": steps, "max_read": "5"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == f"expected /^\\+OK/ from 127.0.0.1:{redis}, got '$-1' (first 5 bytes)"
    assert samples(record)[("probe_failed_due_to_regex", ())] == 1


async def test_mariadb_handshake(mariadb: int) -> None:
    """A real MariaDB's binary greeting (no newline) is matched and its version quoted, printable."""
    steps = [{"expect": r"\d+\.\d+\.\d+-MariaDB"}]
    record = await run_check("tcp", {"host": "127.0.0.1", "port": mariadb, "steps": steps})
    assert record.result.status is Status.OK, record.result.summary
    (got,) = record.result.details["got"]
    assert "-MariaDB" in got
    assert got.isprintable()


async def test_smtp_banner_and_ehlo(smtp: int) -> None:
    """A real SMTP server's 220 banner and its multi-line EHLO answer are matched line by line."""
    steps = [{"expect": "^220 "}, {"send": "EHLO sitewatch.test"}, {"expect": "^250 "}, {"send": "QUIT"}]
    record = await run_check("tcp", {"host": "127.0.0.1", "port": smtp, "steps": steps})
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.details["got"][0].startswith("220 mx.test")
    assert record.result.details["got"][1].startswith("250 ")


async def test_unexpected_banner_names_what_came_and_is_printable() -> None:
    """An SSH banner where SMTP was expected is critical; control characters in it are not echoed."""

    async def ssh(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\x1b[31m\x07\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    async with tcp_server(ssh) as port:
        record = await run_check("tcp", {"host": "127.0.0.1", "port": port, "steps": [{"expect": "^220"}]}, timeout=1)
    # The line ended but no more came: the timeout reports what was read.
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        f"timed out after 1.0s waiting for /^220/ from 127.0.0.1:{port}, got 'SSH-2.0-OpenSSH_9.2 [31m'"
    )
    assert "\x1b" not in record.result.summary


async def test_banner_then_close_is_critical() -> None:
    """A server that sends the wrong banner and hangs up is critical (measured and bad)."""

    async def ssh(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()

    async with tcp_server(ssh) as port:
        record = await run_check("tcp", {"host": "127.0.0.1", "port": port, "steps": [{"expect": "^220"}]})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        f"expected /^220/ from 127.0.0.1:{port}, got 'SSH-2.0-OpenSSH_9.2' before the connection closed"
    )


async def test_binary_handshake_without_newline_matches() -> None:
    """A MySQL-style binary greeting with no newline is matched as it arrives, without waiting for one."""

    async def mysql(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x4a\x00\x00\x00\x0a10.11.6-MariaDB\x00\x08\x00\x00\x00")
        await writer.drain()
        await asyncio.sleep(5)

    async with tcp_server(mysql) as port:
        record = await run_check(
            "tcp", {"host": "127.0.0.1", "port": port, "steps": [{"expect": "MariaDB|mysql"}]}, timeout=2
        )
    assert record.result.status is Status.OK, record.result.summary
    assert "10.11.6-MariaDB" in record.result.summary


async def test_silent_server_is_a_timeout_error() -> None:
    """A server that accepts and never speaks costs the timeout and is an error, not ok."""
    accepted = asyncio.Event()

    async def silent(_: asyncio.StreamReader, __: asyncio.StreamWriter) -> None:
        accepted.set()
        await asyncio.sleep(5)

    async with tcp_server(silent) as port:
        record = await run_check("tcp", {"host": "127.0.0.1", "port": port, "steps": [{"expect": "^220"}]}, timeout=0.5)
    assert accepted.is_set()
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"timed out after 500ms waiting for /^220/ from 127.0.0.1:{port}"


async def test_reset_during_the_dialogue_is_critical() -> None:
    """A server that accepts and then resets the connection: critical, saying where it broke."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST

    steps = [{"send": "PING"}, {"expect": "PONG"}]
    async with tcp_server(reset) as port:
        record = await run_check("tcp", {"host": "127.0.0.1", "port": port, "steps": steps})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        f"connection broken waiting for /PONG/ from 127.0.0.1:{port}: Connection reset by peer"
    )


async def test_closed_port_is_an_error() -> None:
    """Nothing listening: an error that says the connection was refused."""
    port = free_port()
    record = await run_check("tcp", {"host": "127.0.0.1", "port": port})
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "refused" in record.result.summary.lower()


async def test_unresolvable_host_is_an_error() -> None:
    """A name the resolver does not know is an error naming it."""
    record = await run_check("tcp", {"port": 25}, url="http://nowhere.test/")
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith("cannot resolve nowhere.test:")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throwaway CA."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """The CA's certificate as a PEM file."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def _banner(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"* OK IMAP4rev1 ready\r\n")
    await writer.drain()


async def test_tls_service_with_verified_certificate(ca: trustme.CA, ca_file: str) -> None:
    """TLS with SNI and a trusted chain: ok with the version, the certificate expiry and the tls phase."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.test").configure_cert(server)
    async with tcp_server(_banner, server) as port:
        settings = {"port": port, "tls": True, "ca_file": ca_file, "steps": [{"expect": r"^\* OK"}]}
        record = await run_check("tcp", settings, url="http://mail.test/", hosts={"mail.test": ["127.0.0.1"]})
    assert record.result.status is Status.OK, record.result.summary
    assert "(TLSv1.3)" in record.result.summary
    found = samples(record)
    assert found[("probe_tls_version_info", (("version", "TLSv1.3"),))] == 1
    assert found[("probe_ssl_earliest_cert_expiry", ())] > 0
    assert found[("probe_tcp_duration_seconds", (("phase", "tls"),))] > 0


async def test_tls_to_an_ip_address_verifies_its_ip_san(ca: trustme.CA, ca_file: str) -> None:
    """host: 127.0.0.1 with TLS: the certificate must name that IP (no SNI is sent for an address)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.test").configure_cert(other)
    settings = {"host": "127.0.0.1", "tls": True, "ca_file": ca_file}
    async with tcp_server(_banner, server) as port:
        good = await run_check("tcp", {**settings, "port": port})
    async with tcp_server(_banner, other) as port:
        wrong = await run_check("tcp", {**settings, "port": port})
    assert good.result.status is Status.OK, good.result.summary
    assert wrong.result.status is Status.CRITICAL
    assert "IP address mismatch" in wrong.result.summary


async def test_tls_untrusted_certificate_is_critical(ca: trustme.CA) -> None:
    """A certificate from an unknown CA is critical; verify: false accepts it."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.test").configure_cert(server)
    hosts = {"mail.test": ["127.0.0.1"]}
    async with tcp_server(_banner, server) as port:
        refused = await run_check("tcp", {"port": port, "tls": True}, url="http://mail.test/", hosts=hosts)
        accepted = await run_check(
            "tcp", {"port": port, "tls": True, "verify": False}, url="http://mail.test/", hosts=hosts
        )
    assert refused.result.status is Status.CRITICAL
    assert "certificate" in refused.result.summary
    assert accepted.result.status is Status.OK, accepted.result.summary


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": 25, "steps": [{"send": "x", "expect": "y"}]}, "exactly one"),
        ({"port": 25, "steps": [{"expect": "("}]}, "valid regular expression"),
        ({"port": 25, "server_name": "x"}, "need tls: true"),
        ({"port": 0}, "greater than or equal to 1"),
        ({}, "Field required"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, object], message: str) -> None:
    """Bad dialogue steps, ports and TLS-only keys are refused at load."""
    with pytest.raises(pydantic.ValidationError, match=message):
        TcpConfig.model_validate(settings)

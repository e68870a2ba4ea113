"""The ``tls`` check against real TLS servers on loopback with generated certificates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from checks.tls import TlsCheck
from checks.tls_certs import hostname_matches
from checks.tls_config import TlsConfig
from sitewatch.probe import Result, Status
from tests.helpers import run_check, serve

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issuer:
    """A CA made with cryptography, for certificates with exact dates, key sizes and hashes."""

    key: Key
    cert: x509.Certificate

    @classmethod
    def root(cls, name: str = "Test Root", rsa_bits: int | None = None) -> Issuer:
        key: Key = rsa.generate_private_key(65537, rsa_bits) if rsa_bits else ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            _builder(subject, subject, key, NOW - 30 * DAY, NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def child(self, name: str = "Test Intermediate") -> Issuer:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            _builder(subject, self.cert.subject, key, NOW - 30 * DAY, NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return Issuer(key, cert)

    def issue(
        self,
        *hosts: str,
        not_before: dt.datetime = NOW - DAY,
        not_after: dt.datetime = NOW + 90 * DAY,
        rsa_bits: int | None = None,
    ) -> tuple[x509.Certificate, Key]:
        key: Key = rsa.generate_private_key(65537, rsa_bits) if rsa_bits else ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
        cert = (
            _builder(subject, self.cert.subject, key, not_before, not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert, key

    def resign_sha1(self, cert: x509.Certificate) -> x509.Certificate:
        """The same certificate signed with SHA-1, which cryptography no longer produces itself.

        The sha256WithRSAEncryption OID and sha1WithRSAEncryption OID have the same
        length and an RSA signature's length depends on the key only, so the DER is
        patched in place: both algorithm identifiers, then the signature at the end.
        """
        assert isinstance(self.key, rsa.RSAPrivateKey)
        der = cert.public_bytes(serialization.Encoding.DER)
        sha256_rsa, sha1_rsa = bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d010105")
        assert der.count(sha256_rsa) == 2
        patched = x509.load_der_x509_certificate(der.replace(sha256_rsa, sha1_rsa))
        tbs = patched.tbs_certificate_bytes
        signature = self.key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())  # the defect under test
        body = patched.public_bytes(serialization.Encoding.DER)
        return x509.load_der_x509_certificate(body[: -len(signature)] + signature)

    def write(self, path: Path) -> str:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return str(path)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: Key, not_before: dt.datetime, not_after: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def self_signed(host: str) -> tuple[x509.Certificate, Key]:
    """A leaf that is its own issuer."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        _builder(name, name, key, NOW - DAY, NOW + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def server_context(
    tmp_path: Path, chain: list[x509.Certificate], key: Key, max_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A server context serving ``chain`` (leaf first), weak certificates and old versions allowed."""
    pem = tmp_path / f"chain-{chain[0].serial_number}.pem"
    pem.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_file = pem.with_suffix(".key")
    fmt = serialization.PrivateFormat.TraditionalOpenSSL
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    if max_version is not None:
        with warnings.catch_warnings():  # serving a deprecated version is the point of the test
            warnings.simplefilter("ignore", DeprecationWarning)
            context.maximum_version = max_version
    context.load_cert_chain(pem, key_file)
    return context


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep the connection open until the client leaves."""
    with contextlib.suppress(OSError, ssl.SSLError):
        await reader.read()


@contextlib.asynccontextmanager
async def tcp_server(
    handler: Handler = _drain, context: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[int]:
    """A loopback server (TLS when ``context`` is given); yields its port and closes every connection on exit."""
    writers: set[asyncio.StreamWriter] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, host, port, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()


@pytest.fixture
def root() -> Issuer:
    """A trusted root for the scenario."""
    return Issuer.root()


@pytest.fixture
def ca_file(root: Issuer, tmp_path: Path) -> str:
    """The root as a PEM file for the check's ``ca_file`` setting."""
    return root.write(tmp_path / "root.pem")


async def check_server(
    tmp_path: Path,
    chain: list[x509.Certificate],
    key: Key,
    settings: dict[str, Any],
    host: str = "shop.test",
    **server: Any,
) -> Result:
    """Serve ``chain`` on loopback and run the tls check against it as ``host``."""
    async with tcp_server(context=server_context(tmp_path, chain, key, **server)) as port:
        record = await run_check("tls", settings, url=f"https://{host}:{port}/", hosts={host: ["127.0.0.1"]})
    return record.result


def samples(result: Result) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples keyed by (name, labels)."""
    return {(s.name, s.labels): s.value for s in result.samples}


async def test_valid_certificate_is_ok_with_blackbox_metrics(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """A trusted, matching certificate with 90 days left is ok and its expiry is exported to the second."""
    cert, key = root.issue("shop.test")
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.OK, result.summary
    assert f"expires in 89 days ({cert.not_valid_after_utc:%Y-%m-%d})" in result.summary
    got = samples(result)
    assert got[("probe_ssl_earliest_cert_expiry", ())] == cert.not_valid_after_utc.timestamp()
    # The verified chain includes the root, which outlives the leaf.
    assert got[("probe_ssl_last_chain_expiry_timestamp_seconds", ())] == cert.not_valid_after_utc.timestamp()
    assert got[("probe_tls_version_info", (("version", "TLS 1.3"),))] == 1
    assert 89 < got[("sitewatch_tls_cert_days_left", (("cert", "leaf"),))] <= 90
    info = ("issuer", "Test Root"), ("subject", "shop.test"), ("serial", format(cert.serial_number, "x"))
    assert got[("sitewatch_tls_cert_info", info)] == 1
    assert {s.name for s in result.samples} <= {m.name for m in TlsCheck.metrics}


async def test_trustme_chain_with_intermediate_verifies(tmp_path: Path) -> None:
    """A leaf sent with its intermediate verifies against the root alone (trustme CA)."""
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("shop.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    root.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    async with tcp_server(context=context) as port:
        record = await run_check(
            "tls",
            {"ca_file": str(tmp_path / "ca.pem")},
            url=f"https://shop.test:{port}/",
            hosts={"shop.test": ["127.0.0.1"]},
        )
    assert record.result.status is Status.OK, record.result.summary
    assert len(record.result.details["certificates"]) == 2


async def test_expiring_in_three_days_is_critical(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """Three days left is under crit_days (7): critical, with the date in the summary."""
    cert, key = root.issue("shop.test", not_after=NOW + 3 * DAY + dt.timedelta(hours=1))
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == f"certificate for shop.test expires in 3 days ({cert.not_valid_after_utc:%Y-%m-%d})"


async def test_under_warn_days_is_a_warning(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """Ten days left is a warning with the default thresholds and ok with warn_days: 5."""
    cert, key = root.issue("shop.test", not_after=NOW + 10 * DAY + dt.timedelta(hours=1))
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.WARNING
    assert "expires in 10 days" in result.summary
    relaxed = await check_server(tmp_path, [cert], key, {"ca_file": ca_file, "warn_days": 5, "crit_days": 2})
    assert relaxed.status is Status.OK


async def test_expired_yesterday_is_critical(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """An expired certificate is critical and the summary says when it expired; trust is not blamed."""
    cert, key = root.issue("shop.test", not_before=NOW - 90 * DAY, not_after=NOW - DAY)
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == f"certificate for shop.test expired 1 day ago ({cert.not_valid_after_utc:%Y-%m-%d})"
    assert samples(result)[("sitewatch_tls_cert_days_left", (("cert", "leaf"),))] < 0


async def test_not_yet_valid_is_critical(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """A certificate whose validity starts in the future is critical."""
    cert, key = root.issue("shop.test", not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert f"is not valid until {cert.not_valid_before_utc:%Y-%m-%d}" in result.summary


async def test_wrong_hostname_is_critical(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """A certificate for another name is critical and names what it is for."""
    cert, key = root.issue("other.test", "www.other.test")
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == "certificate does not match shop.test (it is for other.test, www.other.test)"


def test_wildcard_matches_one_label_only(root: Issuer) -> None:
    """``*.shop.test`` covers www.shop.test, not shop.test nor a.b.shop.test; IP SANs match IPs."""
    cert, _ = root.issue("*.shop.test")
    assert hostname_matches(cert, "WWW.shop.test.")
    assert not hostname_matches(cert, "shop.test")
    assert not hostname_matches(cert, "a.b.shop.test")
    assert not hostname_matches(cert, "127.0.0.1")


async def test_self_signed_is_critical(ca_file: str, tmp_path: Path) -> None:
    """A self-signed certificate that is not in the trust store is reported as such."""
    cert, key = self_signed("shop.test")
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == "certificate for shop.test is self-signed and not trusted"
    assert ("probe_ssl_last_chain_expiry_timestamp_seconds", ()) not in samples(result)


async def test_leaf_without_intermediate_is_an_incomplete_chain(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """A server that omits the intermediate fails verification with a line naming the missing issuer."""
    intermediate = root.child("Shop Intermediate")
    cert, key = intermediate.issue("shop.test")
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert "issuer 'Shop Intermediate' not found (server sent 1 certificate)" in result.summary
    assert "incomplete chain" in result.summary
    complete = await check_server(tmp_path, [cert, intermediate.cert], key, {"ca_file": ca_file})
    assert complete.status is Status.OK, complete.summary


async def test_untrusted_by_the_system_store(root: Issuer, tmp_path: Path) -> None:
    """Without ca_file the system store is used, which does not know the test root."""
    cert, key = root.issue("shop.test")
    result = await check_server(tmp_path, [cert], key, {})
    assert result.status is Status.CRITICAL
    assert "issuer 'Test Root' not found" in result.summary


async def test_rsa_1024_is_a_weak_key(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """An RSA-1024 leaf is served (security level 0) and reported as a weak key."""
    cert, key = root.issue("shop.test", rsa_bits=1024)
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == "certificate for shop.test has a weak key: RSA-1024 (minimum RSA-2048)"


async def test_sha1_signature_is_critical(tmp_path: Path) -> None:
    """A SHA-1 signed leaf from a trusted CA is reported, and only that."""
    rsa_root = Issuer.root("RSA Root", rsa_bits=2048)
    cert, key = rsa_root.issue("shop.test")
    cert = rsa_root.resign_sha1(cert)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha1"
    ca_file = rsa_root.write(tmp_path / "rsa-root.pem")
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == "certificate for shop.test is signed with SHA1"


async def test_tls_1_1_is_flagged(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """A server that stops at TLS 1.1 is critical and the version is exported."""
    cert, key = root.issue("shop.test", rsa_bits=2048)
    old = ssl.TLSVersion.TLSv1_1
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file}, max_version=old)
    assert result.status is Status.CRITICAL
    assert result.summary == "server negotiated TLS 1.1 (TLS 1.2 or newer expected)"
    assert samples(result)[("probe_tls_version_info", (("version", "TLS 1.1"),))] == 1


async def test_silent_server_times_out_with_a_reason() -> None:
    """A server that accepts TCP and never answers is an error bounded by the timeout."""
    async with tcp_server() as port:
        record = await run_check("tls", {}, url=f"https://127.0.0.1:{port}/", timeout=1.0)
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        f"timed out after 1.0s waiting for the TLS handshake with 127.0.0.1:{port} (TCP connected, no TLS answer)"
    )
    assert record.duration < 1.4


async def test_plain_http_on_the_tls_port_is_named() -> None:
    """An HTTP server on the TLS port is an error that says it answered in plain HTTP."""
    async with serve(web.Application()) as base:
        port = int(base.rsplit(":", 1)[1])
        record = await run_check("tls", {"port": port}, url="http://127.0.0.1/")
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith(f"127.0.0.1:{port} does not speak TLS (it answered in plain HTTP: 'HTTP/1.")


async def test_garbage_bytes_are_an_error() -> None:
    """Bytes that are not TLS are an error showing the first bytes."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"\x00\x01garbage" * 20)
        await writer.drain()
        await reader.read()

    async with tcp_server(garbage) as port:
        record = await run_check("tls", {}, url=f"https://127.0.0.1:{port}/")
    assert record.result.status is Status.ERROR
    assert (
        record.result.summary
        == f"127.0.0.1:{port} does not speak TLS (it sent 00 01 67 61 72 62 61 67 65 00 01 67 61 72 62 61)"
    )


async def test_reset_is_an_error() -> None:
    """A server that resets the connection on the ClientHello is an error saying so."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with tcp_server(reset) as port:
        record = await run_check("tls", {}, url=f"https://127.0.0.1:{port}/")
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"127.0.0.1:{port} reset the connection during the TLS handshake"


async def test_refused_and_unresolvable_are_errors() -> None:
    """Nothing listening, or a name the resolver does not know, is an error (could not measure)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = await run_check("tls", {"port": port}, url="https://127.0.0.1/")
    assert refused.result.status is Status.ERROR
    assert refused.result.summary.startswith(f"cannot connect to 127.0.0.1:{port}")
    unknown = await run_check("tls", {}, url="https://nowhere.test/")
    assert unknown.result.status is Status.ERROR
    assert unknown.result.summary.startswith("cannot resolve nowhere.test")


async def test_all_addresses_reports_the_worst_node(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """With all_addresses, the one pool node serving an old certificate is found and named."""
    good, good_key = root.issue("shop.test")
    old, old_key = root.issue("shop.test", not_after=NOW + 2 * DAY + dt.timedelta(hours=1))
    hosts = {"shop.test": ["127.0.0.2", "127.0.0.3"]}
    async with tcp_server(context=server_context(tmp_path, [good], good_key), host="127.0.0.2") as port:
        async with tcp_server(context=server_context(tmp_path, [old], old_key), host="127.0.0.3", port=port):
            settings = {"ca_file": ca_file, "port": port}
            first = await run_check("tls", settings, url="https://shop.test/", hosts=hosts)
            every = await run_check("tls", {**settings, "all_addresses": True}, url="https://shop.test/", hosts=hosts)
    assert first.result.status is Status.OK  # the first address alone hides the stale node
    assert every.result.status is Status.CRITICAL
    date = f"{old.not_valid_after_utc:%Y-%m-%d}"
    assert every.result.summary == f"127.0.0.3: certificate for shop.test expires in 2 days ({date}) (1 of 2 addresses)"
    assert every.result.details["addresses"]["127.0.0.2"]["status"] == "ok"
    assert samples(every.result)[("probe_ssl_earliest_cert_expiry", ())] == old.not_valid_after_utc.timestamp()


def test_config_rejects_bad_values(tmp_path: Path) -> None:
    """crit_days above warn_days, a missing CA file, a bad port and unknown keys are config errors."""
    with pytest.raises(pydantic.ValidationError, match="crit_days"):
        TlsConfig.model_validate({"warn_days": 5, "crit_days": 10})
    with pytest.raises(pydantic.ValidationError, match="does not exist"):
        TlsConfig.model_validate({"ca_file": str(tmp_path / "missing.pem")})
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 65535"):
        TlsConfig.model_validate({"port": 70000})
    with pytest.raises(pydantic.ValidationError, match="warn_day"):
        TlsConfig.model_validate({"warn_day": 5})


async def test_chain_ending_in_an_unknown_root_names_it(ca_file: str, tmp_path: Path) -> None:
    """A full chain up to a root the store does not hold is reported with the root's name."""
    other = Issuer.root("Other Root")
    intermediate = other.child()
    cert, key = intermediate.issue("shop.test")
    result = await check_server(tmp_path, [cert, intermediate.cert, other.cert], key, {"ca_file": ca_file})
    assert result.status is Status.CRITICAL
    assert result.summary == "chain of shop.test ends in an untrusted root 'Other Root' (server sent 3 certificates)"


async def test_unreachable_first_address_falls_through_to_the_next(root: Issuer, ca_file: str, tmp_path: Path) -> None:
    """Without all_addresses, an address that refuses TCP is skipped like a browser would."""
    cert, key = root.issue("shop.test")
    async with tcp_server(context=server_context(tmp_path, [cert], key)) as port:
        hosts = {"shop.test": ["127.0.0.9", "127.0.0.1"]}
        record = await run_check("tls", {"ca_file": ca_file, "port": port}, url="https://shop.test/", hosts=hosts)
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.details["address"] == "127.0.0.1"


async def test_ca_file_without_certificates_is_an_error(tmp_path: Path) -> None:
    """A CA file that holds no certificate cannot verify anything: error, naming the file."""
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    record = await run_check("tls", {"ca_file": str(bogus)}, url="https://127.0.0.1/")
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith(f"cannot load CA file {bogus}:")


def _dsa_certificate(host: str) -> tuple[x509.Certificate, Any]:
    """A real DSA-2048 certificate signed by its own DSA key (made with the warning silenced: the point is
    that the check reading it raises none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.primitives.asymmetric import dsa

        key = dsa.generate_private_key(2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        cert = (
            _builder(name, name, key, NOW - DAY, NOW + 90 * DAY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256())
        )
    return cert, key


def test_dsa_key_is_read_without_a_deprecation_warning() -> None:
    """A DSA key is named with its size and judged weak, and no deprecated cryptography API is touched
    (filterwarnings=error turns any warning into a failure here)."""
    from checks.tls_certs import facts

    cert, _ = _dsa_certificate("dsa.test")
    got = facts(cert)
    assert (got.key, got.weak_key) == ("DSA-2048", True)


async def test_site_presenting_a_dsa_certificate_is_critical(tmp_path: Path) -> None:
    """A real TLS 1.2 handshake with a DSA-signed certificate (DHE-DSS): critical, naming the DSA key."""
    cert, key = _dsa_certificate("shop.test")
    pem = tmp_path / "dsa.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "dsa.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 has no DSA
    context.set_ciphers("DHE-DSS-AES128-GCM-SHA256:@SECLEVEL=0")
    context.load_cert_chain(pem, key_file)
    dh = tmp_path / "dh.pem"  # RFC 7919 ffdhe2048: DHE needs a group, and a named one costs no generation
    dh.write_text(FFDHE2048)
    context.load_dh_params(str(dh))
    async with tcp_server(context=context) as port:
        record = await run_check("tls", {}, url=f"https://shop.test:{port}/", hosts={"shop.test": ["127.0.0.1"]})
    result = record.result
    assert result.status is Status.CRITICAL, result.summary
    assert "weak key: DSA-2048 (no client accepts DSA)" in result.summary


FFDHE2048 = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


@pytest.mark.parametrize(
    ("days", "russian"),
    [
        (3, "сертификат для shop.test истекает через 3 дня ({date})"),
        (89, "сертификат для shop.test истекает через 89 дней ({date}), TLS 1.3, цепочка доверенная"),
    ],
)
async def test_real_summaries_translate_whole(
    root: Issuer, ca_file: str, tmp_path: Path, days: int, russian: str
) -> None:
    """The Russian finding rules follow what the real check says over a real handshake (a reworded
    summary fails here, not silently in a client's ticket)."""
    from sitewatch.i18n import finding

    cert, key = root.issue("shop.test", not_after=NOW + days * DAY + dt.timedelta(hours=1))
    result = await check_server(tmp_path, [cert], key, {"ca_file": ca_file})
    assert finding(result.summary, "ru") == russian.format(date=f"{cert.not_valid_after_utc:%Y-%m-%d}")

"""TLS handshakes for the ``tls`` check and the certificate facts it judges.

The handshake runs through :class:`ssl.MemoryBIO` over a plain asyncio stream
rather than ``open_connection(ssl=...)``: we see the raw bytes a broken server
sends (so "plain HTTP on the TLS port" is named as such), nothing is left for
asyncio's SSL transport to shut down, and the whole exchange is bounded by the
caller's ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "CertFacts",
    "Handshake",
    "HandshakeError",
    "VerifyFailure",
    "facts",
    "handshake",
    "hostname_matches",
    "inspect_context",
    "names",
    "verify_context",
    "where",
]

#: OpenSSL's X509_V_FLAG_NO_CHECK_TIME (not in ssl.VerifyFlags): the verifying
#: handshake judges trust only, so an expired certificate is reported once, by us,
#: with its date, instead of hiding a second problem behind "certificate has expired".
_NO_CHECK_TIME = 0x200000
#: Security level 0 lets OpenSSL complete handshakes with RSA-1024, SHA-1 and
#: TLS 1.0/1.1, so each weakness is measured and reported instead of aborting.
_CIPHERS = "DEFAULT:@SECLEVEL=0"
_FIRST_BYTES = 64
_LABEL = 64


class HandshakeError(Exception):
    """The handshake could not complete; ``reason`` is a one-line explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerifyFailure(Exception):
    """The verifying handshake rejected the chain (OpenSSL's code and message)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Handshake:
    """What one completed handshake produced."""

    version: str
    cipher: str
    chain: list[x509.Certificate]  # as sent by the server, leaf first
    verified: list[x509.Certificate] = field(default_factory=list)  # trusted path, root last


def inspect_context() -> ssl.SSLContext:
    """A client context that completes any handshake so the chain can be read."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _permissive(context)
    return context


def verify_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context: system store or ``ca_file``; blocking (reads files)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # hostname_matches() reports it as its own line
    _permissive(context)
    context.verify_flags |= _NO_CHECK_TIME
    return context


def _permissive(context: ssl.SSLContext) -> None:
    context.set_ciphers(_CIPHERS)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED


def where(address: str, port: int) -> str:
    """``host:port`` with IPv6 addresses bracketed."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def handshake(
    address: str, port: int, server_name: str | None, context: ssl.SSLContext, stage: list[str]
) -> Handshake:
    """Connect to ``address:port`` and complete a TLS handshake with SNI ``server_name``.

    ``stage[0]`` always says what is being waited for, so the caller's timeout can
    name it. Raises :class:`HandshakeError` when the peer cannot be reached or
    does not speak TLS, :class:`VerifyFailure` when a verifying context rejects
    the chain.
    """
    peer = where(address, port)
    stage[0] = f"connecting to {peer}"
    try:
        reader, writer = await asyncio.open_connection(address, port)
    except OSError as exc:
        raise HandshakeError(f"cannot connect to {peer}: {exc.strerror or exc}") from None
    stage[0] = f"waiting for the TLS handshake with {peer} (TCP connected, no TLS answer)"
    try:
        return await _exchange(reader, writer, peer, server_name, context)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    where: str,
    server_name: str | None,
    context: ssl.SSLContext,
) -> Handshake:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    first = bytearray()  # the peer's first bytes, to name what it speaks when it is not TLS
    while True:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except ssl.SSLCertVerificationError as exc:
            raise VerifyFailure(exc.verify_code, exc.verify_message) from None
        except ssl.SSLError as exc:
            raise HandshakeError(_ssl_reason(exc, where, bytes(first))) from None
        try:
            if pending := outgoing.read():
                writer.write(pending)
                await writer.drain()
            if done:
                break
            data = await reader.read(65536)
        except OSError as exc:
            raise HandshakeError(f"{where} {_os_reason(exc)} during the TLS handshake") from None
        if not data:
            raise HandshakeError(f"{where} closed the connection during the TLS handshake{_peek(bytes(first))}")
        if len(first) < _FIRST_BYTES:
            first += data[: _FIRST_BYTES - len(first)]
        incoming.write(data)
    cipher = tls.cipher()
    return Handshake(
        version=_version_name(tls.version() or "unknown"),
        cipher=cipher[0] if cipher else "unknown",
        chain=_chain(tls, "get_unverified_chain"),
        verified=_chain(tls, "get_verified_chain") if context.verify_mode != ssl.CERT_NONE else [],
    )


def _chain(tls: ssl.SSLObject, method: str) -> list[x509.Certificate]:
    # Python 3.13 made get_(un)verified_chain public (returning DER bytes); 3.10-3.12
    # have them only on the private _ssl object (returning _ssl.Certificate).
    getter: Any = getattr(tls, method, None) or getattr(tls._sslobj, method)  # type: ignore[attr-defined]
    certs: list[x509.Certificate] = []
    for item in getter() or ():
        if isinstance(item, bytes):
            certs.append(x509.load_der_x509_certificate(item))
        else:
            certs.append(x509.load_pem_x509_certificate(item.public_bytes().encode("ascii")))
    return certs


def _version_name(raw: str) -> str:
    """``TLSv1.3`` -> ``TLS 1.3``, the spelling blackbox_exporter uses in its label."""
    return {"TLSv1": "TLS 1.0", "SSLv3": "SSL 3.0"}.get(raw) or raw.replace("TLSv", "TLS ")


def _ssl_reason(exc: ssl.SSLError, where: str, first: bytes) -> str:
    reason = (exc.reason or exc.strerror or str(exc)).replace("_", " ").lower()
    if first and first[:1] not in (b"\x15", b"\x16"):  # neither a TLS alert nor a handshake record
        return f"{where} does not speak TLS{_peek(first)}"
    return f"TLS handshake with {where} failed: {reason}"


def _peek(first: bytes) -> str:
    if first.startswith(b"HTTP/"):
        line = first.split(b"\r\n", 1)[0].decode("ascii", "replace")
        return f" (it answered in plain HTTP: {line!r})"
    if first and first[:1] not in (b"\x15", b"\x16"):
        return f" (it sent {first[:16].hex(' ')})"
    return ""


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError):
        return "reset the connection"
    return f"failed ({exc.strerror or exc})"


@dataclass(frozen=True)
class CertFacts:
    """The facts of one certificate the check judges and reports."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key: str
    weak_key: bool
    signature: str
    self_signed: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the result details."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key": self.key,
            "signature": self.signature,
        }


def facts(cert: x509.Certificate) -> CertFacts:
    """Extract what the check needs from ``cert``."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else "DSA"
        key_text, weak = f"{kind}-{key.key_size}", key.key_size < 2048
    else:
        key_text, weak = type(key).__name__.removeprefix("_").replace("PublicKey", ""), False
    if hasattr(key, "curve"):
        key_text = f"EC-{key.curve.name}"
    algorithm = cert.signature_hash_algorithm
    return CertFacts(
        subject=_cn(cert.subject, cert),
        issuer=_cn(cert.issuer),
        serial=format(cert.serial_number, "x")[:_LABEL],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key=key_text,
        weak_key=weak,
        signature=algorithm.name if algorithm is not None else "none",
        self_signed=cert.issuer == cert.subject,
    )


def _cn(name: x509.Name, cert: x509.Certificate | None = None) -> str:
    """The common name, else the first DNS name, else the whole name; bounded for labels."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if values:
        return str(values[0].value)[:_LABEL] or "-"
    names = _dns_names(cert) if cert is not None else []
    return (names[0] if names else name.rfc4514_string())[:_LABEL] or "-"


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


def names(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    return _dns_names(cert)


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching against subjectAltName: a ``*`` only as the whole leftmost label."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False  # browsers ignore the CN; so do we
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return address in san.get_values_for_type(x509.IPAddress)
    for raw in san.get_values_for_type(x509.DNSName):
        pattern = raw.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:] and "." in rest:
                return True
    return False

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
import os
import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

__all__ = [
    "Handshake",
    "HandshakeError",
    "VerifyFailure",
    "handshake",
    "inspect_context",
    "verify_context",
    "where",
]

#: OpenSSL's X509_V_FLAG_NO_CHECK_TIME (not in ssl.VerifyFlags): the verifying
#: handshake judges trust only, so an expired certificate is reported once, by us,
#: with its date, instead of hiding a second problem behind "certificate has expired".
_NO_CHECK_TIME = 0x200000
#: Security level 0 lets OpenSSL complete handshakes with RSA-1024, SHA-1 and
#: TLS 1.0/1.1, so each weakness is measured and reported instead of aborting.
#: The list is OpenSSL 3's DEFAULT (ALL less COMPLEMENTOFDEFAULT, removed with "-" so that
#: suites can come back) followed by the DSS suites DEFAULT drops: a DSA-keyed site can then be
#: inspected and judged, and every other server sees DEFAULT's order unchanged.
_CIPHERS = "ALL:-COMPLEMENTOFDEFAULT:aDSS:!aNULL:!eNULL:@SECLEVEL=0"
_FIRST_BYTES = 64


class HandshakeError(Exception):
    """The handshake could not complete; ``reason`` is a one-line explanation.

    ``connected`` is false when not even TCP connected (a client would try the next address).
    """

    def __init__(self, reason: str, connected: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.connected = connected


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
        # asyncio's message repeats the address; the errno's text is the useful part.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise HandshakeError(f"cannot connect to {peer}: {reason.lower()}", connected=False) from None
    stage[0] = f"waiting for the TLS handshake with {peer} (TCP connected, no TLS answer)"
    try:
        return await _exchange(reader, writer, peer, server_name, context)
    finally:
        # abort, not close: close() waits to flush, and a peer that stopped reading would hold us.
        writer.transport.abort()
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
    try:
        chain = _chain(tls, "get_unverified_chain")
        verified = _chain(tls, "get_verified_chain") if context.verify_mode != ssl.CERT_NONE else []
    except ValueError as exc:  # a malformed certificate is the site's defect, not our bug
        raise HandshakeError(f"{where} sent a certificate that cannot be parsed: {exc}") from None
    if not chain:
        raise HandshakeError(f"{where} sent no certificate")
    return Handshake(_version_name(tls.version() or "unknown"), cipher[0] if cipher else "unknown", chain, verified)


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

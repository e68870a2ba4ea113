"""WHOIS over TCP 43 (RFC 3912) for TLDs without RDAP, with parsers for the answers the clients see.

TCI, the registry of ``.ru``, ``.su`` and ``.рф``, answers ``paid-till:`` and
``state:``; gTLD-style servers answer ``Registry Expiry Date:`` and ``Domain Status:``.
The read is bounded by ``max_answer`` bytes and the caller's deadline: a server
that never closes the connection is a failure, not a hang.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

from checks.domain_config import HostPort
from checks.domain_rdap import Failure, Registration, parse_time
from sitewatch.probe import Context, format_size

__all__ = ["WHOIS_SERVERS", "parse_whois", "query_whois"]

#: TLDs the IANA RDAP bootstrap lacks and the clients use (A-labels).
WHOIS_SERVERS = {
    "ru": HostPort(("whois.tcinet.ru", 43)),
    "su": HostPort(("whois.tcinet.ru", 43)),
    "xn--p1ai": HostPort(("whois.tcinet.ru", 43)),  # .рф
}

_EXPIRY_KEYS = (
    "paid-till",  # TCI (.ru, .su, .рф)
    "registry expiry date",  # gTLDs (ICANN's RDDS profile)
    "registrar registration expiration date",
    "expiry date",
    "expiration date",
    "expires",
    "expire",
)
_STATUS_KEYS = ("domain status", "status", "state")
_REGISTRAR_KEYS = ("registrar",)
_NOT_FOUND = re.compile(r"no entries found|no match for|not found|no data found|no object found", re.IGNORECASE)
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z -]*?)\s*:\s*(.*?)\s*$")


async def query_whois(ctx: Context, server: HostPort, domain: str, limit: int) -> Registration:
    """Send the domain, read the whole answer (until the server closes), parse it.

    The caller's timeout bounds the read: a server that never closes costs that timeout.
    """
    host, port = server
    address = host if _is_ip(host) else await _resolve(ctx, host, port)
    try:
        reader, writer = await asyncio.open_connection(address, port)
    except OSError as exc:
        raise Failure(f"cannot connect to WHOIS server {server}: {type(exc).__name__}") from None
    body = bytearray()
    try:
        writer.write(domain.encode("ascii") + b"\r\n")
        await writer.drain()
        while chunk := await reader.read(16 * 1024):
            body += chunk
            if len(body) > limit:
                raise Failure(f"WHOIS answer from {server} is larger than max_answer {format_size(limit)}: refused")
    except OSError as exc:
        raise Failure(f"WHOIS server {server} broke the connection: {type(exc).__name__}") from None
    finally:
        writer.transport.abort()
    return parse_whois(body.decode("utf-8", "replace"), f"WHOIS {server}", domain)


async def _resolve(ctx: Context, host: str, port: int) -> str:
    try:
        found = await ctx.resolver.resolve(host, port, socket.AF_UNSPEC)
    except OSError as exc:
        raise Failure(f"cannot resolve WHOIS server {host}: {exc.strerror or exc}") from None
    if not found:
        raise Failure(f"cannot resolve WHOIS server {host}")
    return str(found[0]["host"])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_whois(text: str, source: str, domain: str) -> Registration:
    """Expiry, statuses and registrar from a WHOIS answer; a Failure if the domain or the date is missing."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.lstrip().startswith(("%", "#", ">>>")):
            continue
        match = _LINE.match(line)
        if match and match.group(2):
            fields.setdefault(match.group(1).lower(), []).append(match.group(2))
    expiry = next((parse_time(v[0]) for k in _EXPIRY_KEYS if (v := fields.get(k))), None)
    if expiry is None:
        if _NOT_FOUND.search(text):
            raise Failure(f"{source} has no record of {domain}: not registered, or deleted?")
        raise Failure(f"{source} answer has no expiry date this parser knows ({len(text)} characters)")
    statuses: list[str] = []
    for key in _STATUS_KEYS:
        for value in fields.get(key, ()):
            # "clientHold https://icann.org/epp#clientHold" / TCI's "REGISTERED, NOT DELEGATED, VERIFIED"
            statuses += [s.strip().split(" http")[0] for s in value.split(",") if s.strip()]
    registrar = next((v[0] for k in _REGISTRAR_KEYS if (v := fields.get(k))), "")
    return Registration(expiry, tuple(statuses), registrar, source)

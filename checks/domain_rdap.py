"""RDAP for the ``domain`` check: the IANA bootstrap (RFC 9224) and a domain's answer (RFC 9083).

Reads are capped (``max_answer``) and status codes are mapped to reasons, so every
failure is a :class:`Failure` with one line for the summary; 429 carries the
server's ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aiohttp

from sitewatch.probe import Context, format_size

__all__ = [
    "Failure",
    "Registration",
    "find_service",
    "load_bootstrap",
    "parse_bootstrap",
    "parse_time",
    "query_rdap",
    "read_capped",
]

_ACCEPT = "application/rdap+json, application/json;q=0.9"


class Failure(Exception):
    """Could not learn the registration; ``retry_after`` is the server's wish, in seconds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Registration:
    """What the registry says about a domain."""

    expiry: float  # unix seconds
    statuses: tuple[str, ...] = ()
    registrar: str = ""
    source: str = ""  # "RDAP <base URL>" or "WHOIS <server>"
    extra: dict[str, Any] = field(default_factory=dict)


def parse_bootstrap(document: Any) -> dict[str, list[str]]:
    """Label (``com``, ``co.uk``, ``xn--p1ai``) → base URLs, from an RFC 9224 ``dns.json``."""
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, list):
        raise ValueError("not an RDAP bootstrap file (no services list)")
    table: dict[str, list[str]] = {}
    for service in services:
        if not (isinstance(service, list) and len(service) >= 2 and all(isinstance(s, list) for s in service[:2])):
            raise ValueError("not an RDAP bootstrap file (a service is not [labels, urls])")
        urls = [u if u.endswith("/") else u + "/" for u in service[1] if isinstance(u, str)]
        # RFC 9224 §3: prefer https when a service lists both.
        urls.sort(key=lambda u: not u.startswith("https://"))
        for label in service[0]:
            if isinstance(label, str) and urls:
                table[label.lower().rstrip(".")] = urls
    if not table:
        raise ValueError("not an RDAP bootstrap file (no services)")
    return table


def load_bootstrap() -> dict[str, list[str]]:
    """The bootstrap file shipped with sitewatch (trimmed, same format as IANA's)."""
    text = resources.files("checks").joinpath("data/rdap_dns.json").read_text("utf-8")
    return parse_bootstrap(json.loads(text))


def find_service(table: dict[str, list[str]], domain: str) -> tuple[str, list[str]] | None:
    """The longest bootstrap label that ``domain`` ends with, and its URLs (RFC 9224 §4)."""
    labels = domain.split(".")
    for start in range(1, len(labels)):
        suffix = ".".join(labels[start:])
        if suffix in table:
            return suffix, table[suffix]
    return None


async def read_capped(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The body, or a Failure once it passes ``limit`` bytes (a 50 MB answer is never held)."""
    if response.content_length is not None and response.content_length > limit:
        raise Failure(f"{what} is {format_size(response.content_length)}, more than max_answer {format_size(limit)}")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise Failure(f"{what} is larger than max_answer {format_size(limit)}: refused")
    return bytes(body)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


async def query_rdap(ctx: Context, base: str, domain: str, limit: int) -> Registration:
    """Ask ``base`` for ``domain`` and read its expiration event, statuses and registrar."""
    url = f"{base}domain/{domain}"
    async with ctx.session.get(
        url, headers={"Accept": _ACCEPT}, timeout=aiohttp.ClientTimeout(total=None), allow_redirects=True
    ) as response:
        if response.status == 429:
            wait = retry_after(response.headers.get("Retry-After"), ctx.clock.time())
            hint = f" (Retry-After {int(wait)}s)" if wait is not None else ""
            raise Failure(f"RDAP server {base} is rate-limiting us: HTTP 429{hint}", wait)
        if response.status == 404:
            raise Failure(f"RDAP server {base} has no record of {domain} (HTTP 404): not registered, or deleted?")
        if response.status != 200:
            raise Failure(f"RDAP server {base} answered HTTP {response.status}")
        body = await read_capped(response, limit, "RDAP answer")
    try:
        document = json.loads(body)
    except ValueError:
        raise Failure(f"RDAP answer from {base} is not JSON ({len(body)} bytes)") from None
    return parse_domain(document, f"RDAP {base}")


def parse_domain(document: Any, source: str) -> Registration:
    """The parts of an RFC 9083 domain object the check judges."""
    if not isinstance(document, dict) or document.get("objectClassName") != "domain":
        raise Failure(f"{source} answer is not an RDAP domain object")
    expiry = None
    for event in document.get("events") or ():
        if isinstance(event, dict) and event.get("eventAction") == "expiration":
            expiry = parse_time(event.get("eventDate"))
    if expiry is None:
        raise Failure(f"{source} answer has no valid expiration event")
    statuses = tuple(s for s in document.get("status") or () if isinstance(s, str))
    return Registration(expiry, statuses, _registrar(document), source)


def parse_time(value: Any) -> float | None:
    """Unix seconds from an ISO 8601 date or date-time (UTC when no zone is given); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def _registrar(document: dict[str, Any]) -> str:
    """The registrar entity's ``fn`` from its jCard (RFC 7095), if any."""
    for entity in document.get("entities") or ():
        if not isinstance(entity, dict) or "registrar" not in (entity.get("roles") or ()):
            continue
        card = entity.get("vcardArray")
        if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
            for prop in card[1]:
                if isinstance(prop, list) and len(prop) == 4 and prop[0] == "fn" and isinstance(prop[3], str):
                    return prop[3]
        return str(entity.get("handle") or "")
    return ""

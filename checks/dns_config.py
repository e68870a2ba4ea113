"""Settings of the ``dns`` check: expected records, parsed with dnspython at config load."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pydantic
from dns.rdtypes.ANY.TXT import TXT

from sitewatch.probe import CheckConfig

__all__ = ["RECORD_TYPES", "DnsConfig", "Expected", "Server", "parse_record", "record_key"]

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
RecordType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT"]
#: How a record is compared: the rdata itself (names case-insensitively), TXT by its joined text.
Expected = frozenset[object]


def parse_record(rdtype: str, text: str) -> dns.rdata.Rdata:
    """One record in zone-file syntax (``10 mx1.example.com``); a TXT value is taken as the text itself."""
    if rdtype == "TXT":  # a long SPF or DKIM value is several 255-byte strings on the wire
        data = text.encode("utf-8")
        chunks = [data[at : at + 255] for at in range(0, len(data), 255)] or [b""]
        return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    return dns.rdata.from_text("IN", rdtype, text, origin=dns.name.root, relativize=False)


def record_key(rdata: dns.rdata.Rdata) -> object:
    """What two records are compared by: TXT by the concatenation of its strings (RFC 7208 §3.3)."""
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return ("TXT", b"".join(strings))
    return rdata


def record_text(rdata: dns.rdata.Rdata) -> str:
    """A record as people write it (a TXT record's strings joined)."""
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return b"".join(strings).decode("utf-8", "replace")
    return str(rdata.to_text())


def _records(value: Any) -> dict[str, tuple[dns.rdata.Rdata, ...]]:
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a mapping of record type to values like {{MX: ['10 mx1.example.com']}}, got {value!r}"
        )
    out: dict[str, tuple[dns.rdata.Rdata, ...]] = {}
    for rdtype, values in value.items():
        kind = str(rdtype).upper()
        if kind not in RECORD_TYPES:
            raise ValueError(f"unsupported record type {rdtype!r} (expected one of {', '.join(RECORD_TYPES)})")
        items = [values] if isinstance(values, str) else values
        if not isinstance(items, list):
            raise ValueError(f"{kind}: expected a list of records, got {values!r}")
        parsed = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"{kind}: expected each record as a string, got {item!r} (quote it)")
            try:
                parsed.append(parse_record(kind, item))
            except (dns.exception.DNSException, ValueError) as exc:
                raise ValueError(f"{kind}: invalid record {item!r} ({exc})") from None
        out[kind] = tuple(parsed)
    return out


class Server(tuple[str, int]):
    """A resolver address: ``192.0.2.53``, ``192.0.2.53:5353`` or ``[2001:db8::53]:5353``."""

    __slots__ = ()

    def __str__(self) -> str:
        host, port = self
        shown = f"[{host}]" if ":" in host else host
        return shown if port == 53 else f"{shown}:{port}"


def _server(value: Any) -> Server:
    if not isinstance(value, str):
        raise ValueError(f"expected a resolver address like 192.0.2.53 or 192.0.2.53:5353, got {value!r}")
    text, port = value.strip(), "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"expected a resolver IP address (optionally :port), got {value!r}") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"port must be 1-65535, got {value!r}")
    return Server((str(address), number))


class DnsConfig(CheckConfig):
    """``type: dns`` — the records of a name, as one or several resolvers answer them."""

    name: str | None = None  # default: the host of the site's URL
    records: Annotated[dict[str, tuple[dns.rdata.Rdata, ...]], pydantic.BeforeValidator(_records)] = {}
    resolvers: tuple[Annotated[Server, pydantic.PlainValidator(_server)], ...] = ()  # default: /etc/resolv.conf
    dnssec: bool = False  # every answer must carry the AD flag (validated by the resolver)

    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)

"""Registry answers in their real shapes, for the domain check's loopback RDAP and WHOIS servers.

Sources of the shapes (values are invented; no text is copied):

- RDAP: the domain object Verisign's RDAP service for .com returns
  (``GET https://rdap.verisign.com/com/v1/domain/<NAME>``): RFC 9083 with the ICANN gTLD
  RDAP Response Profile — ``objectClassName``, ``handle``, upper-case ``ldhName``, ``links``,
  ``status`` in RFC 8056 spelling ("client transfer prohibited"), a registrar entity with
  an ``IANA Registrar ID`` public ID, a jCard and a nested abuse entity, ``events``
  (registration, expiration, last changed, last update of RDAP database), ``secureDNS``,
  ``nameservers``, ``rdapConformance`` and ``notices``.
- RDAP bootstrap: the IANA file ``https://data.iana.org/rdap/dns.json`` (RFC 9224).
- WHOIS: the answers of TCI's WHOIS service (``whois.tcinet.ru``, port 43) for .ru, .su
  and .рф: a ``%`` header, ``domain:``, ``nserver:``, ``state:``, ``org:``, ``registrar:``,
  ``admin-contact:``, ``created:``, ``paid-till:``, ``free-date:``, ``source: TCI`` and a
  ``Last updated on`` line; for an unknown name, "No entries found for the selected source(s)."
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["bootstrap", "iso", "rdap_domain", "tci_not_found", "tci_whois"]


def iso(when: dt.datetime) -> str:
    """RDAP's date format: UTC with a Z."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bootstrap(base: str, tlds: dict[str, str]) -> dict[str, Any]:
    """An RFC 9224 dns.json whose services point at ``base`` + path per TLD."""
    return {
        "description": "RDAP bootstrap file for Domain Name System registrations",
        "publication": iso(dt.datetime.now(dt.UTC)),
        "services": [[[tld], [f"{base}{path}"]] for tld, path in tlds.items()],
        "version": "1.0",
    }


def rdap_domain(name: str, expires: dt.datetime, statuses: list[str] | None = None) -> dict[str, Any]:
    """A .com domain object as Verisign's RDAP server shapes it."""
    upper = name.upper()
    base = "https://rdap.verisign.com/com/v1/"
    registered = expires - dt.timedelta(days=365 * 12)
    return {
        "objectClassName": "domain",
        "handle": "2138514_DOMAIN_COM-VRSN",
        "ldhName": upper,
        "links": [
            {
                "value": f"{base}domain/{upper}",
                "rel": "self",
                "href": f"{base}domain/{upper}",
                "type": "application/rdap+json",
            },
            {
                "value": "https://rdap.registrar.example/domain/" + upper,
                "rel": "related",
                "href": "https://rdap.registrar.example/domain/" + upper,
                "type": "application/rdap+json",
            },
        ],
        "status": statuses or ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "9999",
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
                "vcardArray": [
                    "vcard",
                    [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar, Inc."]],
                ],
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["abuse"],
                        "vcardArray": [
                            "vcard",
                            [
                                ["version", {}, "text", "4.0"],
                                ["fn", {}, "text", ""],
                                ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"],
                                ["email", {}, "text", "abuse@registrar.example"],
                            ],
                        ],
                    }
                ],
            }
        ],
        "events": [
            {"eventAction": "registration", "eventDate": iso(registered)},
            {"eventAction": "expiration", "eventDate": iso(expires)},
            {"eventAction": "last changed", "eventDate": iso(expires - dt.timedelta(days=300))},
            {"eventAction": "last update of RDAP database", "eventDate": iso(dt.datetime.now(dt.UTC))},
        ],
        "secureDNS": {"delegationSigned": False},
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": "NS1.DNSHOST.EXAMPLE"},
            {"objectClassName": "nameserver", "ldhName": "NS2.DNSHOST.EXAMPLE"},
        ],
        "rdapConformance": [
            "rdap_level_0",
            "icann_rdap_technical_implementation_guide_1",
            "icann_rdap_response_profile_1",
        ],
        "notices": [
            {
                "title": "Terms of Use",
                "description": ["Use of this service is subject to the registry's terms."],
                "links": [{"href": "https://registry.example/terms", "type": "text/html"}],
            },
            {
                "title": "Status Codes",
                "description": ["For more information on domain status codes, see the registry's page."],
                "links": [{"href": "https://icann.example/epp", "type": "text/html"}],
            },
        ],
    }


def tci_whois(name: str, paid_till: dt.datetime, state: str = "REGISTERED, DELEGATED, VERIFIED") -> str:
    """A TCI WHOIS answer for a .ru/.su/.рф domain (CRLF lines, as port 43 servers send)."""
    created = paid_till - dt.timedelta(days=365 * 9)
    free = (paid_till + dt.timedelta(days=31)).date().isoformat()
    lines = [
        "% TCI Whois Service. Terms of use:",
        "% https://registry.example/documents/whois_ru_rf.pdf (in Russian)",
        "% https://registry.example/documents/whois_su.pdf (in Russian)",
        "",
        f"domain:        {name.upper()}",
        f"nserver:       ns1.{name}.",
        f"nserver:       ns2.{name}.",
        f"state:         {state}",
        'org:           LLC "Primer Shop"',
        "taxpayer-id:   7700000000",
        "registrar:     EXAMPLE-REG-RU",
        "admin-contact: https://registrar.example/whois",
        f"created:       {iso(created)}",
        f"paid-till:     {iso(paid_till)}",
        f"free-date:     {free}",
        "source:        TCI",
        "",
        f"Last updated on {iso(dt.datetime.now(dt.UTC))}",
        "",
    ]
    return "\r\n".join(lines)


def tci_not_found() -> str:
    """TCI's answer for a name it does not hold."""
    return "% TCI Whois Service. Terms of use:\r\n%\r\n\r\nNo entries found for the selected source(s).\r\n"

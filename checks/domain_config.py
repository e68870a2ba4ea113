"""Settings of the ``domain`` check."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import idna
import pydantic
import yarl

from sitewatch.probe import CheckConfig, Duration, Size

__all__ = ["DEFAULT_HOLD", "DomainConfig", "HostPort", "a_label", "default_cache_dir", "status_key"]

#: Registry statuses that take a site offline: EPP (RFC 5731; RDAP spells them with spaces, RFC 8056)
#: and TCI's "NOT DELEGATED" (.ru, .su, .рф: no name servers in the zone).
DEFAULT_HOLD = ("clientHold", "serverHold", "pendingDelete", "redemptionPeriod", "NOT DELEGATED")


def default_cache_dir() -> Path:
    """Where answers are cached when ``cache_dir`` is not set."""
    return Path(tempfile.gettempdir()) / "sitewatch-domain"


def status_key(status: str) -> str:
    """One spelling for a status: EPP ``clientHold`` and RDAP ``client hold`` are the same."""
    return "".join(status.split()).lower()


def a_label(name: str) -> str:
    """The ASCII (punycode) form of a domain name, written either way (``пример.рф`` or ``xn--e1afmkfd.xn--p1ai``)."""
    try:
        return idna.encode(name.strip().rstrip("."), uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(f"expected a domain name, got {name!r} ({exc})") from None


def _domain(value: Any) -> str:
    if not isinstance(value, str) or "." not in value.strip(".") or "/" in value:
        raise ValueError(f"expected a registered domain like example.com or пример.рф, got {value!r}")
    return a_label(value)


class HostPort(tuple[str, int]):
    """A WHOIS server: ``whois.tcinet.ru`` or ``127.0.0.1:4343``."""

    __slots__ = ()

    def __str__(self) -> str:
        host, port = self
        return host if port == 43 else f"{host}:{port}"


def _host_port(value: Any) -> HostPort:
    if isinstance(value, HostPort):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a WHOIS server like whois.tcinet.ru or 127.0.0.1:4343, got {value!r}")
    try:
        url = yarl.URL(f"whois://{value.strip()}")
        port = url.explicit_port
    except ValueError:
        url, port = yarl.URL(), None
    if not url.host or url.path not in ("", "/"):
        raise ValueError(f"expected a WHOIS server like whois.tcinet.ru or 127.0.0.1:4343, got {value!r}")
    return HostPort((url.raw_host or url.host, port or 43))


def _url(value: Any) -> str:
    url = yarl.URL(str(value))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return str(value)


class DomainConfig(CheckConfig):
    """``type: domain`` — registration expiry and registry holds, through RDAP or WHOIS."""

    domain: Annotated[str, pydantic.BeforeValidator(_domain)] | None = None  # default: from the site's URL (PSL)
    warn_days: Annotated[float, pydantic.Field(ge=0)] = 30
    crit_days: Annotated[float, pydantic.Field(ge=0)] = 7
    hold_statuses: tuple[str, ...] = DEFAULT_HOLD  # any of these is critical
    # RFC 9224 bootstrap; the copy shipped with sitewatch is used until this URL has answered.
    rdap_bootstrap_url: Annotated[str, pydantic.BeforeValidator(_url)] | None = None
    # For a TLD without RDAP (.ru, .su, .рф have built-in servers); forces WHOIS when set.
    whois_server: Annotated[HostPort, pydantic.PlainValidator(_host_port)] | None = None
    refresh: Duration = 86400.0  # a domain is asked at most this often
    retry: Duration = 3600.0  # after a failure, unless the server's Retry-After asks for longer
    max_answer: Size = 1024 * 1024
    cache_dir: Path | None = None  # default: <tmp>/sitewatch-domain

    @pydantic.model_validator(mode="after")
    def _order(self) -> DomainConfig:
        if self.crit_days > self.warn_days:
            raise ValueError(f"crit_days ({self.crit_days:g}) must not exceed warn_days ({self.warn_days:g})")
        if self.refresh < 3600:
            raise ValueError("refresh must be at least 1h: registries rate-limit, and expiry dates move slowly")
        return self

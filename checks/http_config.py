"""Settings of the ``http`` check and the small matchers they are made of."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

import pydantic
import yarl

from checks.http_json import JsonAssertion, parse_assertion
from sitewatch.probe import PRIVATE_NETWORKS, CheckConfig, Network, Pattern, Size

__all__ = ["BasicAuth", "HttpConfig", "Matcher", "RegexMatch", "StatusRange"]

_STATUS = re.compile(r"([1-5])xx|([1-5]\d\d)(?:-([1-5]\d\d))?", re.IGNORECASE)


class StatusRange(tuple[int, int]):
    """An inclusive range of HTTP status codes, written ``200``, ``"2xx"`` or ``"200-299"``."""

    __slots__ = ()

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self[0] <= code <= self[1]

    def __str__(self) -> str:
        low, high = self
        if low == high:
            return str(low)
        if low % 100 == 0 and high == low + 99:
            return f"{low // 100}xx"
        return f"{low}-{high}"


def _status_range(value: Any) -> StatusRange:
    if isinstance(value, StatusRange):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return StatusRange((value, value))
    match = _STATUS.fullmatch(str(value).strip()) if isinstance(value, str | int) else None
    if match is None or isinstance(value, bool):
        raise ValueError(f"expected a status code like 200, '2xx' or '200-399', got {value!r}")
    klass, low, high = match.groups()
    if klass:
        return StatusRange((int(klass) * 100, int(klass) * 100 + 99))
    start, end = int(low), int(high or low)
    if end < start:
        raise ValueError(f"expected a range low-high, got {value!r}")
    return StatusRange((start, end))


class RegexMatch(CheckConfig):
    """``{regex: "..."}``: the body must (or must not) match this regular expression."""

    regex: Pattern


class BasicAuth(CheckConfig):
    """HTTP basic authentication; put the password in ``${ENV}`` or ``${file:...}``."""

    username: str
    password: str


def _matcher_kind(value: Any) -> str:
    return "regex" if isinstance(value, dict | RegexMatch) else "text"


#: A plain string is a case-sensitive substring; ``{regex: ...}`` is a regular expression.
#: The discriminator picks the branch from the shape, so an error names one branch only.
Matcher = Annotated[
    Annotated[str, pydantic.Tag("text")] | Annotated[RegexMatch, pydantic.Tag("regex")],
    pydantic.Discriminator(_matcher_kind),
]


def describe(matcher: Matcher) -> str:
    """How a matcher is named in summaries."""
    return repr(matcher) if isinstance(matcher, str) else f"/{matcher.regex.pattern}/"


def find(matcher: Matcher, text: str) -> tuple[int, int] | None:
    """Span of the first match of ``matcher`` in ``text``, if any."""
    if isinstance(matcher, str):
        at = text.find(matcher)
        return (at, at + len(matcher)) if at >= 0 else None
    found = matcher.regex.search(text)
    return found.span() if found else None


def _proxy(value: Any) -> str:
    url = yarl.URL(str(value))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected a proxy URL like http://proxy.local:3128, got {value!r}")
    return str(value)


class HttpConfig(CheckConfig):
    """``type: http`` — request the page and judge status, headers and content."""

    url: str | None = None  # absolute, or a path relative to the site's URL
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = {}
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None
    expect_status: tuple[Annotated[StatusRange, pydantic.PlainValidator(_status_range)], ...] = (
        StatusRange((200, 399)),
    )
    contains: tuple[Matcher, ...] = ()
    not_contains: tuple[Matcher, ...] = ()
    expect_headers: dict[str, Pattern] = {}
    # JMESPath assertions on a JSON answer: "status == 'UP'" or {path: status, equals: UP}.
    json_: tuple[Annotated[JsonAssertion, pydantic.PlainValidator(parse_assertion)], ...] = pydantic.Field(
        (), alias="json"
    )
    follow_redirects: bool = True
    max_redirects: Annotated[int, pydantic.Field(ge=0, le=50)] = 10
    # A public site redirecting into the agent's own network is refused unless allowed here.
    allow_private_redirects: bool = False
    private_networks: tuple[Network, ...] = PRIVATE_NETWORKS
    max_body: Size = 2 * 1024 * 1024
    ip_protocol: Literal["auto", "ip4", "ip6"] = "auto"
    ip_fallback: bool = True
    verify_tls: bool = True
    # Resume the TLS session between probes, with a full handshake at least every 10 probes
    # or 5 minutes (sitewatch/net/tlssessions.py): about a third less CPU per HTTPS probe.
    tls_resumption: bool = True
    resolve: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    proxy: Annotated[str, pydantic.BeforeValidator(_proxy)] | None = None

    @pydantic.model_validator(mode="after")
    def _one_auth(self) -> HttpConfig:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise ValueError("set basic_auth or bearer_token, not both")
        if not self.expect_status:
            raise ValueError("expect_status must list at least one status code or range")
        return self

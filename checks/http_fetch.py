"""One request chain of the ``http`` check: the exchange, each redirect hop and the guards on it.

Separate from judging the answer (:mod:`checks.http_judge`) because this is the network side:
what may be requested, from where, and which failures mean the site is broken rather than
unmeasured. The check itself (:mod:`checks.http`) ties the two together. These are plain
functions of the check, called once per run (and once per redirect) exactly as the methods
they were: no object of their own per check or per probe (10,000 checks per agent).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yarl

from checks.http_config import HttpConfig
from sitewatch.probe import (
    Context,
    ExchangeError,
    Network,
    Status,
    TlsSessions,
    exchange,
    forbidden_address,
    printable,
    private_address,
    redact_url,
    untrusted_target,
)

if TYPE_CHECKING:
    from checks.http import HttpCheck  # for annotations only: checks.http imports this module

__all__ = ["NOTHING", "Fetch", "FetchFailed", "clean", "fetch_chain", "private_guard"]

_REDIRECTS = {301, 302, 303, 307, 308}
_SNIPPET = 160
#: Reusable no-op context for the usual run without ``resolve:``, an IP family preference or a
#: redirect to guard (shared with :mod:`checks.http`, so no run makes one).
NOTHING = contextlib.nullcontext()


@dataclass
class Fetch:
    """What one request chain produced."""

    url: yarl.URL
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    body_bytes: int = 0
    truncated: bool = False
    content_length: int = -1
    bare_lf: bool = False  # some answer's head ended lines with LF alone
    cert_expiry: float | None = None  # the final answer's TLS chain: earliest notAfter
    tls_resumed: bool = False
    chain: list[str] = field(default_factory=list)
    private: tuple[Network, ...] = ()  # networks redirect hops may not enter


class FetchFailed(Exception):
    """A failure found while fetching; carries the result status and the one-line reason."""

    def __init__(self, status: Status, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


async def fetch_chain(check: HttpCheck, ctx: Context, fetch: Fetch, stage: list[str]) -> None:
    """Request ``fetch.url`` and follow its redirects, filling ``fetch``; raise :class:`FetchFailed`."""
    cfg = check.config
    method, body = cfg.method, check.body
    seen: set[str] = set()  # filled on the first redirect: most runs have none
    while True:
        stage[0] = fetch.url.host or "?"
        # Only the configured URL is trusted; where a redirect leads is the site's choice, not ours.
        hop = untrusted_target(fetch.private) if fetch.chain else NOTHING
        try:
            with hop:
                answer = await exchange(
                    method,
                    fetch.url,
                    headers=check.headers if fetch.url.host == check.start_url.host else check.foreign_headers,
                    body=body,
                    resolver=ctx.resolver,
                    user_agent=ctx.user_agent,
                    verify_tls=cfg.verify_tls,
                    max_body=cfg.max_body,
                    proxy=cfg.proxy,
                    tls_sessions=_sessions(check, fetch.url),
                )
        except ExchangeError as exc:
            failed = _failure(exc)
            if fetch.chain and exc.kind == "protocol":  # say where the bad hop came from
                came_from = fetch.chain[-2] if len(fetch.chain) > 1 else check.start_redacted
                failed = FetchFailed(failed.status, f"{failed.summary}, reached by redirect from {came_from}")
            raise failed from None
        if not fetch.chain:
            fetch.private = private_guard(cfg, answer.peer)
        fetch.status, fetch.reason = answer.status, clean(answer.reason)
        fetch.cert_expiry, fetch.tls_resumed = answer.cert_expiry, answer.tls_resumed
        fetch.bare_lf = fetch.bare_lf or answer.bare_lf
        if cfg.follow_redirects and answer.status in _REDIRECTS:
            if not answer.location:  # as blackbox_exporter: a redirect that leads nowhere is broken
                raise FetchFailed(Status.CRITICAL, f"HTTP {answer.status} redirect without Location")
            fetch.url = _next_hop(check, fetch, answer.location, seen)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            continue
        fetch.headers = answer.headers
        fetch.content_length = answer.content_length
        fetch.body_bytes, fetch.truncated = len(answer.body), answer.truncated
        fetch.body = _decode(answer.body, answer.charset)
        return


def _sessions(check: HttpCheck, url: yarl.URL) -> TlsSessions | None:
    """The TLS sessions this check resumes, made on its first HTTPS request (None: never resume)."""
    if check.tls_sessions is None and url.scheme == "https" and check.config.tls_resumption:
        check.tls_sessions = TlsSessions()
    return check.tls_sessions


def _next_hop(check: HttpCheck, fetch: Fetch, location: str, seen: set[str]) -> yarl.URL:
    if not seen:
        seen.add(str(check.start_url))
    try:
        target = fetch.url.join(yarl.URL(location))
    except ValueError:
        raise FetchFailed(Status.CRITICAL, f"redirect to an invalid URL {location[:80]!r}") from None
    fetch.chain.append(redact_url(target))
    if target.scheme not in ("http", "https"):
        raise FetchFailed(Status.CRITICAL, f"redirect to unsupported scheme {target.scheme!r}: refused")
    if target.host and forbidden_address(target.host):
        raise FetchFailed(Status.CRITICAL, f"redirect to {target.host}, a link-local/metadata address: refused")
    if target.host and private_address(target.host, fetch.private):
        raise FetchFailed(
            Status.CRITICAL,
            f"redirect from a public address to {target.host}, a private address: refused"
            " (allow_private_redirects: true permits it)",
        )
    if str(target) in seen:
        loop = " -> ".join([redact_url(check.start_url), *fetch.chain])
        raise FetchFailed(Status.CRITICAL, f"redirect loop: {loop}")
    if len(fetch.chain) > check.config.max_redirects:
        raise FetchFailed(
            Status.CRITICAL, f"more than {check.config.max_redirects} redirects (last: {redact_url(target)})"
        )
    seen.add(str(target))
    return target


def private_guard(cfg: HttpConfig, peer: str | None) -> tuple[Network, ...]:
    """Networks later hops may not enter: the private ones, when the first hop answered from outside them."""
    if cfg.allow_private_redirects or cfg.proxy is not None:
        return ()  # behind a proxy the peer is the proxy, which says nothing about the site
    if peer is None or private_address(peer, cfg.private_networks):  # cached per address by the helper
        return ()
    return cfg.private_networks


def clean(text: str) -> str:
    """Printable, bounded text from an untrusted response."""
    return printable(text, _SNIPPET)


#: What each failed step of a request means for the site: a bad certificate or a refused
#: redirect is the site's fault (critical); anything else means it could not be measured.
_FAILURE_STATUS = {"certificate": Status.CRITICAL, "forbidden": Status.CRITICAL, "request": Status.CRITICAL}


def _failure(exc: ExchangeError) -> FetchFailed:
    detail = clean(exc.detail)
    if exc.kind == "forbidden":
        detail = f"redirect refused: {detail}"
    return FetchFailed(_FAILURE_STATUS.get(exc.kind, Status.ERROR), detail)


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8 rather than fail the check
        return raw.decode("utf-8", errors="replace")

"""``http`` check: status, headers and content of a page, with blackbox-style phase timings."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yarl

from checks.http_config import HttpConfig, describe, find
from checks.http_json import judge
from sitewatch.probe import (
    Check,
    Context,
    ExchangeError,
    MetricSpec,
    Network,
    Result,
    Sample,
    Status,
    TlsSessions,
    exchange,
    forbidden_address,
    format_duration,
    format_size,
    ip_preference,
    measure_phases,
    printable,
    private_address,
    redact_url,
    resolve_override,
    untrusted_target,
    worst,
)

__all__ = ["HttpCheck"]

_REDIRECTS = {301, 302, 303, 307, 308}
_SNIPPET = 160
_BARE_LF = "server uses bare LF line endings (RFC 9112 allows clients to accept; fix the server)"
#: One label tuple per phase, shared by every result (10,000 checks kept 100,000 copies).
_PHASE_LABELS = {p: (("phase", p),) for p in ("resolve", "connect", "tls", "processing", "transfer")}
#: Reusable no-op context for the usual run without ``resolve:`` or an IP family preference.
_NOTHING = contextlib.nullcontext()
#: Shared by every check without extra headers or a pinned address (most of them): three empty
#: dicts per check were ~2 MB at 10,000 checks. Read-only, so no check can change another's.
_EMPTY: Mapping[str, str] = types.MappingProxyType({})


@dataclass
class _Fetch:
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


class _Failed(Exception):
    """A failure found while fetching; carries the result status and the one-line reason."""

    def __init__(self, status: Status, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


class HttpCheck(Check[HttpConfig]):
    """Requests the site (or ``url:``) and checks status codes, headers and body content."""

    type = "http"
    Config = HttpConfig
    metrics = (
        MetricSpec("probe_http_status_code", "Response HTTP status code (0 when no response)."),
        MetricSpec(
            "probe_http_duration_seconds", "Duration of each HTTP request phase, summed over redirects.", ("phase",)
        ),
        MetricSpec("probe_http_content_length", "Length of the response body from Content-Length, -1 if unknown."),
        MetricSpec("probe_http_uncompressed_body_length", "Bytes of (decompressed) body read, capped by max_body."),
        MetricSpec("probe_http_redirects", "Number of redirects followed."),
        MetricSpec("probe_http_ssl", "1 if the final request used TLS, else 0."),
        MetricSpec(
            "probe_ssl_earliest_cert_expiry",
            "Over TLS: expiry (unix seconds) of the earliest-expiring certificate the server sent in the latest full"
            " handshake (a resumed one sends none).",
        ),
    )

    def __init__(self, config: HttpConfig, site: Any) -> None:
        super().__init__(config, site)
        self.start_url = site.url.join(yarl.URL(config.url)) if config.url else site.url
        headers = dict(config.headers)
        if config.bearer_token is not None:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        if (auth := config.basic_auth) is not None:
            token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        self.headers: Mapping[str, str] = headers or _EMPTY
        # Credentials are for the configured host only, never for a host a redirect names.
        foreign = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        self.foreign_headers: Mapping[str, str] = foreign or _EMPTY
        host = self.start_url.host or ""
        self.override: Mapping[str, str] = {host: str(config.resolve)} if config.resolve is not None else _EMPTY
        self.start_redacted = redact_url(self.start_url)
        self.body = config.body.encode("utf-8") if config.body is not None else None
        # Most checks neither pin an address nor an IP family: skip those context switches per run.
        self.default_family = (config.ip_protocol, config.ip_fallback) == ("auto", True)
        # Per check, so a site's sessions go with it on reload; made on the first HTTPS request
        # (most of 10,000 plain checks never need one).
        self.tls_sessions: TlsSessions | None = None

    @property
    def target_host(self) -> str:
        """Host of the URL this check requests."""
        return self.start_url.host or super().target_host

    async def run(self, ctx: Context) -> Result:
        """Fetch, then judge status, headers and content."""
        stage = [""]
        fetch = _Fetch(self.start_url)
        override = resolve_override(self.override) if self.override else _NOTHING
        family = _NOTHING if self.default_family else ip_preference(self.config.ip_protocol, self.config.ip_fallback)
        with measure_phases() as timer, override:
            with family:
                try:
                    async with asyncio.timeout(ctx.timeout):
                        await self._fetch(ctx, fetch, stage, timer)
                    failure = None
                except _Failed as exc:
                    failure = exc
                except TimeoutError:
                    where = f"{timer.stage} ({stage[0]})" if stage[0] else timer.stage
                    failure = _Failed(Status.ERROR, f"timed out after {format_duration(ctx.timeout)} {where}")
        samples = self._samples(fetch, timer.phases)
        details = {
            "url": self.start_redacted,
            "final_url": self.start_redacted if fetch.url is self.start_url else redact_url(fetch.url),
            "status_code": fetch.status,
            "redirects": fetch.chain,
            "phases": {k: round(v, 6) for k, v in timer.phases.items()},
            "body_bytes": fetch.body_bytes,
            "body_truncated": fetch.truncated,
        }
        if fetch.url.scheme == "https":
            details["tls_resumed"] = fetch.tls_resumed
        if failure is not None:
            if self.tls_sessions is not None:
                self.tls_sessions.clear()  # whatever broke, the next probe proves the certificate afresh
            return Result(failure.status, failure.summary, samples, details)
        status, summary, extra = self._judge(fetch, timer.total)
        return Result(status, summary, samples, {**details, **extra} if extra else details)

    async def _fetch(self, ctx: Context, fetch: _Fetch, stage: list[str], timer: Any) -> None:
        cfg = self.config
        method, body = cfg.method, self.body
        seen: set[str] = set()  # filled on the first redirect: most runs have none
        while True:
            stage[0] = fetch.url.host or "?"
            # Only the configured URL is trusted; where a redirect leads is the site's choice, not ours.
            hop = untrusted_target(fetch.private) if fetch.chain else _NOTHING
            try:
                with hop:
                    answer = await exchange(
                        method,
                        fetch.url,
                        headers=self.headers if fetch.url.host == self.start_url.host else self.foreign_headers,
                        body=body,
                        resolver=ctx.resolver,
                        user_agent=ctx.user_agent,
                        verify_tls=cfg.verify_tls,
                        max_body=cfg.max_body,
                        proxy=cfg.proxy,
                        tls_sessions=self._sessions(fetch.url),
                    )
            except ExchangeError as exc:
                failed = _failure(exc)
                if fetch.chain and exc.kind == "protocol":  # say where the bad hop came from
                    came_from = fetch.chain[-2] if len(fetch.chain) > 1 else self.start_redacted
                    failed = _Failed(failed.status, f"{failed.summary}, reached by redirect from {came_from}")
                raise failed from None
            if not fetch.chain:
                fetch.private = self._private_guard(answer.peer)
            fetch.status, fetch.reason = answer.status, _clean(answer.reason)
            fetch.cert_expiry, fetch.tls_resumed = answer.cert_expiry, answer.tls_resumed
            fetch.bare_lf = fetch.bare_lf or answer.bare_lf
            if cfg.follow_redirects and answer.status in _REDIRECTS:
                if not answer.location:  # as blackbox_exporter: a redirect that leads nowhere is broken
                    raise _Failed(Status.CRITICAL, f"HTTP {answer.status} redirect without Location")
                fetch.url = self._next_hop(fetch, answer.location, seen)
                if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            fetch.headers = answer.headers
            fetch.content_length = answer.content_length
            fetch.body_bytes, fetch.truncated = len(answer.body), answer.truncated
            fetch.body = _decode(answer.body, answer.charset)
            return

    def _sessions(self, url: yarl.URL) -> TlsSessions | None:
        """The TLS sessions this check resumes, made on its first HTTPS request (None: never resume)."""
        if self.tls_sessions is None and url.scheme == "https" and self.config.tls_resumption:
            self.tls_sessions = TlsSessions()
        return self.tls_sessions

    def _next_hop(self, fetch: _Fetch, location: str, seen: set[str]) -> yarl.URL:
        if not seen:
            seen.add(str(self.start_url))
        try:
            target = fetch.url.join(yarl.URL(location))
        except ValueError:
            raise _Failed(Status.CRITICAL, f"redirect to an invalid URL {location[:80]!r}") from None
        fetch.chain.append(redact_url(target))
        if target.scheme not in ("http", "https"):
            raise _Failed(Status.CRITICAL, f"redirect to unsupported scheme {target.scheme!r}: refused")
        if target.host and forbidden_address(target.host):
            raise _Failed(Status.CRITICAL, f"redirect to {target.host}, a link-local/metadata address: refused")
        if target.host and private_address(target.host, fetch.private):
            raise _Failed(
                Status.CRITICAL,
                f"redirect from a public address to {target.host}, a private address: refused"
                " (allow_private_redirects: true permits it)",
            )
        if str(target) in seen:
            loop = " -> ".join([redact_url(self.start_url), *fetch.chain])
            raise _Failed(Status.CRITICAL, f"redirect loop: {loop}")
        if len(fetch.chain) > self.config.max_redirects:
            raise _Failed(
                Status.CRITICAL, f"more than {self.config.max_redirects} redirects (last: {redact_url(target)})"
            )
        seen.add(str(target))
        return target

    def _private_guard(self, peer: str | None) -> tuple[Network, ...]:
        """Networks later hops may not enter: the private ones, when the first hop answered from outside them."""
        cfg = self.config
        if cfg.allow_private_redirects or cfg.proxy is not None:
            return ()  # behind a proxy the peer is the proxy, which says nothing about the site
        if peer is None or private_address(peer, cfg.private_networks):  # cached per address by the helper
            return ()
        return cfg.private_networks

    def _judge(self, fetch: _Fetch, elapsed: float) -> tuple[Status, str, dict[str, Any]]:
        cfg = self.config
        problems: list[tuple[Status, str]] = []
        extra: dict[str, Any] = {}
        code = f"HTTP {fetch.status}" + (f" {fetch.reason}" if fetch.reason else "")
        if not any(fetch.status in r for r in cfg.expect_status):
            expected = ", ".join(map(str, cfg.expect_status))
            problems.append((Status.CRITICAL, f"{code} (expected {expected})"))
        for name, pattern in cfg.expect_headers.items():
            value = fetch.headers.get(name.lower())
            if value is None:
                problems.append((Status.CRITICAL, f"header {name} is missing (expected /{pattern.pattern}/)"))
            elif not pattern.search(value):
                problems.append((Status.CRITICAL, f"header {name} is {_clean(value)!r} (expected /{pattern.pattern}/)"))
        for matcher in cfg.not_contains:
            span = find(matcher, fetch.body)
            if span is not None:
                extra.setdefault("matched", _excerpt(fetch.body, span))
                problems.append((Status.CRITICAL, f"page contains {describe(matcher)} ({code})"))
        for matcher in cfg.contains:
            if find(matcher, fetch.body) is None:
                where = f" in the first {format_size(fetch.body_bytes)}" if fetch.truncated else ""
                problems.append((Status.CRITICAL, f"page does not contain {describe(matcher)}{where} ({code})"))
        if cfg.json_:
            cut_at = fetch.body_bytes if fetch.truncated else None
            content_type = fetch.headers.get("content-type", "")
            problems += [(Status.CRITICAL, line) for line in judge(cfg.json_, fetch.body, content_type, cut_at)]
        if fetch.bare_lf:
            problems.append((Status.WARNING, f"{_BARE_LF} ({code})"))
        if problems:
            status = worst(*(s for s, _ in problems))
            extra["problems"] = [text for _, text in problems]
            return status, "; ".join(text for _, text in problems), extra
        size = f", {format_size(fetch.body_bytes)}" if fetch.body_bytes else ""
        if fetch.truncated:  # max_body cut it: the size is what was read, not the page's
            size = f", first {format_size(fetch.body_bytes)} read, body is larger"
        return Status.OK, f"{code} in {format_duration(elapsed)}{size}", extra

    def _samples(self, fetch: _Fetch, phases: dict[str, float]) -> tuple[Sample, ...]:
        samples = [
            Sample("probe_http_status_code", fetch.status),
            Sample("probe_http_content_length", fetch.content_length),
            Sample("probe_http_uncompressed_body_length", fetch.body_bytes),
            Sample("probe_http_redirects", len(fetch.chain)),
            Sample("probe_http_ssl", 1.0 if fetch.url.scheme == "https" else 0.0),
        ]
        samples += [Sample("probe_http_duration_seconds", v, _PHASE_LABELS[k]) for k, v in phases.items()]
        if fetch.cert_expiry is not None:
            samples.append(Sample("probe_ssl_earliest_cert_expiry", fetch.cert_expiry))
        return tuple(samples)


def _clean(text: str) -> str:
    """Printable, bounded text from an untrusted response."""
    return printable(text, _SNIPPET)


def _excerpt(body: str, span: tuple[int, int]) -> str:
    start, end = span
    return _clean(body[max(0, start - 40) : end + 80])


#: What each failed step of a request means for the site: a bad certificate or a refused
#: redirect is the site's fault (critical); anything else means it could not be measured.
_FAILURE_STATUS = {"certificate": Status.CRITICAL, "forbidden": Status.CRITICAL, "request": Status.CRITICAL}


def _failure(exc: ExchangeError) -> _Failed:
    detail = _clean(exc.detail)
    if exc.kind == "forbidden":
        detail = f"redirect refused: {detail}"
    return _Failed(_FAILURE_STATUS.get(exc.kind, Status.ERROR), detail)


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8 rather than fail the check
        return raw.decode("utf-8", errors="replace")

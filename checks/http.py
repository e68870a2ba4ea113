"""``http`` check: status, headers and content of a page, with blackbox-style phase timings."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl

from checks.http_config import HttpConfig, describe, find
from sitewatch.probe import (
    Check,
    Context,
    ForbiddenAddress,
    MetricSpec,
    Network,
    Result,
    Sample,
    Status,
    forbidden_address,
    format_duration,
    format_size,
    ip_preference,
    measure_phases,
    private_address,
    redact_url,
    resolve_override,
    untrusted_target,
    worst,
)

__all__ = ["HttpCheck"]

_REDIRECTS = {301, 302, 303, 307, 308}
_SNIPPET = 160


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
        self.headers = headers
        # Credentials are for the configured host only, never for a host a redirect names.
        self.foreign_headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        host = self.start_url.host or ""
        self.override = {host: str(config.resolve)} if config.resolve is not None else {}

    @property
    def target_host(self) -> str:
        """Host of the URL this check requests."""
        return self.start_url.host or super().target_host

    async def run(self, ctx: Context) -> Result:
        """Fetch, then judge status, headers and content."""
        stage = [""]
        fetch = _Fetch(self.start_url)
        with measure_phases() as timer, resolve_override(self.override):
            with ip_preference(self.config.ip_protocol, self.config.ip_fallback):
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
            "url": redact_url(self.start_url),
            "final_url": redact_url(fetch.url),
            "status_code": fetch.status,
            "redirects": fetch.chain,
            "phases": {k: round(v, 6) for k, v in timer.phases.items()},
            "body_bytes": fetch.body_bytes,
            "body_truncated": fetch.truncated,
        }
        if failure is not None:
            return Result(failure.status, failure.summary, samples, details)
        status, summary, extra = self._judge(fetch, timer.total)
        return Result(status, summary, samples, {**details, **extra})

    async def _fetch(self, ctx: Context, fetch: _Fetch, stage: list[str], timer: Any) -> None:
        cfg = self.config
        method, body = cfg.method, cfg.body
        seen = {str(fetch.url)}
        while True:
            host = fetch.url.host or "?"
            stage[0] = host
            # Only the configured URL is trusted; where a redirect leads is the site's choice, not ours.
            hop = untrusted_target(fetch.private) if fetch.chain else contextlib.nullcontext()
            async with _errors(fetch.url):
                with hop:
                    resp = await ctx.session.request(
                        method,
                        fetch.url,
                        headers=self.headers if fetch.url.host == self.start_url.host else self.foreign_headers,
                        data=body,
                        allow_redirects=False,
                        ssl=cfg.verify_tls,
                        proxy=cfg.proxy,
                        timeout=aiohttp.ClientTimeout(total=None),
                    )
                async with resp:
                    if not fetch.chain:
                        fetch.private = self._private_guard(timer.peer)
                    fetch.status, fetch.reason = resp.status, resp.reason or ""
                    location = resp.headers.get("Location")
                    if cfg.follow_redirects and resp.status in _REDIRECTS and location:
                        fetch.url = self._next_hop(fetch, location, seen)
                        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                            method, body = "GET", None
                        continue
                    fetch.headers = {k.lower(): v for k, v in resp.headers.items()}
                    fetch.content_length = resp.content_length if resp.content_length is not None else -1
                    raw = await self._read_capped(resp, fetch)
                    timer.body_done()
                    fetch.body = raw.decode(resp.charset or "utf-8", errors="replace")
                    return

    def _next_hop(self, fetch: _Fetch, location: str, seen: set[str]) -> yarl.URL:
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
        if peer is None or private_address(peer, cfg.private_networks):
            return ()
        return cfg.private_networks

    async def _read_capped(self, resp: aiohttp.ClientResponse, fetch: _Fetch) -> bytes:
        limit = self.config.max_body
        chunks: list[bytes] = []
        while fetch.body_bytes < limit:
            chunk = await resp.content.read(min(65536, limit - fetch.body_bytes))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            fetch.body_bytes += len(chunk)
        # Stop at the cap: the rest is neither read nor kept (the connection is closed).
        fetch.truncated = not resp.content.at_eof()
        return b"".join(chunks)

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
        if problems:
            status = worst(*(s for s, _ in problems))
            extra["problems"] = [text for _, text in problems]
            return status, "; ".join(text for _, text in problems), extra
        size = f", {format_size(fetch.body_bytes)}" if fetch.body_bytes else ""
        return Status.OK, f"{code} in {format_duration(elapsed)}{size}", extra

    def _samples(self, fetch: _Fetch, phases: dict[str, float]) -> tuple[Sample, ...]:
        samples = [
            Sample("probe_http_status_code", fetch.status),
            Sample("probe_http_content_length", fetch.content_length),
            Sample("probe_http_uncompressed_body_length", fetch.body_bytes),
            Sample("probe_http_redirects", len(fetch.chain)),
            Sample("probe_http_ssl", 1.0 if fetch.url.scheme == "https" else 0.0),
        ]
        samples += [Sample("probe_http_duration_seconds", v, (("phase", k),)) for k, v in phases.items()]
        return tuple(samples)


def _clean(text: str) -> str:
    """Printable, bounded text from an untrusted response."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:_SNIPPET]


def _excerpt(body: str, span: tuple[int, int]) -> str:
    start, end = span
    return _clean(body[max(0, start - 40) : end + 80])


@contextlib.asynccontextmanager
async def _errors(url: yarl.URL) -> Any:
    """Translate client exceptions into failures that say what broke, in words."""
    host = f"{url.host}:{url.port}"
    try:
        yield
    except TimeoutError:
        raise  # the caller's deadline names the stage
    except aiohttp.ClientConnectorDNSError as exc:
        if isinstance(exc.os_error, ForbiddenAddress):
            raise _Failed(Status.CRITICAL, f"redirect refused: {exc.os_error}") from None
        raise _Failed(Status.ERROR, f"cannot resolve {url.host}: {exc.os_error.strerror or exc.os_error}") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = getattr(exc.certificate_error, "verify_message", None) or exc.certificate_error
        raise _Failed(Status.CRITICAL, f"TLS certificate of {url.host} is not valid: {reason}") from None
    except (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError) as exc:
        raise _Failed(Status.ERROR, f"TLS handshake with {host} failed: {_reason(exc)}") from None
    except aiohttp.ClientConnectorError as exc:
        raise _Failed(Status.ERROR, f"cannot connect to {host}: {exc.os_error.strerror or exc.os_error}") from None
    except aiohttp.ServerDisconnectedError:
        raise _Failed(Status.ERROR, f"{host} closed the connection without a complete response") from None
    except aiohttp.ClientPayloadError as exc:
        raise _Failed(Status.ERROR, f"response body from {host} is broken: {_reason(exc)}") from None
    except aiohttp.ClientResponseError as exc:
        raise _Failed(Status.ERROR, f"invalid HTTP response from {host}: {_clean(exc.message)}") from None
    except aiohttp.InvalidURL as exc:
        raise _Failed(Status.CRITICAL, f"invalid URL: {_clean(str(exc))}") from None
    except aiohttp.ClientError as exc:
        raise _Failed(Status.ERROR, f"request to {host} failed: {_reason(exc)}") from None
    except (ConnectionError, OSError) as exc:
        raise _Failed(Status.ERROR, f"connection to {host} failed: {exc.strerror or exc}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _clean(text)

"""``http`` check: status, headers and content of a page, with blackbox-style phase timings.

This module holds the check's prepared settings and its run; the request chain is
:mod:`checks.http_fetch`, judging the answer :mod:`checks.http_judge`, the settings model
:mod:`checks.http_config` (JSON assertions: :mod:`checks.http_json`).
"""

from __future__ import annotations

import asyncio
import base64
import types
from collections.abc import Mapping
from typing import Any

import yarl

from checks.http_config import HttpConfig
from checks.http_fetch import NOTHING, Fetch, FetchFailed, fetch_chain
from checks.http_judge import fetch_samples, judge_fetch
from sitewatch.probe import (
    Check,
    Context,
    MetricSpec,
    Result,
    Status,
    TlsSessions,
    format_duration,
    ip_preference,
    measure_phases,
    redact_url,
    resolve_override,
)

__all__ = ["HttpCheck"]

#: Shared by every check without extra headers or a pinned address (most of them): three empty
#: dicts per check were ~2 MB at 10,000 checks. Read-only, so no check can change another's.
_EMPTY: Mapping[str, str] = types.MappingProxyType({})


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
        fetch = Fetch(self.start_url)
        override = resolve_override(self.override) if self.override else NOTHING
        family = NOTHING if self.default_family else ip_preference(self.config.ip_protocol, self.config.ip_fallback)
        with measure_phases() as timer, override:
            with family:
                try:
                    async with asyncio.timeout(ctx.timeout):
                        await fetch_chain(self, ctx, fetch, stage)
                    failure = None
                except FetchFailed as exc:
                    failure = exc
                except TimeoutError:
                    where = f"{timer.stage} ({stage[0]})" if stage[0] else timer.stage
                    failure = FetchFailed(Status.ERROR, f"timed out after {format_duration(ctx.timeout)} {where}")
        samples = fetch_samples(fetch, timer.phases)
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
        status, summary, extra = judge_fetch(self.config, fetch, timer.total)
        return Result(status, summary, samples, {**details, **extra} if extra else details)

"""One timed request of the page document, and one of a sub-resource."""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
import yarl

from checks.pageload_assets import Asset
from sitewatch.probe import PhaseTimer, Status, format_duration, measure_phases, printable, read_body, redact_url

__all__ = ["AssetLoad", "DocumentLoad", "FetchFailed", "Progress", "fetch_asset", "fetch_document"]

_MAX_REDIRECTS = 10
_TEXT = 160


class FetchFailed(Exception):
    """The document could not be loaded; carries the result status and a one-line reason."""

    def __init__(self, status: Status, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


@dataclass
class Progress:
    """How far the current document request got, so a timeout can say where it stopped."""

    url: yarl.URL
    timer: PhaseTimer = field(default_factory=PhaseTimer)
    reading: bool = False
    activity: str = ""  # set for work between requests (parsing the HTML)

    def stage(self) -> str:
        """Where the request was when it ran out of time, in words."""
        url, phases = self.url, self.timer.phases
        host = url.host or "?"
        if self.activity:
            return self.activity
        if self.reading:
            return f"reading the page body from {host}"
        if phases["connect"] == 0:
            return f"connecting to {host}:{url.port}"
        if url.scheme == "https" and phases["tls"] == 0:
            return f"in the TLS handshake with {host}"
        return f"waiting for the response headers from {host}"


@dataclass
class DocumentLoad:
    """One sample of the main document: timings (seconds), status and the body read."""

    url: yarl.URL
    status: int
    reason: str
    ttfb: float
    total: float
    phases: dict[str, float]
    body: bytes
    encoding: str
    body_bytes: int
    truncated: bool
    redirects: int


@dataclass
class AssetLoad:
    """What loading one sub-resource found; ``error`` is set when the page lacks it."""

    asset: Asset
    status: int = 0
    body_bytes: int = 0
    elapsed: float = 0.0
    truncated: bool = False
    timed_out: bool = False
    error: str | None = None


async def fetch_document(
    session: aiohttp.ClientSession,
    url: yarl.URL,
    headers: Mapping[str, str],
    *,
    max_body: int,
    verify_tls: bool,
    progress: Progress,
) -> DocumentLoad:
    """Request ``url`` once with phase timing; raises :class:`FetchFailed` when it cannot."""
    with measure_phases() as timer:
        progress.timer, progress.reading = timer, False
        started = time.perf_counter()
        try:
            async with session.get(
                url,
                headers=headers,
                ssl=verify_tls,
                max_redirects=_MAX_REDIRECTS,
                timeout=aiohttp.ClientTimeout(total=None),  # the check's deadline is the caller's
            ) as resp:
                ttfb = time.perf_counter() - started
                progress.url, progress.reading = resp.url, True
                body = await read_body(resp.content, max_body)
                raw, truncated = body.data, body.truncated
                timer.body_done()
                total = time.perf_counter() - started
                return DocumentLoad(
                    resp.url,
                    resp.status,
                    resp.reason or "",
                    ttfb,
                    total,
                    dict(timer.phases),
                    raw,
                    _encoding(resp.charset),
                    len(raw),
                    truncated,
                    len(resp.history),
                )
        except aiohttp.TooManyRedirects:
            raise FetchFailed(Status.CRITICAL, f"more than {_MAX_REDIRECTS} redirects from {redact_url(url)}") from None
        except (aiohttp.ClientError, OSError) as exc:
            status, reason = _explain(exc, progress.url)
            raise FetchFailed(status, reason) from None


async def fetch_asset(
    session: aiohttp.ClientSession,
    asset: Asset,
    headers: Mapping[str, str],
    *,
    max_size: int,
    timeout: float,  # noqa: ASYNC109 - a per-resource budget inside the check's own deadline
    verify_tls: bool,
) -> AssetLoad:
    """Load one resource within ``timeout`` seconds; failures are recorded, never raised."""
    load = AssetLoad(asset)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with session.get(
                asset.url,
                headers=headers,
                ssl=verify_tls,
                max_redirects=_MAX_REDIRECTS,
                # Count bytes as sent on the wire, and spare the event loop the inflating.
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),
            ) as resp:
                load.status = resp.status
                body = await read_body(resp.content, max_size)
                raw, load.truncated = body.data, body.truncated
                load.body_bytes = len(raw)
                if resp.status >= 400:
                    load.error = f"HTTP {resp.status}" + (f" {resp.reason}" if resp.reason else "")
    except TimeoutError:
        load.timed_out = True
        load.error = f"no complete response within {format_duration(timeout)}"
    except aiohttp.TooManyRedirects:
        load.error = f"more than {_MAX_REDIRECTS} redirects"
    except (aiohttp.ClientError, OSError) as exc:
        load.error = _explain(exc, asset.url)[1]
    load.elapsed = time.perf_counter() - started
    return load


def _explain(exc: BaseException, url: yarl.URL) -> tuple[Status, str]:
    """A result status and a bounded reason for a client exception."""
    host = f"{url.host}:{url.port}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Status.ERROR, f"cannot resolve {url.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = getattr(exc.certificate_error, "verify_message", None) or exc.certificate_error
        return Status.CRITICAL, f"TLS certificate of {url.host} is not valid: {_clean(str(reason))}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return Status.ERROR, f"TLS handshake with {host} failed: {_clean(str(exc))}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Status.ERROR, f"cannot connect to {host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Status.ERROR, f"{host} closed the connection without a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Status.ERROR, f"response body from {host} is broken: {_clean(str(exc))}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return Status.ERROR, f"invalid HTTP response from {host}: {_clean(exc.message)}"
    if isinstance(exc, aiohttp.InvalidURL):
        return Status.CRITICAL, f"invalid URL {redact_url(url)}"
    if isinstance(exc, OSError):
        return Status.ERROR, f"connection to {host} failed: {exc.strerror or _clean(str(exc))}"
    return Status.ERROR, f"request to {host} failed: {_clean(str(exc) or type(exc).__name__)}"


def _encoding(charset: str | None) -> str:
    """The codec named by the Content-Type charset, UTF-8 when absent or unknown."""
    try:
        return codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        return "utf-8"


def _clean(text: str) -> str:
    """Printable, bounded text from an untrusted peer."""
    return printable(text, _TEXT)

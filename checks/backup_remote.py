"""A backup object on an HTTP(S) server: its age from Last-Modified, its size from the headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
import yarl

from sitewatch.probe import Context, Status, redact_url

__all__ = ["Remote", "RemoteFailure", "stat_remote"]

# Servers (and presigned object-store URLs) that refuse HEAD answer one of these.
_NO_HEAD = {403, 405, 501}
_CONTENT_RANGE = re.compile(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Remote:
    """What the server said about the object."""

    modified: float  # unix seconds
    size: int | None
    method: str  # HEAD, or "GET (range)" when HEAD was refused


class RemoteFailure(Exception):
    """The object could not be looked at; carries the status and the reason in words."""

    def __init__(self, status: Status, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


async def stat_remote(ctx: Context, url: yarl.URL, headers: dict[str, str], verify_tls: bool) -> Remote:
    """HEAD ``url`` (or GET its first byte when HEAD is refused) and read age and size."""
    where = redact_url(url)
    resp = await _request(ctx, "HEAD", url, headers, verify_tls)
    method = "HEAD"
    if resp.status in _NO_HEAD:
        resp = await _request(ctx, "GET", url, {**headers, "Range": "bytes=0-0"}, verify_tls)
        method = "GET (range)"
    if resp.status == 404:
        raise RemoteFailure(Status.CRITICAL, f"backup {where} does not exist (HTTP 404)")
    if resp.status in (401, 403):
        raise RemoteFailure(
            Status.ERROR, f"access to {where} denied (HTTP {resp.status}); check the check's headers: credentials"
        )
    if resp.status not in (200, 206):
        raise RemoteFailure(Status.ERROR, f"{method} {where} answered HTTP {resp.status} {resp.reason or ''}".strip())
    modified = resp.headers.get("Last-Modified")
    if modified is None:
        raise RemoteFailure(Status.ERROR, f"{where} sent no Last-Modified header, so its age is unknown")
    try:
        when = parsedate_to_datetime(modified).timestamp()
    except (TypeError, ValueError):
        raise RemoteFailure(Status.ERROR, f"{where} sent an unreadable Last-Modified: {modified[:60]!r}") from None
    return Remote(when, _size(resp), method)


def _size(resp: aiohttp.ClientResponse) -> int | None:
    if resp.status == 206:  # Content-Length is the one byte we asked for; the total is in Content-Range
        found = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        return int(found.group(1)) if found else None
    length = resp.headers.get("Content-Length")
    return int(length) if length is not None and length.isdigit() else None


async def _request(
    ctx: Context, method: str, url: yarl.URL, headers: dict[str, str], verify_tls: bool
) -> aiohttp.ClientResponse:
    host = f"{url.host}:{url.port}"
    try:
        # The body is never read: a 200 to a ranged GET would otherwise stream the whole backup.
        async with ctx.session.request(
            method,
            url,
            headers=headers,
            allow_redirects=True,
            ssl=verify_tls,
            timeout=aiohttp.ClientTimeout(total=None),
        ) as resp:
            return resp
    except aiohttp.ClientConnectorDNSError as exc:
        raise RemoteFailure(
            Status.ERROR, f"cannot resolve {url.host}: {exc.os_error.strerror or exc.os_error}"
        ) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = getattr(exc.certificate_error, "verify_message", None) or exc.certificate_error
        raise RemoteFailure(Status.ERROR, f"TLS certificate of {url.host} is not valid: {reason}") from None
    except aiohttp.ClientConnectorError as exc:
        raise RemoteFailure(
            Status.ERROR, f"cannot connect to {host}: {exc.os_error.strerror or exc.os_error}"
        ) from None
    except aiohttp.ClientError as exc:
        raise RemoteFailure(Status.ERROR, f"request to {host} failed: {type(exc).__name__}") from None

"""How HTTP answers from a service desk map to retryable or permanent sink errors."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from sitewatch.tickets import SinkError
from sitewatch.untrusted import printable, read_body

__all__ = ["call_json", "check_status", "desk_headers", "transport_error"]

#: Worth retrying: the desk is busy, restarting or rate-limiting us.
_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
#: Bytes of an error answer read for the message (300 characters are shown).
_SHOWN = 4096


async def check_status(resp: aiohttp.ClientResponse, what: str) -> None:
    """Raise a :class:`SinkError` for a non-2xx answer; 4xx (but 408/429) are permanent."""
    if 200 <= resp.status < 300:
        return
    # An error page can be large: read only what is shown (all of it, not the first network chunk).
    body = await read_body(resp.content, _SHOWN)
    text = printable(body.data.decode("utf-8", "replace"), 300)
    permanent = resp.status not in _RETRYABLE and resp.status < 500
    hint = " (check the API key and its permissions)" if resp.status in (401, 403) else ""
    raise SinkError(f"{what}: HTTP {resp.status}{hint}: {text}", permanent=permanent)


def transport_error(exc: BaseException, what: str) -> SinkError:
    """A network failure: always worth a retry."""
    return SinkError(f"{what}: {type(exc).__name__}: {exc}", permanent=False)


async def call_json(
    session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], what: str, **kwargs: Any
) -> Any:
    """One REST call to a desk: the JSON answer (None when empty), or a :class:`SinkError`."""
    try:
        async with session.request(method, url, headers=headers, **kwargs) as resp:
            await check_status(resp, what)
            if resp.status == 204 or resp.content_length == 0:
                return None
            return await resp.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise transport_error(exc, what) from None


def desk_headers(token: str | None, scheme: str, user: str | None, password: str | None) -> dict[str, str]:
    """JSON request headers for a desk: ``<scheme> <token>`` when a token is set, else HTTP Basic."""
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}" if token else basic, "Accept": "application/json"}

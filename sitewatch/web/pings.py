"""Heartbeat pings: ``/ping/<token>``, ``/ping/<token>/start`` and ``/ping/<token>/fail``.

The only routes that write into the scheduler's checks rather than read a view: a cron job or a
backup script reports here, and the heartbeat check that owns the token turns it into results.
They carry their own secret (the token), so :mod:`sitewatch.web.access` leaves them open.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

__all__ = ["PING_BODY_LIMIT", "PushRouter", "ping_routes"]


class PushRouter(Protocol):
    """Hands a ping to the check that owns ``token``; False when no check does."""

    def __call__(self, token: str, kind: str, body: str) -> bool: ...


#: A ping's body goes into tickets: keep a screenful, printable.
PING_BODY_LIMIT = 10_000


def ping_routes(push: PushRouter) -> list[web.RouteDef]:
    """The ping routes, each ping handed to ``push``."""

    async def ping(request: web.Request) -> web.Response:
        kind = {"": "success", "start": "start", "fail": "fail"}.get(request.match_info.get("kind", ""))
        if kind is None:
            return web.json_response({"error": "unknown ping kind; use /ping/<token>, /start or /fail"}, status=404)
        raw = await _read_upto(request, PING_BODY_LIMIT)
        body = "".join(c if c.isprintable() or c in "\n\t" else " " for c in raw.decode("utf-8", "replace"))
        if not push(request.match_info["token"], kind, body):
            # Same answer for every unknown token: nothing to learn by guessing.
            return web.json_response({"error": "unknown token"}, status=404)
        return web.json_response({"status": "ok", "kind": kind})

    routes = []
    for path in ("/ping/{token}", "/ping/{token}/{kind}"):
        # GET too: cron one-liners use `curl -fsS URL`, as with healthchecks.io (no HEAD route).
        routes += [web.post(path, ping), web.get(path, ping, allow_head=False)]
    return routes


async def _read_upto(request: web.Request, limit: int) -> bytes:
    """The first ``limit`` bytes of the body; one ``read()`` returns only what has arrived so far."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)

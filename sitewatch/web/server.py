"""The agent's HTTP surface: the status page, ``/metrics``, ``/healthz``, the JSON API and heartbeat pings.

Documented in ``docs/openapi.yaml``; a test keeps the two in step.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from sitewatch import __version__
from sitewatch.config.agent import ListenerConfig
from sitewatch.engine.results import ResultBook
from sitewatch.store.queries import IncidentState, history, incidents
from sitewatch.store.sla import clocks
from sitewatch.web.access import Access
from sitewatch.web.api import (
    HISTORY_LIMIT,
    ParameterError,
    history_document,
    incidents_document,
    parse_limit,
    parse_since,
)
from sitewatch.web.auth import WebSecurity
from sitewatch.web.clientroutes import client_routes
from sitewatch.web.listener import Gate, ListenerSite
from sitewatch.web.requestlog import listener_logger
from sitewatch.web.scope import operator_scope
from sitewatch.web.statuspage import StatusPage

__all__ = ["WebServer", "build_app", "status_document"]

_BOOK = web.AppKey("book", ResultBook)


class MetricsRenderer(Protocol):
    """Renders the exposition for a scrape's ``Accept`` header: ``(body chunks, content type)``."""

    def render_chunks(self, accept: str = "") -> tuple[Iterator[bytes], str]: ...


_METRICS = web.AppKey("metrics", MetricsRenderer)
_INFO = web.AppKey("info", dict[str, Any])
_PAGE = web.AppKey("page", StatusPage)


class HealthProbe(Protocol):
    """Says whether the agent is healthy, and why not."""

    def __call__(self) -> tuple[bool, str]: ...


_HEALTH = web.AppKey("health", HealthProbe)


#: The agent's own network (sitewatch.engine.reachability), None without reference targets.
class NetworkProbe(Protocol):
    """The agent's network as JSON (state, since, reference results), or None without references."""

    def __call__(self) -> dict[str, Any] | None: ...


_NETWORK = web.AppKey("network", NetworkProbe)


class PushRouter(Protocol):
    """Hands a ping to the check that owns ``token``; False when no check does."""

    def __call__(self, token: str, kind: str, body: str) -> bool: ...


_PUSH = web.AppKey("push", PushRouter)
#: A ping's body goes into tickets: keep a screenful, printable.
PING_BODY_LIMIT = 10_000


async def _ping(request: web.Request) -> web.Response:
    kind = {"": "success", "start": "start", "fail": "fail"}.get(request.match_info.get("kind", ""))
    if kind is None:
        return web.json_response({"error": "unknown ping kind; use /ping/<token>, /start or /fail"}, status=404)
    raw = await _read_upto(request, PING_BODY_LIMIT)
    body = "".join(c if c.isprintable() or c in "\n\t" else " " for c in raw.decode("utf-8", "replace"))
    if not request.app[_PUSH](request.match_info["token"], kind, body):
        # Same answer for every unknown token: nothing to learn by guessing.
        return web.json_response({"error": "unknown token"}, status=404)
    return web.json_response({"status": "ok", "kind": kind})


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


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_document(book: ResultBook, info: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of ``/api/status``: agent facts and every check's last result."""
    checks = []
    for (site, check), check_type in sorted(book.configured.items()):
        record = book.latest.get((site, check))
        item: dict[str, Any] = {"site": site, "check": check, "type": check_type}
        if record is None:
            item.update(status="pending", summary="not run yet", last_run=None, duration_seconds=None, details={})
        else:
            item.update(
                status=record.result.status.value,
                summary=record.result.summary,
                last_run=_iso(record.started),
                duration_seconds=round(record.duration, 6),
                details=dict(record.result.details),
            )
        checks.append(item)
    document: dict[str, Any] = {"agent": {**info, "version": __version__, "checks": len(checks)}, "checks": checks}
    if book.silences is not None:
        document["silences"] = list(book.silences())
    if book.ticket_stats is not None:
        stats = book.ticket_stats()
        document["tickets"] = {
            "open_incidents": stats.open_incidents,
            "pending": stats.outbox_pending,
            "dead": stats.outbox_dead,
            "oldest_pending_age_seconds": round(stats.oldest_pending_age, 3),
            "dead_letters": [dict(d) for d in stats.dead_letters],
        }
    return document


async def _metrics(request: web.Request) -> web.StreamResponse:
    chunks, content_type = request.app[_METRICS].render_chunks(request.headers.get("Accept", ""))
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    # With 10,000 checks the body is ~12 MB, made in ~20 ms from lines rendered as results came in;
    # writing it chunk by chunk keeps one family's text in memory at a time, not the whole body.
    for chunk in chunks:
        if chunk:
            await response.write(chunk)
    await response.write_eof()
    return response


async def _healthz(request: web.Request) -> web.Response:
    healthy, reason = request.app[_HEALTH]()
    document: dict[str, Any] = {"status": "ok" if healthy else "unhealthy", "reason": reason}
    # The agent is alive even when its network is not: that is reported, never a 503 (no restart helps).
    network = request.app[_NETWORK]() if _NETWORK in request.app else None
    if network is not None:
        document["network"] = network
    return web.json_response(document, status=200 if healthy else 503)


async def _status(request: web.Request) -> web.Response:
    return web.json_response(status_document(request.app[_BOOK], request.app[_INFO]), dumps=_dumps)


async def _status_page(request: web.Request) -> web.Response:
    page = request.app[_PAGE]
    try:
        scope = operator_scope(request.query, page.clients())
    except ParameterError as exc:
        return _bad(exc)
    html = await page.render(request.app[_BOOK], scope)
    # The page is live data: no caching by browsers or proxies in between.
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


_STATES: dict[str, IncidentState] = {"open": "open", "resolved": "resolved", "all": "all"}


async def _incidents(request: web.Request) -> web.Response:
    raw = request.query.get("state", "all")
    state = _STATES.get(raw)
    if state is None:
        return _bad(ParameterError("state", f"expected open, resolved or all, got {raw!r}"))
    page = request.app[_PAGE]
    try:
        limit = parse_limit(request.query.get("limit"), default=50, maximum=1000)
        scope = operator_scope(request.query, page.clients())
    except ParameterError as exc:
        return _bad(exc)
    names = [s.info.name for s in scope.sites(page.sites())] if scope.narrowed else None
    rows = incidents(page.store, state, limit, sites=names)
    sla = clocks(page.store, [r.id for r in rows], page.now())
    return web.json_response(incidents_document(rows, state, sla), dumps=_dumps)


async def _history(request: web.Request) -> web.Response:
    page = request.app[_PAGE]
    name = request.match_info["name"]
    if page.site(name) is None:
        return web.json_response({"error": f"unknown site {name!r}"}, status=404, dumps=_dumps)
    now = page.now()
    try:
        since = parse_since(request.query.get("since"), now)
        limit = parse_limit(request.query.get("limit"), default=HISTORY_LIMIT, maximum=HISTORY_LIMIT)
    except ParameterError as exc:
        return _bad(exc)
    rows, truncated = history(page.store, name, since, now, limit)
    return web.json_response(history_document(name, since, now, rows, truncated), dumps=_dumps)


def _bad(error: ParameterError) -> web.Response:
    return web.json_response({"error": str(error), "parameter": error.parameter}, status=400, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def _closer(security: WebSecurity) -> Callable[[web.Application], Awaitable[None]]:
    async def close(_: web.Application) -> None:
        security.close()  # the password threads go with the server

    return close


def build_app(
    book: ResultBook,
    metrics: MetricsRenderer,
    info: dict[str, Any],
    health: HealthProbe,
    *,
    push: PushRouter | None = None,
    security: WebSecurity | None = None,
    page: StatusPage | None = None,
    alertmanager: Handler | None = None,
    access: Access | None = None,
    network: NetworkProbe | None = None,
) -> web.Application:
    """The aiohttp application; bodies are small, so requests are capped at 64 KiB.

    With ``page`` it also serves the status page at ``/``, the incident and history APIs, and
    each client's page and API. ``access`` decides who may open which route (by default: the
    web_config users everything, and nobody else anything, when users are configured).
    """
    access = access or Access(security, lambda: None, dict)
    app = web.Application(client_max_size=64 * 1024, middlewares=[access.middleware()])
    app[_BOOK] = book
    app[_METRICS] = metrics
    app[_INFO] = info
    app[_HEALTH] = health
    if network is not None:
        app[_NETWORK] = network
    if security is not None:
        app.on_cleanup.append(_closer(security))
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/api/status", _status)
    if page is not None:
        app[_PAGE] = page
        app.router.add_get("/", _status_page)
        app.router.add_get("/api/incidents", _incidents)
        app.router.add_get("/api/sites/{name}/history", _history)
        app.router.add_routes(client_routes(book, page))
    if push is not None:
        app[_PUSH] = push
        for path in ("/ping/{token}", "/ping/{token}/{kind}"):
            # GET too: cron one-liners use `curl -fsS URL`, as with healthchecks.io.
            app.router.add_route("POST", path, _ping)
            app.router.add_route("GET", path, _ping)
    if alertmanager is not None:
        # Every method reaches the handler, so a wrong one gets a JSON 405 like every other error there.
        app.router.add_route("*", "/alertmanager", alertmanager)
    return app


class WebServer:
    """Binds the app to host:port and closes it explicitly."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        *,
        log: logging.Logger | None = None,
        listener: ListenerConfig | None = None,
        max_connections: int | None = None,
    ) -> None:
        # Malformed requests become rate-limited events, not tracebacks on stderr (sitewatch.web.requestlog).
        handler_log = listener_logger(log) if log is not None else logging.getLogger("aiohttp.server")
        listener = listener or ListenerConfig()
        self._handler_args: dict[str, Any] = {
            "access_log": None,
            "logger": handler_log,
            "keepalive_timeout": listener.idle_timeout,
        }
        self._runner = web.AppRunner(app, handle_signals=False, **self._handler_args)
        # Connection cap and header deadline (sitewatch.web.listener); the cap leaves the probes their descriptors.
        cap = max_connections if max_connections is not None else listener.max_connections
        self.gate = Gate(cap, listener.header_timeout, log or logging.getLogger("sitewatch.web"))
        self._ssl = ssl_context
        self._host = host
        self._port = port
        self.bound: list[str] = []

    @property
    def app(self) -> web.Application:
        """The application being served."""
        return self._runner.app

    async def start(self) -> None:
        """Bind; raises OSError with the address when the port is taken."""
        await self._runner.setup()
        site = ListenerSite(
            self._runner, self._host, self._port, gate=self.gate, handler_args=self._handler_args, ssl_context=self._ssl
        )
        await site.start()
        self.bound = [_address(a) for a in self._runner.addresses]

    async def close(self) -> None:
        """Stop accepting and close open connections."""
        await self._runner.cleanup()


def _address(address: Any) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

"""The agent's HTTP surface: the status page, ``/metrics``, ``/healthz``, the JSON API and heartbeat pings.

This module wires the routes into one application (:func:`build_app`) and serves it
(:class:`WebServer`); the handlers are in :mod:`~sitewatch.web.agentroutes`,
:mod:`~sitewatch.web.pageroutes`, :mod:`~sitewatch.web.clientroutes` and :mod:`~sitewatch.web.pings`.
Documented in ``docs/openapi.yaml``; a test keeps the two in step.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from sitewatch.config.agent import ListenerConfig
from sitewatch.engine.results import ResultBook
from sitewatch.web.access import Access
from sitewatch.web.agentroutes import HealthProbe, MetricsRenderer, NetworkProbe, agent_routes
from sitewatch.web.auth import WebSecurity
from sitewatch.web.clientroutes import client_routes
from sitewatch.web.listener import Gate, ListenerSite
from sitewatch.web.pageroutes import page_routes
from sitewatch.web.pings import PushRouter, ping_routes
from sitewatch.web.requestlog import listener_logger
from sitewatch.web.statuspage import StatusPage

__all__ = ["WebServer", "build_app"]


def _closer(security: WebSecurity) -> Callable[[web.Application], Awaitable[None]]:
    async def close(_: web.Application) -> None:
        security.close()  # the password threads go with the server

    return close


def _header_setter(headers: dict[str, str]) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    async def set_headers(_: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(headers)  # every answer, refusals and errors included

    return set_headers


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
    if security is not None:
        app.on_cleanup.append(_closer(security))
        if security.headers:
            app.on_response_prepare.append(_header_setter(security.headers))
    app.router.add_routes(agent_routes(book, metrics, info, health, network))
    if page is not None:
        app.router.add_routes(page_routes(book, page))
        app.router.add_routes(client_routes(book, page))
    if push is not None:
        app.router.add_routes(ping_routes(push))
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

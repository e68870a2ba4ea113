"""The agent's TCP listener: a cap on connections, a deadline for the first request's headers, idle timeouts.

aiohttp's server accepts every connection and, by default, gives an idle one an hour and a
slowly dripped request head forever. 2,000 idle connections then took every descriptor
under the usual 1024 limit, and the probes failed with "Too many open files": an attack on
the listener became a false outage of every site. Here:

- at most ``max_connections`` are open (lowered so that the probes keep their descriptors,
  :func:`sitewatch.limits.listener_cap`); a new one beyond the cap closes the oldest
  connection that has no request in progress, or is itself closed when all are busy;
- the first request's head must be complete within ``header_timeout`` (slowloris);
- a connection with no request in progress is closed after ``idle_timeout``
  (aiohttp's keep-alive timeout, which it also applies to a connection that never sends).

The cap is applied when a connection is handed to HTTP: over TLS, after the handshake,
which is itself bounded by ``header_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from sitewatch.config.agent import ListenerConfig
from sitewatch.logs import event

__all__ = ["Gate", "ListenerConfig", "ListenerSite"]


class Gate:
    """Counts the listener's connections in order of arrival and decides who may stay."""

    def __init__(self, cap: int, header_timeout: float, log: logging.Logger) -> None:
        self.cap = cap
        self.header_timeout = header_timeout
        self.log = log
        self.open: dict[_Handler, None] = {}  # insertion order: the oldest first
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0
        self._full = False  # inside an episode of being full: logged once

    def admit(self, handler: _Handler) -> bool:
        """Make room for ``handler`` (closing the oldest idle connection) or say it must go."""
        if len(self.open) >= self.cap:
            idle = next((h for h in self.open if h.idle), None)
            self._note_full()
            if idle is None:
                self.refused += 1
                return False
            self.evicted += 1
            self.release(idle)
            idle.force_close()
        elif self._full and len(self.open) < self.cap // 2:
            self._full = False
            event(self.log, logging.INFO, "listener_not_full", open=len(self.open), evicted=self.evicted)
        self.open[handler] = None
        return True

    def release(self, handler: _Handler) -> None:
        """``handler``'s connection is gone (or going)."""
        self.open.pop(handler, None)

    def _note_full(self) -> None:
        if not self._full:
            self._full = True
            event(self.log, logging.WARNING, "listener_full", max_connections=self.cap)


class _Handler(RequestHandler):
    """aiohttp's request handler, admitted by the gate and held to the header deadline."""

    __slots__ = ("_admitted", "_gate", "_header_timer")

    def __init__(self, manager: web.Server, gate: Gate, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._admitted = False
        self._header_timer: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        """No request being handled or queued (a head still arriving counts as idle)."""
        # aiohttp's own state (pinned version): the request in progress and the parsed ones queued.
        return self._current_request is None and not self._messages

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection or close it at once; start the first request's deadline."""
        if not self._gate.admit(self):
            transport.close()  # nothing was read or written: closing is immediate
            return
        self._admitted = True
        super().connection_made(transport)
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self._gate.header_timeout, self._head_due)

    def _head_due(self) -> None:
        self._header_timer = None
        if self._request_count == 0 and self.transport is not None:  # not one complete head yet
            self._gate.timed_out += 1
            self._gate.release(self)
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        """Free the slot; a refused connection never reached aiohttp."""
        if not self._admitted:
            return
        self._admitted = False
        self._gate.release(self)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


class ListenerSite(web.TCPSite):
    """A TCP site whose connections go through a :class:`Gate`."""

    __slots__ = ("_gate", "_handler_args")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        gate: Gate,
        handler_args: dict[str, Any],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, reuse_address=True)
        self._gate = gate
        self._handler_args = handler_args

    async def start(self) -> None:
        """Bind and serve (what TCPSite.start does, with the gated handler factory)."""
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        gate, kwargs = self._gate, self._handler_args

        def handler() -> _Handler:
            return _Handler(server, gate, loop=loop, **kwargs)

        self._server = await loop.create_server(
            handler,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            # A TLS handshake comes before any HTTP: it gets the header deadline too.
            ssl_handshake_timeout=gate.header_timeout if self._ssl_context is not None else None,
        )

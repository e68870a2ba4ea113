"""A real loopback server (HTTP or bare TCP) on a fixed port that a test takes down and brings back."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.helpers import free_port, send_in_pieces

__all__ = ["PAGE", "Switchable"]

PAGE = b"<!doctype html><title>shop</title>" + b"<p>catalogue entry</p>" * 2000  # ~44 KB, a real page's size


class Switchable:
    """A real loopback server on a fixed port that the test takes down and brings back."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def target(self) -> str:
        return f"http://127.0.0.1:{self.port}/" if self.kind == "http" else f"127.0.0.1:{self.port}"

    async def up(self) -> None:
        if self.kind == "tcp":
            self._tcp = await asyncio.start_server(_hang_up, "127.0.0.1", self.port)
            return
        app = web.Application()
        app.router.add_get("/{path:.*}", _page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def _page(request: web.Request) -> web.StreamResponse:
    return await send_in_pieces(request, PAGE)


async def _hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()

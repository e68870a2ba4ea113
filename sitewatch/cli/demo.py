"""A tiny bundled target for ``sitewatch demo``: one healthy page and three broken ones."""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

from aiohttp import web

__all__ = ["DEMO_CONFIG", "DemoTarget", "demo_config_path"]

DEMO_CONFIG = "demo.yaml"
#: How long the slow page takes; under the demo's 3 s timeout, so slow but up.
SLOW_SECONDS = 1.5

_PAGE = "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


async def _healthy(_: web.Request) -> web.Response:
    body = _PAGE.format(title="Demo shop", body="<p>Welcome to the demo shop.</p>")
    return web.Response(text=body, content_type="text/html")


async def _slow(_: web.Request) -> web.Response:
    await asyncio.sleep(SLOW_SECONDS)
    return web.Response(text=_PAGE.format(title="Slow page", body="<p>Eventually.</p>"), content_type="text/html")


async def _error(_: web.Request) -> web.Response:
    return web.Response(
        status=500, text=_PAGE.format(title="500", body="Internal Server Error"), content_type="text/html"
    )


async def _fatal(_: web.Request) -> web.Response:
    # The classic PHP failure: the page "works" (200) and shows an error instead of the shop.
    body = "<b>Fatal error</b>: Uncaught Error: Call to undefined function wc_get_cart() in /var/www/shop/index.php:12"
    return web.Response(text=_PAGE.format(title="Shop", body=body), content_type="text/html")


class DemoTarget:
    """The demo web site on loopback; ``url`` is known after :meth:`start`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/", _healthy)
        app.router.add_get("/slow", _slow)
        app.router.add_get("/error", _error)
        app.router.add_get("/fatal", _fatal)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._host, self._port = host, port
        self.url = ""

    async def start(self) -> str:
        """Bind and return the base URL (no trailing slash)."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        """Stop serving."""
        await self._runner.cleanup()


def demo_config_path() -> Path:
    """Path of the embedded demo config inside the installed package."""
    return Path(str(resources.files("sitewatch.cli").joinpath(DEMO_CONFIG)))

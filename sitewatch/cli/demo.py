"""``sitewatch demo``: a tiny bundled target (one healthy page and three broken ones) and the agent watching it.

The agent is the real one, served as ``sitewatch run`` serves it (:func:`sitewatch.cli.run.serve`),
with the bundled ``demo.yaml`` pointed at the target and a throwaway state directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from aiohttp import web

from sitewatch.cli.run import serve
from sitewatch.config.loader import load_config

__all__ = ["DEMO_CONFIG", "DemoTarget", "demo_command", "demo_config_path"]

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


def demo_command(listen: str, log: logging.Logger) -> int:
    """Serve the demo target and watch it with an agent on ``listen`` until Ctrl-C."""
    return asyncio.run(_demo(listen, log))


async def _demo(listen: str, log: logging.Logger) -> int:
    target = DemoTarget()
    url = await target.start()
    state = Path(tempfile.mkdtemp(prefix="sitewatch-demo-"))
    os.environ.update(SITEWATCH_DEMO_URL=url, SITEWATCH_DEMO_STATE=str(state), SITEWATCH_DEMO_LISTEN=listen)
    try:
        config = load_config(demo_config_path())
        print(f'demo target:  {url}/ (healthy), /slow, /error (HTTP 500), /fatal ("Fatal error" in a 200)')
        print(f"metrics:      http://{listen}/metrics")
        print(f"status page:  http://{listen}/")
        print(f"status API:   http://{listen}/api/status, /api/incidents, /api/sites/demo-error/history")
        print("stop with Ctrl-C", flush=True)
        return await serve(config, log)
    finally:
        await target.close()
        shutil.rmtree(state, ignore_errors=True)

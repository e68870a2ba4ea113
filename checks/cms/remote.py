"""Fetch the pages remote fingerprinting reads: the home page, ``/feed/`` and ``/magento_version``."""

from __future__ import annotations

import asyncio
import codecs

import aiohttp
import yarl

from checks.cms.model import Page, feed_links
from sitewatch.probe import Context, format_duration, read_body

__all__ = ["fetch_pages"]

_EXTRA = {"wordpress": ("feed", "feed/"), "magento": ("magento_version", "magento_version")}


async def _get(ctx: Context, url: yarl.URL, max_body: int) -> Page:
    async with ctx.session.get(url, timeout=aiohttp.ClientTimeout(total=None), max_redirects=5) as resp:
        body = await read_body(resp.content, max_body)
        headers: dict[str, tuple[str, ...]] = {}
        for name in resp.headers:
            headers.setdefault(name.lower(), tuple(resp.headers.getall(name)))
        text = body.data.decode(_charset(resp.charset), errors="replace")
        return Page(resp.url, resp.status, headers, text, body.truncated)


def _charset(name: str | None) -> str:
    """The page's charset if Python knows it, else UTF-8 (a bogus charset must not fail the check)."""
    try:
        return codecs.lookup(name or "utf-8").name
    except LookupError:
        return "utf-8"


def _advertised_feed(pages: dict[str, Page], wanted: dict[str, yarl.URL]) -> yarl.URL | None:
    """The feed the home page advertises, when ``/feed/`` gave none (plain permalinks: ``/?feed=rss2``)."""
    home, feed = pages.get("home"), pages.get("feed")
    if "feed" not in wanted or home is None or not home.ok or (feed is not None and feed.ok and _is_feed(feed)):
        return None
    links = [url for url in feed_links(home.body, home.url) if url != wanted["feed"]]
    return links[0] if links else None


def _is_feed(page: Page) -> bool:
    return "xml" in page.header("content-type").lower() or page.body.lstrip().startswith("<?xml")


def _reason(exc: BaseException, url: yarl.URL) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {url.host}:{url.port} ({exc.os_error.strerror or type(exc.os_error).__name__})"
    return f"request to {url.host} failed ({type(exc).__name__})"


async def fetch_pages(
    ctx: Context, base: yarl.URL, kinds: tuple[str, ...], max_body: int, budget: float
) -> tuple[dict[str, Page], str | None]:
    """Fetch concurrently within ``budget`` seconds; the error text is about the home page only.

    The extra pages are optional: a failure there just means one signal fewer.
    """
    if not kinds:
        return {}, None
    wanted = {"home": base}
    for kind in kinds:
        if kind in _EXTRA:
            name, path = _EXTRA[kind]
            wanted[name] = base.join(yarl.URL(path))
    pages: dict[str, Page] = {}
    errors: dict[str, str] = {}

    async def one(name: str, url: yarl.URL) -> None:
        try:
            pages[name] = await _get(ctx, url, max_body)
        except (aiohttp.ClientError, OSError) as exc:
            errors[name] = _reason(exc, url)

    try:
        async with asyncio.timeout(budget):
            async with asyncio.TaskGroup() as group:
                for name, url in wanted.items():
                    group.create_task(one(name, url))
            if (advertised := _advertised_feed(pages, wanted)) is not None:
                await one("feed", advertised)
    except TimeoutError:
        errors.setdefault("home", f"no complete answer within {format_duration(budget)}")
    return pages, (errors.get("home") if "home" not in pages else None)

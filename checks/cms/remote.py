"""Remote fingerprinting: fetch the pages it reads (the home page, ``/feed/``, ``/magento_version``), pick a finding."""

from __future__ import annotations

import asyncio
import codecs
from typing import Any

import aiohttp
import yarl

from checks.cms import bitrix, magento, wordpress
from checks.cms.model import Finding, Page, feed_links
from sitewatch.probe import Context, format_duration, read_body

__all__ = ["fetch_pages", "pick_remote"]

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


def pick_remote(kinds: tuple[str, ...], pages: dict[str, Any]) -> tuple[Finding | None, dict[str, Any]]:
    """The best fingerprint of ``kinds`` in ``pages`` (a version first, then the most signals), and the others seen."""
    found = []
    if "wordpress" in kinds:
        found.append(wordpress.detect_remote(pages.get("home"), pages.get("feed")))
    if "bitrix" in kinds:
        found.append(bitrix.detect_remote(pages.get("home")))
    if "magento" in kinds:
        found.append(magento.detect_remote(pages.get("home"), pages.get("magento_version")))
    hits = [f for f in found if f is not None]
    hits.sort(key=lambda f: (f.version is not None, len(f.extra.get("signals", ()))), reverse=True)
    others = {"also_seen": [f.cms for f in hits[1:]]} if len(hits) > 1 else {}
    return (hits[0] if hits else None), others

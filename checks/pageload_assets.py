"""Finds the sub-resources a page references, with the standard library's tolerant HTML parser.

``html.parser`` copes with the broken markup real shop themes ship, adds no dependency
and is maintained with CPython; a page speed probe needs tags and attributes, not a DOM.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import yarl

from checks.pageload_config import host_allowed

__all__ = ["Asset", "AssetPlan", "find_assets", "plan_assets"]

# <link rel=...> tokens that make a browser fetch the target while loading the page.
_LINK_KINDS = {
    "stylesheet": "stylesheet",
    "preload": "preload",
    "modulepreload": "script",
    "icon": "icon",
    "apple-touch-icon": "icon",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One resource referenced by the page: its kind and absolute URL."""

    kind: str  # stylesheet, script, image, icon, preload
    url: yarl.URL


class _Collector(HTMLParser):
    """Collects (kind, raw reference) pairs in document order, plus the first ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "link" and values.get("href"):
            rels = values.get("rel", "").lower().split()
            if "alternate" in rels:  # alternate stylesheets and feeds are not loaded with the page
                return
            kind = next((_LINK_KINDS[r] for r in rels if r in _LINK_KINDS), None)
            if kind is not None:
                self.found.append((kind, values["href"]))
        elif tag == "script" and values.get("src"):
            self.found.append(("script", values["src"]))
        elif tag == "img" and values.get("src"):
            self.found.append(("image", values["src"]))

    handle_startendtag = handle_starttag


def find_assets(html: str, page_url: yarl.URL) -> list[Asset]:
    """Every distinct http(s) resource ``html`` references, resolved against ``page_url``.

    Blocking (pure CPU): call it through ``asyncio.to_thread`` for large pages.
    """
    collector = _Collector()
    collector.feed(html)
    collector.close()
    base = page_url
    if collector.base:
        try:
            base = page_url.join(yarl.URL(collector.base))
        except ValueError:
            base = page_url
    assets: list[Asset] = []
    seen: set[yarl.URL] = set()
    for kind, ref in collector.found:
        try:
            url = base.join(yarl.URL(ref)).with_fragment(None)
        except ValueError:
            continue  # a reference no browser could load either
        if url.scheme not in ("http", "https") or not url.host or url in seen:
            continue  # data:, javascript:, blob: cost no request; duplicates are fetched once
        seen.add(url)
        assets.append(Asset(kind, url))
    return assets


@dataclass(frozen=True, slots=True)
class AssetPlan:
    """Which assets will be fetched and which were left out, and why."""

    fetch: tuple[Asset, ...]
    cross_origin: tuple[Asset, ...]
    over_limit: int


def plan_assets(assets: list[Asset], page_url: yarl.URL, allowed: tuple[str, ...], limit: int) -> AssetPlan:
    """Split ``assets`` into same-origin (or allowed host) ones to fetch, and skipped ones."""
    origin = (page_url.scheme, page_url.host, page_url.port)
    fetch: list[Asset] = []
    skipped: list[Asset] = []
    for asset in assets:
        url = asset.url
        same = (url.scheme, url.host, url.port) == origin
        if same or host_allowed(url.host or "", allowed):
            fetch.append(asset)
        else:
            skipped.append(asset)
    return AssetPlan(tuple(fetch[:limit]), tuple(skipped), max(0, len(fetch) - limit))

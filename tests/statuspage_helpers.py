"""Builders shared by the status page tests: sites, results, an app on loopback and an HTML reader."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from sitewatch.agent import Agent
from sitewatch.config.specs import SiteSpec
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.probe import Result, SiteInfo, Status
from sitewatch.store.database import Store
from sitewatch.web.pagefigures import AvailabilityFn
from sitewatch.web.server import build_app
from sitewatch.web.statuspage import StatusPage
from tests.helpers import make_spec, serve, wait_for


def site(name: str, *checks: str, url: str = "http://127.0.0.1:9/", sla: float | None = None) -> SiteSpec:
    """A site with http checks of these names (one called ``http`` when none are given)."""
    specs = tuple(make_spec("http", url=url, site=name, name=c) for c in checks or ("http",))
    return SiteSpec(SiteInfo(name, specs[0].site.url), specs, sla)


def record(book: ResultBook, site: str, check: str, status: Status, summary: str, *, at: float, took: float) -> None:
    """Put one finished run into ``book`` as the scheduler would."""
    book.record(RunRecord(site, check, "http", Result(status, summary), at, took))


@dataclass(frozen=True)
class Fixed:
    """An availability figure with a known ratio."""

    ratio: float | None


def fixed_availability(by_window: dict[float, float | None]) -> AvailabilityFn:
    """Answers by window length (seconds), whatever the history says."""
    return lambda _store, _site, start, end: Fixed(by_window.get(round(end - start)))


@dataclass
class PageApp:
    """A status page served on loopback, with the pieces to feed it."""

    url: str
    book: ResultBook
    store: Store
    sites: list[SiteSpec]
    page: StatusPage


@contextlib.asynccontextmanager
async def page_app(
    tmp_path: Path,
    sites: Sequence[SiteSpec],
    availability: AvailabilityFn,
    now: Callable[[], float],
    shared: Mapping[str, Callable[[], Mapping[str, float]]] | None = None,
    *,
    people: tuple[str, str] = ("en", "UTC"),
) -> AsyncIterator[PageApp]:
    """``build_app`` with a status page over a fresh store; the book knows ``sites``' checks."""
    store = Store(tmp_path / "status.db")
    book = ResultBook()
    book.configure((c.key, c.type) for s in sites for c in s.checks)
    current = list(sites)
    page = StatusPage(store, lambda: current, availability, now, shared=shared, people=lambda: people)
    app = build_app(book, CollectorRegistry(), {}, lambda: (True, "ok"), push=lambda *_: False, page=page)
    try:
        async with serve(app) as url:
            yield PageApp(url, book, store, current, page)
    finally:
        page.close()
        store.close()


@dataclass
class Element:
    """A start tag and the text inside it (up to its end tag)."""

    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class Dom(HTMLParser):
    """Every element with a data-* attribute, and every URL-carrying attribute."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.marked: list[Element] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.urls += [v for k, v in values.items() if k in ("src", "href", "action", "srcset", "xlink:href")]
        element = Element(tag, values)
        if any(k.startswith("data-") for k in values):
            self.marked.append(element)
        if tag not in ("meta", "br", "link", "img", "input", "path"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag not in (e.tag for e in self._open):
            return  # a void or self-closed element (<path/>): nothing was opened
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def find(self, attr: str, value: str | None = None) -> list[Element]:
        """Elements carrying ``attr`` (with that value, if given)."""
        return [e for e in self.marked if attr in e.attrs and (value is None or e.attrs[attr] == value)]

    def text(self, element: Element) -> str:
        """Whitespace-collapsed text of ``element``."""
        return re.sub(r"\s+", " ", "".join(element.text)).strip()


def agent_config(tmp_path: Path, target: str, listen: str, agent_extra: str = "") -> Path:
    """A config watching ``target``'s good page (``ok``) and its 500 page (``bad``), incidents after one failure."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent: {{listen: '{listen}', state_dir: '{tmp_path}'{agent_extra}}}\n"
        "defaults: {interval: 1s, timeout: 900ms, fail_after: 1}\n"
        "sites:\n"
        f"  - {{name: ok, url: '{target}/'}}\n"
        f"  - {{name: bad, url: '{target}/bad'}}\n",
        encoding="utf-8",
    )
    return path


async def incident_delivered(agent: Agent) -> None:
    """Wait until ``bad`` has an open incident whose local ticket exists, and its runs are in the history."""

    def ready() -> bool:
        agent.flush_history()
        rows = agent.store.db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'done'").fetchone()[0]
        return bool(rows) and bool(agent.store.history("bad", 0))

    await wait_for(ready, timeout=15, what="an incident for 'bad' with its ticket delivered")


def target_app() -> web.Application:
    """A site whose ``/`` answers 200 and ``/bad`` 500."""

    async def good(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def bad(_: web.Request) -> web.Response:
        return web.Response(text="no", status=500)

    app = web.Application()
    app.router.add_get("/", good)
    app.router.add_get("/bad", bad)
    return app

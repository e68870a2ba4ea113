"""The status page at ``/``: a view model of sites, checks, incidents and deliveries, rendered with Jinja2.

Everything is computed on the server and every value goes through Jinja2's autoescaping: site
names, summaries and ticket errors come from configs and probed sites, which are not trusted to be
HTML-safe. The page loads nothing from anywhere (CSS inline, sparklines as inline SVG), so it works
on servers with no way out, and it runs no JavaScript. The view model is in
:mod:`sitewatch.web.statusview`, the cached uptime figures and sparklines in :mod:`sitewatch.web.pagefigures`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jinja2
from markupsafe import Markup

from sitewatch import __version__
from sitewatch.config.clients import Clients
from sitewatch.config.specs import SiteSpec
from sitewatch.config.tickets import TicketsConfig
from sitewatch.engine.results import ResultBook
from sitewatch.probe import Status, redact_url, worst
from sitewatch.reports.compliance_render import client_section
from sitewatch.store.database import Store
from sitewatch.store.queries import incidents
from sitewatch.store.sla import clocks
from sitewatch.web.pagefigures import UPTIME_WINDOWS, AvailabilityFn, PageFigures
from sitewatch.web.pagewords import page_filters
from sitewatch.web.scope import Scope, month_start
from sitewatch.web.statusview import CheckView, SiteView, StatusView

__all__ = ["StatusPage"]

#: Resolved incidents shown under the open ones.
RECENTLY_RESOLVED = 10
#: The page reloads itself this often (seconds); no script needed.
REFRESH_SECONDS = 30

#: Problems first, so the board's top row is what needs attention.
_ORDER = {"critical": 0, "error": 1, "warning": 2, "pending": 3, "ok": 4}


class StatusPage:
    """Builds and renders the page.

    Uptime figures and sparklines come from a :class:`~sitewatch.web.pagefigures.PageFigures`
    cache, refreshed in a worker thread before each render (so a page view never stalls the
    scheduler).
    """

    def __init__(
        self,
        store: Store,
        sites: Callable[[], Sequence[SiteSpec]],
        availability: AvailabilityFn,
        clock: Callable[[], float] = time.time,
        *,
        shared: Mapping[str, Callable[[], Mapping[str, float]]] | None = None,
        people: Callable[[], tuple[str, str]] = lambda: ("en", "UTC"),
        clients: Callable[[], Clients] | None = None,
        network: Callable[[], Mapping[str, Any] | None] = lambda: None,
    ) -> None:
        self.store = store
        self.sites = sites
        self._clock = clock
        #: (language, time zone) of the people reading the page, read at each render (reloads show at once).
        self._people = people
        #: The configured clients (their language and zone on their pages), read at each render.
        self.clients = clients or (lambda: Clients.build((), TicketsConfig(), "UTC"))
        self._network = network
        self._figures = PageFigures(store, sites, availability, shared)
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("sitewatch.web", "templates"),
            autoescape=True,  # every template, whatever its name: all values are untrusted
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def now(self) -> float:
        """The page's clock (injected in tests)."""
        return self._clock()

    def site(self, name: str) -> SiteSpec | None:
        """The configured site called ``name``."""
        return next((s for s in self.sites() if s.info.name == name), None)

    def close(self) -> None:
        """Close the figures' reader connection, if one was opened."""
        self._figures.close()

    def view(
        self, book: ResultBook, now: float, scope: Scope | None = None, extra: tuple[tuple[str, float], ...] = ()
    ) -> StatusView:
        """The page's data as of ``now`` for the sites in ``scope``, with the uptime figures last refreshed."""
        scope = scope or Scope()
        sites = scope.sites(self.sites())
        cards = [self._site_view(site, book, now, extra) for site in sites]
        cards.sort(key=lambda s: (_ORDER.get(s.status, 0), s.name))
        counts: dict[str, int] = {}
        for card in cards:
            counts[card.status] = counts.get(card.status, 0) + 1
        # Incidents of sites out of scope (or no longer configured) never reach a narrowed view.
        names = [s.info.name for s in sites] if scope.narrowed else None
        silences = tuple(book.silences()) if book.silences is not None and not scope.private else ()
        # Planned work on a client's own sites is its business too: shown on its page as well.
        maintenance = tuple(book.maintenance()) if book.maintenance is not None else ()
        return StatusView(
            now=now,
            version=__version__,
            sites=tuple(cards),
            open_incidents=(opened := tuple(incidents(self.store, "open", limit=500, sites=names))),
            resolved_incidents=(
                resolved := tuple(incidents(self.store, "resolved", limit=RECENTLY_RESOLVED, sites=names))
            ),
            sla=clocks(self.store, [i.id for i in (*opened, *resolved)], now),
            tickets=book.ticket_stats() if book.ticket_stats is not None and not scope.private else None,
            counts=counts,
            silences=tuple(s for s in silences if names is None or s.get("site") in names),
            maintenance=tuple(m for m in maintenance if names is None or m.get("site") in names),
            client=scope.client if scope.private else None,
            # The agent's own network is the team's business: not on a client's page.
            network=None if scope.private else self._network(),
        )

    async def render(self, book: ResultBook, scope: Scope | None = None) -> str:
        """The whole HTML document: the operator's (narrowed by ``scope``) or a client's own (private scope)."""
        now = self._clock()
        language, timezone = self._people()
        extra: tuple[tuple[str, float], ...] = ()
        history = "api/sites/"
        title = None
        sla_section = Markup("")
        if scope is not None and scope.private and scope.client is not None:
            title = self.clients().get(scope.client).title or scope.client
            route = self.clients().route(scope.client, ())
            language, timezone = route.language, route.timezone
            start, label = month_start(now, timezone)
            extra = ((label, max(now - start, 60.0)),)
            history = f"../../api/clients/{scope.client}/sites/"
            # This month's SLA compliance of this client alone, as its report writes it: every value escaped there.
            section = client_section(self.store, scope.client, title, (language, timezone), now)
            sla_section = Markup(section)  # noqa: S704
        await self._figures.refresh(now, scope, extra)
        view = self.view(book, now, scope, extra)
        template = self._env.get_template("status.html")
        words = page_filters(view.now, language, timezone)
        return template.render(
            view=view, refresh=REFRESH_SECONDS, history=history, title=title, compliance=sla_section, **words
        )

    def _site_view(
        self, site: SiteSpec, book: ResultBook, now: float, extra: tuple[tuple[str, float], ...] = ()
    ) -> SiteView:
        checks = []
        for spec in site.checks:
            record = book.latest.get(spec.key)
            if record is None:
                checks.append(CheckView(spec.name, spec.type, "pending", "not run yet", None, None))
            else:
                result = record.result
                checks.append(
                    CheckView(
                        spec.name, spec.type, result.status.value, result.summary, record.started, record.duration
                    )
                )
        ran = [Status(c.status) for c in checks if c.status != "pending"]
        status = worst(*ran).value if ran else "pending"
        figures = self._figures
        spark = figures.spark(site.info.name, now)
        uptime = tuple((label, figures.ratio(site.info.name, label, now)) for label, _ in (*UPTIME_WINDOWS, *extra))
        url = redact_url(site.info.url)
        return SiteView(site.info.name, url, status, tuple(checks), uptime, spark, site.sla, site.title)

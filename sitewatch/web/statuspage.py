"""The status page at ``/``: a view model of sites, checks, incidents and deliveries, rendered with Jinja2.

Everything is computed on the server and every value goes through Jinja2's autoescaping: site
names, summaries and ticket errors come from configs and probed sites, which are not trusted to be
HTML-safe. The page loads nothing from anywhere (CSS inline, sparklines as inline SVG), so it works
on servers with no way out, and it runs no JavaScript.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import jinja2
from markupsafe import Markup

from sitewatch import __version__
from sitewatch.config.clients import Clients
from sitewatch.config.specs import SiteSpec
from sitewatch.config.tickets import TicketsConfig
from sitewatch.engine.results import ResultBook, TicketStats
from sitewatch.probe import Status, redact_url, worst
from sitewatch.reports.compliance_render import client_section
from sitewatch.store.database import Store
from sitewatch.store.queries import IncidentRow, incidents
from sitewatch.store.sla import IncidentSla, clocks
from sitewatch.web.pagewords import page_filters
from sitewatch.web.scope import Scope, month_start
from sitewatch.web.sparkline import Sparkline, sparkline

__all__ = ["UPTIME_WINDOWS", "AvailabilityFn", "CheckView", "Ratio", "SiteView", "StatusPage", "StatusView"]

DAY = 86400.0
#: The uptime columns: label and window length in seconds.
UPTIME_WINDOWS: tuple[tuple[str, float], ...] = (("24h", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY))
#: Resolved incidents shown under the open ones.
RECENTLY_RESOLVED = 10
#: The page reloads itself this often (seconds); no script needed.
REFRESH_SECONDS = 30


class Ratio(Protocol):
    """What the page needs of an availability figure: up / (up + down), None when nothing was observed."""

    @property
    def ratio(self) -> float | None: ...


AvailabilityFn = Callable[[Store, SiteSpec, float, float], Ratio]


@dataclass(frozen=True, slots=True)
class CheckView:
    """One row of a site's card."""

    name: str
    type: str
    status: str  # ok, warning, error, critical, or pending before the first run
    summary: str
    last_run: float | None
    duration: float | None


@dataclass(frozen=True, slots=True)
class SiteView:
    """One site's card: worst status, its checks, uptime per window and a latency sparkline."""

    name: str
    url: str
    status: str
    checks: tuple[CheckView, ...]
    uptime: tuple[tuple[str, float | None], ...]
    spark: Sparkline | None
    sla: float | None = None  # the promised availability in percent, if configured
    title: str | None = None  # the site's title: (any script), shown above its name

    def below_sla(self, ratio: float | None) -> bool:
        """True when ``ratio`` was measured and misses the site's SLA target."""
        return self.sla is not None and ratio is not None and ratio * 100 < self.sla


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the page shows, already computed."""

    now: float
    version: str
    sites: tuple[SiteView, ...]
    open_incidents: tuple[IncidentRow, ...]
    resolved_incidents: tuple[IncidentRow, ...]
    tickets: TicketStats | None
    counts: Mapping[str, int]
    silences: tuple[Mapping[str, Any], ...] = ()
    client: str | None = None  # a client's own page: its name
    #: The SLA clocks of the incidents shown that have terms, by incident id.
    sla: Mapping[int, IncidentSla] = field(default_factory=dict)
    #: The agent's own network (``/healthz``'s ``network``), None without reference targets.
    network: Mapping[str, Any] | None = None


#: Problems first, so the board's top row is what needs attention.
_ORDER = {"critical": 0, "error": 1, "warning": 2, "pending": 3, "ok": 4}


class StatusPage:
    """Builds and renders the page.

    Uptime figures read up to 30 days of history and sparklines a day of it: they are computed
    in a worker thread on a read-only connection of their own (so a page view never stalls the
    scheduler) and cached, uptime until its window has moved on by 1/1440 of itself, sparklines
    for a minute (their buckets are half an hour).
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
        self._availability = availability
        self._clock = clock
        #: (language, time zone) of the people reading the page, read at each render (reloads show at once).
        self._people = people
        #: The configured clients (their language and zone on their pages), read at each render.
        self.clients = clients or (lambda: Clients.build((), TicketsConfig(), "UTC"))
        self._network = network
        # Windows someone else keeps current (label -> site -> ratio; a site absent has no data):
        # the agent's 30-day cache behind sitewatch_availability_ratio, so page and Grafana agree.
        self._shared = dict(shared or {})
        # (site, window label) -> (computed at, ratio)
        self._uptime: dict[tuple[str, str], tuple[float, float | None]] = {}
        self._sparks: dict[str, tuple[float, Sparkline | None]] = {}  # site -> (computed at, line)
        self._lock = asyncio.Lock()  # one computation at a time; the others wait for its cache
        self._reader: Store | None = None
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

    async def refresh(self, now: float, scope: Scope | None = None, extra: tuple[tuple[str, float], ...] = ()) -> None:
        """Recompute the uptime figures and sparklines that are due, off the event loop.

        Only the sites in ``scope``; ``extra`` windows (label, length) too, e.g. a client's month so far.
        """
        async with self._lock:
            configured = list(self.sites())
            names = {s.info.name for s in configured}
            for key in [k for k in self._uptime if k[0] not in names]:
                del self._uptime[key]  # sites removed by a reload
            for name in [n for n in self._sparks if n not in names]:
                del self._sparks[name]
            sites = scope.sites(configured) if scope is not None else configured
            due = [
                (site, label, length)
                for site in sites
                for label, length in (*UPTIME_WINDOWS, *extra)
                if label not in self._shared and _stale(self._uptime.get((site.info.name, label)), now, length)
            ]
            lines = [site for site in sites if _stale(self._sparks.get(site.info.name), now, DAY)]
            if due or lines:
                uptime, sparks = await asyncio.to_thread(self._compute, due, lines, now)
                self._uptime.update(uptime)
                self._sparks.update(sparks)

    def _compute(
        self, due: list[tuple[SiteSpec, str, float]], lines: list[SiteSpec], now: float
    ) -> tuple[dict[tuple[str, str], tuple[float, float | None]], dict[str, tuple[float, Sparkline | None]]]:
        # Runs in a worker thread: only the reader connection is touched here.
        if self._reader is None:
            self._reader = Store.open_readonly(self.store.path)
        reader = self._reader
        uptime = {
            (site.info.name, label): (now, self._availability(reader, site, now - length, now).ratio)
            for site, label, length in due
        }
        return uptime, {site.info.name: (now, _latency_line(reader, site, now)) for site in lines}

    def close(self) -> None:
        """Close the reader connection, if one was opened."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

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
        await self.refresh(now, scope, extra)
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
        spark = self._sparks.get(site.info.name, (now, None))[1]
        uptime = tuple((label, self._ratio(site.info.name, label, now)) for label, _ in (*UPTIME_WINDOWS, *extra))
        url = redact_url(site.info.url)
        return SiteView(site.info.name, url, status, tuple(checks), uptime, spark, site.sla, site.title)

    def _ratio(self, site: str, label: str, now: float) -> float | None:
        if label in self._shared:
            return self._shared[label]().get(site)
        return self._uptime.get((site, label), (now, None))[1]


def _latency_line(store: Store, site: SiteSpec, now: float) -> Sparkline | None:
    """The last day's durations of the site's http check (other types, heartbeat or backup, time local work)."""
    lead = next((c for c in site.checks if c.type == "http"), site.checks[0] if site.checks else None)
    if lead is None:
        return None
    rows = store.history(site.info.name, now - DAY)
    return sparkline(((at, took) for check, at, _, took in rows if check == lead.name), now - DAY, now)


def _stale(cached: tuple[float, object] | None, now: float, length: float) -> bool:
    # A day's figure is at most a minute old, a month's at most half an hour: 0.07 % of the window.
    return cached is None or now - cached[0] >= length / 1440 or now < cached[0]

"""A client's own routes: ``/clients/<name>/`` and its JSON under ``/api/clients/<name>/`` (incidents,
a site's history, a month's SLA compliance).

:mod:`sitewatch.web.access` has already let only that client (or the operator) through; these
handlers answer for the client's sites alone, and a client or site that is not there gets the
same 404 as a client the caller may not see.
"""

from __future__ import annotations

from aiohttp import web

from sitewatch.engine.results import ResultBook
from sitewatch.reports.compliance import client_month, compliance_json
from sitewatch.reports.formats import local_iso
from sitewatch.reports.report import ReportError
from sitewatch.store.queries import history, incidents
from sitewatch.store.sla import clocks
from sitewatch.web.access import not_found
from sitewatch.web.api import (
    HISTORY_LIMIT,
    ParameterError,
    bad_parameter,
    dumps,
    history_document,
    incidents_document,
    parse_limit,
    parse_since,
    parse_state,
)
from sitewatch.web.scope import Scope
from sitewatch.web.statuspage import StatusPage

__all__ = ["client_routes"]


def client_routes(book: ResultBook, page: StatusPage) -> list[web.RouteDef]:
    """The routes of every client's page and API, served from ``book`` and ``page``'s store."""

    def scope(request: web.Request) -> Scope | None:
        name = request.match_info["client"]
        return Scope(client=name, private=True) if name in page.clients().by_name else None

    async def show(request: web.Request) -> web.StreamResponse:
        mine = scope(request)
        if mine is None:
            return not_found()
        html = await page.render(book, mine)
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def to_page(request: web.Request) -> web.StreamResponse:
        if scope(request) is None:
            return not_found()
        raise web.HTTPPermanentRedirect(f"{request.match_info['client']}/")

    async def incident_list(request: web.Request) -> web.StreamResponse:
        mine = scope(request)
        if mine is None:
            return not_found()
        try:
            state = parse_state(request.query.get("state"))
            limit = parse_limit(request.query.get("limit"), default=50, maximum=1000)
        except ParameterError as exc:
            return bad_parameter(exc)
        names = [s.info.name for s in mine.sites(page.sites())]
        rows = incidents(page.store, state, limit, sites=names)
        # Delivery errors are the team's business (desk URLs, its errors), not the client's.
        sla = clocks(page.store, [r.id for r in rows], page.now())
        return web.json_response(incidents_document(rows, state, sla, errors=False), dumps=dumps)

    async def site_history(request: web.Request) -> web.StreamResponse:
        mine = scope(request)
        site = page.site(request.match_info["name"])
        if mine is None or site is None or not mine.admits(site):
            return not_found()
        now = page.now()
        try:
            since = parse_since(request.query.get("since"), now)
            limit = parse_limit(request.query.get("limit"), default=HISTORY_LIMIT, maximum=HISTORY_LIMIT)
        except ParameterError as exc:
            return bad_parameter(exc)
        rows, truncated = history(page.store, site.info.name, since, now, limit)
        return web.json_response(history_document(site.info.name, since, now, rows, truncated), dumps=dumps)

    async def sla(request: web.Request) -> web.StreamResponse:
        mine = scope(request)
        if mine is None or mine.client is None:
            return not_found()
        name = mine.client
        timezone = page.clients().route(name, ()).timezone
        now = page.now()
        try:
            period, found = client_month(page.store, name, timezone, now, request.query.get("month"))
        except ReportError as exc:
            return bad_parameter(ParameterError("month", str(exc).removeprefix("--month: ")))
        (document,) = compliance_json([found]) if found else [{"client": name, "priorities": [], "breaches": []}]
        document.update(
            client=name,
            timezone=timezone,
            month=period.label,
            start=local_iso(period.start, timezone, z=False),
            until=local_iso(period.end, timezone, z=False),
        )
        return web.json_response(document, dumps=dumps)

    return [
        web.get("/clients/{client}", to_page),
        web.get("/clients/{client}/", show),
        web.get("/api/clients/{client}/incidents", incident_list),
        web.get("/api/clients/{client}/sites/{name}/history", site_history),
        web.get("/api/clients/{client}/sla", sla),
    ]

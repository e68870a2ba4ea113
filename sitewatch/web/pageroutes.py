"""The operator's status page at ``/`` and the JSON beside it: ``/api/incidents`` and ``/api/sites/<name>/history``.

Served only when the agent has a :class:`~sitewatch.web.statuspage.StatusPage` (they read its
store and its sites); ``?client=`` and ``?tag=`` narrow the page and the incident list
(:mod:`sitewatch.web.scope`). A client's own page and API are in :mod:`sitewatch.web.clientroutes`.
"""

from __future__ import annotations

from aiohttp import web

from sitewatch.engine.results import ResultBook
from sitewatch.store.queries import history, incidents
from sitewatch.store.sla import clocks
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
from sitewatch.web.scope import operator_scope
from sitewatch.web.statuspage import StatusPage

__all__ = ["page_routes"]


def page_routes(book: ResultBook, page: StatusPage) -> list[web.RouteDef]:
    """The page's routes, served from ``book`` and ``page``'s store."""

    async def status_page(request: web.Request) -> web.Response:
        try:
            scope = operator_scope(request.query, page.clients())
        except ParameterError as exc:
            return bad_parameter(exc)
        html = await page.render(book, scope)
        # The page is live data: no caching by browsers or proxies in between.
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def incident_list(request: web.Request) -> web.Response:
        try:
            state = parse_state(request.query.get("state"))
            limit = parse_limit(request.query.get("limit"), default=50, maximum=1000)
            scope = operator_scope(request.query, page.clients())
        except ParameterError as exc:
            return bad_parameter(exc)
        names = [s.info.name for s in scope.sites(page.sites())] if scope.narrowed else None
        rows = incidents(page.store, state, limit, sites=names)
        sla = clocks(page.store, [r.id for r in rows], page.now())
        return web.json_response(incidents_document(rows, state, sla), dumps=dumps)

    async def site_history(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if page.site(name) is None:
            return web.json_response({"error": f"unknown site {name!r}"}, status=404, dumps=dumps)
        now = page.now()
        try:
            since = parse_since(request.query.get("since"), now)
            limit = parse_limit(request.query.get("limit"), default=HISTORY_LIMIT, maximum=HISTORY_LIMIT)
        except ParameterError as exc:
            return bad_parameter(exc)
        rows, truncated = history(page.store, name, since, now, limit)
        return web.json_response(history_document(name, since, now, rows, truncated), dumps=dumps)

    return [
        web.get("/", status_page),
        web.get("/api/incidents", incident_list),
        web.get("/api/sites/{name}/history", site_history),
    ]

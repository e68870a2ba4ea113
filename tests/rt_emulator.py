"""A strict Request Tracker REST2 emulator on loopback, for tests that need several queues without a real RT.

The real RT 5 (`make test-integration`, .ci/rt.sh) stays the reference; this follows its REST2
documentation (docs.bestpractical.com/rt/5.0.x/RT/REST2.html) for the calls the ``rt`` sink
makes, and refuses what RT refuses: a wrong password is 401; a ticket in a queue that does not
exist is a 400; a search is the TicketSQL subset the sink writes (``Queue = '…' AND CF.{…} = '…'
AND Status = '__Active__'``) or a 400. Like RT, a custom field the queue does not have is dropped
without a word, so a sink writing the wrong field name is caught by its search finding nothing.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["RtEmulator"]

#: ``Status = '__Active__'``: RT's active statuses in the default lifecycle.
_ACTIVE = {"new", "open", "stalled"}
_CLAUSE = re.compile(r"(Queue|CF\.\{([^}]+)\}|Status) = '((?:[^'\\]|\\.)*)'")


@dataclass
class RtEmulator:
    """Queues by name, each with the custom fields applied to it; ``tickets`` by id, as RT stores them."""

    queues: dict[str, set[str]]
    username: str = "root"
    password: str = "sitewatch123"
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> web.Application:
        """The REST2 routes under /rt/REST/2.0 (the sink's ``url`` is then ``<base>/rt``)."""
        app = web.Application(middlewares=[self._auth])
        base = "/rt/REST/2.0"
        app.router.add_post(f"{base}/ticket", self._create)
        app.router.add_get(f"{base}/tickets", self._search)
        app.router.add_get(base + "/ticket/{id:\\d+}", self._show)
        app.router.add_put(base + "/ticket/{id:\\d+}", self._update)
        app.router.add_post(base + "/ticket/{id:\\d+}/comment", self._comment)
        return app

    def in_queue(self, queue: str) -> list[dict[str, Any]]:
        """The tickets of ``queue``, oldest first."""
        return [t for _, t in sorted(self.tickets.items()) if t["Queue"] == queue]

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)  # type: ignore[no-any-return]

    async def _create(self, request: web.Request) -> web.Response:
        document = await request.json()
        queue = document.get("Queue")
        if queue not in self.queues:
            return web.json_response({"message": f"Could not create ticket: Invalid queue {queue!r}"}, status=400)
        number = len(self.tickets) + 1
        fields = {k: v for k, v in document.get("CustomFields", {}).items() if k in self.queues[queue]}
        self.tickets[number] = {
            "id": number,
            "Queue": queue,
            "Subject": document.get("Subject", ""),
            "Status": "new",
            "Priority": int(document.get("Priority", 0)),
            "CustomFields": fields,
            "Content": document.get("Content", ""),
            "Comments": [],
        }
        return web.json_response(
            {"id": number, "type": "ticket", "_url": f"{request.url.origin()}{request.path}/{number}"}, status=201
        )

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        clauses = query.split(" AND ")
        parsed = [_CLAUSE.fullmatch(c) for c in clauses]
        if not query or not all(parsed):
            return web.json_response({"message": f"Invalid query: {query}"}, status=400)
        found = list(self.tickets.values())
        for match in parsed:
            assert match is not None
            name, cf, value = match[1], match[2], match[3].replace("\\'", "'")
            if name == "Queue":
                found = [t for t in found if t["Queue"] == value]
            elif name == "Status":
                if value != "__Active__":
                    return web.json_response({"message": f"Invalid query: {query}"}, status=400)
                found = [t for t in found if t["Status"] in _ACTIVE]
            else:
                found = [t for t in found if t["CustomFields"].get(cf) == value]
        found.sort(key=lambda t: int(t["id"]), reverse=request.query.get("order") == "DESC")
        items = [
            {"type": "ticket", "id": str(t["id"]), "_url": f"{request.url.origin()}/ticket/{t['id']}"} for t in found
        ]
        return web.json_response({"count": len(items), "page": 1, "per_page": 20, "total": len(items), "items": items})

    def _ticket(self, request: web.Request) -> dict[str, Any]:
        number = int(request.match_info["id"])
        if number not in self.tickets:
            raise web.HTTPNotFound(text='{"message": "Resource does not exist"}', content_type="application/json")
        return self.tickets[number]

    async def _show(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        return web.json_response({k: v for k, v in ticket.items() if k not in ("Content", "Comments")})

    async def _update(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        changes = await request.json()
        messages = []
        for key in ("Status", "Priority"):
            if key in changes:
                messages.append(f"Ticket {ticket['id']}: {key} changed from '{ticket[key]}' to '{changes[key]}'")
                ticket[key] = int(changes[key]) if key == "Priority" else changes[key]
        return web.json_response(messages)

    async def _comment(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        document = await request.json()
        if not document.get("Content"):
            return web.json_response({"message": "Content is required"}, status=400)
        ticket["Comments"].append(document["Content"])
        return web.json_response(["Comments added"], status=201)

"""The routes every agent serves, page or not: ``/metrics``, ``/healthz`` and ``/api/status``.

What the agent says of itself, with or without a status page: the exposition Prometheus
scrapes, whether the agent is healthy, and every check's last result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Protocol

from aiohttp import web

from sitewatch import __version__
from sitewatch.engine.results import ResultBook
from sitewatch.web.api import dumps

__all__ = ["HealthProbe", "MetricsRenderer", "NetworkProbe", "agent_routes", "status_document"]


class MetricsRenderer(Protocol):
    """Renders the exposition for a scrape's ``Accept`` header: ``(body chunks, content type)``."""

    def render_chunks(self, accept: str = "") -> tuple[Iterator[bytes], str]: ...


class HealthProbe(Protocol):
    """Says whether the agent is healthy, and why not."""

    def __call__(self) -> tuple[bool, str]: ...


#: The agent's own network (sitewatch.engine.reachability), None without reference targets.
class NetworkProbe(Protocol):
    """The agent's network as JSON (state, since, reference results), or None without references."""

    def __call__(self) -> dict[str, Any] | None: ...


def agent_routes(
    book: ResultBook,
    metrics: MetricsRenderer,
    info: dict[str, Any],
    health: HealthProbe,
    network: NetworkProbe | None = None,
) -> list[web.RouteDef]:
    """``/metrics`` from ``metrics``, ``/healthz`` from ``health`` (and ``network``), ``/api/status`` from ``book``."""

    async def scrape(request: web.Request) -> web.StreamResponse:
        chunks, content_type = metrics.render_chunks(request.headers.get("Accept", ""))
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        # With 10,000 checks the body is ~12 MB, made in ~20 ms from lines rendered as results came in;
        # writing it chunk by chunk keeps one family's text in memory at a time, not the whole body.
        for chunk in chunks:
            if chunk:
                await response.write(chunk)
        await response.write_eof()
        return response

    async def healthz(_: web.Request) -> web.Response:
        healthy, reason = health()
        document: dict[str, Any] = {"status": "ok" if healthy else "unhealthy", "reason": reason}
        # The agent is alive even when its network is not: that is reported, never a 503 (no restart helps).
        state = network() if network is not None else None
        if state is not None:
            document["network"] = state
        return web.json_response(document, status=200 if healthy else 503)

    async def status(_: web.Request) -> web.Response:
        return web.json_response(status_document(book, info), dumps=dumps)

    return [web.get("/metrics", scrape), web.get("/healthz", healthz), web.get("/api/status", status)]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_document(book: ResultBook, info: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of ``/api/status``: agent facts and every check's last result."""
    checks = []
    for (site, check), check_type in sorted(book.configured.items()):
        record = book.latest.get((site, check))
        item: dict[str, Any] = {"site": site, "check": check, "type": check_type}
        if record is None:
            item.update(status="pending", summary="not run yet", last_run=None, duration_seconds=None, details={})
        else:
            item.update(
                status=record.result.status.value,
                summary=record.result.summary,
                last_run=_iso(record.started),
                duration_seconds=round(record.duration, 6),
                details=dict(record.result.details),
            )
        checks.append(item)
    document: dict[str, Any] = {"agent": {**info, "version": __version__, "checks": len(checks)}, "checks": checks}
    if book.silences is not None:
        document["silences"] = list(book.silences())
    if book.maintenance is not None:
        document["maintenance"] = list(book.maintenance())
    if book.ticket_stats is not None:
        stats = book.ticket_stats()
        document["tickets"] = {
            "open_incidents": stats.open_incidents,
            "pending": stats.outbox_pending,
            "dead": stats.outbox_dead,
            "oldest_pending_age_seconds": round(stats.oldest_pending_age, 3),
            "dead_letters": [dict(d) for d in stats.dead_letters],
        }
    return document

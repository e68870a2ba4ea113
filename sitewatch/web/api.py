"""JSON documents and query parameters of ``/api/incidents`` and ``/api/sites/<name>/history``.

:func:`dumps` is the JSON encoding every API answer shares (the agent's, the page's, a client's).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from sitewatch.i18n import local_time
from sitewatch.store.queries import HistoryRow, IncidentRow, IncidentState
from sitewatch.store.sla import IncidentSla
from sitewatch.units import parse_duration

__all__ = [
    "HISTORY_LIMIT",
    "ParameterError",
    "bad_parameter",
    "dumps",
    "history_document",
    "incidents_document",
    "iso",
    "parse_limit",
    "parse_since",
    "parse_state",
]

#: Rows one history answer may carry: 30 days of a 1-minute check is 43,200.
HISTORY_LIMIT = 50_000


_STATES: dict[str, IncidentState] = {"open": "open", "resolved": "resolved", "all": "all"}


def parse_state(raw: str | None) -> IncidentState:
    """``?state=`` of an incident list: open, resolved or all (the default)."""
    state = _STATES.get("all" if raw is None else raw)
    if state is None:
        raise ParameterError("state", f"expected open, resolved or all, got {raw!r}")
    return state


class ParameterError(ValueError):
    """A bad query parameter; the API answers 400 naming it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def dumps(data: Any) -> str:
    """An API answer as JSON text: non-ASCII as it is, anything else JSON lacks as its ``str()``."""
    return json.dumps(data, ensure_ascii=False, default=str)


def bad_parameter(error: ParameterError) -> web.Response:
    """The 400 of every API route: what was wrong, and the parameter it was in."""
    return web.json_response({"error": str(error), "parameter": error.parameter}, status=400, dumps=dumps)


def iso(ts: float | None) -> str | None:
    """Unix seconds as RFC 3339 in UTC (``2026-11-26T23:10:00Z``)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_since(text: str | None, now: float, default: str = "24h") -> float:
    """Unix seconds for ``since``: a duration back from now (``24h``, ``7d``) or an ISO-8601 time with a zone."""
    value = (text if text is not None else default).strip()
    if not value:
        raise ParameterError("since", "empty; use a duration like 24h or a time like 2026-11-20T00:00:00Z")
    if value[0].isdigit() and not any(c in value for c in "-:T"):
        try:
            return now - parse_duration(value)
        except ValueError:
            raise ParameterError("since", f"expected a duration like 24h or 7d, got {value!r}") from None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ParameterError(
            "since", f"expected a duration like 24h or an ISO-8601 time like 2026-11-20T00:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        # Same rule as maintenance windows: a zone-less time is ambiguous by hours.
        raise ParameterError("since", f"add a zone to {value!r}, e.g. 2026-11-20T00:00:00Z or +03:00 (as %2B03:00)")
    return moment.timestamp()


def parse_limit(text: str | None, default: int, maximum: int) -> int:
    """``limit`` as a positive integer no larger than ``maximum``."""
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise ParameterError("limit", f"expected a whole number, got {text!r}") from None
    if not 1 <= limit <= maximum:
        raise ParameterError("limit", f"expected 1 to {maximum}, got {limit}")
    return limit


def _deadlines(sla: IncidentSla | None) -> dict[str, Any]:
    """Respond-by and resolve-by in UTC and as the client reads them, with how each goal stands."""
    if sla is None:
        empty = ("respond_by", "respond_by_local", "resolve_by", "resolve_by_local", "sla")
        return dict.fromkeys(empty)
    response, resolve = sla.clock.response, sla.clock.resolve

    def local(ts: float | None) -> str | None:
        return None if ts is None else local_time(ts, sla.timezone, sla.language)

    return {
        "respond_by": iso(response.deadline),
        "respond_by_local": local(response.deadline),
        "resolve_by": iso(resolve.deadline),
        "resolve_by_local": local(resolve.deadline),
        "sla": {
            "client": sla.client,
            "priority": sla.priority,
            "timezone": sla.timezone,
            "response": response.outcome,
            "resolve": resolve.outcome,
            "acked_by": sla.acked_by,
            "waiting_reason": sla.waiting_reason,
            "response_seconds": round(response.elapsed, 3),
            "resolve_seconds": round(resolve.elapsed, 3),
        },
    }


def incidents_document(
    rows: Iterable[IncidentRow], state: str, sla: Mapping[int, IncidentSla] | None = None, *, errors: bool = True
) -> dict[str, Any]:
    """The body of ``/api/incidents``; ``sla`` holds the clocks of the incidents that have SLA terms.

    Without ``errors`` (a client's view) no delivery error text.
    """
    clocks = sla or {}
    items = [
        {
            "id": r.id,
            "key": r.key,
            "site": r.site,
            "check": r.check,
            "state": "open" if r.resolved_at is None else "resolved",
            "severity": r.severity,
            "summary": r.summary,
            "flapping": r.flapping,
            "opened_at": iso(r.opened_at),
            "resolved_at": iso(r.resolved_at),
            **_deadlines(clocks.get(r.id)),
            "tickets": [
                {
                    "sink": t.sink,
                    "ref": t.ref,
                    "delivery": t.delivery,
                    "pending": t.pending,
                    "last_error": t.last_error if errors else None,
                    "status": t.status,
                }
                for t in r.tickets
            ],
        }
        for r in rows
    ]
    return {"state": state, "count": len(items), "incidents": items}


def history_document(
    site: str, since: float, until: float, rows: Iterable[HistoryRow], truncated: bool
) -> dict[str, Any]:
    """The body of ``/api/sites/<name>/history``."""
    results = [
        {"check": r.check, "at": iso(r.at), "status": r.status, "duration_seconds": _finite(r.duration)} for r in rows
    ]
    return {"site": site, "since": iso(since), "until": iso(until), "truncated": truncated, "results": results}


def _finite(value: float) -> float | None:
    # JSON has no NaN or Infinity; a broken row must not make the whole answer unparseable.
    return round(value, 6) if math.isfinite(value) else None

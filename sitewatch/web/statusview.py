"""The status page's view model: what one page shows, every value already computed.

:class:`~sitewatch.web.statuspage.StatusPage` builds a :class:`StatusView` and the Jinja2
template only lays it out; kept apart so the template's whole vocabulary is in one short file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sitewatch.engine.results import TicketStats
from sitewatch.store.queries import IncidentRow
from sitewatch.store.sla import IncidentSla
from sitewatch.web.sparkline import Sparkline

__all__ = ["CheckView", "SiteView", "StatusView"]


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
    #: Maintenance windows in force (``sitewatch.config.maintenance.in_force``), scoped like the sites.
    maintenance: tuple[Mapping[str, Any], ...] = ()
    client: str | None = None  # a client's own page: its name
    #: The SLA clocks of the incidents shown that have terms, by incident id.
    sla: Mapping[int, IncidentSla] = field(default_factory=dict)
    #: The agent's own network (``/healthz``'s ``network``), None without reference targets.
    network: Mapping[str, Any] | None = None

"""Which sites a page or an API answer covers: all, one client's, one tag's; and a client's own view.

The operator narrows with ``?client=`` and ``?tag=``; a client page is a private scope: its
sites only, no deliveries or silences (they are the support team's, and name other clients'
sinks and sites), in the client's language and time zone, with the month's SLA figures.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sitewatch.config.clients import Clients
from sitewatch.config.specs import SiteSpec
from sitewatch.web.api import ParameterError

__all__ = ["Scope", "month_start", "operator_scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    """A filter over the configured sites, and how a private (client) view differs."""

    client: str | None = None
    tag: str | None = None
    #: A client's own page: no deliveries, no silences, the month's figures, its language and zone.
    private: bool = False

    @property
    def narrowed(self) -> bool:
        """True when some sites may be left out."""
        return self.client is not None or self.tag is not None

    def admits(self, site: SiteSpec) -> bool:
        """True when ``site`` is in scope."""
        return (self.client is None or site.client == self.client) and (self.tag is None or self.tag in site.info.tags)

    def sites(self, sites: Iterable[SiteSpec]) -> list[SiteSpec]:
        """The sites in scope, in config order."""
        return [s for s in sites if self.admits(s)]


def operator_scope(query: Mapping[str, str], clients: Clients) -> Scope:
    """``?client=`` and ``?tag=`` of an operator request; an unknown client is a 400 naming the known ones."""
    client = query.get("client")
    if client is not None and client not in clients.by_name:
        known = ", ".join(sorted(clients.by_name))
        raise ParameterError("client", f"expected one of the configured clients ({known}), got {client!r}")
    tag = query.get("tag")
    if tag is not None and not tag:
        raise ParameterError("tag", "empty; use ?tag=magento")
    return Scope(client=client, tag=tag)


def month_start(now: float, timezone: str) -> tuple[float, str]:
    """The start of ``now``'s calendar month in ``timezone`` (unix seconds) and its ``YYYY-MM`` label."""
    local = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(timezone))
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.timestamp(), f"{first.year:04d}-{first.month:02d}"

"""Reports: availability from the stored history, its cache, and the SLA report command's output.

They read the store (and the configuration), never the live agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.reports.availability import Availability
    from sitewatch.reports.availability_cache import AvailabilityCache
    from sitewatch.reports.formats import FORMATS, render
    from sitewatch.reports.history import check_availability, site_availability
    from sitewatch.reports.report import Period, SiteReport, build_report
    from sitewatch.reports.table import render_table

__all__ = [
    "Availability",
    "AvailabilityCache",
    "FORMATS",
    "Period",
    "SiteReport",
    "build_report",
    "check_availability",
    "render",
    "render_table",
    "site_availability",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "history": ("site_availability", "check_availability"),
        "availability": ("Availability",),
        "availability_cache": ("AvailabilityCache",),
        "report": ("Period", "SiteReport", "build_report"),
        "formats": ("FORMATS", "render"),
        "table": ("render_table",),
    },
)

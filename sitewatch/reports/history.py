"""Availability of the configured sites and checks, from the store's result history.

Reads a site's recorded runs, turns each counted check's into a timeline and hands them to
the arithmetic of :mod:`sitewatch.reports.availability` with the site's maintenance windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.specs import CheckSpec, SiteSpec
from sitewatch.reports.availability import (
    UPTIME_TYPES,
    Availability,
    Sample,
    Span,
    classify,
    combine,
    coverage,
    maintenance_intervals,
    tally,
)
from sitewatch.store.database import Store

__all__ = [
    "reach",
    "counted_checks",
    "samples_of",
    "check_spans",
    "site_spans",
    "site_rows",
    "windows_of",
    "site_availability",
    "check_availability",
]


def reach(check: CheckSpec) -> float:
    """How long one sample of ``check`` may stand for: its interval plus its timeout."""
    return check.interval + check.timeout


def counted_checks(site: SiteSpec) -> tuple[CheckSpec, ...]:
    """The checks whose samples decide the site's availability (see :data:`UPTIME_TYPES`)."""
    return tuple(c for c in site.checks if c.type in UPTIME_TYPES) or site.checks


def _rows(store: Store, site: str, since: float, until: float) -> list[tuple[str, float, str]]:
    cursor = store.db.execute(
        "SELECT check_name, at, status FROM results WHERE site = ? AND at >= ? AND at < ? ORDER BY at",
        (site, since, until),
    )
    return [(str(r[0]), float(r[1]), str(r[2])) for r in cursor]


def samples_of(check: CheckSpec, rows: Iterable[tuple[str, float, str]]) -> list[Sample]:
    """``check``'s history rows ``(check, at, status)`` as classified samples."""
    policy = check.policy.error_is_failure
    return [Sample(at, classify(status, error_is_failure=policy)) for name, at, status in rows if name == check.name]


def check_spans(check: CheckSpec, rows: Sequence[tuple[str, float, str]], start: float, end: float) -> list[Span]:
    """One check's up/down spans in ``[start, end)`` from its site's history rows."""
    return coverage(samples_of(check, rows), reach(check), start, end)


def site_spans(site: SiteSpec, rows: Sequence[tuple[str, float, str]], start: float, end: float) -> list[Span]:
    """The site's up/down spans in ``[start, end)`` from its history rows (counted checks only)."""
    return combine(check_spans(c, rows, start, end) for c in counted_checks(site))


def site_rows(store: Store, site: SiteSpec, start: float, end: float) -> list[tuple[str, float, str]]:
    """``(check, at, status)`` rows of ``site`` that can cover any of ``[start, end)``, oldest first."""
    # A sample up to `reach` before `start` still covers the start of the range. Only the
    # counted checks' samples make the site's spans, so a 1 h tls check must not make a
    # 10 s http check's site read an hour back.
    lookback = max((reach(c) for c in counted_checks(site)), default=0.0)
    return _rows(store, site.info.name, start - lookback, end)


def windows_of(site: SiteSpec) -> tuple[MaintenanceWindow, ...]:
    """The site's maintenance windows plus the global ones (the loader gives every check both)."""
    return site.checks[0].maintenance if site.checks else ()


def site_availability(store: Store, site: SiteSpec, start: float, end: float) -> Availability:
    """Availability of ``site`` over ``[start, end)``; pass ``end <= now`` (the future is no data)."""
    rows = site_rows(store, site, start, end)
    return tally(site_spans(site, rows, start, end), maintenance_intervals(windows_of(site), start, end), start, end)


def check_availability(store: Store, check: CheckSpec, start: float, end: float) -> Availability:
    """Availability of one check over ``[start, end)``, by its own samples only."""
    rows = _rows(store, check.site.name, start - reach(check), end)
    spans = check_spans(check, rows, start, end)
    return tally(spans, maintenance_intervals(check.maintenance, start, end), start, end)

"""Turns document samples and resource loads into the figures, summary and details of a result."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import yarl

from checks.pageload_assets import AssetPlan
from checks.pageload_fetch import AssetLoad, DocumentLoad
from sitewatch.probe import Status, Thresholds, format_duration, format_size, redact_url, worst

__all__ = ["PageFigures", "asset_name", "details", "figures", "judge"]

_NAMED = 3  # failed resources named in the summary; the rest are in the details
_LISTED = 20  # skipped URLs listed in the details
_WORD = {Status.WARNING: "warn", Status.CRITICAL: "crit"}


@dataclass
class PageFigures:
    """What one run measured: medians over the document samples, plus the resources."""

    url: yarl.URL
    document: float  # median seconds from request start to the end of the document body
    ttfb: float  # median seconds from request start to the document's response headers
    phases: dict[str, float]
    document_bytes: int
    document_truncated: bool
    document_requests: int  # the document plus the redirects that led to it
    samples: int
    full: bool = False
    assets_time: float = 0.0  # wall time of loading the resources concurrently
    assets: list[AssetLoad] = field(default_factory=list)
    plan: AssetPlan | None = None
    pending: list[AssetLoad] = field(default_factory=list)  # cut off by the check's deadline

    @property
    def load(self) -> float:
        """The load time thresholds apply to: the document, plus its resources when full."""
        return self.document + self.assets_time

    @property
    def requests(self) -> int:
        """Requests one page load made."""
        return self.document_requests + len(self.assets)

    @property
    def total_bytes(self) -> int:
        """Body bytes of the document (decoded) and of every resource (as transferred)."""
        return self.document_bytes + sum(a.body_bytes for a in self.assets)

    @property
    def failed(self) -> list[AssetLoad]:
        """Resources that did not load."""
        return [a for a in self.assets if a.error is not None]

    @property
    def slowest(self) -> AssetLoad | None:
        """The resource that took longest, if any was loaded."""
        return max(self.assets, key=lambda a: a.elapsed, default=None)


def figures(loads: list[DocumentLoad]) -> PageFigures:
    """Medians of the document samples (each figure is the median of its own values)."""
    last = loads[-1]
    return PageFigures(
        url=last.url,
        document=statistics.median(d.total for d in loads),
        ttfb=statistics.median(d.ttfb for d in loads),
        phases={k: statistics.median(d.phases[k] for d in loads) for k in last.phases},
        document_bytes=last.body_bytes,
        document_truncated=last.truncated,
        document_requests=1 + last.redirects,
        samples=len(loads),
    )


def asset_name(url: yarl.URL, page: yarl.URL) -> str:
    """A resource as named in summaries: its path on the page's origin, else the redacted URL."""
    if (url.scheme, url.host, url.port) == (page.scheme, page.host, page.port):
        return url.path or "/"
    return redact_url(url)


def judge(fig: PageFigures, load: Thresholds, ttfb: Thresholds, failed_status: Status) -> tuple[Status, str]:
    """The status and the one-line summary of a measured page."""
    statuses: list[Status] = []
    if fig.pending:
        names = ", ".join(asset_name(a.asset.url, fig.url) for a in fig.pending[:_NAMED])
        more = f" and {len(fig.pending) - _NAMED} more" if len(fig.pending) > _NAMED else ""
        summary = (
            f"page did not finish loading in time: {len(fig.pending)} of {len(fig.assets)} resources"
            f" still loading ({names}{more}) when the check timed out"
        )
        return Status.ERROR, summary
    inside = [f"TTFB {format_duration(fig.ttfb)}"]
    slowest = fig.slowest
    if slowest is not None:
        inside.append(f"slowest {asset_name(slowest.asset.url, fig.url)} {format_duration(slowest.elapsed)}")
    summary = f"page loaded in {format_duration(fig.load)} ({', '.join(inside)})"
    load_status = load.evaluate(fig.load)
    statuses.append(load_status)
    if load_status is not Status.OK:
        summary += f" > {_WORD[load_status]} {format_duration(load.limit(load_status) or 0.0)}"
    ttfb_status = ttfb.evaluate(fig.ttfb)
    statuses.append(ttfb_status)
    if ttfb_status is not Status.OK:
        summary += f"; TTFB > {_WORD[ttfb_status]} {format_duration(ttfb.limit(ttfb_status) or 0.0)}"
    if fig.full:
        summary += f"; {fig.requests} requests, {format_size(fig.total_bytes)}"
    failed = fig.failed
    if failed:
        statuses.append(failed_status)
        named = ", ".join(f"{asset_name(a.asset.url, fig.url)} ({a.error})" for a in failed[:_NAMED])
        more = f" and {len(failed) - _NAMED} more" if len(failed) > _NAMED else ""
        noun = "resource" if len(failed) == 1 else "resources"
        summary += f"; {len(failed)} failed {noun}: {named}{more}"
    return worst(*statuses), summary


def details(fig: PageFigures) -> dict[str, Any]:
    """Structured findings for tickets and the CLI; URLs carry no query strings."""
    out: dict[str, Any] = {
        "url": redact_url(fig.url),
        "samples": fig.samples,
        "load_seconds": round(fig.load, 6),
        "document_seconds": round(fig.document, 6),
        "ttfb_seconds": round(fig.ttfb, 6),
        "phases": {k: round(v, 6) for k, v in fig.phases.items()},
        "document_bytes": fig.document_bytes,
        "document_truncated": fig.document_truncated,  # only max_body bytes were read and parsed
    }
    if not fig.full:
        return out
    out.update(
        resources_seconds=round(fig.assets_time, 6),
        requests=fig.requests,
        bytes=fig.total_bytes,
        resources=[_asset(a) for a in sorted(fig.assets, key=lambda a: -a.elapsed)],
        failed=[{"url": redact_url(a.asset.url), "error": a.error} for a in fig.failed],
    )
    if fig.slowest is not None:
        out["slowest"] = _asset(fig.slowest)
    if fig.plan is not None:
        skipped = sorted({redact_url(a.url) for a in fig.plan.cross_origin})
        out["skipped_cross_origin"] = skipped[:_LISTED]
        out["skipped_cross_origin_count"] = len(fig.plan.cross_origin)
        out["skipped_over_limit"] = fig.plan.over_limit
    return out


def _asset(load: AssetLoad) -> dict[str, Any]:
    return {
        "url": redact_url(load.asset.url),
        "kind": load.asset.kind,
        "status": load.status,
        "seconds": round(load.elapsed, 6),
        "bytes": load.body_bytes,
        "truncated": load.truncated,
        **({"error": load.error} if load.error else {}),
    }

"""``pageload`` check: how long the page really takes, phase by phase, and with its resources."""

from __future__ import annotations

import asyncio
import contextlib
import time

import yarl

from checks.pageload_assets import Asset, AssetPlan, find_assets, plan_assets
from checks.pageload_config import PageloadConfig
from checks.pageload_fetch import AssetLoad, DocumentLoad, FetchFailed, Progress, fetch_asset, fetch_document
from checks.pageload_report import PageFigures, details, figures, judge
from sitewatch.probe import (
    Check,
    Context,
    MetricSpec,
    Result,
    Sample,
    SiteInfo,
    Status,
    Thresholds,
    format_duration,
    redact_url,
)

__all__ = ["PageloadCheck"]

# Past the check's deadline the scheduler waits 0.5 s more; this leaves room to build the result.
_SAFETY = 0.1
_CUT = "still loading when the check timed out"


class PageloadCheck(Check[PageloadConfig]):
    """Times the page document (blackbox-style phases, TTFB) and, with ``full: true``, its resources."""

    type = "pageload"
    Config = PageloadConfig
    metrics = (
        # Same name, help and labels as the http check: one metric family for both.
        MetricSpec(
            "probe_http_duration_seconds", "Duration of each HTTP request phase, summed over redirects.", ("phase",)
        ),
        MetricSpec(
            "sitewatch_page_load_seconds",
            "Median time to load the page document, plus its resources when full: true.",
        ),
        MetricSpec("sitewatch_page_ttfb_seconds", "Median time from request start to the document's response headers."),
        MetricSpec("sitewatch_page_requests", "Requests one page load made (document, redirects, resources)."),
        MetricSpec("sitewatch_page_bytes", "Body bytes one page load read (document decoded, resources as sent)."),
        MetricSpec("sitewatch_page_failed_resources", "Resources of the page that did not load (full: true only)."),
    )

    def __init__(self, config: PageloadConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.start_url = site.url.join(yarl.URL(config.url)) if config.url else site.url
        self.headers = dict(config.headers)
        self.load_limits = Thresholds(config.warn, config.crit)
        self.ttfb_limits = Thresholds(config.ttfb_warn, config.ttfb_crit)
        self.failed_status = Status.CRITICAL if config.failed_assets == "critical" else Status.WARNING

    @property
    def target_host(self) -> str:
        """Host of the page this check loads."""
        return self.start_url.host or super().target_host

    async def run(self, ctx: Context) -> Result:
        """Load the document ``samples`` times, then (``full``) its resources; judge the medians."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ctx.timeout
        progress = Progress(self.start_url)
        loads: list[DocumentLoad] = []
        plan: AssetPlan | None = None
        try:
            async with asyncio.timeout_at(deadline):
                for _ in range(cfg.samples):
                    loads.append(await self._document(ctx, progress))
                    if loads[-1].status >= 400:
                        return self._bad_status(figures(loads), loads[-1])
                if cfg.full:
                    progress.activity = "parsing the page HTML"
                    plan = await asyncio.to_thread(self._plan, loads[-1])
        except FetchFailed as exc:
            return Result(exc.status, exc.summary, details={"url": redact_url(progress.url)})
        except TimeoutError:
            sample = f" (sample {len(loads) + 1} of {cfg.samples})" if cfg.samples > 1 else ""
            summary = f"page did not load within {format_duration(ctx.timeout)}: timed out {progress.stage()}{sample}"
            return Result(Status.ERROR, summary, details={"url": redact_url(progress.url)})
        fig = figures(loads)
        if plan is not None:
            fig.full, fig.plan = True, plan
            await self._resources(ctx, fig, plan.fetch, deadline)
        status, summary = judge(fig, self.load_limits, self.ttfb_limits, self.failed_status)
        return Result(status, summary, self._samples(fig), details(fig))

    async def _document(self, ctx: Context, progress: Progress) -> DocumentLoad:
        progress.url = self.start_url
        return await fetch_document(
            ctx.session,
            self.start_url,
            self.headers,
            max_body=self.config.max_body,
            verify_tls=self.config.verify_tls,
            progress=progress,
        )

    def _plan(self, load: DocumentLoad) -> AssetPlan:
        """Parse the document and choose the resources to load (runs in a worker thread)."""
        html = load.body.decode(load.encoding, errors="replace")
        cfg = self.config
        return plan_assets(find_assets(html, load.url), load.url, cfg.allow_hosts, cfg.max_assets)

    async def _resources(self, ctx: Context, fig: PageFigures, assets: tuple[Asset, ...], deadline: float) -> None:
        """Load ``assets`` at most ``concurrency`` at a time, none past the check's deadline."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(cfg.concurrency)
        loads: list[AssetLoad | None] = [None] * len(assets)
        cut: list[AssetLoad] = []

        async def one(index: int, asset: Asset) -> None:
            async with gate:
                left = max(0.0, deadline - loop.time())
                budget = min(cfg.asset_timeout, left)
                load = await fetch_asset(
                    ctx.session,
                    asset,
                    self.headers,
                    max_size=cfg.max_asset_size,
                    timeout=budget,
                    verify_tls=cfg.verify_tls,
                )
            if load.timed_out and budget < cfg.asset_timeout:
                # Stopped by the check's deadline, not by its own asset_timeout: not a verdict on it.
                load.error = _CUT
                cut.append(load)
            loads[index] = load

        started = time.perf_counter()
        # Every task is bounded by its own budget; the outer deadline is only a safety net.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline + _SAFETY), asyncio.TaskGroup() as group:
                for index, asset in enumerate(assets):
                    group.create_task(one(index, asset))
        fig.assets_time = time.perf_counter() - started
        for index, asset in enumerate(assets):
            if loads[index] is None:
                missing = AssetLoad(asset, error=_CUT, elapsed=fig.assets_time)
                loads[index] = missing
                cut.append(missing)
        fig.assets = [load for load in loads if load is not None]
        fig.pending = cut

    def _bad_status(self, fig: PageFigures, load: DocumentLoad) -> Result:
        code = f"HTTP {load.status}" + (f" {load.reason}" if load.reason else "")
        summary = f"page returned {code} in {format_duration(load.total)} (expected 2xx or 3xx); load not judged"
        return Result(Status.CRITICAL, summary, self._samples(fig, document_only=True), details(fig))

    def _samples(self, fig: PageFigures, *, document_only: bool = False) -> tuple[Sample, ...]:
        samples = [Sample("probe_http_duration_seconds", v, (("phase", k),)) for k, v in fig.phases.items()]
        samples.append(Sample("sitewatch_page_ttfb_seconds", fig.ttfb))
        if document_only:
            return tuple(samples)
        if not fig.pending:  # an unfinished page has no load time to report
            samples.append(Sample("sitewatch_page_load_seconds", fig.load))
        samples += [
            Sample("sitewatch_page_requests", fig.requests),
            Sample("sitewatch_page_bytes", fig.total_bytes),
        ]
        if fig.full:
            samples.append(Sample("sitewatch_page_failed_resources", len(fig.failed) - len(fig.pending)))
        return tuple(samples)

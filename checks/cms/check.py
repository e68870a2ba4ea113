"""The ``cms`` check itself: detect locally and remotely, refresh the version sources, judge, report.

It orchestrates one run within its time budget; each step is a module of its own in this
package: reading the install (:mod:`~checks.cms.local`), fingerprinting the site
(:mod:`~checks.cms.remote`), the version sources (:mod:`~checks.cms.advisories`), the
verdict (:mod:`~checks.cms.evaluate`, :mod:`~checks.cms.bitrix_rules`), the installed
extensions (:mod:`~checks.cms.vulns`) and the result's text and samples
(:mod:`~checks.cms.report`, :mod:`~checks.cms.vulns_report`).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from checks.cms.advisories import (
    Answer,
    SourceCache,
    magento_latest,
    osv_query,
    osv_vulns,
    wordpress_insecure,
    wordpress_latest,
)
from checks.cms.bitrix_rules import rules_for
from checks.cms.config import CmsConfig, default_cache_dir
from checks.cms.evaluate import judge, sources_for
from checks.cms.local import bounded, detect_local, listed
from checks.cms.model import CMS_NAMES, Finding
from checks.cms.remote import fetch_pages, pick_remote
from checks.cms.report import finding_details, mismatch, samples, summary
from checks.cms.vulns import ComponentsVerdict, judge_components, shipped_bitrix
from checks.cms.vulns_report import component_details, component_samples, component_summary
from sitewatch.probe import (
    Check,
    Context,
    MetricSpec,
    Result,
    SiteInfo,
    Status,
    format_size,
    worst,
)

__all__ = ["CmsCheck"]

_PARSERS = {
    "wordpress_latest": wordpress_latest,
    "wordpress_insecure": wordpress_insecure,
    "magento_latest": magento_latest,
    "magento_advisories": osv_vulns,
}
_SOURCE_KEYS = ("wordpress_latest", "wordpress_insecure", "magento_latest", "magento_advisories")


class CmsCheck(Check[CmsConfig]):
    """Detects WordPress, 1C-Bitrix or Magento and judges the core version."""

    type = "cms"
    Config = CmsConfig
    metrics = (
        MetricSpec("sitewatch_cms_info", "Detected CMS and core version (always 1).", ("cms", "version", "source")),
        MetricSpec(
            "sitewatch_cms_outdated",
            "1 if the core is older than the latest release or the rules allow; absent while the latest is unknown.",
        ),
        MetricSpec("sitewatch_cms_latest_known", "1 if the latest release for the detected core is known, else 0."),
        MetricSpec("sitewatch_cms_insecure", "1 if the core is known-insecure, below min_version or end of life."),
        MetricSpec(
            "sitewatch_cms_latest_info", "Latest release known for the detected core (always 1).", ("cms", "version")
        ),
        MetricSpec("sitewatch_cms_source_age_seconds", "Age of the last good answer of a version source.", ("source",)),
        MetricSpec(
            "sitewatch_cms_component_info",
            "An installed extension that is vulnerable or outdated (always 1; current ones get no series).",
            ("kind", "component", "version", "state"),
        ),
        MetricSpec("sitewatch_cms_vulnerable_components", "Installed extensions matched by a known vulnerability."),
        MetricSpec("sitewatch_cms_components", "Installed extensions by judgement.", ("state",)),
    )

    def __init__(self, config: CmsConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.kinds = ("wordpress", "bitrix", "magento") if config.cms == "auto" else (config.cms,)
        self.cache = SourceCache(config.cache_dir or default_cache_dir(), config.refresh, config.retry)
        self.source_urls = {k: v for k, v in config.sources.model_dump().items() if v and k in _SOURCE_KEYS}

    async def run(self, ctx: Context) -> Result:
        """Detect locally and remotely, refresh sources within the time left, then judge."""
        deadline = ctx.clock.monotonic() + max(0.1, ctx.timeout * 0.9)

        def left() -> float:
            return max(0.0, deadline - ctx.clock.monotonic())

        remote, remote_error = None, None
        remote_details: dict[str, Any] = {}
        kinds = self.kinds if self.config.remote else ()
        # A slow site must leave time to refresh the sources that judge what it runs.
        share = 0.6 if any(n in self.source_urls for k in self.kinds for n in sources_for(k)) else 1.0
        async with asyncio.TaskGroup() as group:
            local_task = group.create_task(
                bounded(str(self.config.root), partial(detect_local, self.config.root, self.kinds), left())
            )
            remote_task = group.create_task(
                fetch_pages(ctx, self.site.url, kinds, self.config.max_body, left() * share)
            )
        found, local_error = local_task.result()
        local, unreadable = found or (None, {})
        if local is None and unreadable and not local_error:
            local_error = listed(unreadable, self.config.root)
        if self.config.remote:
            pages, remote_error = remote_task.result()
            # Regexes over up to max_body per page: off the event loop.
            remote, remote_details = await asyncio.to_thread(pick_remote, self.kinds, pages)
            if cut := sorted(name for name, page in pages.items() if page.truncated):
                # A signal past the cap was not seen: say so rather than let "version unknown" stand alone.
                remote_details["remote_cut"] = f"read only the first {format_size(self.config.max_body)} of: " + (
                    ", ".join(cut)
                )
        primary = local or remote
        details: dict[str, Any] = {"root": str(self.config.root) if self.config.root else None}
        if local is not None:
            details["local"] = finding_details(local)
        if remote is not None:
            details["remote"] = finding_details(remote)
        details.update(remote_details)
        if remote_error:
            details["remote_error"] = remote_error
        if primary is None:
            return self._nothing(local_error, remote_error, details)
        answers = await self._answers(ctx, primary, left())
        rules, rules_error = await rules_for(primary, self.config.bitrix_modules_file)
        verdict = judge(primary, self.config, answers, rules, ctx.clock.time())
        if rules_error:
            verdict.add(Status.WARNING, f"bitrix_modules_file unusable: {rules_error}")
        differs = mismatch(local, remote)
        if differs is None and local is None and self.config.root is not None:
            differs = (
                f"could not read the install under {self.config.root} ({local_error})"
                if local_error
                else f"no install found under {self.config.root} (wrong root?)"
            )
        if differs:
            details["mismatch"] = differs
        if local_error:
            details["local_error"] = local_error
        now = ctx.clock.time()
        details.update(
            cms=primary.cms,
            version=str(primary.version) if primary.version else None,
            source=primary.source,
            state=verdict.state,
            latest=str(verdict.latest) if verdict.latest else None,
            problems=verdict.problems,
            sources={name: a.describe(now) for name, a in answers.items()},
        )
        text = summary(primary, verdict, bool(answers)) + (f"; {differs}" if differs else "")
        measured = samples(local, remote, verdict, primary, answers, now)
        status, priority = verdict.status, None
        judged = await self._components(ctx, local)
        if judged is not None:
            status, priority = worst(status, judged.status), judged.priority
            # First, so that a ticket's evidence (capped in lines) lists what to update before the inventory.
            details = {"vulnerabilities": component_details(judged), **details}
            for item, one in zip(details["local"]["components"], judged.judged, strict=True):
                item["state"] = one.state  # judged in inventory order, one each
            if clause := component_summary(judged):
                text += f"; {clause}"
            measured = (*measured, *component_samples(judged))
        if local is not None and unreadable:
            # Judged on what could be read; what could not is said, never silently dropped.
            details["unreadable"] = unreadable
            text += "; could not read " + listed(unreadable, self.config.root)
        return Result(status, text, measured, details, priority=priority)

    async def _components(self, ctx: Context, local: Finding | None) -> ComponentsVerdict | None:
        """Judge the installed extensions against the snapshots the agent holds (no download here)."""
        components = local.extra.get("components") if local is not None else None
        if local is None or not components or not self.config.components.judge:
            return None
        shipped = {"shipped-bitrix": await asyncio.to_thread(shipped_bitrix)} if local.cms == "bitrix" else {}
        now = ctx.clock.time()
        return judge_components(local.cms, components, ctx.advisories, self.config.components, now, shipped=shipped)

    async def _answers(self, ctx: Context, finding: Finding, budget: float) -> dict[str, Answer]:
        names = [n for n in sources_for(finding.cms) if n in self.source_urls]
        version = finding.version if finding.source == "local" else None
        if "magento_advisories" in names and (version is None or finding.eol):
            names.remove("magento_advisories")  # OSV needs an exact version
        if not names:
            return {}
        budget = min(budget, self.config.source_timeout)
        query = osv_query(self.config.sources.magento_osv_package, str(version)) if version else None
        async with asyncio.TaskGroup() as group:
            tasks = {
                n: group.create_task(
                    self.cache.get(
                        ctx, n, self.source_urls[n], _PARSERS[n], budget, query if n == "magento_advisories" else None
                    )
                )
                for n in names
            }
        return {n: t.result() for n, t in tasks.items()}

    def _nothing(self, local_error: str | None, remote_error: str | None, details: dict[str, Any]) -> Result:
        if local_error:
            details["local_error"] = local_error
            return Result(Status.ERROR, f"cannot read the install: {local_error}", (), details)
        if remote_error and self.config.root is None:
            return Result(Status.ERROR, f"cannot fingerprint the site: {remote_error}", (), details)
        names = [CMS_NAMES[k] for k in self.kinds]
        wanted = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        places = [f"under {self.config.root}"] if self.config.root else []
        places += ["on the site"] if self.config.remote else []
        where = " " + " or ".join(places) if places else ""
        if remote_error:
            where += f" (site: {remote_error})"
        return Result(Status.WARNING, f"no {wanted} found{where}", (), details)

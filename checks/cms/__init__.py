"""``cms`` check: which CMS and core version a site runs, and whether it is outdated or insecure.

Local files under ``root`` are authoritative; HTTP fingerprints are the fallback and a
cross-check. See docs/checks/cms.md.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from checks.cms import bitrix, magento, wordpress
from checks.cms.advisories import (
    Answer,
    SourceCache,
    magento_latest,
    osv_query,
    osv_vulns,
    wordpress_insecure,
    wordpress_latest,
)
from checks.cms.config import CmsConfig, default_cache_dir
from checks.cms.evaluate import judge, sources_for
from checks.cms.model import CMS_NAMES, Finding, Reader
from checks.cms.remote import fetch_pages
from checks.cms.report import finding_details, mismatch, samples, summary
from checks.cms.vulns import ComponentsVerdict, judge_components, shipped_bitrix
from checks.cms.vulns_report import component_details, component_samples, component_summary
from sitewatch.probe import (
    Check,
    Context,
    FileWorkers,
    MetricSpec,
    Result,
    SiteInfo,
    Status,
    StillRunning,
    describe_os_error,
    format_duration,
    format_size,
    read_regular,
    worst,
)

__all__ = ["CmsCheck"]

T = TypeVar("T")
_PARSERS = {
    "wordpress_latest": wordpress_latest,
    "wordpress_insecure": wordpress_insecure,
    "magento_latest": magento_latest,
    "magento_advisories": osv_vulns,
}
_SOURCE_KEYS = ("wordpress_latest", "wordpress_insecure", "magento_latest", "magento_advisories")
_SHIPPED: dict[str, bitrix.ModuleRule] | None = None
#: Local detection reads someone else's docroot (a FIFO, a hung NFS mount): a few daemon threads
#: of this check's own, never the event loop's shared executor.
_FILES = FileWorkers("cms-files", size=4)


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
            local_task = group.create_task(_bounded(str(self.config.root), self._detect_local, left()))
            remote_task = group.create_task(
                fetch_pages(ctx, self.site.url, kinds, self.config.max_body, left() * share)
            )
        found, local_error = local_task.result()
        local, unreadable = found or (None, {})
        if local is None and unreadable and not local_error:
            local_error = _listed(unreadable, self.config.root)
        if self.config.remote:
            pages, remote_error = remote_task.result()
            # Regexes over up to max_body per page: off the event loop.
            remote, remote_details = await asyncio.to_thread(_pick_remote, self.kinds, pages)
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
        rules, rules_error = await self._rules(primary)
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
            text += "; could not read " + _listed(unreadable, self.config.root)
        return Result(status, text, measured, details, priority=priority)

    async def _components(self, ctx: Context, local: Finding | None) -> ComponentsVerdict | None:
        """Judge the installed extensions against the snapshots the agent holds (no download here)."""
        components = local.extra.get("components") if local is not None else None
        if local is None or not components or not self.config.components.judge:
            return None
        shipped = {"shipped-bitrix": await asyncio.to_thread(shipped_bitrix)} if local.cms == "bitrix" else {}
        now = ctx.clock.time()
        return judge_components(local.cms, components, ctx.advisories, self.config.components, now, shipped=shipped)

    def _detect_local(self) -> tuple[Finding | None, dict[str, str]]:
        root = self.config.root
        if root is None:
            return None, {}
        if not root.is_dir():
            raise FileNotFoundError(f"root {root} is not a directory")
        detectors = {
            "wordpress": wordpress.detect_local,
            "bitrix": bitrix.detect_local,
            "magento": magento.detect_local,
        }
        reader = Reader()
        for kind in self.kinds:
            found = detectors[kind](root, reader)
            if found is not None:
                return found, reader.unreadable
        return None, reader.unreadable

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

    async def _rules(self, finding: Finding) -> tuple[dict[str, bitrix.ModuleRule], str | None]:
        global _SHIPPED  # noqa: PLW0603 - loaded once per process, read-only afterwards
        if finding.cms != "bitrix":
            return {}, None
        if _SHIPPED is None:
            _SHIPPED = await asyncio.to_thread(bitrix.shipped_rules)
        rules = dict(_SHIPPED)
        path = self.config.bitrix_modules_file
        if path is not None:
            # Validated at load, but ops may break the file later: say so instead of crashing.
            try:
                data = await _FILES.run(str(path), lambda: read_regular(path, 1024 * 1024))
                if data is None:
                    raise FileNotFoundError(errno.ENOENT, "does not exist", str(path))
                rules.update(bitrix.load_rules(data.decode("utf-8", "replace"), str(path)))
            except StillRunning:
                return rules, f"the previous read of {path} is still stuck (hung filesystem?)"
            except OSError as exc:
                return rules, f"cannot read {path}: {describe_os_error(exc)}"
            except ValueError as exc:
                return rules, str(exc)
        return rules, None

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


async def _bounded(key: str, func: Callable[[], T], budget: float) -> tuple[T | None, str | None]:
    """Run blocking ``func`` in the check's own file workers for at most ``budget`` seconds; errors become text."""
    try:
        async with asyncio.timeout(budget):
            return await _FILES.run(key, func), None
    except TimeoutError:
        return None, f"reading files took longer than {format_duration(budget)}"
    except StillRunning as exc:
        stuck = format_duration(exc.seconds)
        return None, f"the previous read of {key} is still stuck after {stuck} (hung filesystem?)"
    except OSError as exc:
        return None, str(exc) if isinstance(exc, FileNotFoundError) else f"{describe_os_error(exc)}: {exc.filename}"


def _listed(unreadable: dict[str, str], root: Path | None) -> str:
    """``wp-config.php (permission denied)``, relative to ``root``; at most two paths, then a count."""
    names = [f"{os.path.relpath(p, root) if root else p} ({why})" for p, why in unreadable.items()]
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")


def _pick_remote(kinds: tuple[str, ...], pages: dict[str, Any]) -> tuple[Finding | None, dict[str, Any]]:
    found = []
    if "wordpress" in kinds:
        found.append(wordpress.detect_remote(pages.get("home"), pages.get("feed")))
    if "bitrix" in kinds:
        found.append(bitrix.detect_remote(pages.get("home")))
    if "magento" in kinds:
        found.append(magento.detect_remote(pages.get("home"), pages.get("magento_version")))
    hits = [f for f in found if f is not None]
    hits.sort(key=lambda f: (f.version is not None, len(f.extra.get("signals", ()))), reverse=True)
    others = {"also_seen": [f.cms for f in hits[1:]]} if len(hits) > 1 else {}
    return (hits[0] if hits else None), others

"""``cms`` check: which CMS and core version a site runs, and whether it is outdated or insecure.

Local files under ``root`` are authoritative; HTTP fingerprints are the fallback and a
cross-check. See docs/checks/cms.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from checks.cms import bitrix, magento, wordpress
from checks.cms.advisories import Answer, SourceCache, magento_latest, wordpress_insecure, wordpress_latest
from checks.cms.config import CmsConfig, default_cache_dir
from checks.cms.evaluate import Verdict, judge, sources_for
from checks.cms.model import CMS_NAMES, Finding
from checks.cms.remote import fetch_pages
from sitewatch.probe import Check, Context, MetricSpec, Result, Sample, SiteInfo, Status, format_duration

__all__ = ["CmsCheck"]

T = TypeVar("T")
_PARSERS = {
    "wordpress_latest": wordpress_latest,
    "wordpress_insecure": wordpress_insecure,
    "magento_latest": magento_latest,
}
_SHIPPED: dict[str, bitrix.ModuleRule] | None = None


class CmsCheck(Check[CmsConfig]):
    """Detects WordPress, 1C-Bitrix or Magento and judges the core version."""

    type = "cms"
    Config = CmsConfig
    metrics = (
        MetricSpec("sitewatch_cms_info", "Detected CMS and core version (always 1).", ("cms", "version", "source")),
        MetricSpec("sitewatch_cms_outdated", "1 if the core is older than the latest release or the rules allow."),
        MetricSpec("sitewatch_cms_insecure", "1 if the core is known-insecure, below min_version or end of life."),
        MetricSpec(
            "sitewatch_cms_latest_info", "Latest release known for the detected core (always 1).", ("cms", "version")
        ),
        MetricSpec("sitewatch_cms_source_age_seconds", "Age of the last good answer of a version source.", ("source",)),
    )

    def __init__(self, config: CmsConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.kinds = ("wordpress", "bitrix", "magento") if config.cms == "auto" else (config.cms,)
        self.cache = SourceCache(config.cache_dir or default_cache_dir(), config.refresh, config.retry)
        self.source_urls = {k: v for k, v in config.sources.model_dump().items() if v}

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
            local_task = group.create_task(_bounded(self._detect_local, left()))
            remote_task = group.create_task(
                fetch_pages(ctx, self.site.url, kinds, self.config.max_body, left() * share)
            )
        local, local_error = local_task.result()
        if self.config.remote:
            pages, remote_error = remote_task.result()
            remote, remote_details = _pick_remote(self.kinds, pages)
        primary = local or remote
        details: dict[str, Any] = {"root": str(self.config.root) if self.config.root else None}
        if local is not None:
            details["local"] = _finding_details(local)
        if remote is not None:
            details["remote"] = _finding_details(remote)
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
        mismatch = _mismatch(local, remote)
        if mismatch is None and local is None and self.config.root is not None:
            mismatch = f"no install found under {self.config.root} ({local_error or 'wrong root?'})"
        if mismatch:
            details["mismatch"] = mismatch
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
        summary = _summary(primary, verdict, bool(answers)) + (f"; {mismatch}" if mismatch else "")
        return Result(verdict.status, summary, _samples(local, remote, verdict, primary, answers, now), details)

    def _detect_local(self) -> Finding | None:
        root = self.config.root
        if root is None:
            return None
        if not root.is_dir():
            raise FileNotFoundError(f"root {root} is not a directory")
        detectors = {
            "wordpress": wordpress.detect_local,
            "bitrix": bitrix.detect_local,
            "magento": magento.detect_local,
        }
        for kind in self.kinds:
            found = detectors[kind](root)
            if found is not None:
                return found
        return None

    async def _answers(self, ctx: Context, finding: Finding, budget: float) -> dict[str, Answer]:
        names = [n for n in sources_for(finding.cms) if n in self.source_urls]
        if not names:
            return {}
        budget = min(budget, self.config.source_timeout)
        async with asyncio.TaskGroup() as group:
            tasks = {
                n: group.create_task(self.cache.get(ctx, n, self.source_urls[n], _PARSERS[n], budget)) for n in names
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
                text = await asyncio.to_thread(Path.read_text, path, "utf-8")
                rules.update(bitrix.load_rules(text, str(path)))
            except OSError as exc:
                return rules, f"cannot read {path}: {exc.strerror}"
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


async def _bounded(func: Callable[[], T], budget: float) -> tuple[T | None, str | None]:
    """Run blocking ``func`` in a thread for at most ``budget`` seconds; errors become text."""
    try:
        async with asyncio.timeout(budget):
            return await asyncio.to_thread(func), None
    except TimeoutError:
        return None, f"reading files took longer than {format_duration(budget)}"
    except PermissionError as exc:
        return None, f"permission denied: {exc.filename}"
    except OSError as exc:
        return None, str(exc) if isinstance(exc, FileNotFoundError) else f"{exc.strerror}: {exc.filename}"


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


def _finding_details(finding: Finding) -> dict[str, Any]:
    return {
        "cms": finding.cms,
        "version": str(finding.version) if finding.version else None,
        "edition": finding.edition or None,
        "where": finding.where,
        **finding.extra,
    }


def _family(cms: str) -> str:
    return "magento" if cms == "openmage" else cms


def _mismatch(local: Finding | None, remote: Finding | None) -> str | None:
    if local is None or remote is None:
        return None
    if _family(local.cms) != _family(remote.cms):
        return f"the site looks like {remote.title} but {local.title} is installed under root (wrong root?)"
    if local.version is None or remote.version is None:
        return None
    precise = remote.extra.get("precision") != "release line"
    same = local.version == remote.version if precise else local.version.line == remote.version.line
    if same:
        return None
    return f"the site reports {remote.version} but {local.version} is installed (stale cache or wrong root?)"


def _summary(finding: Finding, verdict: Verdict, has_sources: bool) -> str:
    what = finding.describe()
    latest = f"latest {verdict.latest}" if verdict.latest else ""
    reasons = [p for p in verdict.problems if not p.startswith("latest is")]
    if verdict.state == "end of life":
        return f"{what} is " + ", ".join(reasons)
    if verdict.state in ("insecure", "outdated"):
        extra = ", ".join(x for x in (latest, *reasons) if x)
        return f"{what} is {verdict.state}" + (f" ({extra})" if extra else "")
    if verdict.state == "unknown":
        text = what + (f" ({latest})" if latest else "")
    elif latest:
        text = f"{what} is current ({latest})"
    elif finding.cms == "bitrix":
        text = f"{what} (no module below its minimum safe version)"
    else:
        text = what + (" (latest version unknown)" if has_sources else "")
    return text + (f"; {reasons[0]}" if reasons else "")


def _samples(  # noqa: PLR0917 - a private helper of one caller
    local: Finding | None,
    remote: Finding | None,
    verdict: Verdict,
    primary: Finding,
    answers: dict[str, Answer],
    now: float,
) -> tuple[Sample, ...]:
    out = [
        Sample(
            "sitewatch_cms_info", 1, (("cms", f.cms), ("version", str(f.version or "unknown")), ("source", f.source))
        )
        for f in (local, remote)
        if f is not None
    ]
    if verdict.outdated is not None:
        out.append(Sample("sitewatch_cms_outdated", float(verdict.outdated)))
    if verdict.insecure is not None:
        out.append(Sample("sitewatch_cms_insecure", float(verdict.insecure)))
    if verdict.latest is not None:
        out.append(Sample("sitewatch_cms_latest_info", 1, (("cms", primary.cms), ("version", str(verdict.latest)))))
    for name, answer in answers.items():
        age = answer.age(now)
        if age is not None:
            out.append(Sample("sitewatch_cms_source_age_seconds", age, (("source", name),)))
    return tuple(out)

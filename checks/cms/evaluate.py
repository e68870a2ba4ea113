"""Judge a detected core version against latest releases, advisories and offline rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from checks.cms.advisories import Answer
from checks.cms.bitrix import ModuleRule, violations
from checks.cms.config import CmsConfig
from checks.cms.magento import M1_EOL
from checks.cms.model import Finding
from checks.cms.versions import Version, minor_distance, parse_version
from sitewatch.probe import Status, format_duration, worst

__all__ = ["Verdict", "judge", "latest_for", "sources_for"]


@dataclass
class Verdict:
    """The status of one detected core and the reasons for it."""

    status: Status = Status.OK
    latest: Version | None = None
    outdated: bool | None = None
    insecure: bool | None = None
    state: str = "current"  # current | outdated | insecure | end of life | unknown
    problems: list[str] = field(default_factory=list)

    def add(self, status: Status, problem: str) -> None:
        """Record one reason and raise the status to at least ``status``."""
        self.status = worst(self.status, status)
        self.problems.append(problem)


def sources_for(cms: str) -> tuple[str, ...]:
    """Names of the sources (keys of ``CmsConfig.sources``) that can judge ``cms``."""
    return {
        "wordpress": ("wordpress_latest", "wordpress_insecure"),
        "magento": ("magento_latest", "magento_advisories"),
    }.get(cms, ())


def latest_for(finding: Finding, answers: Mapping[str, Answer]) -> Version | None:
    """The latest release for this core: WordPress's offer, or the newest in the Magento line."""
    if finding.cms == "wordpress" and "wordpress_latest" in answers:
        value = answers["wordpress_latest"].value
        return parse_version(value) if isinstance(value, str) else None
    if finding.cms == "magento" and "magento_latest" in answers and not finding.eol:
        value = answers["magento_latest"].value
        releases = [v for v in map(parse_version, value if isinstance(value, list) else []) if v is not None]
        releases = [v for v in releases if not v.is_prerelease]
        same_line = [v for v in releases if finding.version and v.line == finding.version.line]
        return max(same_line or releases, default=None)
    return None


def _stale(verdict: Verdict, cfg: CmsConfig, answers: Mapping[str, Answer], now: float) -> None:
    for name, answer in answers.items():
        age = answer.age(now)
        since = answer.failing_since if age is None else now - age
        if since is not None and now - since > cfg.latest_unknown_warn and answer.error:
            what = "unknown" if age is None else f"last known {format_duration(age)} ago"
            verdict.add(Status.WARNING, f"source {name} failing ({answer.error}); latest {what}")


def judge(
    finding: Finding,
    cfg: CmsConfig,
    answers: Mapping[str, Answer],
    rules: Mapping[str, ModuleRule],
    now: float,
) -> Verdict:
    """Status and reasons for ``finding``; a missing version or latest release is state ``unknown``."""
    verdict = Verdict(latest=latest_for(finding, answers))
    version = finding.version
    _stale(verdict, cfg, answers, now)
    if finding.eol:
        verdict.insecure = True
        verdict.state = "end of life"
        verdict.add(Status(cfg.eol_status), f"end of life since {M1_EOL}")
    if version is None or (finding.source == "remote" and finding.cms == "magento"):
        # A remote Magento answer is only a release line: too coarse to call outdated.
        if not finding.eol:
            verdict.state = "unknown"
        return verdict
    insecure: list[str] = []
    stable = answers.get("wordpress_insecure")
    listed = stable.value if stable is not None and isinstance(stable.value, dict) else {}
    if finding.cms == "wordpress" and listed.get(str(version)) == "insecure":
        insecure.append("listed as insecure by the stable-check source")
    advisories = answers.get("magento_advisories")
    if finding.cms == "magento" and advisories is not None and isinstance(advisories.value, list) and advisories.value:
        ids = advisories.value
        insecure.append(f"{len(ids)} advisories: " + ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else ""))
    minimum = cfg.min_version_parsed
    if minimum is not None and version < minimum:
        insecure.append(f"below min_version {minimum}")
    if finding.cms == "bitrix":
        modules = finding.extra.get("modules", {})
        insecure += [f"module {v}" for v in violations(modules, rules)]
    for problem in insecure:
        verdict.add(Status.CRITICAL, problem)
    verdict.insecure = bool(insecure) or finding.eol
    latest = verdict.latest
    outdated = False
    if latest is not None and version < latest:
        outdated = True
        verdict.add(Status.WARNING, f"latest is {latest}")
    if latest is not None and cfg.max_minor_behind is not None:
        behind = minor_distance(version, latest, decimal_majors=finding.cms == "wordpress")
        if behind > cfg.max_minor_behind:
            outdated = True
            verdict.add(
                Status.WARNING, f"{behind} minor releases behind {latest} (max_minor_behind {cfg.max_minor_behind})"
            )
    # Without a latest release "not outdated" is not known: the flag stays unset (no 0 sample)
    # unless an insecure finding already makes it certain.
    verdict.outdated = True if outdated or insecure else (False if latest is not None else None)
    if finding.eol:
        pass  # "end of life" says more than any of the states below
    elif verdict.insecure:
        verdict.state = "insecure"
    elif outdated:
        verdict.state = "outdated"
    elif latest is None:
        verdict.state = "unknown"  # never "current" on the strength of a source that did not answer
    return verdict

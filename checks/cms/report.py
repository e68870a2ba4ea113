"""How a ``cms`` result is worded and measured: summary, details, samples, cross-check."""

from __future__ import annotations

from typing import Any

from checks.cms.advisories import Answer
from checks.cms.evaluate import Verdict
from checks.cms.model import Finding
from sitewatch.probe import Sample

__all__ = ["finding_details", "mismatch", "samples", "summary"]


def finding_details(finding: Finding) -> dict[str, Any]:
    extra = dict(finding.extra)
    if "components" in extra:
        extra["components"] = [c.as_dict() for c in extra["components"]]
    return {
        "cms": finding.cms,
        "version": str(finding.version) if finding.version else None,
        "edition": finding.edition or None,
        "where": finding.where,
        **extra,
    }


def _family(cms: str) -> str:
    return "magento" if cms == "openmage" else cms


def mismatch(local: Finding | None, remote: Finding | None) -> str | None:
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


def summary(finding: Finding, verdict: Verdict, has_sources: bool) -> str:
    what = finding.describe()
    latest = f"latest {verdict.latest}" if verdict.latest else ""
    reasons = [p for p in verdict.problems if not p.startswith("latest is")]
    if verdict.state == "end of life":
        return f"{what} is " + ", ".join(reasons)
    if verdict.state in ("insecure", "outdated"):
        extra = ", ".join(x for x in (latest, *reasons) if x)
        return f"{what} is {verdict.state}" + (f" ({extra})" if extra else "")
    if latest and verdict.state == "current":
        text = f"{what} is current ({latest})"
    elif latest:
        text = f"{what} ({latest})"
    elif finding.cms == "bitrix" and finding.version is not None:
        text = f"{what} (no module below its minimum safe version)"
    else:
        text = what + (" (latest version unknown)" if has_sources and finding.version is not None else "")
    return text + (f"; {reasons[0]}" if reasons else "")


def samples(  # noqa: PLR0917 - a private helper of one caller
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
    out.append(Sample("sitewatch_cms_latest_known", float(verdict.latest is not None)))
    if verdict.insecure is not None:
        out.append(Sample("sitewatch_cms_insecure", float(verdict.insecure)))
    if verdict.latest is not None:
        out.append(Sample("sitewatch_cms_latest_info", 1, (("cms", primary.cms), ("version", str(verdict.latest)))))
    for name, answer in answers.items():
        age = answer.age(now)
        if age is not None:
            out.append(Sample("sitewatch_cms_source_age_seconds", age, (("source", name),)))
    return tuple(out)

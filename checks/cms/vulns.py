"""Judge installed components against the advisory snapshots the agent keeps: current, outdated, vulnerable, unknown.

The check reads only what :class:`sitewatch.probe.AdvisoryBook` holds (and the small curated
Bitrix list shipped beside this module); it never downloads. A snapshot older than
``max_snapshot_age`` still proves a vulnerability it lists, but its silence proves
nothing: the components it would have judged are ``unknown``, and the result says why.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from checks.cms.components import Component
from checks.cms.config import ComponentsConfig
from checks.cms.versions import Version, parse_version
from sitewatch.probe import Advisory, AdvisoryBook, Snapshot, Status, format_duration, parse_snapshot, worst

__all__ = ["STATES", "ComponentsVerdict", "Judged", "affects", "ecosystem_of", "judge_components", "shipped_bitrix"]

STATES = ("vulnerable", "outdated", "current", "unknown")
_WHAT = {
    "wordpress-plugin": "WordPress plugins",
    "wordpress-theme": "WordPress themes",
    "packagist": "composer packages",
    "bitrix": "Bitrix modules",
}
#: A rating without a score counts as the lowest score of its band (CVSS v3 qualitative scale).
_RATING_SCORE = {"critical": 9.0, "high": 7.0, "medium": 4.0, "low": 0.1}
_SHIPPED_FILE = Path(__file__).with_name("bitrix_advisories.yaml")
_SHIPPED: Snapshot | None = None


@functools.lru_cache(maxsize=65536)
def _version(text: str) -> Version | None:
    """Parsed once per distinct string: 2,000 plugins against a full feed compare the same bounds often."""
    return parse_version(text)


def ecosystem_of(cms: str, component: Component) -> tuple[str, str] | None:
    """(ecosystem, name) an advisory source files ``component`` under, or None when no source can."""
    if cms == "wordpress" and component.kind in ("plugin", "theme"):
        return (f"wordpress-{component.kind}", component.name.lower())
    if cms == "magento" and component.kind == "package":
        return ("packagist", component.name.lower())
    if cms == "magento" and component.kind == "module" and isinstance(component.extra.get("package"), str):
        return ("packagist", component.extra["package"].lower())
    if cms == "bitrix" and component.kind == "module":
        return ("bitrix", component.name.lower())
    return None


def shipped_bitrix() -> Snapshot:
    """The curated Bitrix list shipped with the check (read once per process; blocking)."""
    global _SHIPPED  # noqa: PLW0603 - loaded once per process, read-only afterwards
    if _SHIPPED is None:
        data = _SHIPPED_FILE.read_bytes()
        _SHIPPED = parse_snapshot("curated", data, source="shipped-bitrix", fetched=_SHIPPED_FILE.stat().st_mtime)
    return _SHIPPED


@dataclass
class Judged:
    """One component's judgement."""

    component: Component
    state: str
    advisories: list[tuple[str, Advisory]] = field(default_factory=list)  # (source, advisory)
    fixed_in: str | None = None  # the lowest version that fixes every matched advisory, if one does
    unfixed: bool = False  # some matched advisory has no fixed version yet
    newer: str | None = None  # a newer release the data names (outdated)
    reason: str = ""  # why unknown
    score: float | None = None  # worst CVSS among the matched advisories
    exploited: bool = False

    def headline(self) -> str:
        """``contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2``."""
        return f"{self.component.name} {self.finding()}"

    def finding(self) -> str:
        """``5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2``: the headline without the name."""
        worst_one = self.advisories[0][1]  # _judge_one puts the worst first (exploited, then score)
        score = f"CVSS {worst_one.cvss:.1f}" if worst_one.cvss is not None else (worst_one.rating or "unscored")
        more = f" +{len(self.advisories) - 1} more" if len(self.advisories) > 1 else ""
        flag = ", exploited" if self.exploited else ""
        fix = f"fixed in {self.fixed_in}" if self.fixed_in and not self.unfixed else "no fixed version yet"
        return f"{self.component.version}: {worst_one.label} ({score}{flag}){more}, {fix}"


@dataclass
class ComponentsVerdict:
    """Every judged component, the status they give the check and what made data missing."""

    judged: list[Judged] = field(default_factory=list)
    status: Status = Status.OK
    priority: str | None = None
    problems: list[str] = field(default_factory=list)  # configured data that is missing or stale
    unconfigured: list[str] = field(default_factory=list)  # no source configured for what is installed
    sources: dict[str, str] = field(default_factory=dict)

    def count(self, state: str) -> int:
        """How many components are in ``state``."""
        return sum(j.state == state for j in self.judged)


def _rank(advisory: Advisory, exploited: set[str]) -> tuple[bool, float]:
    known = advisory.exploited or (advisory.cve is not None and advisory.cve in exploited)
    score = _score(advisory)
    return (known, 5.0 if score is None else score)


def _score(advisory: Advisory) -> float | None:
    return advisory.cvss if advisory.cvss is not None else _RATING_SCORE.get(advisory.rating or "")


def affects(advisory: Advisory, version: Version, text: str) -> bool:
    """Whether ``version`` falls in one of the advisory's ranges or listed versions."""
    if text in advisory.versions:
        return True
    for rng in advisory.ranges:
        low = _version(rng.low) if rng.low is not None else None
        high = _version(rng.high) if rng.high is not None else None
        if (rng.low is not None and low is None) or (rng.high is not None and high is None):
            continue  # a bound we cannot read judges nothing
        if low is not None and (version < low or (version == low and not rng.low_inclusive)):
            continue
        if high is not None and (version > high or (version == high and not rng.high_inclusive)):
            continue
        return True
    return False


def _fix_above(advisory: Advisory, version: Version) -> Version | None:
    fixes = [v for v in map(_version, advisory.fixed) if v is not None and v > version]
    return min(fixes, default=None)


def _judge_one(
    component: Component, version: Version, found: list[tuple[str, Advisory]], exploited: set[str]
) -> Judged:
    text = component.version or ""
    matched = [(s, a) for s, a in found if affects(a, version, text)]
    matched.sort(key=lambda sa: _rank(sa[1], exploited), reverse=True)
    if not matched:
        known = [v for _, a in found for v in map(_version, a.fixed) if v is not None]
        newest = max(known, default=None)
        if newest is not None and newest > version:
            return Judged(component, "outdated", newer=str(newest))
        return Judged(component, "current")
    fixes = [_fix_above(a, version) for _, a in matched]
    scores = [s for _, a in matched if (s := _score(a)) is not None]
    return Judged(
        component,
        "vulnerable",
        matched,
        fixed_in=str(max(f for f in fixes if f is not None)) if any(fixes) else None,
        unfixed=any(f is None for f in fixes),
        score=max(scores, default=None),
        exploited=any(_rank(a, exploited)[0] for _, a in matched),
    )


@dataclass
class _Cover:
    fresh: list[Snapshot]
    stale: list[Snapshot]
    reason: str | None = None  # why nothing fresh judges this ecosystem
    configured: bool = False  # a source is configured for it (so missing data is said in the summary)
    warn: bool = False  # the data is stale or its refresh fails: a warning


def _usable(
    ecosystem: str, book: AdvisoryBook, shipped: Iterable[Snapshot], cfg: ComponentsConfig, now: float
) -> _Cover:
    """The snapshots covering ``ecosystem``, fresh and stale, and why nothing fresh covers it."""
    fresh: list[Snapshot] = [s for s in shipped if ecosystem in {k[0] for k in s.index}]
    stale: list[Snapshot] = []
    reasons: list[str] = []
    warn = False
    for state in book.covering(ecosystem):
        snap = book.snapshots.get(state.name)
        failing = f" (last refresh failed: {state.problem})" if state.problem else ""
        if snap is None:
            # Before the first download (a fresh install) nothing is wrong yet: said, not warned.
            warn = warn or state.problem is not None
            reasons.append(f"no snapshot from {state.name} yet{failing or ' (first download pending)'}")
        elif snap.age(now) > cfg.max_snapshot_age:
            warn = True
            stale.append(snap)
            age, limit = format_duration(snap.age(now)), format_duration(cfg.max_snapshot_age)
            reasons.append(f"{state.name} snapshot is {age} old (max_snapshot_age {limit}){failing}")
        else:
            fresh.append(snap)
    if fresh:
        return _Cover(fresh, stale)
    if not reasons:
        return _Cover([], stale, f"no vulnerability source configured for {_WHAT.get(ecosystem, ecosystem)}")
    return _Cover([], stale, "; ".join(reasons), configured=True, warn=warn)


def judge_components(
    cms: str,
    components: Iterable[Component],
    book: AdvisoryBook,
    cfg: ComponentsConfig,
    now: float,
    *,
    shipped: Mapping[str, Snapshot] | None = None,
) -> ComponentsVerdict:
    """Judge every component; ``shipped`` adds curated snapshots (by name) that never go stale."""
    verdict = ComponentsVerdict()
    exploited = set(book.exploited())
    cover: dict[str, _Cover] = {}
    extra = list((shipped or {}).values())
    for component in components:
        key = ecosystem_of(cms, component)
        if key is None:
            verdict.judged.append(Judged(component, "unknown", reason="no advisory source covers this kind"))
            continue
        if key[0] not in cover:
            cover[key[0]] = _usable(key[0], book, extra, cfg, now)
            if cover[key[0]].reason is not None:
                # Unusable data is said in the summary; no data configured at all only in the details.
                said = verdict.problems if cover[key[0]].configured else verdict.unconfigured
                said.append(f"{_WHAT.get(key[0], key[0])} not judged: {cover[key[0]].reason}")
        known = cover[key[0]]
        version = _version(component.version) if component.version else None
        if version is None:
            verdict.judged.append(Judged(component, "unknown", reason="version not known"))
            continue
        found = [(s.source, a) for s in (*known.fresh, *known.stale) for a in s.index.get(key, ())]
        judged = _judge_one(component, version, found, exploited)
        if known.reason is not None and judged.state != "vulnerable":
            judged = Judged(component, "unknown", reason=known.reason)  # silence of stale data proves nothing
        verdict.judged.append(judged)
    for known in cover.values():
        for snap in (*known.fresh, *known.stale):
            verdict.sources[snap.source] = f"{format_duration(snap.age(now))} old, {snap.records} records"
    _status(verdict, cfg, any(c.warn for c in cover.values()))
    return verdict


def _status(verdict: ComponentsVerdict, cfg: ComponentsConfig, stale: bool) -> None:
    statuses = [Status(cfg.stale_status)] if stale else []
    for judged in verdict.judged:
        if judged.state != "vulnerable":
            continue
        score = judged.score if judged.score is not None else cfg.cvss_warning
        if judged.exploited or score >= cfg.cvss_critical:
            statuses.append(Status.CRITICAL)
        elif score >= cfg.cvss_warning:
            statuses.append(Status.WARNING)
        if judged.exploited:
            verdict.priority = cfg.exploited_priority
    verdict.status = worst(*statuses)

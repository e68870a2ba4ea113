"""How the component judgement reads: the summary clause, details for tickets, samples for metrics."""

from __future__ import annotations

from typing import Any

from checks.cms.vulns import STATES, ComponentsVerdict, Judged
from sitewatch.probe import Sample

__all__ = ["component_details", "component_samples", "component_summary"]

#: The summary names at most this many vulnerable components (the details list every one).
_NAMED = 3
_NOUN = {"plugin": "plugins", "theme": "themes", "package": "packages", "module": "modules"}


def _order(judged: Judged) -> tuple[bool, float]:
    return (judged.exploited, judged.score if judged.score is not None else 5.0)


def component_summary(verdict: ComponentsVerdict) -> str:
    """``1 of 41 plugins vulnerable: contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2``."""
    checked = [j for j in verdict.judged if j.state != "unknown"]
    kinds = " and ".join(_NOUN.get(k, k + "s") for k in sorted({j.component.kind for j in checked}))
    vulnerable = sorted((j for j in checked if j.state == "vulnerable"), key=_order, reverse=True)
    parts = []
    if vulnerable:
        named = "; ".join(j.headline() for j in vulnerable[:_NAMED])
        more = f"; and {len(vulnerable) - _NAMED} more" if len(vulnerable) > _NAMED else ""
        parts.append(f"{len(vulnerable)} of {len(checked)} {kinds} vulnerable: {named}{more}")
    elif checked:
        parts.append(f"no known vulnerable {kinds} ({len(checked)} checked)")
    if outdated := verdict.count("outdated"):
        parts.append(f"{outdated} outdated")
    parts += verdict.problems[:2]
    return "; ".join(parts)


def _advisory(source: str, advisory: Any) -> dict[str, Any]:
    out = {"source": source, "id": advisory.id, "cve": advisory.cve, "title": advisory.title, "cvss": advisory.cvss}
    if advisory.rating:
        out["rating"] = advisory.rating
    if advisory.fixed:
        out["fixed"] = list(advisory.fixed)
    if advisory.exploited:
        out["exploited"] = True
    if advisory.url:
        out["url"] = advisory.url
    return out


def component_details(verdict: ComponentsVerdict) -> dict[str, Any]:
    """Counts by state, every vulnerable and outdated component, the snapshots used and what was missing."""
    vulnerable = [
        {
            "kind": j.component.kind,
            "name": j.component.name,
            "version": j.component.version,
            "fixed_in": None if j.unfixed else j.fixed_in,
            "cvss": j.score,
            "exploited": j.exploited,
            "advisories": [_advisory(s, a) for s, a in j.advisories],
        }
        for j in sorted((j for j in verdict.judged if j.state == "vulnerable"), key=_order, reverse=True)
    ]
    outdated = [
        {"kind": j.component.kind, "name": j.component.name, "version": j.component.version, "newer": j.newer}
        for j in verdict.judged
        if j.state == "outdated"
    ]
    return {
        # What to update, one ticket line each (a mapping: the ticket lists it as update.<name>: ...), worst first.
        "update": {
            j.component.name: j.finding()
            for j in sorted(verdict.judged, key=_order, reverse=True)
            if j.state == "vulnerable"
        },
        "counts": {state: verdict.count(state) for state in STATES},
        "sources": verdict.sources,
        "problems": verdict.problems + verdict.unconfigured,
        "vulnerable": vulnerable,
        "outdated": outdated,
    }


def component_samples(verdict: ComponentsVerdict) -> list[Sample]:
    """Info series for vulnerable and outdated components only (bounded), and counts by state."""
    out = [
        Sample(
            "sitewatch_cms_component_info",
            1,
            (
                ("kind", j.component.kind),
                ("component", j.component.name),
                ("version", j.component.version or ""),
                ("state", j.state),
            ),
        )
        for j in verdict.judged
        if j.state in ("vulnerable", "outdated")
    ]
    out.append(Sample("sitewatch_cms_vulnerable_components", float(verdict.count("vulnerable"))))
    out += [Sample("sitewatch_cms_components", float(verdict.count(s)), (("state", s),)) for s in STATES]
    return out

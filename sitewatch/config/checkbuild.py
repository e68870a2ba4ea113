"""A site's ``checks:`` entries → ``CheckSpec`` objects: common keys, the plugin's own settings, inherited values.

The second validation pass: each entry's common keys against the common model, its other
keys against the ``Config`` model of its type's plugin, and what it does not set taken
from its site and ``defaults:``. Apart from the sites, because a check's rules (its
plugin, its name within the site, its timeout against its interval) are its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic

from sitewatch.config.errors import problems_from_validation
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.policy import Policy
from sitewatch.config.registry import load_checks
from sitewatch.config.reuse import Parsed
from sitewatch.config.sites import _Common, _Incident
from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SourceMap, format_path
from sitewatch.config.specs import CheckSpec
from sitewatch.config.timing import CHECK, Setting, timeout_problem
from sitewatch.probe import SiteInfo

__all__ = ["Inherited", "build_checks"]

_POLICY_KEYS = ("fail_after", "recover_after", "fail_for", "error_is_failure", "incidents")
_COMMON_KEYS = ("type", "name", "interval", "timeout", "priority", "runbook", "depends_on", *_POLICY_KEYS)


@dataclass(frozen=True, slots=True)
class Inherited:
    """What a site's checks take from the site and from ``defaults:`` unless they set it."""

    interval: Setting
    timeout: Setting
    layers: list[_Incident]
    maintenance: tuple[MaintenanceWindow, ...]
    importance: str
    runbook: str | None
    client: str
    title: str | None


def _policy(layers: list[_Incident]) -> Policy:
    """The first layer (check, site, defaults) that sets a value wins."""
    chosen: dict[str, Any] = {}
    for key in _POLICY_KEYS:
        value = next((getattr(m, key) for m in layers if getattr(m, key) is not None), None)
        if value is not None:
            chosen[key] = value
    return Policy(**chosen)


def build_checks(  # noqa: PLR0917 - a helper of one caller (the site builder)
    items: list[Any],
    prefix: KeyPath,
    site: SiteInfo,
    inherited: Inherited,
    smap: SourceMap,
    problems: list[Problem],
    parsed: Parsed,
) -> tuple[CheckSpec, ...]:
    """The ``checks:`` entries of the site at ``prefix`` as specs; what is wrong with them goes to ``problems``."""
    registry = load_checks()
    seen: dict[str, Origin] = {}
    out = []
    for j, item in enumerate(items):
        where: KeyPath = (*prefix, "checks", j)
        if not isinstance(item, dict):
            problems.append(Problem(smap.origin(where), format_path(where), "expected a mapping with type:"))
            continue
        common_data = {k: v for k, v in item.items() if k in _COMMON_KEYS}
        common: _Common | None = None
        try:
            common = _Common.model_validate(common_data)
        except pydantic.ValidationError as exc:
            problems += problems_from_validation(exc, where, smap, _Common, common_data)
        # The check's own settings are validated even when its common keys are wrong
        # (`timeout: ten` must not hide `contians:`), as long as its type is known.
        kind = item.get("type")
        cls = registry.get(kind) if isinstance(kind, str) else None
        if cls is None and isinstance(kind, str):
            known = ", ".join(sorted(registry)) or "none installed"
            problems.append(
                Problem(
                    smap.origin((*where, "type")),
                    format_path((*where, "type")),
                    f"unknown check type {_quoted(kind, smap, (*where, 'type'))} (installed: {known})",
                )
            )
        if cls is None:
            continue
        settings_data = {k: v for k, v in item.items() if k not in _COMMON_KEYS}
        try:
            settings = cls.Config.model_validate(settings_data)
        except pydantic.ValidationError as exc:
            problems += problems_from_validation(exc, where, smap, cls.Config, settings_data, siblings=_COMMON_KEYS)
            continue
        if common is None:
            continue
        name = common.name or common.type
        here = smap.origin(where)
        if name in seen:
            problems.append(
                Problem(
                    here,
                    format_path(where),
                    f"duplicate check name {name!r} in site {site.name!r} (first at {seen[name]});"
                    " set name: to tell them apart",
                )
            )
        seen.setdefault(name, here)
        interval = Setting(common.interval, CHECK, (*where, "interval")) if common.interval else inherited.interval
        timeout = Setting(common.timeout, CHECK, (*where, "timeout")) if common.timeout else inherited.timeout
        check_interval, check_timeout = interval.value, timeout.value
        if check_timeout > check_interval:
            # As Prometheus treats scrape_timeout: a timeout set no closer to the check than its
            # interval (defaults:, or built in) is lowered to the interval; one set as close or
            # closer is a mistake, reported once at its own line (not once per check).
            if timeout.level > interval.level:
                check_timeout = check_interval
            elif (problem := timeout_problem(interval, timeout, smap)) not in problems:
                problems.append(problem)
        running = parsed.checks.get((site.name, name))
        spec = CheckSpec(
            site=site,
            name=name,
            type=common.type,
            interval=check_interval,
            timeout=check_timeout,
            settings=parsed.same(settings, running.settings if running else None),
            check_class=cls,
            origin=here,
            policy=_policy([common, *inherited.layers]),
            maintenance=inherited.maintenance,
            importance=inherited.importance,
            priority=common.priority,
            runbook=common.runbook or inherited.runbook,
            client=inherited.client,
            site_title=inherited.title,
        )
        out.append(parsed.same(spec, running))
    return tuple(out)


def _quoted(value: str, smap: SourceMap, path: KeyPath) -> str:
    """``value`` quoted for an error message, unless it came from a secret."""
    return "(a value from a secret, not shown)" if smap.is_secret(path) else repr(value)

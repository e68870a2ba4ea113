"""Where a check's interval and timeout come from, and the rule between them (as Prometheus has it).

A timeout inherited from a less specific place than the interval (``defaults:``, or built in)
is lowered to the interval, as Prometheus lowers an inherited ``scrape_timeout``; one set as
close to the check as its interval, or closer, is refused once, at its own line.
"""

from __future__ import annotations

from dataclasses import dataclass

from sitewatch.config.sites import DefaultsConfig, _Site
from sitewatch.config.sourcemap import KeyPath, Problem, SourceMap, format_path

__all__ = ["BUILT_IN", "CHECK", "DEFAULTS", "SITE", "Setting", "setting", "timeout_problem"]


#: How specific a setting's place is: the check's own, its site's, ``defaults:``, built in.
CHECK, SITE, DEFAULTS, BUILT_IN = range(4)


@dataclass(frozen=True, slots=True)
class Setting:
    """A timing setting, how specific the place that set it is, and its key path there."""

    value: float
    level: int
    path: KeyPath


def setting(key: str, site: _Site | None, defaults: DefaultsConfig, index: int) -> Setting:
    """``interval`` or ``timeout`` for a site's checks: the site's, else defaults:, else built in."""
    own = getattr(site, key) if site is not None else None
    if own is not None:
        return Setting(own, SITE, ("sites", index, key))
    level = DEFAULTS if key in defaults.model_fields_set else BUILT_IN
    return Setting(getattr(defaults, key), level, ("defaults", key))


def timeout_problem(interval: Setting, timeout: Setting, smap: SourceMap) -> Problem:
    """A timeout set explicitly above the interval it runs under: one message, where it is set."""
    where = "" if interval.level == timeout.level else f" set at {smap.origin(interval.path)}"
    return Problem(
        smap.origin(timeout.path),
        format_path(timeout.path),
        f"timeout ({timeout.value:g}s) must not exceed interval ({interval.value:g}s{where});"
        " an inherited timeout is lowered to the interval, an explicit one is refused",
    )

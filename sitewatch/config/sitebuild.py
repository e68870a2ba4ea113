"""The ``sites:`` entries → ``SiteSpec`` objects, and what their checks inherit from them and from ``defaults:``.

Each entry is validated on its own while it is built, and its checks are built right after
it (:mod:`sitewatch.config.checkbuild`), so a load of 10,000 sites holds one site model at
a time; a site that fails validation still has its checks validated, so all errors show.
"""

from __future__ import annotations

from typing import Any

import pydantic
import yarl

from sitewatch.config.checkbuild import Inherited, build_checks
from sitewatch.config.document import _Raw
from sitewatch.config.errors import problems_from_validation
from sitewatch.config.reuse import Parsed
from sitewatch.config.sites import DefaultsConfig, _Incident, _parse_url, _Site
from sitewatch.config.sourcemap import Origin, Problem, SourceMap
from sitewatch.config.specs import SiteSpec
from sitewatch.config.timing import setting
from sitewatch.probe import SiteInfo

__all__ = ["build_sites"]


def build_sites(
    data: dict[str, Any], raw: _Raw | None, smap: SourceMap, problems: list[Problem], parsed: Parsed
) -> tuple[SiteSpec, ...]:
    """The sites of ``data`` as specs, with their checks; what is wrong with them goes to ``problems``."""
    raw_sites = data.get("sites")
    if not isinstance(raw_sites, list):
        return ()
    defaults = raw.defaults if raw is not None else DefaultsConfig()
    seen: dict[str, Origin] = {}
    out = []
    for i, site_data in enumerate(raw_sites):
        site = _validated_site(site_data, i, smap, problems, parsed)
        if not isinstance(site_data, dict):
            continue
        name = site_data.get("name")
        if isinstance(name, str):
            here = smap.origin(("sites", i, "name"))
            if name in seen:
                problems.append(
                    Problem(here, f"sites[{i}].name", f"duplicate site name {name!r} (first defined at {seen[name]})")
                )
            seen.setdefault(name, here)
        # A site that failed validation still gets a placeholder so its checks are validated too.
        # Taken out, not looked up: the parsed URL is only needed here, so a load holds one at a time.
        url = (parsed.urls.pop(site.url, None) or _parse_url(site.url)) if site else None
        info = SiteInfo(name=str(name), url=url or yarl.URL("http://invalid/"), tags=site.tags if site else ())
        running = parsed.sites.get(info.name)
        info = parsed.same(info, running.info if running else None)
        interval = setting("interval", site, defaults, i)
        timeout = setting("timeout", site, defaults, i)
        checks_data = site_data.get("checks", [{"type": "http"}])
        if not isinstance(checks_data, list):
            continue
        layers: list[_Incident] = [m for m in (site, defaults) if m is not None]
        inherited = Inherited(
            interval=interval,
            timeout=timeout,
            layers=layers,
            maintenance=(site.maintenance if site else ()) + (raw.maintenance if raw else ()),
            importance=site.importance if site else "normal",
            runbook=site.runbook if site else None,
            client=(site.client if site else None) or "default",
            title=site.title if site else None,
        )
        checks = build_checks(checks_data, ("sites", i), info, inherited, smap, problems, parsed)
        sla = site.sla if site is not None and site.sla is not None else defaults.sla
        spec = SiteSpec(info, checks, sla, inherited.client, title=inherited.title)
        out.append(parsed.same(spec, running))
    return tuple(out)


def _validated_site(
    site_data: Any, index: int, smap: SourceMap, problems: list[Problem], parsed: Parsed
) -> _Site | None:
    """``sites[index]`` as a model, or None with its problems added."""
    try:
        return _Site.model_validate(site_data, context=parsed)
    except pydantic.ValidationError as exc:
        problems += problems_from_validation(exc, ("sites", index), smap, _Site, site_data)
        return None

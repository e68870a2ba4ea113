"""YAML → validated, immutable :class:`Config`; every error carries ``file:line``.

Validation runs in two passes so that all errors are reported at once: the outer
structure (agent, defaults, sites) against the models below, then each check's
own settings against the ``Config`` model of its plugin.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yarl

from sitewatch.config.agent import AgentConfig
from sitewatch.config.clients import Clients, client_problems, token_problems
from sitewatch.config.depends import attach_dependencies
from sitewatch.config.document import _Raw
from sitewatch.config.errors import ConfigError, problems_from_validation
from sitewatch.config.escalation import escalation_problems
from sitewatch.config.includes import merge_includes
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.policy import Policy
from sitewatch.config.registry import load_checks
from sitewatch.config.reuse import Parsed
from sitewatch.config.sites import DefaultsConfig, _Common, _Incident, _parse_url, _Site
from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SecretMode, SourceMap, format_path
from sitewatch.config.specs import CheckSpec, Config, SiteSpec
from sitewatch.config.timing import CHECK, Setting, setting, timeout_problem
from sitewatch.config.unresolved import unresolved_by_check, unresolved_problems, without_knock_on
from sitewatch.config.webconfig import read_web_config
from sitewatch.config.yamlsource import load_yaml_tree
from sitewatch.probe import SiteInfo

__all__ = ["ConfigError", "load_config"]

_POLICY_KEYS = ("fail_after", "recover_after", "fail_for", "error_is_failure", "incidents")
_COMMON_KEYS = ("type", "name", "interval", "timeout", "priority", "runbook", "depends_on", *_POLICY_KEYS)


def load_config(
    path: str | Path,
    previous: Config | None = None,
    *,
    secrets: SecretMode = "resolve",
    skip_broken_includes: bool = False,
) -> Config:
    """Read, substitute, include and validate ``path``; raise :class:`ConfigError` with every problem.

    ``skip_broken_includes`` (the agent's start without ``--strict``): when every problem lies in
    included files, load again without those files, so one broken file of thirty leaves the other
    sites watched; the skipped files and their problems become :attr:`Config.warnings`. A problem
    in the main file still fails the load.

    ``previous`` is the running config, on a reload: every site, check and check setting
    that equals its running counterpart is that very object, so a reload holds one copy
    of what did not change instead of two, and the scheduler sees at once what did.

    ``secrets``: ``resolve`` reports each ``${…}`` that cannot be looked up once; ``defer``
    loads anyway (``Config.unresolved`` names what each check lacks), for commands that use
    no secret or only some; ``offline`` looks nothing up (the structure only, for CI).
    """
    try:
        return _load(Path(path), previous, secrets, frozenset())
    except ConfigError as exc:
        if not skip_broken_includes:
            raise
        return _without_broken_includes(Path(path), previous, secrets, exc)


def _without_broken_includes(path: Path, previous: Config | None, secrets: SecretMode, error: ConfigError) -> Config:
    """The config loaded again without the included files ``error`` found broken; ``error`` when that fails."""
    main = str(path)
    # An include entry naming a missing file is the main file's problem but an include's failure.
    missing = frozenset(p.path for p in error.problems if p.origin.file == main and p.path.startswith("include["))
    broken = frozenset(p.origin.file for p in error.problems if p.origin.file != main)
    if any(p.origin.file == main and p.path not in missing for p in error.problems):
        raise error
    try:
        config = _load(path, previous, secrets, broken | missing)
    except ConfigError:
        raise error from None
    skipped = tuple(
        Problem(Origin(file, 1), "include", "file skipped: its sites are not watched until it is fixed")
        for file in sorted(broken)
    )
    return dataclasses.replace(config, warnings=config.warnings + skipped + tuple(error.problems))


def _load(path: Path, previous: Config | None, secrets: SecretMode, skip: frozenset[str]) -> Config:
    smap = SourceMap(default=Origin(str(path), 1), mode=secrets)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    data = load_yaml_tree(path, smap, problems)
    if not isinstance(data, dict) and not problems:  # e.g. a list, a scalar or a bare `null`
        problems.append(Problem(smap.origin(()), "", "expected a mapping with agent:, defaults: and sites:"))
    if not isinstance(data, dict):
        raise ConfigError(problems)
    merge_includes(data, path.parent, smap, problems, warnings=warnings, skip=skip)
    parsed = Parsed.reusing(previous)
    try:
        raw = _Raw.model_validate(data, context=parsed)
    except pydantic.ValidationError as exc:
        problems += problems_from_validation(exc, (), smap, _Raw, data)
        raw = None
    sites = _build_sites(data, raw, smap, problems, parsed)
    site_clients = _site_clients(data)
    sites = attach_dependencies(sites, data.get("sites"), smap, problems)
    del data, parsed  # the YAML data and the running config's index: not needed from here on
    if raw is not None and raw.agent.web_config is not None:
        problems += _web_config_problems(raw.agent.web_config, path.parent, smap)
    if raw is not None:
        problems += _alertmanager_problems(raw.agent, path.parent, smap)
        problems += client_problems(raw.clients, raw.tickets, site_clients, smap)
        users = _has_users(raw.agent, path.parent)
        problems += token_problems(raw.clients, raw.agent.operator_token, users, smap)
        problems += escalation_problems(raw.clients, raw.tickets.sinks, raw.tickets.notifiers, raw.tickets.sla, smap)
    problems = without_knock_on(problems, smap)
    if secrets == "resolve":
        problems += unresolved_problems(smap)
    if problems or raw is None:
        main = str(path)
        problems.sort(key=lambda p: (p.origin.file != main, p.origin.file, p.origin.line))
        raise ConfigError(problems)
    clients = Clients.build(raw.clients, raw.tickets, raw.agent.timezone)
    unresolved = unresolved_by_check(sites, smap)
    return Config(
        path,
        raw.agent,
        raw.defaults,
        raw.tickets,
        sites,
        clients,
        unresolved,
        warnings=tuple(warnings),
        vulnerabilities=raw.vulnerabilities,
    )


def _site_clients(data: dict[str, Any]) -> list[tuple[int, str]]:
    """``(index, client)`` of every site that names its client."""
    raw_sites = data.get("sites")
    if not isinstance(raw_sites, list):
        return []
    return [
        (i, d["client"]) for i, d in enumerate(raw_sites) if isinstance(d, dict) and isinstance(d.get("client"), str)
    ]


def _web_config_problems(web_config: Path, base: Path, smap: SourceMap) -> list[Problem]:
    target = web_config if web_config.is_absolute() else base / web_config
    if not target.is_file():
        where = smap.origin(("agent", "web_config"))
        return [Problem(where, "agent.web_config", f"no such file: {str(target)!r}")]
    try:
        read_web_config(target)
    except ConfigError as exc:
        return exc.problems
    return []


def _has_users(agent: AgentConfig, base: Path) -> bool:
    """Whether web_config names basic-auth users (False when it is missing or bad: reported elsewhere)."""
    if agent.web_config is None:
        return False
    target = agent.web_config if agent.web_config.is_absolute() else base / agent.web_config
    try:
        return bool(read_web_config(target).users)
    except (ConfigError, OSError):
        return False


def _alertmanager_problems(agent: AgentConfig, base: Path, smap: SourceMap) -> list[Problem]:
    """An enabled bridge needs credentials: its token, or basic-auth users in web_config."""
    bridge = agent.alertmanager
    if not bridge.enabled or bridge.token is not None:
        return []
    if agent.web_config is not None:
        target = agent.web_config if agent.web_config.is_absolute() else base / agent.web_config
        try:
            if read_web_config(target).users:
                return []
        except ConfigError:
            return []  # already reported by the web_config check
    where = smap.origin(("agent", "alertmanager", "enabled"))
    return [
        Problem(
            where,
            "agent.alertmanager",
            "enabled without credentials: set token: ${ALERTMANAGER_TOKEN} (20+ characters, e.g. openssl rand -hex 24)"
            " or basic_auth_users in agent.web_config",
        )
    ]


def _build_sites(
    data: dict[str, Any], raw: _Raw | None, smap: SourceMap, problems: list[Problem], parsed: Parsed
) -> tuple[SiteSpec, ...]:
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
        inherited = _Inherited(
            interval=interval,
            timeout=timeout,
            layers=layers,
            maintenance=(site.maintenance if site else ()) + (raw.maintenance if raw else ()),
            importance=site.importance if site else "normal",
            runbook=site.runbook if site else None,
            client=(site.client if site else None) or "default",
            title=site.title if site else None,
        )
        checks = _build_checks(checks_data, ("sites", i), info, inherited, smap, problems, parsed)
        sla = site.sla if site is not None and site.sla is not None else defaults.sla
        spec = SiteSpec(info, checks, sla, inherited.client, title=inherited.title)
        out.append(parsed.same(spec, running))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Inherited:
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


def _validated_site(
    site_data: Any, index: int, smap: SourceMap, problems: list[Problem], parsed: Parsed
) -> _Site | None:
    """``sites[index]`` as a model, or None with its problems added."""
    try:
        return _Site.model_validate(site_data, context=parsed)
    except pydantic.ValidationError as exc:
        problems += problems_from_validation(exc, ("sites", index), smap, _Site, site_data)
        return None


def _build_checks(  # noqa: PLR0917 - a private helper of one caller
    items: list[Any],
    prefix: KeyPath,
    site: SiteInfo,
    inherited: _Inherited,
    smap: SourceMap,
    problems: list[Problem],
    parsed: Parsed,
) -> tuple[CheckSpec, ...]:
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

"""YAML → validated, immutable :class:`Config`; every error carries ``file:line``.

Validation runs in two passes so that all errors are reported at once: the outer
structure (agent, defaults, sites) against the models below, then each check's
own settings against the ``Config`` model of its plugin.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch import __version__
from sitewatch.alertmanager import AlertmanagerConfig
from sitewatch.config_errors import ConfigError, problems_from_validation
from sitewatch.listener import ListenerConfig
from sitewatch.maintenance import MaintenanceWindow
from sitewatch.probe import AnyCheck, CheckConfig, Duration, SiteInfo
from sitewatch.registry import load_checks
from sitewatch.state import Policy
from sitewatch.tickets.settings import TicketsConfig
from sitewatch.webauth import load_web_config
from sitewatch.yamlsource import (
    KeyPath,
    Origin,
    Problem,
    SourceMap,
    expand_include,
    format_path,
    load_yaml_tree,
)

__all__ = ["DEFAULT_LISTEN", "AgentConfig", "CheckSpec", "Config", "ConfigError", "SiteSpec", "load_config"]

#: 9879 is not taken in Prometheus' default-port allocation list for exporters.
DEFAULT_LISTEN = "127.0.0.1:9879"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_POLICY_KEYS = ("fail_after", "recover_after", "fail_for", "error_is_failure")
_COMMON_KEYS = ("type", "name", "interval", "timeout", "priority", "runbook", *_POLICY_KEYS)
PositiveDuration = Annotated[Duration, pydantic.Field(gt=0)]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _listen(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN}, got {value!r}")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN} or [::1]:9879, got {value!r}")
    return value


def _sla(value: Any) -> float:
    """An SLA target in percent: ``99.9`` or ``"99.9%"``, above 0 and at most 100."""
    expected = "expected an SLA target in percent above 0 and at most 100, like 99.9"
    number = value[:-1].strip() if isinstance(value, str) and value.endswith("%") else value
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        raise ValueError(f"{expected}, got {value!r}")
    try:
        percent = float(number)
    except ValueError:
        raise ValueError(f"{expected}, got {value!r}") from None
    if not 0 < percent <= 100:  # also refuses nan
        raise ValueError(f"{expected}, got {value!r}")
    return percent


#: ``sla:`` — the availability promised to the client, in percent (site level or in defaults:).
SlaTarget = Annotated[float, pydantic.BeforeValidator(_sla)]


class AgentConfig(_Model):
    """``agent:`` — where the agent listens, keeps state, and how hard it may probe."""

    listen: Annotated[str, pydantic.BeforeValidator(_listen)] = DEFAULT_LISTEN
    #: Timeouts and the connection cap of that listener (sitewatch.listener); read at start.
    listener: ListenerConfig = ListenerConfig()
    state_dir: Path = Path("/var/lib/sitewatch")
    concurrency: Annotated[int, pydantic.Field(ge=1, le=100_000)] = 256
    per_host_concurrency: Annotated[int, pydantic.Field(ge=1, le=10_000)] = 8
    #: Runs due within this much of each other start together (each up to this late): fewer
    #: event-loop wake-ups, and the connections they open are then served in shared loop turns.
    timer_slack: Annotated[Duration, pydantic.Field(ge=0, le=1.0)] = 0.02
    user_agent: str = f"sitewatch/{__version__}"
    #: How long the result history (for availability reports) is kept.
    history_retention: PositiveDuration = 400 * 86400.0
    #: Prometheus-style web-config.yml: TLS and bcrypt basic auth for /metrics and the API.
    web_config: Path | None = None
    #: ``POST /alertmanager``: Alertmanager's webhook as a ticket bridge (off unless enabled).
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split for binding (brackets stripped from IPv6)."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class _Incident(_Model):
    """When failures become an incident; settable in defaults, per site and per check."""

    fail_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    recover_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    fail_for: PositiveDuration | None = None
    error_is_failure: bool | None = None


class DefaultsConfig(_Incident):
    """``defaults:`` — settings every check inherits unless its site or itself overrides them."""

    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 10.0
    sla: SlaTarget | None = None


class _Site(_Incident):
    name: str
    importance: Literal["high", "normal", "low"] = "normal"
    runbook: str | None = None
    sla: SlaTarget | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    url: str
    tags: tuple[str, ...] = ()
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    checks: tuple[Any, ...] | None = None

    @pydantic.field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"expected a name of letters, digits, '.', '_' or '-' (it becomes a metric label), got {value!r}"
            )
        return value

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str, info: pydantic.ValidationInfo) -> str:
        url = _parse_url(value) or yarl.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"expected a URL like https://shop.example.com/, got {value!r}")
        if isinstance(info.context, _Parsed):  # so that building the site does not parse it again
            info.context.urls[value] = url
        return value


class _Common(_Incident):
    type: str
    priority: Literal["P1", "P2", "P3", "P4"] | None = None  # fixed priority, e.g. P4 for cms
    runbook: str | None = None
    name: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None


class _Raw(_Model):
    agent: AgentConfig = AgentConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    tickets: TicketsConfig = TicketsConfig()
    # Each site is validated on its own while it is built (_validated_site): a reload of
    # 10,000 sites then holds one site model at a time, not all of them (~10 MB at the peak).
    sites: tuple[Any, ...] = ()
    include: tuple[str, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One configured check, with inherited timing resolved."""

    site: SiteInfo
    name: str
    type: str
    interval: float
    timeout: float
    settings: CheckConfig
    check_class: builtins.type[AnyCheck]
    origin: Origin
    policy: Policy = Policy()
    maintenance: tuple[MaintenanceWindow, ...] = ()  # the site's windows and the global ones
    importance: str = "normal"
    priority: str | None = None
    runbook: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity: (site name, check name)."""
        return (self.site.name, self.name)

    def build(self) -> AnyCheck:
        """Instantiate the check with its validated settings."""
        return self.check_class(self.settings, self.site)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """One configured site and its checks."""

    info: SiteInfo
    checks: tuple[CheckSpec, ...]
    sla: float | None = None  # availability target in percent (the site's, else defaults:)


@dataclass(frozen=True, slots=True)
class Config:
    """A complete, validated configuration. Immutable: reloads build a new one."""

    source: Path
    agent: AgentConfig
    defaults: DefaultsConfig
    tickets: TicketsConfig
    sites: tuple[SiteSpec, ...]

    @property
    def checks(self) -> tuple[CheckSpec, ...]:
        """Every check of every site."""
        return tuple(c for s in self.sites for c in s.checks)


@dataclass
class _Parsed:
    """What one load has already worked out, so it is not worked out twice."""

    #: URLs parsed while validating the sites, by their text.
    urls: dict[str, yarl.URL] = dataclasses.field(default_factory=dict)
    #: The running config's sites and checks, by name: equal ones are taken from there.
    sites: dict[str, SiteSpec] = dataclasses.field(default_factory=dict)
    checks: dict[tuple[str, str], CheckSpec] = dataclasses.field(default_factory=dict)

    @classmethod
    def reusing(cls, previous: Config | None) -> _Parsed:
        """Remember the running config's sites and checks (none without one)."""
        if previous is None:
            return cls()
        return cls(
            sites={s.info.name: s for s in previous.sites},
            checks={c.key: c for s in previous.sites for c in s.checks},
        )

    def same(self, new: Any, old: Any) -> Any:
        """``old`` when it equals ``new`` (the running copy stays, the new one is freed), else ``new``."""
        return old if old is not None and old == new else new


def load_config(path: str | Path, previous: Config | None = None) -> Config:
    """Read, substitute, include and validate ``path``; raise :class:`ConfigError` with every problem.

    ``previous`` is the running config, on a reload: every site, check and check setting
    that equals its running counterpart is that very object, so a reload holds one copy
    of what did not change instead of two, and the scheduler sees at once what did.
    """
    path = Path(path)
    smap = SourceMap(default=Origin(str(path), 1))
    problems: list[Problem] = []
    data = load_yaml_tree(path, smap, problems)
    if not isinstance(data, dict) and not problems:  # e.g. a list, a scalar or a bare `null`
        problems.append(Problem(smap.origin(()), "", "expected a mapping with agent:, defaults: and sites:"))
    if not isinstance(data, dict):
        raise ConfigError(problems)
    _merge_includes(data, path.parent, smap, problems)
    parsed = _Parsed.reusing(previous)
    try:
        raw = _Raw.model_validate(data, context=parsed)
    except pydantic.ValidationError as exc:
        problems += problems_from_validation(exc, (), smap, _Raw, data)
        raw = None
    sites = _build_sites(data, raw, smap, problems, parsed)
    del data, parsed  # the YAML data and the running config's index: not needed from here on
    if raw is not None and raw.agent.web_config is not None:
        problems += _web_config_problems(raw.agent.web_config, path.parent, smap)
    if raw is not None:
        problems += _alertmanager_problems(raw.agent, path.parent, smap)
    if problems or raw is None:
        main = str(path)
        problems.sort(key=lambda p: (p.origin.file != main, p.origin.file, p.origin.line))
        raise ConfigError(problems)
    return Config(path, raw.agent, raw.defaults, raw.tickets, sites)


def _web_config_problems(web_config: Path, base: Path, smap: SourceMap) -> list[Problem]:
    target = web_config if web_config.is_absolute() else base / web_config
    if not target.is_file():
        where = smap.origin(("agent", "web_config"))
        return [Problem(where, "agent.web_config", f"no such file: {str(target)!r}")]
    try:
        load_web_config(target)
    except ConfigError as exc:
        return exc.problems
    return []


def _alertmanager_problems(agent: AgentConfig, base: Path, smap: SourceMap) -> list[Problem]:
    """An enabled bridge needs credentials: its token, or basic-auth users in web_config."""
    bridge = agent.alertmanager
    if not bridge.enabled or bridge.token is not None:
        return []
    if agent.web_config is not None:
        target = agent.web_config if agent.web_config.is_absolute() else base / agent.web_config
        try:
            if load_web_config(target).users:
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


def _merge_includes(data: dict[str, Any], base: Path, smap: SourceMap, problems: list[Problem]) -> None:
    patterns = data.get("include", [])
    if isinstance(patterns, str):
        patterns = [patterns]
        smap.relocate(("include",), ("include", 0))
    if not isinstance(patterns, list):
        return  # the model reports the wrong type
    sites = data.setdefault("sites", [])
    if not isinstance(sites, list):
        return
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        files = expand_include(pattern, base)
        if files is None:
            problems.append(Problem(smap.origin(("include", i)), f"include[{i}]", f"no such file: {pattern!r}"))
            continue
        for file in files:
            scratch: KeyPath = ("@include", str(file))
            found: list[Problem] = []
            sub = load_yaml_tree(file, smap, found, prefix=scratch)
            moves: list[tuple[KeyPath, KeyPath]] = []
            if isinstance(sub, dict) and set(sub) == {"sites"} and isinstance(sub["sites"], list):
                for j, site in enumerate(sub["sites"]):
                    moves.append(((*scratch, "sites", j), ("sites", len(sites))))
                    sites.append(site)
            elif isinstance(sub, dict):
                moves.append((scratch, ("sites", len(sites))))
                sites.append(sub)
            for old, new in moves:
                smap.relocate(old, new)
                found = [_moved(p, old, new) for p in found]
            problems += found
            if sub is not None and not isinstance(sub, dict):
                where = smap.origin(scratch)
                problems.append(Problem(where, "", "expected one site (name:, url:, checks:) or a mapping with sites:"))
    data["include"] = [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else patterns


def _moved(problem: Problem, old: KeyPath, new: KeyPath) -> Problem:
    """Re-express a problem found under a scratch include path at its merged path."""
    before, after = format_path(old), format_path(new)
    if problem.path == before or problem.path.startswith((before + ".", before + "[")):
        return Problem(problem.origin, after + problem.path[len(before) :], problem.message)
    return problem


def _build_sites(
    data: dict[str, Any], raw: _Raw | None, smap: SourceMap, problems: list[Problem], parsed: _Parsed
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
        interval = (site.interval if site else None) or defaults.interval
        timeout = (site.timeout if site else None) or defaults.timeout
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
        )
        checks = _build_checks(checks_data, ("sites", i), info, inherited, smap, problems, parsed)
        sla = site.sla if site is not None and site.sla is not None else defaults.sla
        out.append(parsed.same(SiteSpec(info, checks, sla), running))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Inherited:
    """What a site's checks take from the site and from ``defaults:`` unless they set it."""

    interval: float
    timeout: float
    layers: list[_Incident]
    maintenance: tuple[MaintenanceWindow, ...]
    importance: str
    runbook: str | None


def _policy(layers: list[_Incident]) -> Policy:
    """The first layer (check, site, defaults) that sets a value wins."""
    chosen: dict[str, Any] = {}
    for key in _POLICY_KEYS:
        value = next((getattr(m, key) for m in layers if getattr(m, key) is not None), None)
        if value is not None:
            chosen[key] = value
    return Policy(**chosen)


def _validated_site(
    site_data: Any, index: int, smap: SourceMap, problems: list[Problem], parsed: _Parsed
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
    parsed: _Parsed,
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
        try:
            common = _Common.model_validate(common_data)
        except pydantic.ValidationError as exc:
            problems += problems_from_validation(exc, where, smap, _Common, common_data)
            continue
        cls = registry.get(common.type)
        if cls is None:
            known = ", ".join(sorted(registry)) or "none installed"
            problems.append(
                Problem(
                    smap.origin((*where, "type")),
                    format_path((*where, "type")),
                    f"unknown check type {_quoted(common.type, smap, (*where, 'type'))} (installed: {known})",
                )
            )
            continue
        settings_data = {k: v for k, v in item.items() if k not in _COMMON_KEYS}
        try:
            settings = cls.Config.model_validate(settings_data)
        except pydantic.ValidationError as exc:
            problems += problems_from_validation(exc, where, smap, cls.Config, settings_data)
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
        check_interval = common.interval or inherited.interval
        check_timeout = common.timeout or inherited.timeout
        if check_timeout > check_interval:
            problems.append(
                Problem(
                    here,
                    format_path(where),
                    f"timeout ({check_timeout:g}s) must not exceed interval ({check_interval:g}s)",
                )
            )
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
        )
        out.append(parsed.same(spec, running))
    return tuple(out)


def _quoted(value: str, smap: SourceMap, path: KeyPath) -> str:
    """``value`` quoted for an error message, unless it came from a secret."""
    return "(a value from a secret, not shown)" if smap.is_secret(path) else repr(value)


def _parse_url(text: str) -> yarl.URL | None:
    """``text`` as a URL, or None when yarl cannot read it (a bad port, a broken IPv6 literal)."""
    try:
        return yarl.URL(text)
    except ValueError:
        return None

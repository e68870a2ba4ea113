"""YAML → validated, immutable :class:`Config`; every error carries ``file:line``.

Validation runs in two passes so that all errors are reported at once: the outer
structure (agent, defaults, sites) against the section models (:mod:`sitewatch.config.document`),
then, while the sites and checks are built (:mod:`sitewatch.config.sitebuild`,
:mod:`sitewatch.config.checkbuild`), each check's own settings against the ``Config``
model of its plugin. Here: the order of the stages, the checks across sections, and the
start that skips broken include files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pydantic

from sitewatch.config.clients import Clients, client_problems, token_problems
from sitewatch.config.depends import attach_dependencies
from sitewatch.config.document import _Raw
from sitewatch.config.errors import ConfigError, problems_from_validation
from sitewatch.config.escalation import escalation_problems
from sitewatch.config.includes import merge_includes
from sitewatch.config.reuse import Parsed
from sitewatch.config.sitebuild import build_sites
from sitewatch.config.sourcemap import Origin, Problem, SecretMode, SourceMap
from sitewatch.config.specs import Config
from sitewatch.config.unresolved import unresolved_by_check, unresolved_problems, without_knock_on
from sitewatch.config.webaccess import alertmanager_problems, has_users, web_config_problems
from sitewatch.config.yamlsource import load_yaml_tree

__all__ = ["ConfigError", "load_config"]


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
    sites = build_sites(data, raw, smap, problems, parsed)
    site_clients = _site_clients(data)
    sites = attach_dependencies(sites, data.get("sites"), smap, problems)
    del data, parsed  # the YAML data and the running config's index: not needed from here on
    if raw is not None and raw.agent.web_config is not None:
        problems += web_config_problems(raw.agent.web_config, path.parent, smap)
    if raw is not None:
        problems += alertmanager_problems(raw.agent, path.parent, smap)
        problems += client_problems(raw.clients, raw.tickets, site_clients, smap)
        users = has_users(raw.agent, path.parent)
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

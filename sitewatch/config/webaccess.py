"""The ``agent:`` settings checked against web-config.yml: the file itself, and who can reach the routes it guards.

These read a second file (web_config, relative to the config's folder), which no model
validation does; the loader runs them once the outer structure is valid.
"""

from __future__ import annotations

from pathlib import Path

from sitewatch.config.agent import AgentConfig
from sitewatch.config.errors import ConfigError
from sitewatch.config.sourcemap import Problem, SourceMap
from sitewatch.config.webconfig import read_web_config

__all__ = ["alertmanager_problems", "has_users", "web_config_problems"]


def web_config_problems(web_config: Path, base: Path, smap: SourceMap) -> list[Problem]:
    """What is wrong with the web_config file (relative to ``base``): missing, or its own problems."""
    target = web_config if web_config.is_absolute() else base / web_config
    if not target.is_file():
        where = smap.origin(("agent", "web_config"))
        return [Problem(where, "agent.web_config", f"no such file: {str(target)!r}")]
    try:
        read_web_config(target)
    except ConfigError as exc:
        return exc.problems
    return []


def has_users(agent: AgentConfig, base: Path) -> bool:
    """Whether web_config names basic-auth users (False when it is missing or bad: reported elsewhere)."""
    if agent.web_config is None:
        return False
    target = agent.web_config if agent.web_config.is_absolute() else base / agent.web_config
    try:
        return bool(read_web_config(target).users)
    except (ConfigError, OSError):
        return False


def alertmanager_problems(agent: AgentConfig, base: Path, smap: SourceMap) -> list[Problem]:
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

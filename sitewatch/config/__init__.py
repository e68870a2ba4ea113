"""The configuration: the YAML source map (file and line of every key), located errors, secrets, and the
model of every section: agent, defaults, sites and checks (their types from the registry), maintenance
windows, the incident policy, tickets and SLA targets, web-config.yml.

``load_config(path)`` turns a sitewatch.yaml into an immutable :class:`Config` or raises one
:class:`ConfigError` that lists every problem as ``file:line: dotted.key: what was wrong``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.config.agent import DEFAULT_LISTEN, AgentConfig, AlertmanagerConfig
    from sitewatch.config.errors import ConfigError
    from sitewatch.config.loader import load_config
    from sitewatch.config.maintenance import MaintenanceWindow, active
    from sitewatch.config.policy import Policy
    from sitewatch.config.registry import RegistryError, load_checks
    from sitewatch.config.secrets import lookup
    from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SourceMap
    from sitewatch.config.specs import CheckSpec, Config, SiteSpec
    from sitewatch.config.tickets import SlaTarget, TicketsConfig
    from sitewatch.config.webconfig import WebConfig, read_web_config
    from sitewatch.config.yamlsource import load_yaml_tree

__all__ = [
    "AgentConfig",
    "AlertmanagerConfig",
    "CheckSpec",
    "Config",
    "ConfigError",
    "DEFAULT_LISTEN",
    "KeyPath",
    "MaintenanceWindow",
    "Origin",
    "Policy",
    "Problem",
    "RegistryError",
    "SiteSpec",
    "SlaTarget",
    "SourceMap",
    "TicketsConfig",
    "WebConfig",
    "active",
    "load_checks",
    "load_config",
    "load_yaml_tree",
    "lookup",
    "read_web_config",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "agent": ("DEFAULT_LISTEN", "AgentConfig", "AlertmanagerConfig"),
        "specs": ("CheckSpec", "Config", "SiteSpec"),
        "loader": ("load_config",),
        "secrets": ("lookup",),
        "errors": ("ConfigError",),
        "sourcemap": ("KeyPath", "Origin", "Problem", "SourceMap"),
        "yamlsource": ("load_yaml_tree",),
        "registry": ("RegistryError", "load_checks"),
        "maintenance": ("MaintenanceWindow", "active"),
        "policy": ("Policy",),
        "tickets": ("SlaTarget", "TicketsConfig"),
        "webconfig": ("WebConfig", "read_web_config"),
    },
)

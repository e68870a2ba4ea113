"""The configuration: the YAML source map (file and line of every key), the models, located errors, secrets.

``load_config(path)`` turns a sitewatch.yaml into an immutable :class:`Config` or raises one
:class:`ConfigError` that lists every problem as ``file:line: dotted.key: what was wrong``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.config.errors import ConfigError
    from sitewatch.config.loader import DEFAULT_LISTEN, AgentConfig, CheckSpec, Config, SiteSpec, load_config
    from sitewatch.config.yamlsource import Origin, Problem, SourceMap

__all__ = [
    "AgentConfig",
    "CheckSpec",
    "Config",
    "ConfigError",
    "DEFAULT_LISTEN",
    "Origin",
    "Problem",
    "SiteSpec",
    "SourceMap",
    "load_config",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "loader": ("DEFAULT_LISTEN", "AgentConfig", "CheckSpec", "Config", "SiteSpec", "load_config"),
        "errors": ("ConfigError",),
        "yamlsource": ("Origin", "Problem", "SourceMap"),
    },
)

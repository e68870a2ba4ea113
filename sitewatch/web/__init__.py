"""The web face: the aiohttp server, web-config.yml auth, the JSON API, the status page,
the Alertmanager bridge and the /metrics exposition.

Every page is a read-only view of the result book and the store, except the Alertmanager
bridge, which opens incidents like a check would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.web.alertmanager import AlertmanagerBridge
    from sitewatch.web.auth import WebSecurity, load_web_config
    from sitewatch.web.exposition import Exposition
    from sitewatch.web.metric_table import CORE_METRICS
    from sitewatch.web.metrics import SitewatchCollector
    from sitewatch.web.registry import build_registry
    from sitewatch.web.server import WebServer, build_app
    from sitewatch.web.statuspage import StatusPage

__all__ = [
    "AlertmanagerBridge",
    "CORE_METRICS",
    "Exposition",
    "SitewatchCollector",
    "StatusPage",
    "WebSecurity",
    "WebServer",
    "build_app",
    "build_registry",
    "load_web_config",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "server": ("WebServer", "build_app"),
        "auth": ("WebSecurity", "load_web_config"),
        "statuspage": ("StatusPage",),
        "alertmanager": ("AlertmanagerBridge",),
        "metrics": ("SitewatchCollector",),
        "registry": ("build_registry",),
        "exposition": ("Exposition",),
        "metric_table": ("CORE_METRICS",),
    },
)

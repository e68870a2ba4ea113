"""Settings of the ``pageload`` check."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pydantic

from sitewatch.probe import CheckConfig, Duration, Size

__all__ = ["PageloadConfig", "host_allowed"]

# A host name, optionally with a leading "*." that matches any subdomain (not the bare domain).
_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")


def _host(value: Any) -> str:
    if not isinstance(value, str) or not _HOST.fullmatch(value.strip().lower()):
        raise ValueError(f"expected a host name like cdn.example.com or *.cdn.example.com, got {value!r}")
    return value.strip().lower().rstrip(".")


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """True when ``host`` matches one of the ``allow_hosts`` patterns."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


_ASSET_SETTINGS = frozenset(
    {"allow_hosts", "concurrency", "max_assets", "max_asset_size", "asset_timeout", "failed_assets"}
)


class PageloadConfig(CheckConfig):
    """``type: pageload`` — time the page (and with ``full: true`` its resources)."""

    url: str | None = None  # absolute, or a path relative to the site's URL
    headers: dict[str, str] = {}
    warn: Duration | None = None  # on the load time (the full load time with full: true)
    crit: Duration | None = None
    ttfb_warn: Duration | None = None  # on the time to the document's response headers
    ttfb_crit: Duration | None = None
    samples: Annotated[int, pydantic.Field(ge=1, le=10)] = 1
    max_body: Size = 5 * 1024 * 1024  # bytes of the HTML document read (and parsed)
    verify_tls: bool = True
    full: bool = False
    allow_hosts: tuple[Annotated[str, pydantic.BeforeValidator(_host)], ...] = ()
    concurrency: Annotated[int, pydantic.Field(ge=1, le=32)] = 6
    max_assets: Annotated[int, pydantic.Field(ge=1, le=500)] = 100
    max_asset_size: Size = 5 * 1024 * 1024
    asset_timeout: Duration = 10.0
    failed_assets: Literal["warning", "critical"] = "warning"

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> PageloadConfig:
        for low, high in (("warn", "crit"), ("ttfb_warn", "ttfb_crit")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} must not be greater than {high}")
        if self.asset_timeout <= 0:
            raise ValueError("asset_timeout must be greater than 0")
        stray = sorted(_ASSET_SETTINGS & self.model_fields_set)
        if stray and not self.full:
            # Most likely a forgotten ``full: true``; silently ignoring them would hide that.
            raise ValueError(f"{', '.join(stray)} only apply with full: true")
        return self

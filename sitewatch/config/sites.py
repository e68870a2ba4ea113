"""The models that validate ``defaults:``, each ``sites:`` entry and a check's common keys.

They are the input side of a load: what the YAML may say about sites and checks and how
incidents are decided for them. What a load builds from them (``SiteSpec``, ``CheckSpec``)
is in :mod:`sitewatch.config.specs`; the building itself in :mod:`sitewatch.config.sitebuild` and
:mod:`sitewatch.config.checkbuild`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch.config.fieldtypes import PositiveDuration, SlaTarget
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.reuse import Parsed

__all__ = ["DefaultsConfig"]


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _Incident(_Model):
    """When failures become an incident; settable in defaults, per site and per check."""

    fail_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    recover_after: Annotated[int, pydantic.Field(ge=1, le=1000)] | None = None
    fail_for: PositiveDuration | None = None
    error_is_failure: bool | None = None
    #: false: check, record and export only; no local incident (another place alerts, e.g. a
    #: quorum of agents through Prometheus rules from `sitewatch rules`).
    incidents: bool | None = None


class DefaultsConfig(_Incident):
    """``defaults:`` — settings every check inherits unless its site or itself overrides them."""

    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 10.0
    sla: SlaTarget | None = None


class _Site(_Incident):
    name: str
    #: What people call the site, in any script ("Интернет-магазин «Ромашка»"): shown on the
    #: status page, in tickets and reports; ``name`` stays the label-safe key.
    title: str | None = pydantic.Field(default=None, min_length=1, max_length=200)
    importance: Literal["high", "normal", "low"] = "normal"
    runbook: str | None = None
    sla: SlaTarget | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    url: str
    tags: tuple[str, ...] = ()
    #: The ``clients:`` entry the site belongs to; unset: the default client.
    client: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    checks: tuple[Any, ...] | None = None
    #: A server other sites depend on (its tcp or health check), not a site of its own.
    host: bool = False
    #: Sites, hosts or site/check whose failure explains this site's (sitewatch.config.depends).
    depends_on: str | tuple[str, ...] = ()

    @pydantic.field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"expected a name of letters, digits, '.', '_' or '-' (it becomes a metric label), got {value!r};"
                " put the name people use in title:"
            )
        return value

    @pydantic.field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(ch < " " or ch == "\x7f" for ch in value)):
            raise ValueError(f"expected one line of text, got {value!r}")
        return value.strip() if value is not None else None

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str, info: pydantic.ValidationInfo) -> str:
        url = _parse_url(value) or yarl.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"expected a URL like https://shop.example.com/, got {value!r}{_with_scheme(value)}")
        if isinstance(info.context, Parsed):  # so that building the site does not parse it again
            info.context.urls[value] = url
        return value


class _Common(_Incident):
    type: str
    priority: Literal["P1", "P2", "P3", "P4"] | None = None  # fixed priority, e.g. P4 for cms
    runbook: str | None = None
    name: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    depends_on: str | tuple[str, ...] = ()


def _with_scheme(text: str) -> str:
    """``; did you mean https://shop.example.com/?`` for a host name written without a scheme."""
    if "://" in text or "." not in text.split("/", 1)[0] or any(c.isspace() for c in text):
        return ""
    suggestion = "https://" + text + ("" if "/" in text else "/")
    guess = _parse_url(suggestion)
    if guess is None or not guess.host or "." not in guess.host:
        return ""
    return f"; did you mean {suggestion}?"


def _parse_url(text: str) -> yarl.URL | None:
    """``text`` as a URL, or None when yarl cannot read it (a bad port, a broken IPv6 literal)."""
    try:
        return yarl.URL(text)
    except ValueError:
        return None

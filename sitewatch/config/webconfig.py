"""Prometheus' ``web-config.yml``: TLS and bcrypt basic auth for the agent's web server, read and checked.

Ops staff already write this file for node_exporter and Prometheus itself::

    tls_server_config:
      cert_file: /etc/sitewatch/tls.crt
      key_file: /etc/sitewatch/tls.key
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

``check-config`` reads it here; :mod:`sitewatch.web.auth` enforces what it says.

``http_server_config`` takes Prometheus' shape too: ``headers`` (the five security headers the
exporter toolkit allows, set on every answer) and ``http2``. The agent's server speaks HTTP/1.1
only, so ``http2: true`` is refused rather than accepted and ignored.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pydantic

from sitewatch.config.errors import ConfigError, problems_from_validation
from sitewatch.config.sourcemap import Origin, Problem, SourceMap
from sitewatch.config.yamlsource import load_yaml_tree

__all__ = ["WebConfig", "read_web_config"]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _Tls(_Model):
    cert_file: Path
    key_file: Path
    # TLS10/TLS11 (valid in Prometheus' file) are refused: the server offers 1.2 or newer only.
    min_version: Literal["TLS12", "TLS13"] = "TLS12"


class _Headers(_Model):
    """The response headers Prometheus' exporter toolkit lets a web config set (no others)."""

    content_security_policy: str | None = pydantic.Field(None, alias="Content-Security-Policy")
    x_frame_options: str | None = pydantic.Field(None, alias="X-Frame-Options")
    x_content_type_options: str | None = pydantic.Field(None, alias="X-Content-Type-Options")
    x_xss_protection: str | None = pydantic.Field(None, alias="X-XSS-Protection")
    strict_transport_security: str | None = pydantic.Field(None, alias="Strict-Transport-Security")

    def pairs(self) -> dict[str, str]:
        """The configured headers by their HTTP names."""
        named = {
            "Content-Security-Policy": self.content_security_policy,
            "X-Frame-Options": self.x_frame_options,
            "X-Content-Type-Options": self.x_content_type_options,
            "X-XSS-Protection": self.x_xss_protection,
            "Strict-Transport-Security": self.strict_transport_security,
        }
        return {name: value for name, value in named.items() if value is not None}


class _HttpServer(_Model):
    headers: _Headers = _Headers()
    http2: bool = False

    @pydantic.field_validator("http2")
    @classmethod
    def _http11_only(cls, http2: bool) -> bool:
        if http2:
            raise ValueError("the agent's web server speaks HTTP/1.1 only: remove http2 or set it to false")
        return http2


class _WebConfig(_Model):
    tls_server_config: _Tls | None = None
    basic_auth_users: dict[str, str] = {}
    http_server_config: _HttpServer = _HttpServer()

    @pydantic.field_validator("basic_auth_users")
    @classmethod
    def _hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"password of {user!r} must be a bcrypt hash ($2y$...), not plain text")
        return users


@dataclass(frozen=True)
class WebConfig:
    """A checked web-config.yml: the TLS context to serve with (if any), the bcrypt hashes by user,
    and the headers to set on every answer."""

    ssl_context: ssl.SSLContext | None
    users: dict[str, bytes]
    headers: dict[str, str] = field(default_factory=dict)


def read_web_config(path: Path) -> WebConfig:
    """Read a web-config.yml; raises ``ConfigError`` with file:line problems."""
    smap = SourceMap(default=Origin(str(path), 1))
    problems: list[Problem] = []
    data = load_yaml_tree(path, smap, problems)
    if problems:
        raise ConfigError(problems)
    try:
        model = _WebConfig.model_validate(data or {})
    except pydantic.ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, (), smap, _WebConfig, data)) from None
    users = {u: h.encode() for u, h in model.basic_auth_users.items()}
    headers = model.http_server_config.headers.pairs()
    tls = model.tls_server_config
    if tls is not None:
        base = path.parent
        cert, key = (p if p.is_absolute() else base / p for p in (tls.cert_file, tls.key_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_3 if tls.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            where = Origin(str(path), smap.origin(("tls_server_config",)).line)
            raise ConfigError([Problem(where, "tls_server_config", f"cannot load certificate/key: {exc}")]) from None
        return WebConfig(context, users, headers)
    return WebConfig(None, users, headers)

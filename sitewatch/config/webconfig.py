"""Prometheus' ``web-config.yml``: TLS and bcrypt basic auth for the agent's web server, read and checked.

Ops staff already write this file for node_exporter and Prometheus itself::

    tls_server_config:
      cert_file: /etc/sitewatch/tls.crt
      key_file: /etc/sitewatch/tls.key
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

``check-config`` reads it here; :mod:`sitewatch.web.auth` enforces what it says.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

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
    min_version: str = "TLS12"


class _WebConfig(_Model):
    tls_server_config: _Tls | None = None
    basic_auth_users: dict[str, str] = {}
    http_server_config: dict[str, object] = {}

    @pydantic.field_validator("basic_auth_users")
    @classmethod
    def _hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"password of {user!r} must be a bcrypt hash ($2y$...), not plain text")
        return users


@dataclass(frozen=True)
class WebConfig:
    """A checked web-config.yml: the TLS context to serve with (if any) and the bcrypt hashes by user."""

    ssl_context: ssl.SSLContext | None
    users: dict[str, bytes]


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
        return WebConfig(context, users)
    return WebConfig(None, users)

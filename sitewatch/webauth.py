"""Optional TLS and basic auth for the agent's web server, in Prometheus' ``web-config.yml`` format.

Ops staff already write this file for node_exporter and Prometheus itself::

    tls_server_config:
      cert_file: /etc/sitewatch/tls.crt
      key_file: /etc/sitewatch/tls.key
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
"""

from __future__ import annotations

import base64
import binascii
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pydantic
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sitewatch.config_errors import ConfigError, problems_from_validation
from sitewatch.passwords import Passwords
from sitewatch.yamlsource import Origin, Problem, SourceMap, load_yaml_tree

__all__ = ["WebSecurity", "load_web_config"]

#: Heartbeat pings carry their own secret token; jobs should not need the scrape password.
_OPEN_PREFIXES = ("/ping/",)
#: Paths whose handler checks credentials itself: Alertmanager sends either a bearer token or basic auth.
_SELF_AUTHENTICATED = frozenset({"/alertmanager"})


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


@dataclass
class WebSecurity:
    """What the web server enforces: an SSL context and/or bcrypt users."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    # bcrypt off the loop, remembered once verified, alike in time for unknown users (sitewatch.passwords).
    _passwords: Passwords = field(init=False)

    def __post_init__(self) -> None:
        self._passwords = Passwords(self.users)

    async def check(self, header: str | None) -> bool:
        """True when ``header`` (an Authorization value) names a configured user with the right password."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return await self._passwords.verify(user, password)

    def close(self) -> None:
        """Stop the verification threads."""
        self._passwords.close()

    def middleware(self) -> Middleware:
        """aiohttp middleware asking for basic auth on every path but the heartbeat pings."""

        @web.middleware
        async def require_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            protected = (
                self.users and not request.path.startswith(_OPEN_PREFIXES) and request.path not in _SELF_AUTHENTICATED
            )
            if protected and not await self.check(request.headers.get("Authorization")):
                return web.Response(
                    status=401,
                    text="authentication required\n",
                    headers={"WWW-Authenticate": 'Basic realm="sitewatch"'},
                )
            return await handler(request)

        return require_auth


def load_web_config(path: Path) -> WebSecurity:
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
    security = WebSecurity(users={u: h.encode() for u, h in model.basic_auth_users.items()})
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
        security.ssl_context = context
    return security

"""Optional TLS and basic auth for the agent's web server, in Prometheus' ``web-config.yml`` format.

The file is read and checked by :mod:`sitewatch.config.webconfig`; this module checks its passwords
and :mod:`sitewatch.web.access` decides who may open what.

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

from sitewatch.config.webconfig import read_web_config
from sitewatch.web.passwords import Passwords

__all__ = ["WebSecurity", "load_web_config"]


@dataclass
class WebSecurity:
    """What the web server enforces: an SSL context and/or bcrypt users, and headers on every answer."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # bcrypt off the loop, remembered once verified, alike in time for unknown users (sitewatch.web.passwords).
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


def load_web_config(path: Path) -> WebSecurity:
    """Read a web-config.yml; raises ``ConfigError`` with file:line problems."""
    checked = read_web_config(path)
    return WebSecurity(ssl_context=checked.ssl_context, users=checked.users, headers=checked.headers)

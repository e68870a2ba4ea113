"""Who a request is, and what it may open: the operator everything, a client only its own pages.

Credentials come from ``Authorization``:

- ``Bearer <token>``: ``agent.operator_token`` (the operator) or a ``clients: token:`` (that client);
- ``Basic``: ``<client name>:<client token>`` (so a browser's password prompt opens a client page),
  else a ``web_config`` user (the operator).

The rule is decided here, once, for every route the app has, so a route added later is covered
without being listed: a client route is one whose path starts with ``/clients/{client}`` or
``/api/clients/{client}``; every other route is the operator's. A client's credentials open its
own client routes and nothing else: another client's route answers 404 exactly like a client that
does not exist (names cannot be probed), an operator route 403. No or wrong credentials get 401.
With no operator credentials configured (no token, no users), operator routes stay open as before
clients existed; the config loader refuses client tokens then.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sitewatch.web.auth import WebSecurity

__all__ = ["CLIENT_PREFIXES", "Access", "Identity", "is_client_route", "not_found"]

#: Canonical route paths that belong to one client (its name is the ``client`` match).
CLIENT_PREFIXES = ("/clients/{client}", "/api/clients/{client}")
#: Heartbeat pings carry their own secret token; jobs should not need the scrape password.
_OPEN_PREFIXES = ("/ping/",)
#: Paths whose handler checks credentials itself: Alertmanager sends either a bearer token or basic auth.
_SELF_AUTHENTICATED = frozenset({"/alertmanager"})


@dataclass(frozen=True, slots=True)
class Identity:
    """What the credentials of a request turned out to be."""

    kind: Literal["operator", "client", "anonymous", "invalid"]
    client: str | None = None


def not_found() -> web.Response:
    """The one answer for a client, or a client's site, that the caller may not see or that does not exist."""
    return web.json_response({"error": "not found"}, status=404)


def is_client_route(request: web.Request) -> bool:
    """True when the matched route is one of the client routes."""
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical.startswith(CLIENT_PREFIXES)


class Access:
    """Identifies requests and enforces the operator/client split (see the module docstring).

    The tokens are read at each request from callables, so a reload that adds, changes or
    removes a client token takes effect at once.
    """

    def __init__(
        self,
        security: WebSecurity | None,
        operator_token: Callable[[], str | None],
        client_tokens: Callable[[], Mapping[str, str]],
    ) -> None:
        self._security = security
        self._operator_token = operator_token
        self._client_tokens = client_tokens

    @property
    def operator_open(self) -> bool:
        """True when no operator credentials are configured: operator routes need none."""
        return self._operator_token() is None and not (self._security is not None and self._security.users)

    async def identify(self, header: str | None) -> Identity:
        """The identity behind an ``Authorization`` value; every token is compared in constant time."""
        if not header:
            return Identity("anonymous")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer(value.strip().encode())
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return Identity("invalid")
            token = self._client_tokens().get(user)
            if token is not None and hmac.compare_digest(password.encode(), token.encode()):
                return Identity("client", user)
            if self._security is not None and self._security.users and await self._security.check(header):
                return Identity("operator")
        return Identity("invalid")

    def _bearer(self, given: bytes) -> Identity:
        found = Identity("invalid")
        operator = self._operator_token()
        if operator is not None and hmac.compare_digest(given, operator.encode()):
            found = Identity("operator")
        for name, token in self._client_tokens().items():
            # No early exit: the time taken says nothing about which token (if any) matched.
            if hmac.compare_digest(given, token.encode()) and found.kind == "invalid":
                found = Identity("client", name)
        return found

    def decide(self, request: web.Request, who: Identity) -> web.Response | None:
        """The refusal for ``who`` on ``request``'s route, or None to let the handler answer."""
        operator = who.kind == "operator" or (self.operator_open and who.kind in ("anonymous", "invalid"))
        if is_client_route(request):
            if operator or (who.kind == "client" and who.client == request.match_info.get("client")):
                return None
            return not_found() if who.kind == "client" else _unauthorized()
        if operator:
            return None
        if who.kind == "client":
            return web.json_response({"error": "this token opens only its client's pages"}, status=403)
        return _unauthorized()

    def middleware(self) -> Middleware:
        """aiohttp middleware applying :meth:`decide` to every route but the pings and the bridge."""

        @web.middleware
        async def require_access(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(_OPEN_PREFIXES) or request.path in _SELF_AUTHENTICATED:
                return await handler(request)
            refusal = self.decide(request, await self.identify(request.headers.get("Authorization")))
            return refusal if refusal is not None else await handler(request)

        return require_access


def _unauthorized() -> web.Response:
    return web.Response(
        status=401, text="authentication required\n", headers={"WWW-Authenticate": 'Basic realm="sitewatch"'}
    )

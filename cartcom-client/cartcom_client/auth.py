"""The one place that decides how a request proves who it is (docs/api.md §1.1, §13).

Two modes, both applied by ``session.PacedAdapter`` at send time, once the request is final
(every page, every retry and every followed redirect):

- ``AccessTokenAuth``: a store's own token in ``X-AC-Auth-Token``.
- ``RouterAuth``: Cart.com's Central API Router (``public.americommerce.com/api/v1``), one partner
  identity for many stores. No token; ``X-AC-PUB-Site-ID`` names the store, ``X-AC-PUB-User``
  the partner user, and ``X-AC-PUB-Auth-Signature`` is
  base64(HMAC-SHA256(key=user secret, message=``METHOD&<path>?<query>&<user name>``)), computed
  over the path and query exactly as they go on the wire (already encoded).

A request to any other origin than the store's leaves with none of these headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import requests

#: The header that carries the access token on every call (docs/api.md §1.1).
TOKEN_HEADER = "X-AC-Auth-Token"  # noqa: S105 - a header name, not a secret
#: The Central API Router's headers (docs/api.md §13).
SITE_HEADER = "X-AC-PUB-Site-ID"
USER_HEADER = "X-AC-PUB-User"
SIGNATURE_HEADER = "X-AC-PUB-Auth-Signature"
#: Every header that proves identity: all are withheld from another origin.
AUTH_HEADERS = (TOKEN_HEADER, SITE_HEADER, USER_HEADER, SIGNATURE_HEADER)

ACCESS_TOKEN = "access_token"  # noqa: S105 - the name of an auth mode, not a secret
CENTRAL_API_ROUTER = "central_api_router"
AUTH_TYPES = (ACCESS_TOKEN, CENTRAL_API_ROUTER)
#: The Central API Router's base URL (docs/api.md §13).
DEFAULT_ROUTER_URL = "https://public.americommerce.com/api/v1"


class Auth(Protocol):
    """An auth mode: the headers that prove identity for one final, prepared request."""

    def headers_for(self, request: requests.PreparedRequest) -> dict[str, str]:
        """The identity headers for ``request`` as it will be sent."""
        ...


@dataclass(frozen=True)
class AccessTokenAuth:
    """A store's own access token; kept out of ``repr``."""

    token: str = field(repr=False)

    def headers_for(self, request: requests.PreparedRequest) -> dict[str, str]:
        """``X-AC-Auth-Token``."""
        return {TOKEN_HEADER: self.token}


def wire_path_and_query(url: str) -> str:
    """The path and query of ``url`` exactly as sent on the request line (no decoding).

    Without a query there is no ``?`` (INF: Cart.com's docs only show a signed request with a
    query; see docs/api.md §13).
    """
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def router_signature(secret: str, method: str, path_and_query: str, user_name: str) -> str:
    """base64(HMAC-SHA256(secret, ``METHOD&<path>?<query>&<user name>``))."""
    message = f"{method.upper()}&{path_and_query}&{user_name}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class RouterAuth:
    """Central API Router credentials for one store (site); the secret is kept out of ``repr``."""

    site_id: str
    user_name: str
    user_secret: str = field(repr=False)

    def headers_for(self, request: requests.PreparedRequest) -> dict[str, str]:
        """The three ``X-AC-PUB-*`` headers, signed over this request's method, path and query."""
        signature = router_signature(
            self.user_secret,
            request.method or "GET",
            wire_path_and_query(request.url or ""),
            self.user_name,
        )
        return {
            SITE_HEADER: self.site_id,
            USER_HEADER: self.user_name,
            SIGNATURE_HEADER: signature,
        }


def apply_auth(request: requests.PreparedRequest, auth: Auth | None, *, at_home: bool) -> None:
    """Set ``auth``'s headers on ``request`` when it goes to the store's origin; strip them else.

    Any identity header already on the request (from a session default, or copied onto a
    redirect) is dropped first, so a signature never outlives the URL it was computed for.
    """
    if auth is None:
        # A transport without an auth mode only keeps identity headers off other origins.
        if not at_home:
            for name in AUTH_HEADERS:
                request.headers.pop(name, None)
        return
    for name in AUTH_HEADERS:
        request.headers.pop(name, None)
    if at_home:
        request.headers.update(auth.headers_for(request))


__all__ = [
    "ACCESS_TOKEN",
    "AUTH_HEADERS",
    "AUTH_TYPES",
    "CENTRAL_API_ROUTER",
    "DEFAULT_ROUTER_URL",
    "SIGNATURE_HEADER",
    "SITE_HEADER",
    "TOKEN_HEADER",
    "USER_HEADER",
    "AccessTokenAuth",
    "Auth",
    "RouterAuth",
    "apply_auth",
    "router_signature",
    "wire_path_and_query",
]

"""Router mode: Cart.com's Central API Router, many stores (sites) behind one host.

A partner reaches a store through ``public.americommerce.com/api/v1`` with three headers
instead of a token (docs/api.md §13): ``X-AC-PUB-Site-ID`` (which store), ``X-AC-PUB-User`` and
``X-AC-PUB-Auth-Signature`` = base64(HMAC-SHA256(key=the user's secret,
message=``METHOD&<path>?<query>&<user>``)). The signature is checked here against the raw request
line (the path and query exactly as sent, never decoded), so a signature computed over another
query, another page or another method is refused.

Every refusal is a 401 with the Cart.com envelope, answered before anything of the body is read:
missing headers, an ``X-AC-Auth-Token`` alone, an unknown site, an unknown user, a wrong
signature. Unknown users and wrong signatures get the same message (no user enumeration).

INF (documented in docs/sandbox.md): a request without a query string is signed over the path
alone, without ``?``; every user may reach every site; each site has its own call budget,
whoever calls it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cartcom_sandbox import jsonio
from cartcom_sandbox.app import ADMIN, API, SandboxApp, _reason
from cartcom_sandbox.calllog import CallLog, CallRecord
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.errors import envelope
from cartcom_sandbox.faults import FaultInjector
from cartcom_sandbox.ratelimit import RateLimiter
from cartcom_sandbox.store import Store

SITE_HEADER = "HTTP_X_AC_PUB_SITE_ID"
USER_HEADER = "HTTP_X_AC_PUB_USER"
SIGNATURE_HEADER = "HTTP_X_AC_PUB_AUTH_SIGNATURE"
NEEDS_HEADERS = (
    "The Central API Router needs the X-AC-PUB-Site-ID, X-AC-PUB-User and "
    "X-AC-PUB-Auth-Signature headers."
)


def signature(secret: str, method: str, path_and_query: str, user: str) -> str:
    """base64(HMAC-SHA256(secret, ``METHOD&<path>?<query>&<user>``)), as Cart.com computes it."""
    message = f"{method.upper()}&{path_and_query}&{user}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def raw_path_and_query(environ: Mapping[str, Any]) -> str:
    """The request target as sent on the request line (werkzeug's ``REQUEST_URI``/``RAW_URI``).

    An absolute-form target (``http://host/path?q``) keeps only its path and query.
    """
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw is None:  # not behind werkzeug's server: rebuild from the (undecoded) query
        query = environ.get("QUERY_STRING", "")
        return environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
    if "://" in raw.split("?", 1)[0]:
        parts = urlsplit(raw)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return raw


def parse_users(users: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """``{name: secret}`` from a mapping or ``"NAME:SECRET"`` strings."""
    if isinstance(users, Mapping):
        parsed = {str(k): str(v) for k, v in users.items()}
    else:
        parsed = {}
        for item in users:
            name, sep, secret = str(item).partition(":")
            if not sep or not name or not secret:
                raise ValueError("a router user is NAME:SECRET")
            parsed[name] = secret
    if not parsed:
        raise ValueError("router mode needs at least one user (NAME:SECRET)")
    return parsed


class SignatureCheck:
    """The authenticator of one site's app: the user must exist and the signature must match."""

    def __init__(self, users: Mapping[str, str]) -> None:
        """Check against ``users`` (name -> secret), shared by every site."""
        self.users = users

    def __call__(self, environ: dict[str, Any]) -> tuple[str | None, str | None]:
        """``("pub:<user>", None)`` when the signature matches, else ``(None, why)``."""
        user = environ.get(USER_HEADER)
        sent = environ.get(SIGNATURE_HEADER)
        if not user or not sent:
            if environ.get("HTTP_X_AC_AUTH_TOKEN") is not None:
                return None, NEEDS_HEADERS + " X-AC-Auth-Token is not accepted here."
            return None, NEEDS_HEADERS
        secret = self.users.get(user)
        method = environ.get("REQUEST_METHOD", "GET")
        expected = signature(secret or "", method, raw_path_and_query(environ), user)
        if secret is None or not hmac.compare_digest(expected, sent):
            return None, "The X-AC-PUB-Auth-Signature is not valid for this user and request."
        return f"pub:{user}", None


@dataclass
class Site:
    """One store behind the router: its own store, call budget, faults and settings."""

    site_id: str
    store: Store
    app: SandboxApp
    owns_store: bool

    @property
    def ratelimit(self) -> RateLimiter:
        """This site's call budget."""
        return self.app.ratelimit

    @property
    def faults(self) -> FaultInjector:
        """This site's fault injector."""
        return self.app.faults

    @property
    def config(self) -> SandboxConfig:
        """This site's settings (a copy per site)."""
        return self.app.config


class RouterApp:
    """WSGI callable: picks the site's app by ``X-AC-PUB-Site-ID``; 401 for an unknown site.

    Admin routes (``/_sandbox/...``) go to the site named by ``X-AC-PUB-Site-ID`` and need an
    admin ``X-AC-Auth-Token`` there, as in single-store mode.
    """

    def __init__(self, sites: Mapping[str, Site], calls: CallLog) -> None:
        """Serve ``sites``; unknown-site refusals are logged to ``calls``."""
        self.sites = sites
        self.calls = calls

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Dispatch one request."""
        site_id = environ.get(SITE_HEADER)
        site = self.sites.get(site_id) if site_id is not None else None
        if site is not None:
            return site.app(environ, start_response)
        path = environ.get("PATH_INFO", "") or "/"
        is_api = path == API or path.startswith(API + "/")
        is_admin = path == ADMIN or path.startswith(ADMIN + "/")
        if not (is_api or is_admin):
            status, message = 404, "Not an API route."
        elif site_id is None:
            status, message = 401, NEEDS_HEADERS
        else:
            status, message = 401, "Unknown site, or not reachable by this user."
        payload = jsonio.dumps(envelope(status, message))
        if is_api:
            self.calls.append(
                CallRecord(
                    method=environ.get("REQUEST_METHOD", "GET").upper(),
                    path=path,
                    query=environ.get("QUERY_STRING", ""),
                    status=status,
                    bytes=len(payload),
                    ts=time.time(),
                    site=site_id,
                )
            )
        start_response(
            f"{status} {_reason(status)}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]


def build_sites(
    sites: Mapping[str, Store | str | Path],
    users: Mapping[str, str],
    config: SandboxConfig,
    admin_tokens: Mapping[str, Any],
    calls: CallLog,
) -> dict[str, Site]:
    """One app per site over its own store, budget, faults and settings; one shared call log."""
    check = SignatureCheck(users)
    built: dict[str, Site] = {}
    for site_id, store_or_path in sites.items():
        site_config = copy.deepcopy(config)
        if isinstance(store_or_path, Store):
            store, owns = store_or_path, False
            site_config.timezone = store.timezone
        else:
            store, owns = Store(store_or_path, timezone=site_config.timezone), True
        app = SandboxApp(
            store,
            site_config,
            admin_tokens,
            ratelimit=RateLimiter(
                site_config.calls_per_window(),
                site_config.rate_window,
                site_config.retry_after_format,
            ),
            faults=FaultInjector(),
            calls=calls,
            authenticate=check,
            site=str(site_id),
        )
        built[str(site_id)] = Site(str(site_id), store, app, owns)
    if not built:
        raise ValueError("router mode needs at least one site (SITE_ID=DB_PATH)")
    return built

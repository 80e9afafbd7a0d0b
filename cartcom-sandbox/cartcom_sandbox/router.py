"""Router mode: Cart.com's Central API Router, many stores (sites) behind one host.

A partner reaches a store through ``public.americommerce.com/api/v1`` with three headers
instead of a token (docs/api.md §13): ``X-AC-PUB-Site-ID`` (which store), ``X-AC-PUB-User`` and
``X-AC-PUB-Auth-Signature`` = base64(HMAC-SHA256(key=the user's secret,
message=``METHOD&<path>?<query>&<user>``)). The signature is checked here against the raw request
line (the path and query exactly as sent, never decoded), so a signature computed over another
query, another page or another method is refused.

Every refusal is a 401 with the Cart.com envelope, answered before anything of the body is read.
Missing headers (or an ``X-AC-Auth-Token`` alone) get one text; an unknown site, an unknown user,
a user not provisioned for the site and a wrong signature all get the same other text (INF: no
enumeration of sites or users; Cart.com's own texts are not documented).

INF (documented in docs/sandbox.md): a request without a query string is signed over the path
alone, without ``?``; a user reaches every site unless provisioned for some (``NAME:SECRET@SITE,
SITE``); each site has its own call budget, whoever calls it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cartcom_sandbox import jsonio
from cartcom_sandbox.app import ADMIN, API, SandboxApp, _reason
from cartcom_sandbox.calllog import CallLog, CallRecord
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.delivery import Deliverer, DeliveryLog
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
#: One text for an unknown site, an unknown user, a user not provisioned and a wrong signature.
NOT_VALID = (
    "The X-AC-PUB-* credentials are not valid for this site and request "
    "(site, user, provisioning or signature)."
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


@dataclass(frozen=True)
class RouterUser:
    """A router user's secret and the sites it is provisioned for (``None``: every site)."""

    secret: str = field(repr=False)
    sites: frozenset[str] | None = None

    def reaches(self, site_id: str) -> bool:
        """True when this user is provisioned for ``site_id``."""
        return self.sites is None or site_id in self.sites


def _site_list(text: str) -> frozenset[str]:
    """``"101,202"`` as a set; an empty or repeated id is an error.

    Errors name no id: with a mistyped item, the text after ``@`` may be part of a secret.
    """
    ids = [s.strip() for s in text.split(",")]
    if not all(ids):
        raise ValueError("a router user's site list is SITE,SITE (no empty site id)")
    seen: set[str] = set()
    for site_id in ids:
        if site_id in seen:
            raise ValueError("a site is listed twice in one router user's site list")
        seen.add(site_id)
    return frozenset(ids)


def parse_user(item: str) -> tuple[str, RouterUser]:
    """``"NAME:SECRET"`` (every site) or ``"NAME:SECRET@SITE,SITE"`` (those sites only).

    The text after the last ``@`` is the site list, so a secret holding ``@`` needs one. Errors
    never quote the item: it holds a secret.
    """
    name, sep, rest = str(item).partition(":")
    secret, at, sites = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if not sep or not name or not secret:
        raise ValueError("a router user is NAME:SECRET or NAME:SECRET@SITE,SITE")
    return name, RouterUser(secret, _site_list(sites) if at else None)


def parse_users(
    users: Mapping[str, str | RouterUser | tuple[str, Iterable[str] | None]] | Iterable[str],
) -> dict[str, RouterUser]:
    """``{name: RouterUser}`` from a mapping or ``"NAME:SECRET[@SITE,SITE]"`` strings.

    A mapping's value is a secret (every site), a ``RouterUser`` or ``(secret, sites)``.
    A user given twice is an error naming the user (never its secret).
    """
    parsed: dict[str, RouterUser] = {}
    if isinstance(users, Mapping):
        for key, value in users.items():
            if isinstance(value, RouterUser):
                user = value
            elif isinstance(value, tuple):
                secret, sites = value
                user = RouterUser(
                    str(secret), None if sites is None else _site_list(",".join(map(str, sites)))
                )
            else:
                user = RouterUser(str(value))
            if not user.secret:
                raise ValueError(f"router user {key} has an empty secret")
            parsed[str(key)] = user
    else:
        for item in users:
            name, user = parse_user(item)
            if name in parsed:
                raise ValueError(f"router user {name} is given twice")
            parsed[name] = user
    if not parsed:
        raise ValueError("router mode needs at least one user (NAME:SECRET)")
    return parsed


def _same(expected: str, sent: str) -> bool:
    """Constant-time comparison of bytes: a header with any character never raises."""
    return hmac.compare_digest(
        expected.encode("ascii"), sent.encode("utf-8", errors="surrogateescape")
    )


class SignatureCheck:
    """The authenticator of one site's app: a provisioned user and a matching signature."""

    def __init__(self, users: Mapping[str, RouterUser], site_id: str) -> None:
        """Check against ``users`` (shared by every site) for the site ``site_id``."""
        self.users = users
        self.site_id = site_id

    def __call__(self, environ: dict[str, Any]) -> tuple[str | None, str | None]:
        """``("pub:<user>", None)`` when the signature matches, else ``(None, why)``."""
        user = environ.get(USER_HEADER)
        sent = environ.get(SIGNATURE_HEADER)
        if not user or not sent:
            return None, NEEDS_HEADERS
        known = self.users.get(user)
        method = environ.get("REQUEST_METHOD", "GET")
        # Computed for unknown users too: every refusal takes the same work and the same text.
        expected = signature(
            known.secret if known else "", method, raw_path_and_query(environ), user
        )
        matches = _same(expected, sent)
        if known is None or not known.reaches(self.site_id) or not matches:
            return None, NOT_VALID
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

    @property
    def deliverer(self) -> Deliverer:
        """This site's webhook sender."""
        return self.app.deliverer


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
        elif site_id is None or not environ.get(USER_HEADER) or not environ.get(SIGNATURE_HEADER):
            status, message = 401, NEEDS_HEADERS
        else:  # the same text as a wrong signature: which sites exist is not told
            status, message = 401, NOT_VALID
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
    users: Mapping[str, RouterUser],
    config: SandboxConfig,
    admin_tokens: Mapping[str, Any],
    calls: CallLog,
    *,
    deliveries: DeliveryLog | None = None,
) -> dict[str, Site]:
    """One app per site over its own store, budget, faults, settings and webhook sender.

    One call log and one delivery log for all (records name their site).
    """
    for name, user in users.items():
        if (user.sites or frozenset()) - {str(k) for k in sites}:
            # the id is not quoted: a secret holding "@" would show its tail here
            raise ValueError(f"router user {name} is provisioned for a site not served here")
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
            authenticate=SignatureCheck(users, str(site_id)),
            site=str(site_id),
            deliveries=deliveries,
        )
        built[str(site_id)] = Site(str(site_id), store, app, owns)
    if not built:
        raise ValueError("router mode needs at least one site (SITE_ID=DB_PATH)")
    return built

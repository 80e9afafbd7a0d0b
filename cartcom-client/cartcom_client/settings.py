"""Connection settings shared by the tap and the target.

Both plugins take the same names: ``auth_type``; ``access_token``, ``domain``, ``api_url`` for a
store's own token; ``site_id``, ``user_name``, ``user_secret``, ``router_url`` for Cart.com's
Central API Router; ``plan``, ``calls_per_window`` and ``window_seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from . import urls
from .auth import (
    ACCESS_TOKEN,
    AUTH_TYPES,
    CENTRAL_API_ROUTER,
    DEFAULT_ROUTER_URL,
    TOKEN_HEADER,
    AccessTokenAuth,
    Auth,
    RouterAuth,
)
from .errors import ConfigurationError

#: Calls per 10-second window for custom-app tokens, by Cart.com plan (docs/api.md §1.9).
PLANS: dict[str, int] = {"steel": 5, "bronze": 10, "silver": 20, "gold": 50}
DEFAULT_WINDOW_SECONDS = 10.0
API_PATH = urls.API_PATH
MAX_URL_LENGTH = urls.MAX_URL_LENGTH
__all__ = [
    "API_PATH",
    "DEFAULT_WINDOW_SECONDS",
    "MAX_URL_LENGTH",
    "PLANS",
    "TOKEN_HEADER",
    "ConnectionSettings",
    "connection_properties",
    "resolve_base_url",
]


def connection_properties() -> list[th.Property]:
    """The connection and pacing settings, as SDK config properties."""
    return [
        th.Property(
            "auth_type",
            th.StringType,
            default=ACCESS_TOKEN,
            allowed_values=list(AUTH_TYPES),
            title="Authentication",
            description=(
                "`access_token` (default): the store's own API token. `central_api_router`: "
                "partner credentials through Cart.com's Central API Router (`site_id`, "
                "`user_name`, `user_secret`, `router_url`); `domain` and `api_url` are then "
                "not used."
            ),
        ),
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            title="Access token",
            description=(
                "A Cart.com API token (admin console: Tools > Apps & Addons > the app's Tokens). "
                "Sent as the X-AC-Auth-Token header; never logged. Required when `auth_type` is "
                "`access_token`."
            ),
        ),
        th.Property(
            "domain",
            th.StringType,
            title="Store domain",
            description=(
                "The store's domain, e.g. `storename.americommerce.com` or the store's own "
                "domain. The API base is https://{domain}/api/v1."
            ),
        ),
        th.Property(
            "api_url",
            th.StringType,
            title="API URL override",
            description=(
                "Full API base URL, overriding `domain` (e.g. the sandbox's "
                "http://127.0.0.1:8600/api/v1). Plain http is accepted only for loopback hosts."
            ),
        ),
        th.Property(
            "site_id",
            th.StringType,
            title="Router site id",
            description=(
                "Central API Router only: the store's provisioning site id, sent as "
                "X-AC-PUB-Site-ID. It chooses the store."
            ),
        ),
        th.Property(
            "user_name",
            th.StringType,
            title="Router user name",
            description="Central API Router only: the partner user, sent as X-AC-PUB-User.",
        ),
        th.Property(
            "user_secret",
            th.StringType,
            secret=True,
            title="Router user secret",
            description=(
                "Central API Router only: the partner user's secret. It signs each request "
                "(X-AC-PUB-Auth-Signature) and is never sent or logged."
            ),
        ),
        th.Property(
            "router_url",
            th.StringType,
            default=DEFAULT_ROUTER_URL,
            title="Router URL",
            description=(
                "Central API Router only: its API base URL (plain http only for a loopback "
                "sandbox). Default: https://public.americommerce.com/api/v1."
            ),
        ),
        th.Property(
            "plan",
            th.StringType,
            allowed_values=sorted(PLANS),
            title="Cart.com plan",
            description=(
                "Shortcut for the call budget: steel 5, bronze 10, silver 20, gold 50 calls per "
                "10 s. Ignored when `calls_per_window` is set. Default: steel (the safe choice)."
            ),
        ),
        th.Property(
            "calls_per_window",
            th.IntegerType,
            title="Calls per window",
            description="Calls allowed per window; overrides `plan`.",
        ),
        th.Property(
            "window_seconds",
            th.NumberType,
            default=DEFAULT_WINDOW_SECONDS,
            title="Window length (s)",
            description="Length of Cart.com's rate-limit window in seconds (10 on live stores).",
        ),
    ]


def resolve_base_url(domain: str | None, api_url: str | None) -> str:
    """Return the API base URL (``urls.base_url``: one strict parser for every URL)."""
    return urls.base_url(domain, api_url)


#: The settings only the Central API Router mode uses.
ROUTER_SETTINGS = ("site_id", "user_name", "user_secret", "router_url")


@dataclass(frozen=True)
class ConnectionSettings:
    """Validated connection settings; the token and the router secret are kept out of ``repr``.

    ``notes`` are warnings for the plugin to log (settings given but not used). ``url_setting``
    is the setting ``base_url`` came from (``domain``, ``api_url`` or ``router_url``), named by
    the message of a store that cannot be reached.
    """

    base_url: str
    access_token: str = field(default="", repr=False)
    calls_per_window: int = PLANS["steel"]
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    user_agent: str = "cartcom-singer"
    auth_type: str = ACCESS_TOKEN
    site_id: str = ""
    user_name: str = ""
    user_secret: str = field(default="", repr=False)
    notes: tuple[str, ...] = ()
    url_setting: str = "api_url"

    @property
    def auth(self) -> Auth:
        """How each request proves identity (applied by the transport, see ``auth.py``)."""
        if self.auth_type == CENTRAL_API_ROUTER:
            return RouterAuth(self.site_id, self.user_name, self.user_secret)
        return AccessTokenAuth(self.access_token)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], user_agent: str = "cartcom-singer"
    ) -> ConnectionSettings:
        """Validate a plugin config; errors name the setting to fix, never a value."""
        auth_type = config.get("auth_type") or ACCESS_TOKEN
        if auth_type not in AUTH_TYPES:
            msg = f"`auth_type` must be one of {', '.join(AUTH_TYPES)}."
            raise ConfigurationError(msg)
        plan = config.get("plan")
        if plan is not None and str(plan).lower() not in PLANS:
            msg = f"`plan` must be one of {', '.join(PLANS)}, got {plan!r}."
            raise ConfigurationError(msg)
        calls = config.get("calls_per_window")
        if calls is None:
            calls = PLANS[str(plan).lower()] if plan else PLANS["steel"]
        window = config.get("window_seconds")
        window = DEFAULT_WINDOW_SECONDS if window is None else float(window)
        if int(calls) < 1:
            msg = "`calls_per_window` must be at least 1."
            raise ConfigurationError(msg)
        if window <= 0:
            msg = "`window_seconds` must be positive."
            raise ConfigurationError(msg)
        common = {
            "calls_per_window": int(calls),
            "window_seconds": window,
            "user_agent": user_agent,
        }
        if auth_type == CENTRAL_API_ROUTER:
            return cls._router(config, common)
        token = config.get("access_token")
        if token in (None, ""):
            msg = "Set `access_token` to a Cart.com API token (or choose another `auth_type`)."
            raise ConfigurationError(msg)
        token = urls.check_secret(token, "access_token")
        base_url = resolve_base_url(config.get("domain"), config.get("api_url"))
        # The SDK fills in `router_url`'s default: only a URL the user chose is worth a warning.
        unused = [
            n
            for n in ROUTER_SETTINGS
            if config.get(n) not in (None, "")
            and not (n == "router_url" and config.get(n) == DEFAULT_ROUTER_URL)
        ]
        notes = (
            (
                f"{' and '.join(f'`{n}`' for n in unused)} "
                f"{'is' if len(unused) == 1 else 'are'} not used with `auth_type: access_token` "
                "(the default): set `auth_type: central_api_router` to call through the router.",
            )
            if unused
            else ()
        )
        url_setting = "api_url" if config.get("api_url") not in (None, "") else "domain"
        return cls(
            base_url=base_url,
            access_token=token,
            notes=notes,
            url_setting=url_setting,
            **common,
        )

    @classmethod
    def _router(cls, config: Mapping[str, Any], common: dict[str, Any]) -> ConnectionSettings:
        """Central API Router settings: the router's URL, the site, the partner user."""
        site = config.get("site_id")
        if isinstance(site, int) and not isinstance(site, bool):
            site = str(site)
        if site in (None, ""):
            msg = "Set `site_id` to the store's Central API Router site id."
            raise ConfigurationError(msg)
        site_id = urls.check_secret(site, "site_id", "the store's site id")
        user_name = config.get("user_name")
        if user_name in (None, ""):
            msg = "Set `user_name` to the Central API Router user."
            raise ConfigurationError(msg)
        user_name = urls.check_secret(user_name, "user_name", "the Central API Router user")
        secret = config.get("user_secret")
        if secret in (None, ""):
            msg = "Set `user_secret` to the Central API Router user's secret."
            raise ConfigurationError(msg)
        secret = urls.check_secret(secret, "user_secret", "the Central API Router user's secret")
        base_url = urls.url_base(config.get("router_url") or DEFAULT_ROUTER_URL, "router_url")
        unused = [name for name in ("domain", "api_url") if config.get(name) not in (None, "")]
        notes = (
            (
                f"{' and '.join(f'`{n}`' for n in unused)} "
                f"{'is' if len(unused) == 1 else 'are'} not used with `auth_type: "
                "central_api_router`: calls go to `router_url` and `site_id` chooses the store.",
            )
            if unused
            else ()
        )
        return cls(
            base_url=base_url,
            auth_type=CENTRAL_API_ROUTER,
            site_id=site_id,
            user_name=user_name,
            user_secret=secret,
            notes=notes,
            url_setting="router_url",
            **common,
        )

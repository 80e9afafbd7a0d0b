"""Connection settings shared by the tap and the target.

Both plugins take the same names: ``access_token``, ``domain``, ``api_url``, ``plan``,
``calls_per_window`` and ``window_seconds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from . import urls
from .errors import ConfigurationError

#: Calls per 10-second window for custom-app tokens, by Cart.com plan (docs/api.md §1.9).
PLANS: dict[str, int] = {"steel": 5, "bronze": 10, "silver": 20, "gold": 50}
DEFAULT_WINDOW_SECONDS = 10.0
API_PATH = urls.API_PATH
MAX_URL_LENGTH = urls.MAX_URL_LENGTH
#: The header that carries the access token on every call (docs/api.md §1.1).
TOKEN_HEADER = "X-AC-Auth-Token"  # noqa: S105 - a header name, not a secret


def connection_properties() -> list[th.Property]:
    """The connection and pacing settings, as SDK config properties."""
    return [
        th.Property(
            "access_token",
            th.StringType(nullable=False),
            required=True,
            secret=True,
            title="Access token",
            description=(
                "A Cart.com API token (admin console: Tools > Apps & Addons > the app's Tokens). "
                "Sent as the X-AC-Auth-Token header; never logged."
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


@dataclass(frozen=True)
class ConnectionSettings:
    """Validated connection settings; the token is kept out of ``repr``."""

    base_url: str
    access_token: str = field(repr=False)
    calls_per_window: int = PLANS["steel"]
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    user_agent: str = "cartcom-singer"

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], user_agent: str = "cartcom-singer"
    ) -> ConnectionSettings:
        """Validate a plugin config; errors name the setting to fix."""
        token = config.get("access_token")
        if token in (None, ""):
            msg = "Set `access_token` to a Cart.com API token."
            raise ConfigurationError(msg)
        token = urls.check_secret(token, "access_token")
        base_url = resolve_base_url(config.get("domain"), config.get("api_url"))
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
        return cls(
            base_url=base_url,
            access_token=token,
            calls_per_window=int(calls),
            window_seconds=window,
            user_agent=user_agent,
        )

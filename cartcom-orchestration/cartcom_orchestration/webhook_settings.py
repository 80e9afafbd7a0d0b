"""The stores file's ``webhooks`` sections: where the receiver listens and what each store wants.

Top level, ``webhooks: {receiver_url, events, failure_type}``; per store, ``webhooks:
{secret_env, store_id, events}``. A store's subscriptions all point at
``<receiver_url>/<store name>/<secret>``, the secret read from ``secret_env`` (never from the
file). That URL is also how the subscriptions are recognised as the orchestration's own: only
those whose URL starts with ``<receiver_url>/<store name>/`` are ever changed or deleted
(subscriptions.py); the secret is not part of the mark, so a new secret updates them in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cartcom_orchestration._client.urls import is_loopback_host
from cartcom_orchestration._client.webhooks import NOTIFICATION_EVENTS

#: Cart.com's event types (DOC docs/webhooks.md) worth a Get Orders run: a new order, a status
#: change. Any notification event may be listed.
DEFAULT_EVENTS = ("NewOrder", "OrderStatusChanged")
_TOP_FIELDS = ("receiver_url", "events", "failure_type")
_STORE_FIELDS = ("secret_env", "store_id", "events")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A secret that can be a URL path segment as it is, and long enough not to be guessed.
SECRET = re.compile(r"[A-Za-z0-9._~-]{16,}")

Fail = Callable[[str, str], Exception]


@dataclass(frozen=True)
class WebhookDefaults:
    """The top-level ``webhooks`` section."""

    receiver_url: str  # no trailing slash, no secret
    events: tuple[str, ...] = DEFAULT_EVENTS
    failure_type: str = "Ignore"


@dataclass(frozen=True)
class StoreWebhooks:
    """A store's ``webhooks`` section."""

    secret_env: str
    store_id: int | None = None
    events: tuple[str, ...] | None = None  # None: the top level's


def _events(fail: Fail, where: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail(where, "must be a non-empty list of Cart.com event types")
    for event in raw:
        if event not in NOTIFICATION_EVENTS:
            raise fail(
                where,
                f"{event!r} is not a Cart.com notification event "
                f"({', '.join(NOTIFICATION_EVENTS)})",
            )
    if len(set(raw)) != len(raw):
        raise fail(where, "lists an event twice")
    return tuple(raw)


def parse_defaults(fail: Fail, raw: Any) -> WebhookDefaults | None:
    """The top-level section (None when absent)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise fail("`webhooks`", "must be a mapping {receiver_url, events, failure_type}")
    for key in raw:
        if key not in _TOP_FIELDS:
            raise fail(f"`webhooks.{key}`", f"unknown field; fields: {', '.join(_TOP_FIELDS)}")
    url = raw.get("receiver_url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or not (
            parts.scheme == "https"
            or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))
        )
    ):
        raise fail(
            "`webhooks.receiver_url`",
            "must be the receiver's https URL (http only on this machine), without query, "
            f"fragment or user, got {url!r}",
        )
    failure_type = raw.get("failure_type", "Ignore")
    if failure_type not in ("Ignore", "Error"):
        raise fail(
            "`webhooks.failure_type`",
            f"must be Ignore or Error (Fallback needs a fallback URL), got {failure_type!r}",
        )
    events = raw.get("events")
    return WebhookDefaults(
        receiver_url=url.rstrip("/"),
        events=DEFAULT_EVENTS if events is None else _events(fail, "`webhooks.events`", events),
        failure_type=failure_type,
    )


def parse_store(fail: Fail, where: str, raw: Any) -> StoreWebhooks | None:
    """A store's section (None when absent); ``where`` names the entry."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise fail(f"{where}, `webhooks`", "must be a mapping {secret_env, store_id, events}")
    for key in raw:
        if key not in _STORE_FIELDS:
            raise fail(
                f"{where}, `webhooks.{key}`", f"unknown field; fields: {', '.join(_STORE_FIELDS)}"
            )
    secret_env = raw.get("secret_env")
    if not isinstance(secret_env, str) or not _ENV_NAME.fullmatch(secret_env):
        raise fail(
            f"{where}, `webhooks.secret_env`",
            f"must be the name of an environment variable, got {secret_env!r}",
        )
    store_id = raw.get("store_id")
    if store_id is not None and (
        not isinstance(store_id, int) or isinstance(store_id, bool) or store_id < 1
    ):
        raise fail(
            f"{where}, `webhooks.store_id`", f"must be Cart.com's store id, got {store_id!r}"
        )
    events = raw.get("events")
    return StoreWebhooks(
        secret_env=secret_env,
        store_id=store_id,
        events=None if events is None else _events(fail, f"{where}, `webhooks.events`", events),
    )

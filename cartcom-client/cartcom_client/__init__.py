"""Shared Cart.com API client code for tap-cartcom and target-cartcom."""

from .auth import AccessTokenAuth, RouterAuth
from .errors import (
    AuthenticationError,
    CartcomAPIError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    RouterAuthenticationError,
    StoreUnreachableError,
    TransientAPIError,
    ValidationError,
)
from .pacing import CallBudget, parse_call_limit, parse_retry_after
from .quirks import collection_key, records_from_page, to_utc
from .session import CartcomSession, PacedAdapter
from .settings import PLANS, ConnectionSettings, connection_properties

__all__ = [
    "PLANS",
    "AccessTokenAuth",
    "AuthenticationError",
    "CallBudget",
    "CartcomAPIError",
    "CartcomSession",
    "ConfigurationError",
    "ConnectionSettings",
    "NotFoundError",
    "PacedAdapter",
    "RateLimitedError",
    "RouterAuth",
    "RouterAuthenticationError",
    "StoreUnreachableError",
    "TransientAPIError",
    "ValidationError",
    "collection_key",
    "connection_properties",
    "parse_call_limit",
    "parse_retry_after",
    "records_from_page",
    "to_utc",
]

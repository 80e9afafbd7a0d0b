"""Shared Cart.com API client code for tap-cartcom and target-cartcom."""

from cartcom_client.errors import (
    AuthenticationError,
    CartcomAPIError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    TransientAPIError,
    ValidationError,
)
from cartcom_client.pacing import CallBudget, parse_call_limit, parse_retry_after
from cartcom_client.quirks import collection_key, records_from_page, to_utc
from cartcom_client.session import CartcomSession, PacedAdapter
from cartcom_client.settings import PLANS, ConnectionSettings, connection_properties

__all__ = [
    "PLANS",
    "AuthenticationError",
    "CallBudget",
    "CartcomAPIError",
    "CartcomSession",
    "ConfigurationError",
    "ConnectionSettings",
    "NotFoundError",
    "PacedAdapter",
    "RateLimitedError",
    "TransientAPIError",
    "ValidationError",
    "collection_key",
    "connection_properties",
    "parse_call_limit",
    "parse_retry_after",
    "records_from_page",
    "to_utc",
]

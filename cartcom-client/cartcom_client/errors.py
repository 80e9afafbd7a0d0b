"""Cart.com's error envelope ``{status_code, message, details}`` as typed exceptions.

Messages are built from the envelope and the request's method and path only: never from
request headers' values, so no token, secret or signature can leak into a log line (a 401 only
looks at whether the router's site header was sent, to name the right settings).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import requests

from .auth import SITE_HEADER


class Disposition(StrEnum):
    """What a caller does with an error answer: the one classification of Cart.com statuses."""

    #: 5xx: the server failed; try again after a growing pause.
    RETRY = "retry"
    #: 429: the call window is used up; wait ``Retry-After``, then try again.
    WAIT = "wait"
    #: 401 (bad token or missing scope), a redirect, anything unexpected: stop the run.
    FATAL = "fatal"
    #: Any other 4xx: this request (so the record behind it) is refused; the others go on.
    RECORD = "record"


def classify_status(status: int) -> Disposition:
    """The ``Disposition`` of an HTTP status Cart.com answered with (never called for 2xx)."""
    if status == 429:
        return Disposition.WAIT
    if status >= 500:
        return Disposition.RETRY
    if 400 <= status < 500 and status != 401:
        return Disposition.RECORD
    return Disposition.FATAL


class ConfigurationError(Exception):
    """A setting is missing or invalid; the message names the setting."""


class CartcomAPIError(Exception):
    """An error answer from the Cart.com API."""

    def __init__(
        self,
        status_code: int,
        message: str,
        details: str = "",
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        """Keep the envelope's parts and the call they came from."""
        self.status_code = status_code
        self.message = message
        self.details = details
        self.method = method
        self.path = path
        where = f" on {method} {path}" if method else ""
        text = f"Cart.com answered {status_code} {message}{where}"
        if details:
            text += f": {details}"
        super().__init__(text)

    @property
    def disposition(self) -> Disposition:
        """Retry, wait, stop the run, or fail only this record (see ``classify_status``)."""
        if self.status_code:
            return classify_status(self.status_code)
        # No answer at all: a dropped connection or a truncated body is worth retrying.
        return Disposition.RETRY if isinstance(self, TransientAPIError) else Disposition.FATAL

    @classmethod
    def from_response(cls, response: requests.Response) -> CartcomAPIError:
        """Build the most specific error for a response."""
        envelope = _envelope(response)
        status = response.status_code
        request = response.request
        method = request.method or "" if request is not None else ""
        path = _path_only(request.url if request is not None else response.url)
        disposition = classify_status(status)
        kind: type[CartcomAPIError] = CartcomAPIError
        if status == 401:
            if request is not None and SITE_HEADER in request.headers:
                kind = RouterAuthenticationError
            else:
                kind = AuthenticationError
        elif status == 404:
            kind = NotFoundError
        elif status in (400, 409, 414, 422):
            kind = ValidationError
        elif disposition is Disposition.WAIT:
            kind = RateLimitedError
        elif disposition is Disposition.RETRY:
            kind = TransientAPIError
        message = str(envelope.get("message") or response.reason or "")
        if 300 <= status < 400:
            message = f"{message} (a redirect; not followed for this call)".lstrip()
        return kind(
            status,
            message,
            str(envelope.get("details") or ""),
            method=method,
            path=path,
        )


class AuthenticationError(CartcomAPIError):
    """401: the access token is missing, wrong, or lacks a scope."""

    def __str__(self) -> str:
        """Name the setting to check, never the token."""
        return (
            f"{super().__str__()} - check the `access_token` setting (an admin-console token "
            "from Tools > Apps & Addons, with the scopes this job needs) and the `domain`/"
            "`api_url` setting."
        )


class RouterAuthenticationError(AuthenticationError):
    """401 through the Central API Router: unknown site or user, or a wrong signature."""

    def __str__(self) -> str:
        """Name the settings to check, never their values."""
        return (
            f"{CartcomAPIError.__str__(self)} - check the `user_name` and `user_secret` settings "
            "(the Central API Router credentials) and `site_id` (the store must be provisioned "
            "for that user), and `router_url`."
        )


class NotFoundError(CartcomAPIError):
    """404: no such record, or a page past the last one."""


class ValidationError(CartcomAPIError):
    """400/409: the request was refused as invalid."""


class RateLimitedError(CartcomAPIError):
    """429: the store's call window is used up."""


class TransientAPIError(CartcomAPIError):
    """5xx, a dropped connection or a truncated body: worth retrying."""


def _envelope(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _path_only(url: str | None) -> str:
    """The URL's path, without the query string (which may carry customer data)."""
    if not url:
        return ""
    without_query = url.split("?", 1)[0]
    marker = "/api/v1"
    index = without_query.find(marker)
    return without_query[index:] if index >= 0 else without_query

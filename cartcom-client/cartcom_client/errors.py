"""Cart.com's error envelope ``{status_code, message, details}`` as typed exceptions.

Messages are built from the envelope and the request's method and path only: never from
request headers' values, so no token, secret or signature can leak into a log line. A 401 names
the settings of the configured auth mode (never inferred from the final request's headers: a
redirect to another origin leaves without them). No answer at all (``StoreUnreachableError``)
names the setting the address came from and the host, and says whether trying again can help.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests

from .auth import CENTRAL_API_ROUTER


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
    def from_response(cls, response: requests.Response, *, auth_type: str) -> CartcomAPIError:
        """Build the most specific error for a response; ``auth_type`` is the settings' mode."""
        envelope = _envelope(response)
        status = response.status_code
        request = response.request
        method = request.method or "" if request is not None else ""
        path = _path_only(request.url if request is not None else response.url)
        disposition = classify_status(status)
        kind: type[CartcomAPIError] = CartcomAPIError
        if status == 401:
            if auth_type == CENTRAL_API_ROUTER:
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


class Unreachable(StrEnum):
    """Why a call got no answer at all; ``StoreUnreachableError.transient`` reads it."""

    #: Nothing listens on that host and port (a store or sandbox restarting): retried.
    REFUSED = "connection refused"
    #: DNS has no address for the host (a typo in the setting): not retried.
    UNKNOWN_HOST = "unknown host"
    #: The resolver itself failed (``EAI_AGAIN``: a network blip): retried.
    DNS = "DNS lookup failed"
    #: The certificate was refused (self-signed, another host's, expired): not retried.
    TLS_CERTIFICATE = "TLS certificate refused"
    #: The TLS handshake failed otherwise (https to a port that does not speak TLS): not retried.
    TLS = "TLS handshake failed"
    #: No connection within the connect timeout: retried.
    TIMEOUT = "connect timed out"
    #: The connection was closed or reset before an answer: retried.
    DROPPED = "connection dropped"


#: What no retry can mend: the address or the certificate is wrong until a setting changes.
NOT_TRANSIENT = frozenset({Unreachable.UNKNOWN_HOST, Unreachable.TLS_CERTIFICATE, Unreachable.TLS})
#: ``getaddrinfo`` answers that mean "no such name" (NXDOMAIN, no address), not "try later".
_NO_SUCH_NAME = frozenset(
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL", "EAI_ADDRFAMILY")
    if hasattr(socket, name)
)
#: TLS errors that are a connection lost mid-handshake, not a refusal.
_TLS_DROPS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


class StoreUnreachableError(TransientAPIError):
    """No answer from the store: refused, unknown host, TLS refused, timed out or dropped.

    ``str()`` is the one line a run ends with: the host, the setting its address came from
    (``domain``, ``api_url`` or ``router_url``), what failed and what to check. It is built from
    the host and exception types only: never a URL's query, a header or a secret.
    """

    def __init__(
        self,
        reason: Unreachable,
        *,
        host: str,
        setting: str,
        detail: str = "",
        tries: int = 1,
        method: str = "",
        path: str = "",
    ) -> None:
        """Keep why, where and after how many tries; ``message`` is the short why."""
        self.reason = reason
        self.host = host
        self.setting = setting
        self.detail = detail
        self.tries = tries
        why = f"{reason} ({detail})" if detail else str(reason)
        super().__init__(0, why, method=method, path=path)
        self.args = (str(self),)  # what a generic handler logs (the SDK logs ``args[0]``)

    @property
    def transient(self) -> bool:
        """Whether trying again can help (False: the setting or the certificate is wrong)."""
        return self.reason not in NOT_TRANSIENT

    @property
    def never_sent(self) -> bool:
        """The request cannot have reached the store (so even a POST may be sent again)."""
        return self.reason is not Unreachable.DROPPED

    @property
    def disposition(self) -> Disposition:
        """Retry what may mend; stop at once on a wrong address or a refused certificate."""
        return Disposition.RETRY if self.transient else Disposition.FATAL

    def __str__(self) -> str:
        """One line: where, from which setting, what failed, after how many tries, what to do."""
        what = "the Central API Router" if self.setting == "router_url" else "the store"
        tries = f", after {self.tries} tries" if self.tries > 1 else ""
        return (
            f"Cannot reach {what} at {self.host} (from `{self.setting}`): {self.message}{tries}; "
            f"{self._hint()}."
        )

    def _hint(self) -> str:
        setting = f"`{self.setting}`"
        if self.reason is Unreachable.UNKNOWN_HOST:
            if self.setting == "domain":
                return (
                    f"check {setting}: the store's domain, e.g. storename.americommerce.com "
                    "(for the sandbox, set `api_url` instead)"
                )
            return f"check {setting} (its host)"
        if self.reason is Unreachable.TLS_CERTIFICATE:
            return (
                f"check {setting}: it must name the store's own host, with a certificate this "
                "machine trusts"
            )
        if self.reason is Unreachable.TLS:
            return (
                f"check {setting}: https:// needs a port that speaks TLS (plain http:// only for "
                "a loopback sandbox)"
            )
        if self.reason is Unreachable.REFUSED:
            return f"check {setting} (host and port) and that the store, or the sandbox, is up"
        return f"check {setting} and this machine's network"

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        url: str,
        *,
        setting: str,
        tries: int = 1,
        method: str = "",
    ) -> StoreUnreachableError:
        """Classify a connection failure of ``requests`` (or what it wraps) for ``url``."""
        reason, detail = _classify(list(_causes(exc)))
        return cls(
            reason,
            host=_host_of(url),
            setting=setting,
            detail=detail,
            tries=tries,
            method=method,
            path=_path_only(url),
        )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: ``reason`` (urllib3), ``args``, cause and context."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        linked = (getattr(error, "reason", None), error.__cause__, error.__context__, *error.args)
        todo.extend(x for x in linked if isinstance(x, BaseException))


def _classify(causes: list[BaseException]) -> tuple[Unreachable, str]:
    """The reason, and a short detail from the exception types (never a URL or a header)."""
    for error in causes:
        if isinstance(error, ssl.SSLCertVerificationError):
            return Unreachable.TLS_CERTIFICATE, str(error.verify_message or "not trusted")
    for error in causes:
        if isinstance(error, ssl.SSLError) and not isinstance(error, _TLS_DROPS):
            text = str(error.reason or "").replace("_", " ").lower()
            return Unreachable.TLS, text or type(error).__name__
    for error in causes:
        if isinstance(error, socket.gaierror):
            detail = str(error.strerror or "")
            if error.errno in _NO_SUCH_NAME:
                return Unreachable.UNKNOWN_HOST, detail
            return Unreachable.DNS, detail
    if any(isinstance(error, ConnectionRefusedError) for error in causes):
        return Unreachable.REFUSED, ""
    timeouts = (TimeoutError, requests.exceptions.ConnectTimeout)
    if any(isinstance(error, timeouts) for error in causes):
        return Unreachable.TIMEOUT, ""
    # Name the lowest-level error (``RemoteDisconnected``, ``ConnectionResetError``), not a wrapper.
    own = [e for e in causes if not type(e).__module__.startswith(("requests", "urllib3"))]
    return Unreachable.DROPPED, type((own or causes)[0]).__name__ if causes else ""


def _host_of(url: str) -> str:
    """``host`` or ``host:port`` of ``url`` (the port only when it is not the scheme's)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "an invalid address"
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{host}:{port}" if port not in (None, default) else host


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

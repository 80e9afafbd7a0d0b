"""Cart.com's wire rules fitted to the SDK's HTTP hooks: URLs, the parsed body, errors, retries.

The rules themselves are the shared client's, one home each: the query encoding
(``query.query_string``), the ``next_page`` link (``urls.next_page_url``), what an error means
(``errors``), how long to wait (``session.retry_wait_seconds``) and the parsed body
(``body.decode_page``). The tap mounts the client's ``PacedAdapter`` on one ``requests.Session``
shared by every stream (one store, one budget) and lets the SDK's backoff loop retry.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import backoff  # the SDK's retry library (it comes with singer-sdk)
import requests
import requests.auth
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import BaseHATEOASPaginator
from typing_extensions import override

from tap_cartcom._client import CartcomAPIError
from tap_cartcom._client.body import decode_page
from tap_cartcom._client.errors import Disposition, StoreUnreachableError
from tap_cartcom._client.query import query_string
from tap_cartcom._client.session import retry_wait_seconds
from tap_cartcom._client.urls import ends_list_read

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk import RESTStream

#: Where the parsed JSON body of a response is kept between validation and parsing.
PAYLOAD = "_cartcom_payload"
#: What the retry loop retries: the list of the SDK's ``RESTStream.request_decorator`` (0.54).
RETRIED_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def url_for(base: str, path: str, params: Iterable[tuple[str, t.Any]]) -> str:
    """``base + path`` with ``params`` as a literal query string (none when there are none)."""
    query = query_string(params)
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def payload_of(response: requests.Response) -> t.Any:
    """The body ``check_response`` parsed (None on a tolerated 404 or an empty body)."""
    return getattr(response, PAYLOAD, None)


def check_response(response: requests.Response, auth_type: str) -> None:
    """Classify the answer and keep its parsed body; a truncated body is retried, never parsed.

    A 404 that ends a list read (past the last page, no match, an empty list) is no error.
    """
    status = response.status_code
    if status == 404 and ends_list_read(response.url):
        setattr(response, PAYLOAD, None)
        return
    if status >= 300:
        error = CartcomAPIError.from_response(response, auth_type=auth_type)
        if status == 401:
            raise CartcomAuthError(str(error))
        if error.disposition in (Disposition.RETRY, Disposition.WAIT):
            raise RetriableAPIError(str(error), response)
        raise FatalAPIError(str(error))
    try:
        payload = decode_page(response.content) if response.content else None
    except ValueError as exc:
        msg = f"Incomplete or invalid JSON from {urlsplit(response.url).path}; retrying"
        raise RetriableAPIError(msg, response) from exc
    setattr(response, PAYLOAD, payload)


class TransportAuth(requests.auth.AuthBase):
    """Leave the request as built: identity headers are set by the paced transport at send time.

    ``PacedAdapter`` (``_client/auth.py``) signs each request over its final URL, for every page,
    retry and redirect, and keeps every identity header off other origins. Unlike the SDK's
    APIKeyAuthenticator, this never re-encodes the URL either.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Nothing to add here."""
        return request

    def __repr__(self) -> str:
        """Nothing secret to show."""
        return "TransportAuth()"


class CartcomAuthError(FatalAPIError):
    """401: stop the run; the message names the setting, never the token."""


class NextPagePaginator(BaseHATEOASPaginator):
    """Follow the absolute ``next_page`` link; its absence (or a 404 past the end) ends paging."""

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        """The ``next_page`` link of the page just read."""
        payload = getattr(response, PAYLOAD, None)
        if isinstance(payload, dict):
            return payload.get("next_page") or None
        return None

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page whose records were all emitted before is not the end: follow ``next_page``."""
        return True


def with_retries(
    func: Callable[..., t.Any], stream: RESTStream, setting: str
) -> Callable[..., t.Any]:
    """``func`` in the SDK's retry loop, but a store that cannot be reached ends in one line.

    Same exceptions retried, same ``backoff_*`` hooks of ``stream`` as the SDK's own decorator,
    with backoff's log lines off (``backoff_handler`` says each retry). A connection failure the
    shared client calls not transient (an unknown host, a refused TLS certificate) is not
    retried; one that outlasts every try becomes a ``StoreUnreachableError`` too. Its one line
    names the host and ``setting`` (``domain`` or ``api_url``), never the token.
    """

    def unreachable(
        exc: requests.exceptions.ConnectionError,
        prepared: requests.PreparedRequest,
        tries: int,
    ) -> StoreUnreachableError:
        failed = exc.request.url if exc.request is not None else None
        return StoreUnreachableError.from_exception(
            exc,
            failed or prepared.url or stream.url_base,
            setting=setting,
            tries=tries,
            method=prepared.method or "GET",
        )

    def send(prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
        try:
            return func(prepared, context)
        except requests.exceptions.ConnectionError as exc:
            error = unreachable(exc, prepared, 1)
            if error.transient:
                raise
            raise error from exc

    retried = backoff.on_exception(
        stream.backoff_wait_generator,
        RETRIED_ERRORS,
        max_tries=stream.backoff_max_tries,
        on_backoff=stream.backoff_handler,
        jitter=stream.backoff_jitter,
        logger=None,
    )(send)

    def call(prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
        try:
            return retried(prepared, context)
        except requests.exceptions.ConnectionError as exc:
            raise unreachable(exc, prepared, stream.backoff_max_tries()) from exc

    return call


def retry_waits() -> t.Generator[float, t.Any, None]:
    """Backoff's wait generator: ``Retry-After`` on a 429 (seconds or HTTP-date), else growing."""
    attempt = 0
    exc = yield  # type: ignore[misc]
    while True:
        attempt += 1
        exc = yield retry_wait_seconds(getattr(exc, "response", None), attempt)


def retry_reason(exc: BaseException | None, url_base: str, setting: str) -> t.Any:
    """What a retry log line says of its cause: the status, or the connection failure."""
    response = getattr(exc, "response", None)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return StoreUnreachableError.from_exception(exc, url_base, setting=setting).message
    return response.status_code if response is not None else type(exc).__name__

"""A paced, retrying HTTP session for the Cart.com API.

``PacedAdapter`` is the transport both plugins mount: every request waits for the call budget
and reports back ``X-AC-Call-Limit`` and 429s, and it sets the identity headers (``auth.py``) on
each request as it leaves, so pages, retries and redirects are all signed for what they are. The
tap mounts it on the SDK's own session (the SDK keeps its retry loop); the target uses
``CartcomSession``, which adds retries, paging and call counters on top.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .auth import TOKEN_HEADER, Auth, apply_auth
from .body import decode_response
from .errors import (
    CartcomAPIError,
    NotFoundError,
    RateLimitedError,
    StoreUnreachableError,
    TransientAPIError,
)
from .pacing import DEFAULT_RETRY_AFTER, CallBudget, call_kind, parse_retry_after
from .quirks import records_from_page
from .settings import ConnectionSettings
from .urls import ends_list_read, next_page_url, origin_of

LOGGER = logging.getLogger("cartcom_client")
READ_METHODS = frozenset({"GET", "HEAD"})
#: Cap on one wait, so a wild Retry-After cannot stall a job for hours.
MAX_WAIT_SECONDS = 300.0


class PacedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that waits for the call budget before every request.

    It also proves identity, and only at home: ``auth``'s headers (token, or the router's signed
    headers) go on each request to ``origin`` as it is sent, computed over its final URL; a
    request to any other origin (a redirect to another host, or from https down to http) leaves
    without any identity header. The budget is the store's (one site: the router paces per site).
    """

    def __init__(
        self,
        budget: CallBudget,
        origin: str | None = None,
        *,
        auth: Auth | None = None,
        **kwargs: Any,
    ) -> None:
        """Share ``budget`` by every request; prove identity with ``auth``, only to ``origin``."""
        super().__init__(**kwargs)
        self.budget = budget
        self.origin = origin_of(origin) if origin else None
        self.auth = auth
        self.calls: Counter[str] = Counter()
        self.rate_limited = 0
        #: Several workers send through one adapter: counts stay exact.
        self._counting = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Sign (or strip), wait for the budget, send, then learn from the answer."""
        at_home = self.origin is None or origin_of(request.url or "") == self.origin
        apply_auth(request, self.auth, at_home=at_home)
        self.budget.acquire()
        headers: Mapping[str, str] | None = None
        try:
            response = super().send(request, **kwargs)
            headers = response.headers
        finally:
            method = (request.method or "GET").upper()
            with self._counting:
                self.calls[method] += 1
            self.budget.release(headers, kind=call_kind(method, urlsplit(request.url or "").path))
        if response.status_code == 429:
            with self._counting:
                self.rate_limited += 1
            wait = parse_retry_after(response.headers.get("Retry-After"))
            self.budget.block_for(
                min(DEFAULT_RETRY_AFTER if wait is None else wait, MAX_WAIT_SECONDS)
            )
        return response


def retry_wait_seconds(response: requests.Response | None, attempt: int) -> float:
    """How long to wait before retry ``attempt`` (1-based): Retry-After, else exponential."""
    if response is not None and response.status_code == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return min(DEFAULT_RETRY_AFTER if wait is None else wait, MAX_WAIT_SECONDS)
    return min(0.5 * 2 ** (attempt - 1), 30.0) + random.uniform(0, 0.25)


def mount_pacing(
    session: requests.Session, settings: ConnectionSettings, *, in_flight: int | None = None
) -> PacedAdapter:
    """Mount a pacing adapter for every URL of ``session``; return it.

    ``in_flight`` caps the calls of every thread sharing ``session`` that wait for their answer
    at once (None: no cap beyond the call budget).
    """
    adapter = PacedAdapter(
        CallBudget(settings.calls_per_window, settings.window_seconds, in_flight=in_flight),
        origin=settings.base_url,
        auth=settings.auth,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter


class CartcomSession:
    """Paced requests to one store, with retries, paging and call counters."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        max_tries: int = 6,
        timeout: float | tuple[float, float] = (10.0, 120.0),
        logger: logging.Logger | None = None,
    ) -> None:
        """Prepare the session; no call is made here."""
        self.settings = settings
        self.base_url = settings.base_url
        self.max_tries = max_tries
        self.timeout = timeout
        self.logger = logger or LOGGER
        self.http = requests.Session()
        self.http.headers.update(
            {
                "Cache-Control": "no-cache",
                "Accept": "application/json",
                "User-Agent": settings.user_agent,
            },
        )
        self.adapter = mount_pacing(self.http, settings)
        self.retries = 0
        self._counting = threading.Lock()  # retries counted exactly, from any worker

    # -- counters ---------------------------------------------------------------------------
    @property
    def reads(self) -> int:
        """Read calls sent so far (including retries)."""
        return sum(n for method, n in self.adapter.calls.items() if method in READ_METHODS)

    @property
    def writes(self) -> int:
        """Write calls sent so far (including retries)."""
        return sum(n for method, n in self.adapter.calls.items() if method not in READ_METHODS)

    def url(self, path: str) -> str:
        """Absolute URL for an API path such as ``/products``."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> Any:
        """Send one call and return the parsed JSON body (None for 204).

        Reads, PUTs and DELETEs are retried on 5xx, 429, timeouts, refused or dropped
        connections and truncated bodies. A POST is retried only when Cart.com cannot have
        applied it (429, or the connection was never made), unless ``retry_unsafe``; otherwise
        the caller gets a ``TransientAPIError`` and must look the record up again before
        re-posting. An unknown host or a refused TLS certificate is not retried: the
        ``StoreUnreachableError`` (one line naming the host and the setting) comes at once.

        Writes never follow a redirect: ``requests`` would re-send a 307/308's body to wherever
        ``Location`` points. The 3xx comes back as a fatal ``CartcomAPIError``. Reads follow
        redirects (a moved store still answers), and the adapter withholds every identity header
        from any other origin.
        """
        method = method.upper()
        idempotent = method != "POST" or retry_unsafe
        follow = method in READ_METHODS
        url = self.url(path)
        for attempt in range(1, self.max_tries + 1):
            response: requests.Response | None = None
            try:
                response = self.http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    timeout=self.timeout,
                    allow_redirects=follow,
                )
                if response.status_code < 300:
                    if response.status_code == 204 or not response.content:
                        return None
                    return decode_response(response)
                error = CartcomAPIError.from_response(response, auth_type=self.settings.auth_type)
            except requests.exceptions.ConnectionError as exc:
                failed = exc.request.url if exc.request is not None else None
                error = StoreUnreachableError.from_exception(
                    exc,
                    failed or url,
                    setting=self.settings.url_setting,
                    tries=attempt,
                    method=method,
                )
                # A wrong host or a refused certificate stays wrong: no retry can mend it.
                if not error.transient or not (idempotent or error.never_sent):
                    raise error from exc
            except (
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.JSONDecodeError,
            ) as exc:
                # A timeout, or a truncated body (which must be re-read, never parsed).
                error = TransientAPIError(
                    0, f"incomplete answer ({type(exc).__name__})", method=method, path=_path(url)
                )
                if not idempotent:
                    raise error from exc
            retryable = isinstance(error, RateLimitedError) or (
                isinstance(error, TransientAPIError) and (idempotent or error.status_code == 0)
            )
            if not retryable or attempt == self.max_tries:
                raise error
            wait = retry_wait_seconds(response, attempt)
            with self._counting:
                self.retries += 1
            self.logger.warning(
                "Retrying %s %s after %s (try %d of %d, waiting %.1f s)",
                method,
                _path(url),
                error.status_code or error.message,
                attempt + 1,
                self.max_tries,
                wait,
            )
            if not isinstance(error, RateLimitedError):
                time.sleep(wait)
            # On 429 the adapter already blocks the budget until Retry-After has passed.
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path``."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, retry_unsafe: bool = False) -> Any:
        """POST ``json`` to ``path``."""
        return self.request("POST", path, json=json, retry_unsafe=retry_unsafe)

    def put(self, path: str, json: Any = None) -> Any:
        """PUT ``json`` to ``path`` (a partial update)."""
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> Any:
        """DELETE ``path``."""
        return self.request("DELETE", path)

    def iter_payloads(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Yield each page's whole answer (``total_count`` and all), following ``next_page``.

        A 404 ends the read where ``ends_list_read`` says so (past the last page, or a first page
        with a query); a 404 on a bare first page is raised. A link leading back
        to a page already read raises ``CartcomAPIError`` instead of looping.
        """
        url: str | None = self.url(path)
        query: Mapping[str, Any] | None = params
        followed: set[str] = set()
        while url:
            try:
                payload = self.request("GET", url, params=query)
            except NotFoundError:
                if not ends_list_read(f"{url}?{urlencode(query)}" if query else url):
                    raise
                return
            yield payload
            link = payload.get("next_page") if isinstance(payload, dict) else None
            if not link:
                return
            url, query = next_page_url(link, self.base_url), None
            if url in followed:  # as the SDK's paginators do: a loop would never end
                msg = "next_page leads back to a page already read"
                raise CartcomAPIError(0, msg, method="GET", path=_path(url))
            followed.add(url)

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's records, following ``next_page``."""
        for payload in self.iter_payloads(path, params):
            yield records_from_page(payload)

    def iter_records(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every record of a list, page by page."""
        for page in self.iter_pages(path, params):
            yield from page

    def close(self) -> None:
        """Close the underlying connections."""
        self.http.close()


def _path(url: str) -> str:
    return urlsplit(url).path


__all__ = [
    "TOKEN_HEADER",
    "CartcomSession",
    "PacedAdapter",
    "mount_pacing",
    "origin_of",
    "retry_wait_seconds",
]

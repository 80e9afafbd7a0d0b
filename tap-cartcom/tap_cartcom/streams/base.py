"""The base stream: a Cart.com list read page by page, through the SDK's hooks.

A stream reaches its tap only through ``TapRun`` (the connection, the one paced session, the
run's clock and the Get Orders settings), handed over when the tap builds it. The wire rules it
applies are the shared client's, fitted to the SDK's hooks in ``tap_cartcom.http``; pages are
read one ahead (``prefetch``), records normalised (``normalise``) and conformed (``conform``).
"""

from __future__ import annotations

import logging
import sys
import time
import typing as t
from functools import cached_property
from urllib.parse import urlsplit

from singer_sdk import RESTStream
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_cartcom import sdk_private
from tap_cartcom._client import records_from_page
from tap_cartcom._client.errors import StoreUnreachableError
from tap_cartcom._client.query import query_string
from tap_cartcom._client.urls import chunks_for_url, next_page_url
from tap_cartcom.conform import CompiledConformance
from tap_cartcom.http import (
    NextPagePaginator,
    TransportAuth,
    check_response,
    payload_of,
    retry_reason,
    retry_waits,
    url_for,
    with_retries,
)
from tap_cartcom.normalise import NormalisePlan, normalise, normalise_plan, to_utc_fast
from tap_cartcom.prefetch import read_ahead

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    import requests
    from singer_sdk import Tap
    from singer_sdk.streams.rest import PageContext

    from tap_cartcom._client import ConnectionSettings

#: ``count`` asked for small rows (addresses; ids and keys): live stores answer 1000 (field
#: evidence, docs/api.md §13) and the tap follows ``next_page`` if a store caps it lower.
SMALL_ROWS_PAGE = 1000


class TapRun(t.Protocol):
    """What a stream uses of its tap: all of it fixed once per run (``TapCartcom`` is one)."""

    @property
    def connection(self) -> ConnectionSettings:
        """The store's validated connection settings."""

    @property
    def http_session(self) -> requests.Session:
        """The one session every stream shares, with the store's call budget mounted."""

    @property
    def sync_started_at(self) -> datetime:
        """The upper bound of every window in this run."""

    @property
    def get_orders_filter(self) -> bool:
        """A status filter is set: orders are read as Get Orders."""

    def get_orders_days(self) -> float:
        """The Get Orders window in days."""

    def order_status_ids(self) -> list[int]:
        """The Get Orders status filter as ids."""

    def created_floor(self) -> str | None:
        """``orders_created_within_days`` as a filter value, or None."""


class PageEnd:
    """Marks the end of a page in the record flow: every record before it has been written.

    ``records`` are the page's records as yielded (normalised in place by then); ``position``
    is the ``(key value, id)`` of the page's last row as read, skipped ones included, so a
    stream can checkpoint the position it reached even on a page whose rows were all emitted
    before.
    """

    __slots__ = ("position", "records")

    def __init__(
        self, records: list[dict[str, t.Any]], position: tuple[str, int] | None = None
    ) -> None:
        """Keep the page's records and position."""
        self.records = records
        self.position = position


class CartcomStream(CompiledConformance, RESTStream):
    """A Cart.com list resource read page by page."""

    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    #: ``expand=`` value (nested collections filled in the same call).
    expand: str | None = None
    #: ``sort=`` value.
    sort: str | None = "id"
    #: Pages fetched ahead while the current one is processed (calls overlap with CPU work).
    prefetch_pages = 1
    #: Yield a ``PageEnd`` after each page's records (streams that checkpoint per page).
    marks_page_ends = False
    #: Calls this stream made (pages, batched extra reads, retries), for progress lines.
    calls_made = 0

    def __init__(self, tap: Tap, *args: t.Any, **kwargs: t.Any) -> None:
        """Keep ``tap`` as this stream's ``TapRun``: what the stream may use of it."""
        self.run = t.cast("TapRun", tap)
        super().__init__(tap, *args, **kwargs)

    # -- transport --------------------------------------------------------------------------
    @property
    @override
    def url_base(self) -> str:
        """The store's API base, e.g. ``https://store.example.com/api/v1``."""
        return self.run.connection.base_url

    @property
    @override
    def requests_session(self) -> requests.Session:
        """The tap's one paced session: every stream shares the store's call budget."""
        return self.run.http_session

    @cached_property
    @override
    def authenticator(self) -> TransportAuth:
        """Identity is proved by the tap's paced transport (the URL is left exactly as built)."""
        return TransportAuth()

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """No server-side cache: it would hide new orders (docs/api.md §1.10)."""
        return {"Cache-Control": "no-cache", "Accept": "application/json"}

    @property
    @override
    def user_agent(self) -> str:  # type: ignore[override]
        """Identify the tap to Cart.com."""
        return self.config.get("user_agent") or self.run.connection.user_agent

    @property
    @override
    def timeout(self) -> int:
        """Seconds to wait for one page."""
        return 120

    @property
    def page_size(self) -> int:
        """``count=`` per page."""
        return int(self.config.get("page_size") or 250)

    # -- pages ------------------------------------------------------------------------------
    @override
    def get_new_paginator(self) -> NextPagePaginator:
        """Pages are chained by ``next_page`` links."""
        return NextPagePaginator()

    def query_params(self, context: dict | None) -> list[tuple[str, t.Any]]:
        """The first page's query, as ordered pairs (values may hold literal ``+``)."""
        params: list[tuple[str, t.Any]] = [("count", self.page_size)]
        if self.sort:
            params.append(("sort", self.sort))
        if self.expand:
            params.append(("expand", self.expand))
        return params

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Build the URL ourselves so ``+`` stays Cart.com's space, not ``%2B``."""
        token = page.next_page_token
        if token:
            url = next_page_url(token.geturl(), self.url_base)
        else:
            params = self.query_params(page.stream_context)
            url = url_for(self.get_url(page.stream_context), "", params)
        return HTTPRequest(url=url, method="GET", headers=self.http_headers, params={})

    def send_counted(self, prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
        """Send through the SDK's retry loop, counting the call for the progress lines."""
        self.calls_made += 1
        return sdk_private.send(self, prepared, context)

    def page_position(self, response: requests.Response) -> tuple[str, int] | None:
        """``(key value, id)`` of the page's last row, for streams that resume by position."""
        key = self.replication_key
        payload = payload_of(response)
        if not key or not payload:
            return None
        rows = records_from_page(payload)
        if not rows or not isinstance(rows[-1], dict):
            return None
        try:
            value = to_utc_fast(rows[-1].get(key))
        except (TypeError, ValueError):
            return None
        record_id = rows[-1].get("id")
        return (value, record_id) if value and isinstance(record_id, int) else None

    def progress_line(self, records: int, pages: int, last: dict[str, t.Any] | None) -> None:
        """Log where a long read is: records, pages, calls, and the bookmark reached."""
        key = self.replication_key
        reached = last.get(key) if key and last else None
        self.logger.info(
            "Progress %s: %d records in %d pages, %d calls; bookmark %s",
            self.name,
            records,
            pages,
            self.calls_made,
            f"{key} {reached}" if reached else "not reached yet",
        )

    @override
    def request_records(self, context: dict | None) -> Iterator[dict[str, t.Any]]:
        """Read the pages one ahead of the records being processed (``prefetch.read_ahead``).

        A page is parsed in the reading thread too, so its own extra reads (addresses) overlap
        as well; a ``PageEnd`` follows each page's records where ``marks_page_ends``.
        """
        paginator = self.get_new_paginator()

        def pages() -> Iterator[tuple[list[dict[str, t.Any]], tuple[str, int] | None]]:
            while not paginator.finished:
                prepared = sdk_private.prepare_page(self, context, paginator)
                response = self.send_counted(prepared, context)
                paginator.advance(response)
                position = self.page_position(response)
                yield list(self.parse_response(response)), position

        interval = float(self.config.get("progress_interval_seconds", 30) or 0)
        last_line = time.monotonic()
        records = pages_read = 0
        reader = read_ahead(pages(), self.prefetch_pages, f"{self.name}-pages")
        try:
            for page, position in reader:
                yield from page
                if self.marks_page_ends:
                    yield PageEnd(page, position)  # type: ignore[misc]
                records += len(page)
                pages_read += 1
                if interval > 0 and time.monotonic() - last_line >= interval:
                    last_line = time.monotonic()
                    self.progress_line(records, pages_read, page[-1] if page else None)
        finally:
            reader.close()

    # -- responses --------------------------------------------------------------------------
    @override
    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer; keep the parsed body (a truncated body is retried, never parsed)."""
        check_response(response, self.run.connection.auth_type)

    @override
    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """The records of a list wrapper, whatever its list key is named."""
        payload = payload_of(response)
        if payload is None:
            return iter(())
        return iter(records_from_page(payload))

    @cached_property
    def _normalise_plan(self) -> NormalisePlan:
        return normalise_plan(self.schema, self.name)

    @override
    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        """Timestamps to UTC with ``Z``; ``""`` dates to null."""
        normalise(row, self._normalise_plan)
        return row

    # -- retries ----------------------------------------------------------------------------
    @override
    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """The SDK's retry loop; a store that cannot be reached ends in one line (``http``)."""
        return with_retries(func, self, self.run.connection.url_setting)

    @override
    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK's stream log, except that a store that cannot be reached is said once.

        The SDK logs "An unhandled error occurred while syncing" at ERROR before the error
        leaves the stream; for a ``StoreUnreachableError`` the tap's one line follows (see
        ``TapCartcom.invoke``), so that line is kept at INFO.
        """
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], StoreUnreachableError):
            level = logging.INFO
        super().log(message, *args, level=level, **kwargs)

    @override
    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:  # type: ignore[override]
        """Wait ``Retry-After`` on a 429 (seconds or HTTP-date), else grow exponentially."""
        return retry_waits()

    @override
    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: ``retry_wait_seconds`` already adds it where it is safe."""
        return value

    @override
    def backoff_max_tries(self) -> int:
        """Tries per call before the run fails (5xx, 429, timeouts, dropped connections)."""
        return 8

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """Log the retry by path only (no headers, no query values)."""
        self.logger.warning(
            "Retrying %s after %s (try %s, waiting %.2f s)",
            self.path,
            retry_reason(details.get("exception"), self.url_base, self.run.connection.url_setting),
            details.get("tries"),
            details.get("wait") or 0.0,
        )

    # -- extra reads (same session, pacing, retries and ``validate_response``) ---------------
    def fetch_response(self, path: str, params: list[tuple[str, t.Any]]) -> requests.Response:
        """One extra GET through the same session, pacing, retries and ``validate_response``."""
        url = url_for(self.url_base, path, params)
        prepared = self.build_prepared_request(method="GET", url=url, headers=self.http_headers)
        return self.send_counted(prepared, None)

    def fetch_json(self, path: str, params: list[tuple[str, t.Any]]) -> t.Any:
        """One extra GET's parsed body; None on a tolerated 404."""
        return payload_of(self.fetch_response(path, params))

    def select_many_chunks_for(
        self, path: str, ids: list[int], params: tuple[tuple[str, t.Any], ...] = ()
    ) -> list[list[int]]:
        """Split ``ids`` so each ``{path}/select_many`` URL (path and query) fits the URL cap.

        ``params`` are the call's other parameters (``expand``); ``count`` is sized for all
        of ``ids``, so every chunk's real URL is shorter than the one measured.
        """
        fixed = (
            len(urlsplit(self.url_base).path)
            + len(f"{path}/select_many?")
            + len(query_string([("count", len(ids)), *params, ("ids", "")]))
        )
        return [
            [int(i) for i in chunk]
            for chunk in chunks_for_url((str(i) for i in ids), fixed, len(","))
        ]

    def iter_list(self, path: str, params: list[tuple[str, t.Any]]) -> Iterator[dict[str, t.Any]]:
        """Every record of an extra list read, paged by the stream's own ``NextPagePaginator``.

        Same session, pacing, retries and ``validate_response`` as the stream's pages; the
        paginator stops at the last page or a tolerated 404, and refuses a link seen twice.
        """
        url = url_for(self.url_base, path, params)
        paginator = self.get_new_paginator()
        while not paginator.finished:
            prepared = self.build_prepared_request(method="GET", url=url, headers=self.http_headers)
            response = self.send_counted(prepared, None)
            yield from records_from_page(payload_of(response))
            paginator.advance(response)
            if not paginator.finished:
                url = next_page_url(paginator.current_value.geturl(), self.url_base)


__all__ = ["SMALL_ROWS_PAGE", "CartcomStream", "PageEnd", "TapRun"]

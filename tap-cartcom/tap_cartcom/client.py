"""The base stream for Cart.com: paced session, literal query strings, next_page, errors.

Transport rules live in ``cartcom_client`` (one place for tap and target): the tap mounts its
``PacedAdapter`` on one ``requests.Session`` shared by every stream (one store, one budget) and
lets the SDK's backoff loop retry, waiting ``Retry-After`` on 429s.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import sys
import threading
import time
import typing as t
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from urllib.parse import quote, urlsplit

import backoff  # the SDK's retry library (it comes with singer-sdk)
import msgspec
import requests
import requests.auth
from singer_sdk import RESTStream
from singer_sdk import singerlib as singer
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseHATEOASPaginator
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_cartcom import sdk_private
from tap_cartcom._client import CartcomAPIError, records_from_page
from tap_cartcom._client.errors import Disposition, StoreUnreachableError
from tap_cartcom._client.quirks import format_filter_datetime, parse_datetime, to_local, to_utc
from tap_cartcom._client.session import retry_wait_seconds
from tap_cartcom._client.urls import chunks_for_url, ends_list_read, next_page_url
from tap_cartcom.conform import compile_conformer
from tap_cartcom.keyless import STATE_KEY as KEYLESS_KEY
from tap_cartcom.keyless import KeylessIds

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.streams.rest import PageContext

    from tap_cartcom.tap import TapCartcom

LOGGER = logging.getLogger("tap-cartcom")
_DONE = object()


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


#: State key of the position a windowed read reached (``resume``: see ``WindowedStream``).
RESUME_KEY = "resume"
#: ``count`` asked for small rows (addresses; ids and keys): live stores answer 1000 (field
#: evidence, docs/api.md §13) and the tap follows ``next_page`` if a store caps it lower.
SMALL_ROWS_PAGE = 1000
#: Where the parsed JSON body of a response is kept between validation and parsing.
_PAYLOAD = "_cartcom_payload"
#: What the retry loop retries: the list of the SDK's ``RESTStream.request_decorator`` (0.54).
RETRIED_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: Characters sent literally in query values: ``+`` is Cart.com's space (`+AND+`, `+OR+`),
#: ``:`` separates operator and value, ``,`` separates sort fields and ids.
SAFE_QUERY_CHARS = ":,+"


#: Suffix of the field that keeps a timestamp in the store's own time zone (``created_at_local``).
LOCAL_SUFFIX = "_local"


class Plan(tuple):
    """Where a schema's date-time and number fields are: ``(name, kind, arg)`` entries.

    Kinds: ``dt`` (to UTC; ``arg`` names the field that keeps the store's local time, or is
    None), ``num`` (text to a number), ``obj`` and ``arr`` (``arg`` is the nested plan).
    ``label`` names the stream in the warning about an unreadable value.
    """

    label: str = ""
    #: The entries by kind, so ``normalise`` walks each kind without dispatching per field.
    dts: tuple[tuple[str, str | None], ...] = ()
    nums: tuple[str, ...] = ()
    objs: tuple[tuple[str, t.Any], ...] = ()
    arrs: tuple[tuple[str, t.Any], ...] = ()

    def __new__(cls, entries: t.Iterable[tuple[str, str, t.Any]] = (), label: str = "") -> Plan:
        """A plan over ``entries``, labelled with the stream's name."""
        plan = super().__new__(cls, entries)
        plan.label = label
        plan.dts = tuple((name, arg) for name, kind, arg in plan if kind == "dt")
        plan.nums = tuple(name for name, kind, _ in plan if kind == "num")
        plan.objs = tuple((name, arg) for name, kind, arg in plan if kind == "obj")
        plan.arrs = tuple((name, arg) for name, kind, arg in plan if kind == "arr")
        return plan


def _no_constant(name: str) -> None:
    """``NaN``/``Infinity`` in a page become null (what the SDK's conformance makes of them)."""
    return


_json_decode = msgspec.json.Decoder().decode


def _decode(body: bytes) -> t.Any:
    """Parse a page: msgspec (2-3x faster than ``json``), ``json`` for what msgspec refuses.

    msgspec rejects ``NaN``/``Infinity``, which ``json`` reads (as null, see ``_no_constant``);
    a truncated body fails both and raises ``ValueError``.
    """
    try:
        return _json_decode(body)
    except msgspec.DecodeError:
        return json.loads(body, parse_constant=_no_constant)


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


def encode_query(params: Iterable[tuple[str, t.Any]]) -> str:
    """Encode ``params`` keeping ``+``, ``:`` and ``,`` literal (Cart.com's query syntax)."""
    return "&".join(
        f"{quote(str(key), safe='')}={quote(str(value), safe=SAFE_QUERY_CHARS)}"
        for key, value in params
        if value is not None
    )


def datetime_plan(schema: dict[str, t.Any], label: str = "") -> Plan:
    """Compile where the date-time and number fields of ``schema`` are (top level and nested).

    A date-time field ``x`` whose schema also declares ``x_local`` gets that field filled with
    the store's local time; a field typed only ``number`` (and null) is read from text when
    the API sends it as text (product dimensions, a shipment's base cost).
    """
    properties = schema.get("properties") or {}
    plan: list[tuple[str, str, t.Any]] = []
    for name, prop in properties.items():
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else types
        if prop.get("format") == "date-time":
            local = name + LOCAL_SUFFIX
            plan.append((name, "dt", local if local in properties else None))
        elif "number" in types and set(types) <= {"number", "null"}:
            plan.append((name, "num", None))
        elif "object" in types and prop.get("properties"):
            sub = datetime_plan(prop)
            if sub:
                plan.append((name, "obj", sub))
        elif "array" in types and isinstance(prop.get("items"), dict):
            sub = datetime_plan(prop["items"])
            if sub:
                plan.append((name, "arr", sub))
    return Plan(plan, label)


def _fast_utc(value: t.Any) -> str | None:
    """``to_utc`` with a C fast path for ISO strings (most of Cart.com's datetimes).

    ``datetime.fromisoformat`` (3.11) reads offsets, ``Z``, a space separator and 1 to 7+
    fractional digits (truncated to 6), as ``to_utc`` does; anything else goes to ``to_utc``.
    """
    if value.__class__ is str and len(value) >= 19:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return to_utc(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        if parsed.year >= 1000:
            return parsed.isoformat(timespec="microseconds")[:-6] + "Z"
    return to_utc(value)


def _fast_local(value: t.Any) -> str | None:
    """``to_local`` with the same C fast path as ``_fast_utc``."""
    if value.__class__ is str and len(value) >= 19:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return to_local(value)
        if parsed.year >= 1000:
            return parsed.isoformat(timespec="microseconds")
    return to_local(value)


#: Memoised: an order's items, payments and shipments repeat its timestamps.
_utc = lru_cache(maxsize=16384)(_fast_utc)
_local = lru_cache(maxsize=16384)(_fast_local)


def number_from_text(text: str) -> float | None:
    """A number sent as text (``"12.5"``); ``""`` is None; anything else raises ``ValueError``."""
    stripped = text.strip()
    if not stripped:
        return None
    number = float(stripped)
    if not math.isfinite(number):
        msg = f"not a finite number: {text!r}"
        raise ValueError(msg)
    return number


def normalise(
    record: dict[str, t.Any], plan: Plan, _root: dict[str, t.Any] | None = None, _at: str = ""
) -> None:
    """Rewrite datetimes to UTC (``""`` to null) and numbers sent as text, in place.

    A date-time field with a ``_local`` twin in the schema also gets the store's own local time
    there (set once: a record normalised again keeps it). An unreadable value becomes null, so
    the record stays valid and the run goes on, and a warning names the stream, the record's
    ``id`` and the field (with the value: a datetime or a dimension carries no secret).
    """
    root = record if _root is None else _root
    for name, local in plan.dts:
        value = record.get(name)
        if local is not None and local not in record:
            try:
                record[local] = None if value is None else _local(value)
            except (TypeError, ValueError):
                record[local] = None
        if value is None:
            continue
        try:
            record[name] = _utc(value)
        except (TypeError, ValueError):
            record[name] = None
            _unreadable(plan, root, f"{_at}{name}", "datetime", value)
    for name in plan.nums:
        value = record.get(name)
        if value.__class__ is str:
            try:
                record[name] = number_from_text(value)
            except ValueError:
                record[name] = None
                _unreadable(plan, root, f"{_at}{name}", "number", value)
    for name, sub in plan.objs:
        value = record.get(name)
        if isinstance(value, dict):
            normalise(value, _labelled(sub, plan), root, f"{_at}{name}.")
    for name, sub in plan.arrs:
        value = record.get(name)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    normalise(item, _labelled(sub, plan), root, f"{_at}{name}[{index}].")


def _unreadable(plan: t.Any, root: dict[str, t.Any], field: str, what: str, value: t.Any) -> None:
    LOGGER.warning(
        "Unparseable %s in %s record id=%s, field `%s`: %.60r; emitted as null",
        what,
        getattr(plan, "label", "") or "a",
        root.get("id"),
        field,
        value,
    )


def _labelled(sub: t.Any, parent: t.Any) -> t.Any:
    """A nested plan carries its stream's label."""
    if isinstance(sub, Plan) and not sub.label:
        sub.label = getattr(parent, "label", "")
    return sub


class NextPagePaginator(BaseHATEOASPaginator):
    """Follow the absolute ``next_page`` link; its absence (or a 404 past the end) ends paging."""

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        """The ``next_page`` link of the page just read."""
        payload = getattr(response, _PAYLOAD, None)
        if isinstance(payload, dict):
            return payload.get("next_page") or None
        return None

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page whose records were all emitted before is not the end: follow ``next_page``."""
        return True


class CartcomStream(RESTStream):
    """A Cart.com list resource read page by page."""

    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    #: ``expand=`` value (nested collections filled in the same call).
    expand: str | None = None
    #: ``sort=`` value.
    sort: str | None = "id"
    _tap: TapCartcom

    # -- transport --------------------------------------------------------------------------
    @property
    @override
    def url_base(self) -> str:
        """The store's API base, e.g. ``https://store.example.com/api/v1``."""
        return self._tap.connection.base_url

    @property
    @override
    def requests_session(self) -> requests.Session:
        """The tap's one paced session: every stream shares the store's call budget."""
        return self._tap.http_session

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
        return self.config.get("user_agent") or self._tap.connection.user_agent

    @property
    @override
    def timeout(self) -> int:
        """Seconds to wait for one page."""
        return 120

    @property
    def page_size(self) -> int:
        """``count=`` per page."""
        return int(self.config.get("page_size") or 250)

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
            query = encode_query(self.query_params(page.stream_context))
            url = (
                f"{self.get_url(page.stream_context)}?{query}"
                if query
                else self.get_url(
                    page.stream_context,
                )
            )
        return HTTPRequest(url=url, method="GET", headers=self.http_headers, params={})

    #: Pages fetched ahead while the current one is processed (calls overlap with CPU work).
    prefetch_pages = 1
    #: Yield a ``PageEnd`` after each page's records (streams that checkpoint per page).
    marks_page_ends = False
    #: Calls this stream made (pages, batched extra reads, retries), for progress lines.
    calls_made = 0

    def send_counted(self, prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
        """Send through the SDK's retry loop, counting the call for the progress lines."""
        self.calls_made += 1
        return sdk_private.send(self, prepared, context)

    def page_position(self, response: requests.Response) -> tuple[str, int] | None:
        """``(key value, id)`` of the page's last row, for streams that resume by position."""
        key = self.replication_key
        payload = getattr(response, _PAYLOAD, None)
        if not key or not payload:
            return None
        rows = records_from_page(payload)
        if not rows or not isinstance(rows[-1], dict):
            return None
        try:
            value = _utc(rows[-1].get(key))
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
        """Read the pages in a background thread, one ahead of the records being processed.

        Calls are the scarce resource: while a page's records are being conformed and written,
        the next page (and its batched address read) is already waiting for its slot in the
        budget or in flight, so the tap runs at the rate limit's ceiling instead of at
        (rate limit + CPU time).
        """
        paginator = self.get_new_paginator()

        def send(prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
            return self.send_counted(prepared, context)

        pages: queue.Queue[t.Any] = queue.Queue(maxsize=max(1, self.prefetch_pages))
        stop = threading.Event()

        def put(item: t.Any) -> None:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                except queue.Full:
                    continue
                return

        def produce() -> None:
            try:
                while not paginator.finished and not stop.is_set():
                    prepared = sdk_private.prepare_page(self, context, paginator)
                    response = send(prepared, context)
                    paginator.advance(response)
                    # Parsing here too: a page's own extra reads (addresses) overlap as well.
                    position = self.page_position(response)
                    put((list(self.parse_response(response)), position))
            except BaseException as exc:
                put(exc)
            finally:
                put(_DONE)

        worker = threading.Thread(target=produce, name=f"{self.name}-pages", daemon=True)
        worker.start()
        interval = float(self.config.get("progress_interval_seconds", 30) or 0)
        last_line = time.monotonic()
        records = pages_read = 0
        try:
            while True:
                item = pages.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                page, position = item
                yield from page
                if self.marks_page_ends:
                    yield PageEnd(page, position)  # type: ignore[misc]
                records += len(page)
                pages_read += 1
                if interval > 0 and time.monotonic() - last_line >= interval:
                    last_line = time.monotonic()
                    self.progress_line(records, pages_read, page[-1] if page else None)
        finally:
            stop.set()
            worker.join(timeout=5)

    # -- responses --------------------------------------------------------------------------
    @override
    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer; keep the parsed body (a truncated body is retried, never parsed)."""
        status = response.status_code
        if status == 404 and ends_list_read(response.url):
            setattr(response, _PAYLOAD, None)  # past the last page, no match, or an empty list
            return
        if status >= 300:
            error = CartcomAPIError.from_response(
                response, auth_type=self._tap.connection.auth_type
            )
            if status == 401:
                raise CartcomAuthError(str(error))
            if error.disposition in (Disposition.RETRY, Disposition.WAIT):
                raise RetriableAPIError(str(error), response)
            raise FatalAPIError(str(error))
        try:
            payload = _decode(response.content) if response.content else None
        except ValueError as exc:
            msg = f"Incomplete or invalid JSON from {urlsplit(response.url).path}; retrying"
            raise RetriableAPIError(msg, response) from exc
        setattr(response, _PAYLOAD, payload)

    @override
    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """The records of a list wrapper, whatever its list key is named."""
        payload = getattr(response, _PAYLOAD, None)
        if payload is None:
            return iter(())
        return iter(records_from_page(payload))

    @cached_property
    def _datetime_plan(self) -> Plan:
        return datetime_plan(self.schema, self.name)

    # -- records out ------------------------------------------------------------------------
    #: The SDK's per-record walk is replaced by ``conform.compile_conformer`` (same rules,
    #: compiled once per schema and selection); see ``_generate_record_messages``.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE

    def _record_conformer(self) -> Callable[[dict], tuple[dict, list[str]]]:
        """The compiled selection + conformance for the current schema and selection mask."""
        cached = self.__dict__.get("_conformer")
        if cached is None or cached[0] is not self._mask or cached[1] is not self._input_schema:
            mask = self.mask  # resolves ``_mask`` when not yet done
            cached = (mask, self._input_schema, compile_conformer(self.effective_schema, mask))
            self.__dict__["_conformer"] = cached
            self.__dict__["_unmapped_reported"] = set()
        return cached[2]

    @override
    def _generate_record_messages(self, record: dict) -> t.Generator[t.Any, None, None]:
        """The SDK's method with its two per-record schema walks replaced by one compiled pass.

        Same output as ``pop_deselected_record_properties`` then ``conform_record_data_types``
        at ``RECURSIVE`` (tests compare both); unknown properties are reported once per set.
        """
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.RECURSIVE:
            yield from super()._generate_record_messages(record)
            return
        record, unmapped = self._record_conformer()(record)
        if unmapped:
            reported = self.__dict__["_unmapped_reported"]
            names = tuple(unmapped)
            if names not in reported:
                reported.add(names)
                self.logger.warning(
                    "Properties %s were present in the '%s' stream but not found in catalog "
                    "schema. Ignoring.",
                    names,
                    self.name,
                )
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    @override
    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        """Timestamps to UTC with ``Z``; ``""`` dates to null."""
        normalise(row, self._datetime_plan)
        return row

    # -- retries ----------------------------------------------------------------------------
    @override
    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """The SDK's retry loop, but a store that cannot be reached ends in one line.

        Same exceptions retried, same ``backoff_*`` hooks as the SDK's own decorator, with
        backoff's log lines off (``backoff_handler`` says each retry). A connection failure the
        shared client calls not transient (an unknown host, a refused TLS certificate) is not
        retried; one that outlasts every try becomes a ``StoreUnreachableError`` too. Its one
        line names the host and the setting (``domain`` or ``api_url``), never the token.
        """
        setting = self._tap.connection.url_setting

        def unreachable(
            exc: requests.exceptions.ConnectionError,
            prepared: requests.PreparedRequest,
            tries: int,
        ) -> StoreUnreachableError:
            failed = exc.request.url if exc.request is not None else None
            return StoreUnreachableError.from_exception(
                exc,
                failed or prepared.url or self.url_base,
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
            self.backoff_wait_generator,
            RETRIED_ERRORS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )(send)

        def call(prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
            try:
                return retried(prepared, context)
            except requests.exceptions.ConnectionError as exc:
                raise unreachable(exc, prepared, self.backoff_max_tries()) from exc

        return call

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

        def waits() -> t.Generator[float, t.Any, None]:
            attempt = 0
            exc = yield  # type: ignore[misc]
            while True:
                attempt += 1
                exc = yield retry_wait_seconds(getattr(exc, "response", None), attempt)

        return waits()

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
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        status = response.status_code if response is not None else type(exc).__name__
        if isinstance(exc, requests.exceptions.ConnectionError):
            status = StoreUnreachableError.from_exception(
                exc, self.url_base, setting=self._tap.connection.url_setting
            ).message
        self.logger.warning(
            "Retrying %s after %s (try %s, waiting %.2f s)",
            self.path,
            status,
            details.get("tries"),
            details.get("wait") or 0.0,
        )

    def fetch_response(self, path: str, params: list[tuple[str, t.Any]]) -> requests.Response:
        """One extra GET through the same session, pacing, retries and ``validate_response``."""
        query = encode_query(params)
        url = f"{self.url_base}{path}?{query}" if query else f"{self.url_base}{path}"
        prepared = self.build_prepared_request(method="GET", url=url, headers=self.http_headers)
        return self.send_counted(prepared, None)

    def fetch_json(self, path: str, params: list[tuple[str, t.Any]]) -> t.Any:
        """One extra GET's parsed body; None on a tolerated 404."""
        return getattr(self.fetch_response(path, params), _PAYLOAD, None)

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
            + len(encode_query([("count", len(ids)), *params, ("ids", "")]))
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
        query = encode_query(params)
        url = f"{self.url_base}{path}?{query}" if query else f"{self.url_base}{path}"
        paginator = self.get_new_paginator()
        while not paginator.finished:
            prepared = self.build_prepared_request(method="GET", url=url, headers=self.http_headers)
            response = self.send_counted(prepared, None)
            yield from records_from_page(getattr(response, _PAYLOAD, None))
            paginator.advance(response)
            if not paginator.finished:
                url = next_page_url(paginator.current_value.geturl(), self.url_base)


class EmbeddedChildStream(CartcomStream):
    """A child emitted from its parent's expanded record: no call of its own.

    The parent writes these records directly (see ``ParentWithEmbeddedChildren``); the SDK's
    per-record child sync would re-send a SCHEMA and a STATE message per parent record.
    """

    state_partitioning_keys: t.ClassVar[list[str]] = []
    #: Key of the nested array in the parent record.
    parent_key: str = ""

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, t.Any]]:
        """Never called for reading: the parent emits this stream's records."""
        return iter(())


class ParentWithEmbeddedChildren(CartcomStream):
    """A parent whose expanded nested arrays are emitted as child streams, with no call."""

    @override
    def generate_child_contexts(self, record: dict, context: dict | None) -> Iterable[dict]:
        """No SDK-driven child syncs: ``emit_children`` writes them from the record."""
        return iter(())

    @cached_property
    def embedded_children(self) -> list[EmbeddedChildStream]:
        """Selected child streams fed from this stream's records."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, EmbeddedChildStream) and child.selected
        ]

    def start_children(self) -> None:
        """Send each selected child's SCHEMA once per run, before its first record."""
        for child in self.embedded_children:
            sdk_private.write_schema(child)

    def emit_children(self, record: dict[str, t.Any]) -> None:
        """Write the nested rows of ``record`` to the selected child streams."""
        if not self.stream_maps[0].get_filter_result(record):
            return
        for child in self.embedded_children:
            rows = record.get(child.parent_key)
            if not rows:
                continue
            for row in rows:
                if isinstance(row, dict):
                    sdk_private.write_record(child, dict(row))


class WindowedStream(ParentWithEmbeddedChildren):
    """Incremental by ``created_at`` (or ``updated_at``) over a bounded window.

    Each run reads ``[bookmark - lookback_days, sync start)`` sorted by the key then id, skips
    the ids it already emitted in that window (kept in state as ``emitted``: id to key value,
    bounded by the window), and after a complete read bookmarks the window's end.

    No window filter matches a row whose key is null or ``""``: after the window, every run
    reads those rows apart (``read_keyless``), usually in one call, and emits the ones not
    emitted before (their ids kept in state as ``keyless``).

    Resumable: after every page a STATE holds ``resume``, the ``(key value, id)`` of the last
    record written. Every record at or before it in the read's order was written, so a run
    killed mid-window resumes its read there (``gte:<key value>``, skipping ids at or below
    the position on that one timestamp) and re-emits at most the page it was writing. The
    position is two values, whatever the size of the store; a complete read removes it.
    """

    is_sorted = False
    marks_page_ends = True

    def extra_filters(self, context: dict | None) -> list[tuple[str, str]]:
        """Filters besides the replication window."""
        return []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Take the replication key from the ``replication_key`` setting."""
        super().__init__(*args, **kwargs)
        self.replication_key = str(self.config.get("replication_key") or "created_at")
        self._emitted: dict[str, str] = {}
        self._window: tuple[datetime | None, datetime] | None = None
        self._max_emitted: str | None = None
        self._marks = 0
        #: ``(key value, id)`` this run's read starts after (from ``resume`` in the state).
        self._after: tuple[str, int] | None = None
        #: Ids of the rows without a key value emitted before (``keyless`` in the state).
        self._keyless = KeylessIds()

    @property
    def sort(self) -> str:  # type: ignore[override]
        """Key order, then id: stable pages inside a bounded window."""
        return f"{self.replication_key},id"

    @override
    def get_replication_key_signpost(self, context: dict | None = None) -> str:  # type: ignore[override]
        """The window's upper bound, in the records' own UTC format (compared as strings)."""
        return format_filter_datetime(self._tap.sync_started_at)

    def window(self, context: dict | None) -> tuple[datetime | None, datetime]:
        """``(start, end)`` of this run's read, computed once per run."""
        if self._window is None:
            end = self._tap.sync_started_at
            state = self.get_context_state(context)
            has_bookmark = (
                state.get("replication_key") == self.replication_key
                and state.get("replication_key_value") is not None
            )
            start = self.get_starting_timestamp(context)
            start_date = _parse(self.config.get("start_date"))
            if has_bookmark and start is not None:
                start -= timedelta(days=float(self.config.get("lookback_days", 3) or 0))
                if start_date is not None:
                    start = max(start, start_date)
            self._window = (start, end)
        return self._window

    def window_filter(self, context: dict | None) -> str:
        """``gte:<start>+AND+lt:<end>`` in UTC with ``Z`` (no ``+`` offset to escape)."""
        start, end = self.window(context)
        upper = f"lt:{format_filter_datetime(end)}"
        if self._after is not None:
            after = _parse(self._after[0])
            if after is not None and (start is None or after > start):
                start = after  # resuming: what came before the position was written
        if start is None:
            return upper
        return f"gte:{format_filter_datetime(start)}+AND+{upper}"

    def query_params(self, context: dict | None) -> list[tuple[str, t.Any]]:
        """Paging, sort and expand, the replication window and the stream's own filters."""
        params = super().query_params(context)
        params.append((self.replication_key, self.window_filter(context)))
        params.extend(self.extra_filters(context))
        return params

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, t.Any]]:
        """Load the emitted-id memory, read the window, then trim the memory to the next window."""
        state = self.get_context_state(context)
        start, _ = self.window(context)
        floor = _fmt(start)
        same_key = state.get("replication_key") in (None, self.replication_key)
        kept = state.get("emitted") if same_key else None
        self._emitted = {
            key: value for key, value in (kept or {}).items() if floor is None or value >= floor
        }
        state["emitted"] = self._emitted
        bookmark = state.get("replication_key_value")
        if bookmark is not None and state.get("replication_key") == self.replication_key:
            # Rescanned orders are older than the bookmark: never let it move back.
            state.setdefault(
                "progress_markers",
                {
                    "Note": "Progress is not resumable if interrupted.",
                    "replication_key": self.replication_key,
                    "replication_key_value": bookmark,
                },
            )
        saved = state.get(RESUME_KEY)
        if isinstance(saved, dict) and "status_id" in saved:
            # A status-filtered read skipped other statuses before its position: start over.
            state.pop(RESUME_KEY, None)
        self._after = self._resume_position(state)
        if self._after is not None:
            self.logger.info(
                "%s: resuming the interrupted read after %s %s, id %s",
                self.name,
                self.replication_key,
                *self._after,
            )
        self.start_children()
        for record in super().get_records(context):
            if isinstance(record, PageEnd):
                self._checkpoint_page(state, record)
            else:
                yield record
        yield from self.read_keyless(state)
        state.pop(RESUME_KEY, None)
        self._after = None
        self._advance_to_window_end(state)
        self._trim_emitted(state)

    def _resume_position(self, state: dict[str, t.Any]) -> tuple[str, int] | None:
        """The position an interrupted read of the same key reached, if the state has one."""
        saved = state.get(RESUME_KEY)
        if not isinstance(saved, dict) or saved.get("replication_key") != self.replication_key:
            state.pop(RESUME_KEY, None)
            return None
        after = saved.get("after")
        try:
            value, record_id = str(after[0]), int(after[1])  # type: ignore[index]
            if _parse(value) is None:
                return None
        except (TypeError, ValueError, IndexError):
            state.pop(RESUME_KEY, None)
            return None
        return value, record_id

    def _checkpoint_page(self, state: dict[str, t.Any], page: PageEnd) -> None:
        """After a page is written: record the position reached and write a STATE."""
        position = self._after
        if page.position is not None and (position is None or page.position > position):
            position = page.position
        for record in page.records:
            value, record_id = record.get(self.replication_key), record.get("id")
            if value is None or not isinstance(record_id, int):
                continue
            if position is None or (str(value), record_id) > position:
                position = (str(value), record_id)
        if position is None:
            return
        self._after = position
        state[RESUME_KEY] = {"replication_key": self.replication_key, "after": list(position)}
        # Written after every page: keep only the ids a later window can see again.
        self._trim_emitted(state)
        self.state_manager.is_flushed = False
        sdk_private.write_state(self)

    def _advance_to_window_end(self, state: dict[str, t.Any]) -> None:
        """After a complete read, bookmark the window's end even if nothing new was emitted.

        Every record created before the end was scanned, so the next run may start there (less
        ``lookback_days``). An interrupted read never gets here: its bookmark stays put.
        """
        _, end = self.window(None)
        end_value = format_filter_datetime(end)
        markers = state.setdefault(
            "progress_markers", {"Note": "Progress is not resumable if interrupted."}
        )
        markers["replication_key"] = self.replication_key
        current = markers.get("replication_key_value")
        if current is None or str(current) < end_value:
            markers["replication_key_value"] = end_value

    def already_emitted(self, record: dict[str, t.Any]) -> bool:
        """True when this id was emitted before with the same key value, or came before.

        An interrupted read restarts at ``gte:<value>`` of its position: that timestamp's ids
        at or below the position's were written already. A row without a key value (null,
        ``""`` or unparseable, all null once normalised) is looked up in the keyless memory.
        """
        value = record.get(self.replication_key)
        if value is None:
            return record.get("id") in self._keyless
        after = self._after
        record_id = record.get("id")
        if after is not None and value == after[0] and isinstance(record_id, int):
            return record_id <= after[1] or self._emitted.get(str(record_id)) == value
        return self._emitted.get(str(record.get("id"))) == value

    def mark_emitted(self, record: dict[str, t.Any]) -> None:
        """Remember the id (bounded by the window) and the largest key value emitted."""
        value = record.get(self.replication_key)
        if value is None:
            self._keyless.add(record.get("id"))
            return
        self._emitted[str(record.get("id"))] = value
        if self._max_emitted is None or value > self._max_emitted:
            self._max_emitted = value
        self._marks += 1
        if self._marks % 5000 == 0:
            # Pages come sorted by the key: ids older than (newest - lookback) cannot come back
            # in this run nor in the next one's window. Keeps memory flat on big backfills.
            self._trim_emitted(self.get_context_state(None))

    def _trim_emitted(self, state: dict[str, t.Any]) -> None:
        """Keep only ids the next run's window can see again."""
        bookmark = self._max_emitted
        markers = state.get("progress_markers") or {}
        # The saved bookmark, and this run's (the window end once the read is complete).
        for old in (state.get("replication_key_value"), markers.get("replication_key_value")):
            if old is not None and (bookmark is None or str(old) > bookmark):
                bookmark = str(old)
        if bookmark is None:
            return
        lookback = timedelta(days=float(self.config.get("lookback_days", 3) or 0))
        floor = _fmt(_parse(bookmark) - lookback)  # type: ignore[operator]
        for key in [k for k, v in self._emitted.items() if v < floor]:
            del self._emitted[key]

    # -- rows without a key value: read apart, after the window ------------------------------
    def keyless_fields(self) -> list[str]:
        """Fields the keyless read asks for besides ``id`` and the key."""
        return []

    def keyless_wanted(self, row: dict[str, t.Any]) -> bool:
        """Whether a keyless row is for this run (Get Orders: in a selected status)."""
        return True

    def key_of(self, row: dict[str, t.Any]) -> str | None:
        """The row's key value as the tap writes it, or None (null, ``""``, unparseable)."""
        try:
            return _utc(row.get(self.replication_key))
        except (TypeError, ValueError):
            return None

    def keyless_query(self) -> list[tuple[str, t.Any]]:
        """``sort=<key>,id`` over the whole resource, light rows only, the stream's filters.

        The ``sort`` puts the rows without a key value first: SQL Server orders NULL below
        every value (docs/api.md §1.4, INF), so the first page holding a keyed row ends them.
        """
        key = self.replication_key
        fields = ",".join(dict.fromkeys(["id", key, *self.keyless_fields()]))
        return [
            ("count", max(self.page_size, SMALL_ROWS_PAGE)),
            ("sort", f"{key},id"),
            ("fields", fields),
            *self.extra_filters(None),
        ]

    def read_keyless(self, state: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        """Emit the rows no window can match (key null or ``""``) not emitted before.

        One list read sorted by the key (those rows come first, 1000 ids a page) is followed
        only while its pages hold nothing else: one call while the store has fewer such rows.
        The new ones are then read in full by ``select_many`` (URL-sized chunks, the stream's
        ``expand``) and go through the same per-record path as the window's rows. The memory
        keeps only the ids still without a key, and a STATE follows each chunk's records.
        """
        key = self.replication_key
        same_key = state.get("replication_key") in (None, key)
        self._keyless = KeylessIds.from_state(
            state.get(KEYLESS_KEY) if same_key else None, self.name
        )
        calls = self.calls_made
        found: dict[int, dict[str, t.Any]] = {}
        for row in self.iter_list(self.path, self.keyless_query()):
            if not isinstance(row, dict):
                continue
            if self.key_of(row) is not None:
                break  # sorted: every row without a key value came before this one
            if isinstance(row.get("id"), int):
                found[row["id"]] = row
        self._keyless.keep_only(found)
        new = sorted(
            i for i, row in found.items() if i not in self._keyless and self.keyless_wanted(row)
        )
        params = (("expand", self.expand),) if self.expand else ()
        emitted = 0
        for chunk in self.select_many_chunks_for(self.path, new, params):
            response = self.fetch_response(
                f"{self.path}/select_many",
                [("count", len(new)), *params, ("ids", ",".join(str(i) for i in chunk))],
            )
            wanted = set(chunk)
            for record in self.parse_response(response):
                if record.get("id") in wanted and self.keyless_wanted(record):
                    wanted.discard(record.get("id"))
                    emitted += 1
                    yield record
            self.remember(state)
            self.state_manager.is_flushed = False
            sdk_private.write_state(self)
        self.remember(state)
        calls = self.calls_made - calls
        self.logger.info(
            "%s: %d rows without a %s read apart, %d emitted (%d call%s)",
            self.name,
            len(found),
            key,
            emitted,
            calls,
            "" if calls == 1 else "s",
        )

    def remember(self, state: dict[str, t.Any]) -> None:
        """Put the keyless memory in the state (no key when it is empty)."""
        if len(self._keyless):
            state[KEYLESS_KEY] = self._keyless.to_state()
        else:
            state.pop(KEYLESS_KEY, None)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: dict | None = None
    ) -> None:
        """A row read apart for its missing key value moves no bookmark (and warns nothing).

        The SDK would log "New replication value is null" once per such row.
        """
        if latest_record.get(self.replication_key) is None:
            return
        super()._increment_stream_state(latest_record, context=context)

    @override
    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        """Normalise, skip what was emitted before, emit the children, remember the id."""
        row = super().post_process(row, context)  # type: ignore[assignment]
        if row is None or self.already_emitted(row):
            return None
        self.emit_children(row)
        self.mark_emitted(row)
        return row


def _parse(value: t.Any) -> datetime | None:
    """A config or state datetime as an aware UTC datetime."""
    if value is None or value == "":
        return None
    return parse_datetime(value)


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_filter_datetime(value)


__all__ = [
    "RESUME_KEY",
    "SMALL_ROWS_PAGE",
    "CartcomAuthError",
    "CartcomStream",
    "EmbeddedChildStream",
    "PageEnd",
    "ParentWithEmbeddedChildren",
    "WindowedStream",
    "encode_query",
]

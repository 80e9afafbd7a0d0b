"""Orders ("Get Orders") and their children: items, shipments, payments, addresses.

One ``GET /orders`` per page carries items, shipments and payments (``expand``); the page's
billing and shipping addresses come in one batched read per page (never one call per order).

With a status filter (Get Orders), each run reads every order of the import window that is in
a selected status (the filter is applied by Cart.com), skips those the state lists as emitted,
and writes a STATE after each page: an order that turns eligible weeks after its creation is
still imported, once, and a killed run resumes without repeating what was checkpointed.
"""

from __future__ import annotations

import math
import typing as t
from datetime import timedelta
from functools import cached_property

from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_cartcom import schemas, sdk_private
from tap_cartcom._client.quirks import format_filter_datetime, parse_datetime, records_from_page
from tap_cartcom.emitted import CLOCK_SLACK, STATE_KEY, EmittedOrders
from tap_cartcom.normalise import normalise, normalise_plan
from tap_cartcom.streams.base import SMALL_ROWS_PAGE, PageEnd
from tap_cartcom.streams.embedded import EmbeddedChildStream
from tap_cartcom.streams.incremental import RESUME_KEY, WindowedStream

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime

    import requests

SCHEMAS = SchemaDirectory(schemas)
ADDRESS_KEYS = (
    ("order_billing_address_id", "billing_address"),
    ("order_shipping_address_id", "shipping_address"),
)


class OrdersStream(WindowedStream):
    """Orders created (or updated) in the window, optionally filtered by status."""

    name = "orders"
    path = "/orders"
    expand = "items,shipments,payments"
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Get Orders reads by creation time whatever ``replication_key`` says."""
        super().__init__(*args, **kwargs)
        self._ledger = EmittedOrders()
        if self.get_orders and self.replication_key != "created_at":
            self.logger.warning(
                "orders: `replication_key: %s` is ignored with a status filter (Get Orders "
                "imports each order once, by creation time)",
                self.replication_key,
            )
            self.replication_key = "created_at"

    @property
    def get_orders(self) -> bool:
        """A status filter is set: every eligible order of the window, exactly once."""
        return self.run.get_orders_filter

    # -- Get Orders: the whole window each run, emitted ids in state -------------------------
    def window(self, context: dict | None) -> tuple[datetime | None, datetime]:
        """Get Orders: the last ``orders_created_within_days`` (never before ``start_date``)."""
        if not self.get_orders:
            return super().window(context)
        if self._window is None:
            end = self.run.sync_started_at
            start = end - timedelta(days=self.run.get_orders_days())
            start_date = parse_datetime(self.config.get("start_date"))
            if start_date is not None and start_date > start:
                start = start_date
            self._window = (start, end)
        return self._window

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, t.Any]]:
        """Get Orders: load the emitted ids, rescan the window, checkpoint after each page."""
        if not self.get_orders:
            yield from super().get_records(context)
            return
        state = self.get_context_state(context)
        start, _ = self.window(context)
        self._ledger = self.emitted_in_state(state)
        earlier = state.pop("emitted", None)  # the id map of the plain incremental mode
        if isinstance(earlier, dict) and state.get("replication_key") in (None, "created_at"):
            for order_id, created_at in earlier.items():
                self._ledger.add(created_at, int(order_id))
        self._ledger.forget_before(format_filter_datetime(start)[:10])  # type: ignore[arg-type]
        state[STATE_KEY] = self._ledger.to_state()
        self.start_children()
        statuses = self.run.order_status_ids()
        resume = self._get_orders_resume(state, statuses)
        for status_id in statuses:
            if resume is not None and statuses.index(status_id) < statuses.index(resume[0]):
                continue  # read to its end by the interrupted run
            self._after = resume[1] if resume is not None and status_id == resume[0] else None
            for record in self.request_records({**(context or {}), "order_status_id": status_id}):
                if isinstance(record, PageEnd):
                    self._checkpoint(state, status_id, record)
                else:
                    yield record
        yield from self.read_keyless(state)
        self._after = None
        state.pop(RESUME_KEY, None)
        state[STATE_KEY] = self._ledger.to_state()
        self._advance_to_window_end(state)

    def emitted_in_state(self, state: dict[str, t.Any]) -> EmittedOrders:
        """``get_orders_emitted`` of ``state``, checked: window days up to the run's day.

        A state that fails a check raises ``StateError``; ``TapCartcom.sync_all`` loads it once
        before anything else, so a bad state stops the run before its first call.
        """
        start, end = self.window(None)
        return EmittedOrders.from_state(
            state.get(STATE_KEY),
            first_day=format_filter_datetime(start)[:10],  # type: ignore[arg-type]
            last_day=(end + CLOCK_SLACK).date().isoformat(),
        )

    def _get_orders_resume(
        self, state: dict[str, t.Any], statuses: list[int]
    ) -> tuple[int, tuple[str, int]] | None:
        """The status read and position an interrupted Get Orders run reached, if any.

        The resumed run reads from there; orders that turned eligible behind the position
        while the tap was down are imported by the next run, which rescans the whole window.
        """
        saved = state.get(RESUME_KEY)
        position = self._resume_position(state)
        if (
            position is None
            or not isinstance(saved, dict)
            or saved.get("status_id") not in statuses
        ):
            state.pop(RESUME_KEY, None)
            return None
        self.logger.info(
            "orders: resuming the interrupted read of status %s after created_at %s, id %s",
            saved["status_id"],
            *position,
        )
        return int(saved["status_id"]), position

    def _checkpoint(self, state: dict[str, t.Any], status_id: int, page: PageEnd) -> None:
        """Write a STATE listing every order emitted so far and the position reached."""
        state[STATE_KEY] = self._ledger.to_state()
        if page.position is not None and (self._after is None or page.position > self._after):
            self._after = page.position
        if self._after is not None:
            state[RESUME_KEY] = {
                "replication_key": "created_at",
                "status_id": status_id,
                "after": list(self._after),
            }
        self.state_manager.is_flushed = False
        sdk_private.write_state(self)

    def already_emitted(self, record: dict[str, t.Any]) -> bool:
        """Get Orders: listed in the emitted ids; otherwise (or keyless) the incremental rule."""
        if self.get_orders and record.get("created_at") is not None:
            return self._ledger.has(record.get("created_at"), record.get("id"))
        return super().already_emitted(record)

    def mark_emitted(self, record: dict[str, t.Any]) -> None:
        """Get Orders: add to the emitted ids; otherwise (or keyless) the incremental rule."""
        if self.get_orders and record.get("created_at") is not None:
            self._ledger.add(record.get("created_at"), record.get("id"))
        else:
            super().mark_emitted(record)

    def keyless_fields(self) -> list[str]:
        """Get Orders: the status too, to keep the orders in a selected status."""
        return ["order_status_id"] if self.get_orders else []

    def keyless_wanted(self, row: dict[str, t.Any]) -> bool:
        """Get Orders: only an order in a selected status (another is checked next run).

        The status is checked here, not by the read's filter: the read must list every order
        still without a ``created_at``, so one imported then moved to another status and back
        stays in the memory and is not imported twice.
        """
        if not self.get_orders:
            return True
        return row.get("order_status_id") in self.run.order_status_ids()

    def remember(self, state: dict[str, t.Any]) -> None:
        """The keyless memory; in Get Orders also the emitted ids.

        A row listed without a ``created_at`` may have one by the time it is read in full.
        """
        super().remember(state)
        if self.get_orders:
            state[STATE_KEY] = self._ledger.to_state()

    def extra_filters(self, context: dict | None) -> list[tuple[str, str]]:
        """The creation-age limit, and the one status this read is for (Get Orders).

        One read per status: Cart.com has no parentheses and ANDs before ORs, so
        ``created_at=...&order_status_id=2+OR+3`` may also match status 3 outside the window.
        """
        filters: list[tuple[str, str]] = []
        within = self.run.created_floor()
        if within is not None and self.replication_key != "created_at":
            filters.append(("created_at", f"gte:{within}"))
        status_id = (context or {}).get("order_status_id")
        if status_id is not None:
            filters.append(("order_status_id", str(status_id)))
        return filters

    def window_filter(self, context: dict | None) -> str:
        """The replication window, narrowed by ``orders_created_within_days``."""
        floor = self.run.created_floor()
        text = super().window_filter(context)
        if floor is None or self.replication_key != "created_at":
            return text
        start, _ = self.window(context)
        if start is not None and format_filter_datetime(start) >= floor:
            return text
        upper = text.rsplit("lt:", 1)[1]
        return f"gte:{floor}+AND+lt:{upper}"

    # -- per page: normalise, skip what was emitted, batch the addresses -------------------
    @override
    def parse_response(self, response: requests.Response) -> Iterator[dict[str, t.Any]]:
        """The page's new orders, with their addresses attached."""
        page = []
        for record in super().parse_response(response):
            normalise(record, self._normalise_plan)
            if not self.already_emitted(record):
                page.append(record)
        if page and self.wants_addresses:
            self.attach_addresses(page)
        return iter(page)

    @override
    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        """Emit the children from the record (no call) and remember the id.

        Checked again here: the next page is filtered while this one is being written, and a
        page boundary that shifted may bring an order twice in one run.
        """
        if self.already_emitted(row):
            return None
        self.emit_children(row)
        self.emit_addresses(row)
        self.mark_emitted(row)
        return row

    # -- addresses --------------------------------------------------------------------------
    @property
    def wants_addresses(self) -> bool:
        """Read addresses only for someone: the order_addresses stream or an address field.

        Calls are the scarce resource: orders selected without ``billing_address`` and
        ``shipping_address`` (deselected in the catalog) cost the order pages only.
        """
        if self._address_stream is not None:
            return True
        if not self.selected:
            return False
        mask = self.mask
        return any(mask[("properties", field)] for _, field in ADDRESS_KEYS)

    @property
    def _address_stream(self) -> OrderAddressesStream | None:
        for child in self.child_streams:
            if isinstance(child, OrderAddressesStream) and child.selected:
                return child
        return None

    def attach_addresses(self, page: list[dict[str, t.Any]]) -> None:
        """Read the page's addresses in the fewest calls and attach them to each order."""
        ids = sorted(
            {
                int(record[key])
                for record in page
                for key, _ in ADDRESS_KEYS
                if isinstance(record.get(key), int) and record[key] > 0
            }
        )
        found = self.read_addresses(ids) if ids else {}
        for record in page:
            for key, target in ADDRESS_KEYS:
                address = found.get(record.get(key))  # type: ignore[arg-type]
                record[target] = dict(address) if address is not None else None

    def select_many_chunks(self, ids: list[int]) -> list[list[int]]:
        """Split address ``ids`` so each ``select_many`` URL fits 2,048 characters."""
        return self.select_many_chunks_for("/order_addresses", ids)

    def address_plan(self, ids: list[int]) -> tuple[str, int]:
        """Pick ``select_many`` (URL-sized chunks) or an id-range list read: fewer calls wins."""
        by_ids = len(self.select_many_chunks(ids))
        span = ids[-1] - ids[0] + 1
        by_range = math.ceil(span / SMALL_ROWS_PAGE)
        return ("range", by_range) if by_range < by_ids else ("select_many", by_ids)

    def read_addresses(self, ids: list[int]) -> dict[int, dict[str, t.Any]]:
        """Addresses by id, read in the cheaper of the two shapes."""
        wanted = set(ids)
        plan, _ = self.address_plan(ids)
        rows: list[dict[str, t.Any]] = []
        if plan == "range":
            rows.extend(
                self.iter_list(
                    "/order_addresses",
                    [
                        ("count", SMALL_ROWS_PAGE),
                        ("sort", "id"),
                        ("id", f"gte:{ids[0]}+AND+lte:{ids[-1]}"),
                    ],
                )
            )
        else:
            for chunk in self.select_many_chunks(ids):
                payload = self.fetch_json(
                    "/order_addresses/select_many",
                    [
                        ("count", len(ids)),
                        ("ids", ",".join(str(i) for i in chunk)),
                    ],
                )
                rows.extend(records_from_page(payload))
        address_fields = self._address_normalise_plan
        out: dict[int, dict[str, t.Any]] = {}
        for row in rows:
            if row.get("id") in wanted:
                normalise(row, address_fields)
                out[row["id"]] = row
        missing = len(wanted) - len(out)
        if missing:
            self.logger.warning("%d order address(es) were not found", missing)
        return out

    @cached_property
    def _address_normalise_plan(self) -> t.Any:
        return normalise_plan(self.schema["properties"]["billing_address"])

    def emit_addresses(self, record: dict[str, t.Any]) -> None:
        """Write the order's addresses to the order_addresses stream, once per address."""
        stream = self._address_stream
        if stream is None or not self.stream_maps[0].get_filter_result(record):
            return
        seen: set[t.Any] = set()
        for _, target in ADDRESS_KEYS:
            address = record.get(target)
            if address and address.get("id") not in seen:
                seen.add(address.get("id"))
                sdk_private.write_record(stream, dict(address))


class OrderItemsStream(EmbeddedChildStream):
    """Order lines, from ``expand=items`` on orders."""

    name = "order_items"
    path = "/order_items"
    parent_stream_type = OrdersStream
    parent_key = "items"
    schema = StreamSchema(SCHEMAS)


class OrderShipmentsStream(EmbeddedChildStream):
    """Shipments with their shipped items, from ``expand=shipments`` on orders."""

    name = "order_shipments"
    path = "/order_shipments"
    parent_stream_type = OrdersStream
    parent_key = "shipments"
    schema = StreamSchema(SCHEMAS)


class OrderPaymentsStream(EmbeddedChildStream):
    """Payments, from ``expand=payments`` on orders."""

    name = "order_payments"
    path = "/order_payments"
    parent_stream_type = OrdersStream
    parent_key = "payments"
    schema = StreamSchema(SCHEMAS)


class OrderAddressesStream(EmbeddedChildStream):
    """Billing and shipping addresses of the orders emitted (one batched read per page)."""

    name = "order_addresses"
    path = "/order_addresses"
    parent_stream_type = OrdersStream
    parent_key = ""
    schema = StreamSchema(SCHEMAS)

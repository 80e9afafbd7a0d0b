"""The ``order_shipments`` stream: upsert shipments (tracking) and mark orders shipped.

One batch is applied in four steps:

1. parse every record (per-record errors for bad shapes and malformed dates);
2. read the orders it touches, batched (``reads.OrderReader``), plus the lines of their existing
   shipments when Cart.com did not send them;
3. per order, per record: map SKUs to order items, check quantities against what the order's
   *other* shipments already shipped, resolve the method, then compare with the store's shipment
   of the same ``shipment_name`` and write only if something differs;
4. per order: when ``mark_shipped``, set the shipped or partially-shipped status if it differs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from target_cartcom.listings.record import sku_key
from target_cartcom.orders.carriers import UnmappedCarrierError
from target_cartcom.orders.common import format_when, order_ref, parse_when
from target_cartcom.orders.reads import OrderReader
from target_cartcom.outcomes import Outcome, RecordError, is_fatal, whole_number
from target_cartcom.plan import PlannedCall

if TYPE_CHECKING:
    from datetime import datetime

    from target_cartcom.run import RunContext

STREAM = "order_shipments"
OPERATION = "ship"
_TRACKING_SPLIT = re.compile(r"[,;\s]+")
#: Optional record fields passed to Cart.com as they are.
PASSTHROUGH = ("number_of_packages", "shipping_comment", "private_comment")


@dataclass
class ItemRequest:
    """One requested line: by ``order_item_id`` or ``sku``; ``quantity`` None = what remains."""

    order_item_id: int | None
    sku: str | None
    quantity: int | None


@dataclass
class ShipmentRequest:
    """A parsed ``order_shipments`` record."""

    index: int
    name: str
    order_id: int | None
    order_number: str | None
    carrier: str | None
    service: str | None
    tracking: list[str] | None
    tracking_url: str | None
    shipped_at: datetime | None
    items: list[ItemRequest] | None
    notify_customer: bool
    extra: dict[str, Any]


def parse_record(index: int, record: dict[str, Any]) -> ShipmentRequest:
    """Validate one record; ``RecordError`` names the field at fault."""
    name = record.get("shipment_id")
    if name is None or str(name).strip() == "":
        msg = "the record needs `shipment_id` (the source's shipment id, used as shipment_name)"
        raise RecordError("shipment_id", msg)
    order_id, order_number = order_ref(record)
    tracking = record.get("tracking_numbers")
    if tracking is not None:
        if isinstance(tracking, str):
            tracking = [tracking]
        if not isinstance(tracking, list) or not all(isinstance(t, str | int) for t in tracking):
            msg = "`tracking_numbers` must be a list of strings"
            raise RecordError("tracking_numbers", msg)
        tracking = _split_tracking(",".join(str(t) for t in tracking))
    items = record.get("items")
    parsed_items: list[ItemRequest] | None = None
    if items is not None:
        if not isinstance(items, list) or not items:
            msg = "`items` must be a non-empty list (omit it to ship whatever remains on the order)"
            raise RecordError("items", msg)
        parsed_items = [_parse_item(i, item) for i, item in enumerate(items)]
    notify = record.get("notify_customer")
    extra = {k: record[k] for k in PASSTHROUGH if record.get(k) not in (None, "")}
    return ShipmentRequest(
        index=index,
        name=str(name).strip(),
        order_id=order_id,
        order_number=order_number,
        carrier=_opt_text(record.get("carrier")),
        service=_opt_text(record.get("service")),
        tracking=tracking,
        tracking_url=_opt_text(record.get("tracking_url")),
        shipped_at=parse_when(record.get("shipped_at"), "shipped_at"),
        items=parsed_items,
        notify_customer=True if notify is None else bool(notify),
        extra=extra,
    )


def _parse_item(position: int, item: Any) -> ItemRequest:
    where = f"items[{position}]"
    if not isinstance(item, dict):
        msg = f"`{where}` must be an object with `sku` or `order_item_id`, and `quantity`"
        raise RecordError(where, msg)
    item_id = item.get("order_item_id")
    sku = _opt_text(item.get("sku"))
    if item_id in (None, "") and not sku:
        msg = f"`{where}` needs `sku` or `order_item_id`"
        raise RecordError(where, msg)
    order_item_id = (
        None
        if item_id in (None, "")
        else whole_number(item_id, f"{where}.order_item_id", minimum=1)
    )
    quantity = item.get("quantity")
    if quantity is not None:
        # Cart.com's quantities are decimals: the tap's order_items say ``1.0``.
        quantity = whole_number(quantity, f"{where}.quantity", minimum=1)
    return ItemRequest(order_item_id, sku, quantity)


def _opt_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _split_tracking(value: Any) -> list[str]:
    """Tracking numbers from Cart.com's one string (comma-separated, INF), deduplicated."""
    seen: list[str] = []
    for part in _TRACKING_SPLIT.split(str(value or "")):
        if part and part not in seen:
            seen.append(part)
    return seen


# -- order state ------------------------------------------------------------------------------
class OrderState:
    """One order as read from the store, kept current as this batch writes to it."""

    def __init__(self, order: dict[str, Any]) -> None:
        """Index the order's items and shipments."""
        self.order = order
        self.id = int(order["id"])
        self.items: dict[int, dict[str, Any]] = {
            int(i["id"]): i for i in order.get("items") or [] if i.get("id") is not None
        }
        self.shipments: list[dict[str, Any]] = list(order.get("shipments") or [])
        self.variant_skus: dict[int, str] = {}

    def shippable(self) -> dict[int, int]:
        """Ordered quantity per line that ships (discount and non-shipping lines excluded)."""
        return {
            item_id: int(item.get("quantity") or 0)
            for item_id, item in self.items.items()
            if not item.get("is_discount_item")
            and not item.get("is_non_shipping_item")
            and int(item.get("quantity") or 0) > 0
        }

    def find_shipment(self, name: str) -> dict[str, Any] | None:
        """The order's shipment called ``name`` (Cart.com's upsert key within an order)."""
        for shipment in self.shipments:
            if str(shipment.get("shipment_name") or "") == name:
                return shipment
        return None

    def shipped(self, exclude: dict[str, Any] | None = None) -> Counter[int]:
        """Quantities shipped per line by every shipment but ``exclude``."""
        total: Counter[int] = Counter()
        for shipment in self.shipments:
            if shipment is exclude:
                continue
            for line in shipment.get("items") or []:
                if line.get("id") is not None:
                    total[int(line["id"])] += int(line.get("quantity_shipped") or 0)
        return total

    def lines_for_sku(self, sku: str) -> list[int]:
        """Line ids whose full SKU, SKU or variant SKU is ``sku`` (the listings' SKU rule)."""
        wanted = sku_key(sku)
        for keys in (("item_number_full",), ("item_number",), ("variant_sku",)):
            lines = [
                item_id
                for item_id, item in self.items.items()
                if any(sku_key(str(self._sku(item_id, item, k) or "")) == wanted for k in keys)
            ]
            if lines:
                return lines
        return []

    def _sku(self, item_id: int, item: dict[str, Any], key: str) -> Any:
        return self.variant_skus.get(item_id) if key == "variant_sku" else item.get(key)

    def status_target(self, shipped_id: int, partial_id: int) -> int | None:
        """Shipped when every shippable line is fully shipped, partial when some is, else None."""
        ordered = self.shippable()
        if not ordered:
            return None
        shipped = self.shipped()
        if all(shipped[i] >= q for i, q in ordered.items()):
            return shipped_id
        if any(shipped[i] > 0 for i in ordered):
            return partial_id
        return None


# -- the batch --------------------------------------------------------------------------------
class ShipmentBatch:
    """Applies one batch of ``order_shipments`` records."""

    def __init__(self, run: RunContext, records: list[dict[str, Any]]) -> None:
        """Prepare; nothing is read until ``apply``."""
        self.run = run
        self.records = records
        self.ref = run.orders
        self.settings = self.ref.settings
        self.reader = OrderReader(run.session)
        self.writer = run.writer

    def apply(self) -> None:
        """Apply the batch; every record gets exactly one result."""
        outcomes = [Outcome(STREAM, _key(r), index=i) for i, r in enumerate(self.records)]
        done: set[int] = set()
        try:
            self._apply_all(outcomes, done)
        except Exception as exc:
            # A read the whole batch needed failed (a 5xx that outlasted the retries):
            # every record not reported yet fails with it.
            if is_fatal(exc):
                raise
            for outcome in outcomes:
                if outcome.index not in done and not outcome.failed:
                    outcome.fail(exc)
        self._add(outcomes, done, {o.index for o in outcomes})

    def _apply_all(self, outcomes: list[Outcome], done: set[int]) -> None:
        requests: list[ShipmentRequest] = []
        for outcome, record in zip(outcomes, self.records, strict=True):
            try:
                requests.append(parse_record(outcome.index, record))
            except Exception as exc:
                if is_fatal(exc):
                    raise
                outcome.fail(exc)
        orders = self._read_orders(requests, outcomes)
        by_order: dict[int, list[ShipmentRequest]] = defaultdict(list)
        for request in requests:
            if not outcomes[request.index].failed:
                order_id = (
                    request.order_id
                    if request.order_id is not None
                    else outcomes[request.index].ids["order_id"]
                )
                by_order[order_id].append(request)
        self._add(outcomes, done)
        self._load_variant_skus(by_order, orders)
        for order_id, order_requests in by_order.items():
            state = orders[order_id]
            for request in order_requests:
                outcome = outcomes[request.index]
                outcome.ids["order_id"] = order_id
                try:
                    self._apply(state, request, outcome)
                except Exception as exc:
                    if is_fatal(exc):
                        raise
                    outcome.fail(exc)
            self._mark_shipped(state, order_requests, outcomes)
            self._add(outcomes, done, {r.index for r in order_requests})

    def _add(self, outcomes: list[Outcome], done: set[int], only: set[int] | None = None) -> None:
        for outcome in outcomes:
            if outcome.index in done or (only is not None and outcome.index not in only):
                continue
            if only is None and not outcome.failed:
                continue
            done.add(outcome.index)
            result = outcome.result(OPERATION)
            result.shipment_id = outcome.key
            result.order_id = outcome.ids.get("order_id") or _given_order_id(
                self.records[outcome.index]
            )
            self.run.report(result)

    # -- reads ----------------------------------------------------------------------------------
    def _read_orders(
        self, requests: list[ShipmentRequest], outcomes: list[Outcome]
    ) -> dict[int, OrderState]:
        numbers = {r.order_number for r in requests if r.order_id is None and r.order_number}
        found_by_number = self.reader.by_numbers(numbers) if numbers else {}
        loaded: dict[int, dict[str, Any]] = {}
        for rows in found_by_number.values():
            for row in rows:
                loaded[int(row["id"])] = row
        wanted_ids = {r.order_id for r in requests if r.order_id is not None} - set(loaded)
        loaded.update(self.reader.by_ids(wanted_ids) if wanted_ids else {})
        for request in requests:
            outcome = outcomes[request.index]
            if request.order_id is not None:
                if request.order_id not in loaded:
                    outcome.fail(
                        RecordError(
                            "order_id", f"unknown order: the store has no order {request.order_id}"
                        )
                    )
                else:
                    outcome.ids["order_id"] = request.order_id
                continue
            matches = found_by_number.get(str(request.order_number), [])
            if not matches:
                outcome.fail(
                    RecordError(
                        "order_number",
                        f"unknown order: no order has order_number {request.order_number!r}",
                    )
                )
            elif len(matches) > 1:
                ids = ", ".join(str(m["id"]) for m in matches)
                outcome.fail(
                    RecordError(
                        "order_number",
                        f"order_number {request.order_number!r} matches several orders ({ids}); "
                        "send order_id",
                    )
                )
            else:
                outcome.ids["order_id"] = int(matches[0]["id"])
        touched = {o.ids["order_id"] for o in outcomes if not o.failed and "order_id" in o.ids}
        self.reader.fill_shipment_items(loaded[i] for i in touched)
        return {i: OrderState(loaded[i]) for i in touched}

    def _load_variant_skus(
        self, by_order: dict[int, list[ShipmentRequest]], orders: dict[int, OrderState]
    ) -> None:
        """Variant SKUs, read only for orders whose records name a SKU no line carries."""
        need: dict[int, OrderState] = {}
        for order_id, requests in by_order.items():
            state = orders[order_id]
            for request in requests:
                for item in request.items or []:
                    if item.sku and not state.lines_for_sku(item.sku):
                        need[order_id] = state
        vi_ids = {
            int(item["variant_inventory_id"])
            for state in need.values()
            for item in state.items.values()
            if item.get("variant_inventory_id")
        }
        if not vi_ids:
            return
        rows = self.reader.by_ids(vi_ids, "variant_inventory", "&fields=id,item_number")
        for state in need.values():
            for item_id, item in state.items.items():
                vi = rows.get(int(item.get("variant_inventory_id") or 0))
                if vi and vi.get("item_number"):
                    state.variant_skus[item_id] = str(vi["item_number"])

    # -- one record -----------------------------------------------------------------------------
    def _lines(
        self, state: OrderState, request: ShipmentRequest, existing: dict[str, Any] | None
    ) -> dict[int, int]:
        """Order item id -> quantity to ship, checked against what others already shipped."""
        ordered = state.shippable()
        already = state.shipped(exclude=existing)
        remaining = {i: max(q - already[i], 0) for i, q in ordered.items()}
        if request.items is None:
            lines = {i: q for i, q in remaining.items() if q > 0}
            if not lines:
                msg = (
                    f"nothing left to ship on order {state.id}: "
                    "other shipments already ship every item"
                )
                raise RecordError("items", msg)
            return lines
        lines: Counter[int] = Counter()
        for position, item in enumerate(request.items):
            where = f"items[{position}]"
            if item.order_item_id is not None:
                if item.order_item_id not in state.items:
                    msg = f"unknown order item {item.order_item_id} on order {state.id}"
                    raise RecordError(f"{where}.order_item_id", msg)
                if item.order_item_id not in ordered:
                    msg = (
                        f"order item {item.order_item_id} on order {state.id} does not ship "
                        "(discount or non-shipping line)"
                    )
                    raise RecordError(f"{where}.order_item_id", msg)
                candidates = [item.order_item_id]
                label = f"order item {item.order_item_id}"
            else:
                candidates = [i for i in state.lines_for_sku(str(item.sku)) if i in ordered]
                if not candidates:
                    msg = (
                        f"unknown SKU {item.sku!r} on order {state.id}: no line of the order has it"
                    )
                    raise RecordError(f"{where}.sku", msg)
                label = f"SKU {item.sku!r}"
            free = {i: remaining[i] - lines[i] for i in candidates}
            wanted = item.quantity if item.quantity is not None else sum(free.values())
            if wanted > sum(free.values()) or wanted == 0:
                total = sum(ordered[i] for i in candidates)
                others = sum(already[i] for i in candidates)
                msg = (
                    f"shipping more than was ordered: {wanted or 'the rest'} of {label} "
                    f"on order {state.id}, "
                    f"which ordered {total}; other shipments already ship {others}"
                    + (
                        f" and this record already counts {sum(lines[i] for i in candidates)}"
                        if any(lines[i] for i in candidates)
                        else ""
                    )
                )
                raise RecordError(f"{where}.quantity", msg)
            for i in candidates:
                take = min(wanted, free[i])
                if take > 0:
                    lines[i] += take
                    wanted -= take
        return dict(lines)

    def _apply(self, state: OrderState, request: ShipmentRequest, outcome: Outcome) -> None:
        existing = state.find_shipment(request.name)
        lines = self._lines(state, request, existing)
        try:
            method = self.ref.carriers.resolve(request.carrier, request.service, state.order)
        except UnmappedCarrierError as exc:
            raise RecordError("carrier" if request.carrier else "service", str(exc)) from None
        desired: dict[str, Any] = {**method.fields(), **request.extra}
        if request.tracking is not None:
            desired["tracking_numbers"] = ",".join(request.tracking)
        if request.tracking_url is not None:
            desired["tracking_url"] = request.tracking_url
        if request.shipped_at is not None:
            desired["shipped_at"] = format_when(request.shipped_at)
        if existing is None:
            body = {
                "order_id": state.id,
                "shipment_name": request.name,
                **desired,
                "items": [{"id": i, "quantity_shipped": q} for i, q in sorted(lines.items())],
            }
            outcome.changes = {
                k: {"old": None, "new": v}
                for k, v in body.items()
                if k not in ("order_id", "shipment_name")
            }
            answer = self._post(body, request, outcome)
            shipment = {**body, **(answer if isinstance(answer, dict) else {})}
            shipment["items"] = body["items"]
            state.shipments.append(shipment)
            outcome.outcome = "created"
            outcome.ids["shipment_id"] = shipment.get("id")
            return
        outcome.ids["shipment_id"] = existing.get("id")
        changes = _diff(existing, desired)
        old_lines = {
            int(x["id"]): int(x.get("quantity_shipped") or 0)
            for x in existing.get("items") or []
            if x.get("id") is not None
        }
        old_lines = {i: q for i, q in old_lines.items() if q}
        if old_lines != lines:
            changes["items"] = {"old": _lines_view(old_lines), "new": _lines_view(lines)}
        if not changes:
            outcome.outcome = "unchanged"
            return
        body = {
            "id": existing["id"],
            "order_id": state.id,
            "shipment_name": request.name,
            **{k: desired[k] for k in changes if k != "items"},
        }
        if "items" in changes:
            # Lines no longer shipped are sent with 0, so a line-merging upsert drops them (INF).
            body["items"] = [
                {"id": i, "quantity_shipped": lines.get(i, 0)}
                for i in sorted(set(lines) | set(old_lines))
            ]
        self._post(body, request, outcome)
        existing.update({k: v for k, v in body.items() if k != "items"})
        existing["items"] = [{"id": i, "quantity_shipped": q} for i, q in sorted(lines.items())]
        outcome.outcome = "updated"
        outcome.changes = changes

    def _post(self, body: dict[str, Any], request: ShipmentRequest, outcome: Outcome) -> Any:
        # Retry-safe: Cart.com upserts a shipment by shipment_name within its order, so a
        # re-POST after a dropped connection updates the shipment it may have created.
        call = PlannedCall(
            "POST", "order_shipments", body, purpose="upsert shipment", key=request.name
        )
        call.extra["retry_unsafe"] = True
        outcome.calls.append(call)
        return self.writer.apply(call)

    # -- status ---------------------------------------------------------------------------------
    def _mark_shipped(
        self, state: OrderState, requests: list[ShipmentRequest], outcomes: list[Outcome]
    ) -> None:
        if not self.settings.mark_shipped:
            return
        applied = [r for r in requests if outcomes[r.index].outcome != "failed"]
        if not applied:
            return
        shipped_id, partial_id, movable = self.ref.shipped_statuses()
        target_id = state.status_target(shipped_id, partial_id)
        current = state.order.get("order_status_id")
        current = int(current) if current is not None else None
        if target_id is None or target_id == current:
            return
        outcome = outcomes[applied[-1].index]
        book = self.ref.statuses
        if current not in movable:
            self.run.logger.info(
                "Order %s stays %r: mark_shipped moves only orders in %s",
                state.id,
                book.name(current),
                sorted(filter(None, (book.name(i) for i in movable))),
            )
            return
        notify = any(r.notify_customer for r in applied)
        if notify:
            call = PlannedCall(
                "PUT",
                f"orders/{state.id}/status",
                {"order_status_id": target_id},
                purpose="mark order shipped (fires status e-mails and webhooks)",
            )
        else:
            call = PlannedCall(
                "PUT",
                f"orders/{state.id}",
                {"order_status_id": target_id},
                purpose="mark order shipped silently (notify_customer false)",
            )
        outcome.calls.append(call)
        try:
            self.writer.apply(call)
        except Exception as exc:
            if is_fatal(exc):
                raise
            outcome.fail(
                RecordError(
                    "order_status", f"shipment written, but setting the order status failed: {exc}"
                )
            )
            return
        state.order["previous_order_status_id"] = current
        state.order["order_status_id"] = target_id
        outcome.changes["order_status"] = {"old": book.name(current), "new": book.name(target_id)}
        if outcome.outcome == "unchanged":
            outcome.outcome = "updated"


def _key(record: dict[str, Any]) -> str | None:
    value = record.get("shipment_id")
    return None if value is None else str(value)


def _given_order_id(record: dict[str, Any]) -> int | None:
    """The record's ``order_id`` when it is a valid one (for a failed record's result line)."""
    try:
        return whole_number(record.get("order_id"), "order_id", minimum=1)
    except RecordError:
        return None


def _lines_view(lines: dict[int, int]) -> list[dict[str, int]]:
    return [{"order_item_id": i, "quantity": q} for i, q in sorted(lines.items())]


def _diff(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields of ``desired`` that differ from the store's shipment (compared by meaning)."""
    changes: dict[str, dict[str, Any]] = {}
    for field_name, new in desired.items():
        old = existing.get(field_name)
        if field_name == "tracking_numbers":
            same = set(_split_tracking(old)) == set(_split_tracking(new))
        elif field_name == "shipped_at":
            try:
                same = old is not None and parse_when(old, field_name) == parse_when(
                    new, field_name
                )
            except RecordError:
                same = False
        elif field_name == "shipping_method_id" or isinstance(new, int | float):
            same = old is not None and str(old) == str(new)
        else:
            same = (old or "") == (new or "")
        if not same:
            changes[field_name] = {"old": old, "new": new}
    return changes

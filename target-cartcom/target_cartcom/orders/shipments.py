"""The ``order_shipments`` stream: upsert shipments (tracking) and mark orders shipped.

One batch is applied in four steps:

1. parse every record (``shipment_request.py``: per-record errors for bad shapes and dates);
2. read the orders it touches, batched (``reads.OrderReader``), plus the lines of their existing
   shipments when Cart.com did not send them;
3. per order, per record: the lines to ship (``quantities.allocate``: SKUs mapped to order items,
   quantities checked against what the order's *other* shipments already ship), the method, then
   a comparison with the store's shipment of the same ``shipment_name``, written only if
   something differs;
4. per order: when ``mark_shipped``, set the shipped or partially-shipped status if it differs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from target_cartcom.orders.carriers import UnmappedCarrierError
from target_cartcom.orders.common import format_when, parse_when
from target_cartcom.orders.quantities import OrderState, allocate
from target_cartcom.orders.reads import OrderReader
from target_cartcom.orders.reference import OrderReference
from target_cartcom.orders.shipment_request import ShipmentRequest, parse_record, split_tracking
from target_cartcom.outcomes import Outcome, RecordError, is_fatal, whole_number
from target_cartcom.writer import PlannedCall

if TYPE_CHECKING:
    from target_cartcom.run_context import RunContext

STREAM = "order_shipments"
OPERATION = "ship"


class ShipmentBatch:
    """Applies one batch of ``order_shipments`` records."""

    def __init__(self, run: RunContext, records: list[dict[str, Any]]) -> None:
        """Prepare; nothing is read until ``apply``."""
        self.run = run
        self.records = records
        self.ref = run.state(OrderReference)
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
        found = self.reader.find((r.order_id, r.order_number) for r in requests)
        for request in requests:
            outcome = outcomes[request.index]
            try:
                outcome.ids["order_id"] = int(
                    found.order(request.order_id, request.order_number)["id"]
                )
            except RecordError as exc:
                outcome.fail(exc)
        touched = {o.ids["order_id"] for o in outcomes if not o.failed and "order_id" in o.ids}
        self.reader.fill_shipment_items(found.by_id[i] for i in touched)
        return {i: OrderState(found.by_id[i]) for i in touched}

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
    def _apply(self, state: OrderState, request: ShipmentRequest, outcome: Outcome) -> None:
        existing = state.find_shipment(request.name)
        lines = allocate(state, request.items, existing)
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
            same = set(split_tracking(old)) == set(split_tracking(new))
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

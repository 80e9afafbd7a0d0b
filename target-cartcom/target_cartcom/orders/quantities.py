"""The shipment quantity model: what an order ordered, what its shipments ship, what one adds.

Only shipping lines count (not discount or non-shipping lines). A shipment may ship what the
order's *other* shipments leave of a line; a line is found by its order item id or by SKU (the
one SKU rule, ``sku.py``, on the line's full SKU, then its SKU, then its variant's). The order is
shipped when every line is fully shipped, partially shipped when some line is.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from target_cartcom.outcomes import RecordError
from target_cartcom.sku import sku_key

if TYPE_CHECKING:
    from target_cartcom.orders.shipment_request import ItemRequest


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
        """Line ids whose full SKU, SKU or variant SKU is ``sku`` (the one SKU rule, ``sku.py``)."""
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


def allocate(
    state: OrderState, items: list[ItemRequest] | None, existing: dict[str, Any] | None
) -> dict[int, int]:
    """The lines one shipment ships: order item id -> quantity, checked against the others.

    ``items`` None ships what remains of every line. ``existing`` is the store's shipment of the
    same name, which this one replaces, so its lines do not count as shipped by others. Pure: it
    reads ``state`` and writes nothing; a line it cannot ship raises ``RecordError`` naming the
    record's field.
    """
    ordered = state.shippable()
    already = state.shipped(exclude=existing)
    remaining = {i: max(q - already[i], 0) for i, q in ordered.items()}
    if items is None:
        lines = {i: q for i, q in remaining.items() if q > 0}
        if not lines:
            msg = (
                f"nothing left to ship on order {state.id}: other shipments already ship every item"
            )
            raise RecordError("items", msg)
        return lines
    lines: Counter[int] = Counter()
    for position, item in enumerate(items):
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
                msg = f"unknown SKU {item.sku!r} on order {state.id}: no line of the order has it"
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

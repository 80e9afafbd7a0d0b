"""An ``order_shipments`` record, parsed: every error names the field it concerns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from target_cartcom.orders.common import order_ref, parse_when
from target_cartcom.outcomes import RecordError, whole_number

if TYPE_CHECKING:
    from datetime import datetime

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
        tracking = split_tracking(",".join(str(t) for t in tracking))
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


def split_tracking(value: Any) -> list[str]:
    """Tracking numbers from Cart.com's one string (comma-separated, INF), deduplicated."""
    seen: list[str] = []
    for part in _TRACKING_SPLIT.split(str(value or "")):
        if part and part not in seen:
            seen.append(part)
    return seen

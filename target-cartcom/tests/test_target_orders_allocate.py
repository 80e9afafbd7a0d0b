"""``quantities.allocate``: the lines one shipment ships, on orders built by hand (no store).

``allocate`` is pure: it reads the order as the store holds it and either returns
``{order item id: quantity}`` or refuses the record naming its field. The store's side of the
same rules (what Cart.com holds after a run) is in test_target_orders_sandbox.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from target_cartcom.orders.quantities import OrderState, allocate
from target_cartcom.orders.shipment_request import ItemRequest
from target_cartcom.outcomes import RecordError


def order(*lines: dict[str, Any], shipments: tuple[dict[str, Any], ...] = ()) -> OrderState:
    """Order 7 with ``lines`` (id, item_number, quantity, flags) and its ``shipments``."""
    return OrderState({"id": 7, "items": list(lines), "shipments": list(shipments)})


def line(item_id: int, sku: str, quantity: float, **flags: Any) -> dict[str, Any]:
    """An order line as Cart.com sends it (quantities are decimals)."""
    return {
        "id": item_id,
        "item_number": sku,
        "item_number_full": sku,
        "quantity": quantity,
        **flags,
    }


def shipment(name: str, **shipped: int) -> dict[str, Any]:
    """A shipment of the order: ``l11=2`` ships 2 of line 11."""
    items = [{"id": int(k[1:]), "quantity_shipped": q} for k, q in shipped.items()]
    return {"id": 900, "shipment_name": name, "items": items}


def refusal(state: OrderState, items: list[ItemRequest] | None, existing=None) -> RecordError:
    with pytest.raises(RecordError) as caught:
        allocate(state, items, existing)
    return caught.value


def test_without_items_ships_what_the_other_shipments_leave():
    """No ``items``: every shipping line's rest; discount, non-shipping and done lines out."""
    state = order(
        line(11, "A", 3.0),
        line(12, "B", 1.0),
        line(13, "DISCOUNT", 1.0, is_discount_item=True),
        line(14, "GIFT-CARD", 1.0, is_non_shipping_item=True),
        line(15, "C", 2.0),
        shipments=(shipment("S1", l11=1, l15=2),),
    )
    assert allocate(state, None, None) == {11: 2, 12: 1}


def test_the_shipment_it_replaces_does_not_count_as_shipped():
    """Sent again, a shipment's own lines are its to ship, not another shipment's."""
    first = shipment("S1", l11=2)
    state = order(line(11, "A", 2.0), shipments=(first,))
    assert allocate(state, [ItemRequest(None, "A", 2)], first) == {11: 2}
    assert refusal(state, [ItemRequest(None, "A", 2)], None).field == "items[0].quantity"


def test_a_sku_on_two_lines_fills_them_in_order():
    """A SKU (any ASCII case) on two lines takes the first line's rest, then the next's."""
    state = order(
        line(11, "A-1", 2.0),
        line(12, "a-1", 3.0),
        shipments=(shipment("S1", l11=1),),
    )
    assert allocate(state, [ItemRequest(None, "A-1", 3)], None) == {11: 1, 12: 2}
    # Without a quantity: all that is left of the SKU.
    assert allocate(state, [ItemRequest(None, "a-1", None)], None) == {11: 1, 12: 3}


def test_the_full_sku_wins_over_the_sku_and_a_variant_sku_comes_last():
    """``item_number_full`` is matched first; a variant's SKU only when no line has the SKU."""
    state = order(
        {"id": 11, "item_number": "SHIRT", "item_number_full": "SHIRT-M", "quantity": 1},
        {"id": 12, "item_number": "SHIRT", "item_number_full": "SHIRT-L", "quantity": 1},
        {"id": 13, "item_number": "SHIRT-L", "item_number_full": "SHIRT-L-TALL", "quantity": 1},
    )
    assert allocate(state, [ItemRequest(None, "SHIRT-L", 1)], None) == {12: 1}
    assert allocate(state, [ItemRequest(None, "SHIRT", 2)], None) == {11: 1, 12: 1}
    assert refusal(state, [ItemRequest(None, "SHIRT-BLUE", 1)]).field == "items[0].sku"
    state.variant_skus[11] = "SHIRT-BLUE"
    assert allocate(state, [ItemRequest(None, "SHIRT-BLUE", 1)], None) == {11: 1}


def test_items_of_one_record_share_a_line():
    """Two items naming one line: the second gets what the first left, and is told so."""
    state = order(line(11, "A", 3.0))
    assert allocate(state, [ItemRequest(11, None, 1), ItemRequest(None, "A", 2)], None) == {11: 3}
    error = refusal(state, [ItemRequest(11, None, 2), ItemRequest(None, "A", 2)])
    assert error.field == "items[1].quantity"
    assert error.message == (
        "shipping more than was ordered: 2 of SKU 'A' on order 7, which ordered 3; "
        "other shipments already ship 0 and this record already counts 2"
    )


@pytest.mark.parametrize(
    ("items", "field", "message"),
    [
        ([ItemRequest(99, None, 1)], "items[0].order_item_id", "unknown order item 99 on order 7"),
        (
            [ItemRequest(None, "A", 1), ItemRequest(13, None, 1)],
            "items[1].order_item_id",
            "order item 13 on order 7 does not ship (discount or non-shipping line)",
        ),
        (
            [ItemRequest(None, "Z", 1)],
            "items[0].sku",
            "unknown SKU 'Z' on order 7: no line of the order has it",
        ),
        (
            [ItemRequest(11, None, 2)],
            "items[0].quantity",
            "shipping more than was ordered: 2 of order item 11 on order 7, which ordered 2; "
            "other shipments already ship 1",
        ),
        (
            [ItemRequest(12, None, None)],
            "items[0].quantity",
            "shipping more than was ordered: the rest of order item 12 on order 7, which ordered "
            "1; other shipments already ship 1",
        ),
    ],
)
def test_a_line_it_cannot_ship_is_refused_naming_the_field(items, field, message):
    state = order(
        line(11, "A", 2.0),
        line(12, "B", 1.0),
        line(13, "DISCOUNT", 1.0, is_discount_item=True),
        shipments=(shipment("S1", l11=1, l12=1),),
    )
    error = refusal(state, items)
    assert (error.field, error.message) == (field, message)


def test_nothing_left_to_ship_is_refused():
    state = order(line(11, "A", 1.0), shipments=(shipment("S1", l11=1),))
    error = refusal(state, None)
    assert error.field == "items"
    assert error.message == (
        "nothing left to ship on order 7: other shipments already ship every item"
    )


def test_allocate_changes_nothing_it_reads():
    """Pure: the order, its lines and its shipments are as they were."""
    state = order(line(11, "A", 3.0), line(12, "B", 1.0), shipments=(shipment("S1", l11=1),))
    before = copy.deepcopy((state.order, state.items, state.shipments))
    allocate(state, [ItemRequest(None, "A", 2), ItemRequest(12, None, None)], None)
    allocate(state, None, state.shipments[0])
    assert (state.order, state.items, state.shipments) == before

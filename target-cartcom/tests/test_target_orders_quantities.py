"""The shipment quantity model on the sandbox: what ships, what is refused, what the order becomes.

Each test builds one small order by hand (its lines, its shipments), sends shipment records and
checks the store: the shipment lines Cart.com holds, the order's status, the result lines.
"""

from __future__ import annotations

from typing import Any

import pytest
from cartcom_sandbox.seeding import data
from cartcom_testing.runs import run_orders, writes

ORDER = 300_001
PROCESSING, PARTIAL, SHIPPED = 2, 3, 4


def make_order(sandbox: Any, lines: list[dict[str, Any]], shipments=()) -> None:
    """Statuses, carriers and one Processing order ``ORDER`` with ``lines`` (id, sku, quantity).

    ``shipments``: (name, {line id: quantity shipped}) already in the store.
    """
    store = sandbox.store
    store.bulk_insert(
        "order_statuses",
        [
            {"id": n, "name": name, **flags}
            for n, (name, flags, _) in enumerate(data.ORDER_STATUSES, 1)
        ],
    )
    store.bulk_insert(
        "shipping_providers",
        [{"id": 1, "name": "UPS", "provider_code": "UPS", "is_enabled": True}],
    )
    store.bulk_insert(
        "shipping_provider_services",
        [
            {
                "id": 1,
                "shipping_provider_id": 1,
                "identifier": "UPS_GROUND",
                "name": "UPS Ground",
                "is_enabled": True,
            }
        ],
    )
    store.bulk_insert("orders", [{"id": ORDER, "order_status_id": PROCESSING}])
    store.bulk_insert(
        "order_items",
        [
            {
                "order_id": ORDER,
                "item_number": line["sku"],
                "item_number_full": line["sku"],
                "is_discount_item": False,
                "is_non_shipping_item": False,
                **line,
            }
            for line in lines
        ],
    )
    store.bulk_insert(
        "order_shipments",
        [
            {
                "id": 900 + n,
                "order_id": ORDER,
                "shipment_name": name,
                "items": [{"id": i, "quantity_shipped": q} for i, q in shipped.items()],
            }
            for n, (name, shipped) in enumerate(shipments)
        ],
    )


def ship(sandbox: Any, tmp_path: Any, *records: dict[str, Any]):
    """Send shipment records for ``ORDER`` (UPS Ground); return (results, write calls)."""
    full = [{"order_id": ORDER, "carrier": "UPS", "service": "Ground", **r} for r in records]
    results, _summary, calls = run_orders(sandbox, tmp_path, "order_shipments", full)
    return results, writes(calls)


def shipped_lines(sandbox: Any, name: str) -> dict[int, int]:
    """The store's lines of shipment ``name``: order item id -> quantity shipped (0s left out)."""
    (shipment,) = [
        s
        for s in sandbox.store.query("order_shipments", {"order_id": ORDER})
        if s["shipment_name"] == name
    ]
    lines = sandbox.store.shipment_items([shipment["id"]])[shipment["id"]]
    return {x["id"]: x["quantity_shipped"] for x in lines if x["quantity_shipped"]}


def status(sandbox: Any) -> int:
    """The order's status id in the store."""
    return sandbox.store.get("orders", ORDER)["order_status_id"]


def test_a_discount_line_is_neither_shipped_nor_waited_for(sandbox, tmp_path):
    """Shipping "everything" ships the goods; the discount line is no parcel: order Shipped."""
    make_order(
        sandbox,
        [
            {"id": 1, "sku": "MUG", "quantity": 1},
            {"id": 2, "sku": "DISCOUNT", "quantity": 1, "is_discount_item": True},
        ],
    )
    results, _ = ship(sandbox, tmp_path, {"shipment_id": "S1"})
    assert results[0]["outcome"] == "created"
    assert shipped_lines(sandbox, "S1") == {1: 1}
    assert status(sandbox) == SHIPPED


def test_every_line_partly_shipped_makes_the_order_partially_shipped(sandbox, tmp_path):
    """One of two on each line: Partially Shipped, not left in Processing."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 2}, {"id": 2, "sku": "B", "quantity": 2}]
    )
    items = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]
    ship(sandbox, tmp_path, {"shipment_id": "S1", "items": items})
    assert shipped_lines(sandbox, "S1") == {1: 1, 2: 1}
    assert status(sandbox) == PARTIAL


def test_a_sku_on_two_lines_ships_only_the_quantity_asked(sandbox, tmp_path):
    """The same SKU on two lines, 1 asked: one unit ships, from the first line."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 1}, {"id": 2, "sku": "A", "quantity": 1}]
    )
    ship(sandbox, tmp_path, {"shipment_id": "S1", "items": [{"sku": "A", "quantity": 1}]})
    assert shipped_lines(sandbox, "S1") == {1: 1}
    assert status(sandbox) == PARTIAL


def test_one_sku_twice_in_a_record_cannot_ship_more_than_was_ordered(sandbox, tmp_path):
    """1 ordered, 1 + 1 asked in one record: refused at the second item, nothing written."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 1}])
    items = [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 1}]
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S1", "items": items})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items[1].quantity")
    assert results[0]["error"].endswith(
        "shipping more than was ordered: 1 of SKU 'A' on order 300001, which ordered 1; "
        "other shipments already ship 0 and this record already counts 1"
    )
    assert calls == []


def test_nothing_left_to_ship_is_refused(sandbox, tmp_path):
    """Another shipment already ships every line: a shipment of "everything" has nothing."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S1", {1: 2})])
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S2"})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items")
    assert "nothing left to ship on order 300001" in results[0]["error"]
    assert calls == []


@pytest.mark.parametrize("already", [2, 3], ids=["fully-shipped", "shipped-more-than-ordered"])
def test_the_rest_of_a_line_already_shipped_is_refused(sandbox, tmp_path, already):
    """The SKU without a quantity ("the rest") when others ship all of it, or more: refused.

    A store whose shipments already exceed the order (an import, a manual edit) gets no empty
    shipment either.
    """
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S1", {1: already})])
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S2", "items": [{"sku": "A"}]})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items[0].quantity")
    assert "shipping more than was ordered: the rest of SKU 'A'" in results[0]["error"]
    assert calls == []


def test_a_shipment_sent_again_counts_every_other_shipment(sandbox, tmp_path):
    """S1 and S2 ship 1 each of 2; S1 again with 2 would ship 3: refused, S1 unchanged."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S1", {1: 1}), ("S2", {1: 1})]
    )
    items = [{"sku": "A", "quantity": 2}]
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S1", "items": items})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items[0].quantity")
    assert calls == []
    assert shipped_lines(sandbox, "S1") == {1: 1}


def test_tracking_link_and_ship_date_reach_the_store_and_a_replay_names_the_shipment(
    sandbox, tmp_path
):
    """The customer's tracking link and the ship date are written; sent again: unchanged."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 1}])
    record = {
        "shipment_id": "S1",
        "tracking_numbers": ["1Z999"],
        "tracking_url": "https://track.example.com/1Z999",
        "shipped_at": "2024-05-02T15:04:05Z",
    }
    first, _ = ship(sandbox, tmp_path, record)
    (stored,) = sandbox.store.query("order_shipments", {"order_id": ORDER})
    assert (first[0]["outcome"], first[0]["ids"]["shipment_id"]) == ("created", stored["id"])
    assert stored["tracking_url"] == "https://track.example.com/1Z999"
    assert stored["shipped_at"].startswith("2024-05-02")
    assert set(first[0]["changes"]) >= {"items", "tracking_numbers", "tracking_url"}
    assert not set(first[0]["changes"]) & {"order_id", "shipment_name"}
    again, calls = ship(sandbox, tmp_path, record)
    assert again[0]["outcome"] == "unchanged"
    assert again[0]["ids"]["shipment_id"] == stored["id"]
    assert calls == []


def test_a_line_taken_out_of_a_shipment_is_no_longer_shipped(sandbox, tmp_path):
    """S1 shipped A and B; sent again with A only: B is shipped by nothing, the order partial."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 1}, {"id": 2, "sku": "B", "quantity": 1}]
    )
    both = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]
    ship(sandbox, tmp_path, {"shipment_id": "S1", "items": both})
    assert shipped_lines(sandbox, "S1") == {1: 1, 2: 1}
    results, calls = ship(
        sandbox, tmp_path, {"shipment_id": "S1", "items": [{"sku": "A", "quantity": 1}]}
    )
    assert results[0]["outcome"] == "updated"
    assert results[0]["changes"]["items"] == {
        "old": [{"order_item_id": 1, "quantity": 1}, {"order_item_id": 2, "quantity": 1}],
        "new": [{"order_item_id": 1, "quantity": 1}],
    }
    assert [c.request_json["items"] for c in calls] == [
        [{"id": 1, "quantity_shipped": 1}, {"id": 2, "quantity_shipped": 0}]
    ]
    assert shipped_lines(sandbox, "S1") == {1: 1}


def test_an_order_item_id_picks_its_line_among_lines_of_one_sku(sandbox, tmp_path):
    """Two lines of SKU A: ``order_item_id`` 2 ships line 2, not the first line of the SKU."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 1}, {"id": 2, "sku": "A", "quantity": 1}]
    )
    items = [{"order_item_id": 2, "quantity": 1}]
    ship(sandbox, tmp_path, {"shipment_id": "S1", "items": items})
    assert shipped_lines(sandbox, "S1") == {2: 1}
    results, _ = ship(sandbox, tmp_path, {"shipment_id": "S2", "items": [{"order_item_id": 1}]})
    assert results[0]["outcome"] == "created"
    assert shipped_lines(sandbox, "S2") == {1: 1}
    assert status(sandbox) == SHIPPED


def test_a_line_of_quantity_zero_does_not_ship(sandbox, tmp_path):
    """A line left at 0 (taken off the order) is refused by its id as a line that does not ship."""
    make_order(
        sandbox, [{"id": 1, "sku": "A", "quantity": 1}, {"id": 2, "sku": "B", "quantity": 0}]
    )
    items = [{"order_item_id": 2, "quantity": 1}]
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S1", "items": items})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items[0].order_item_id")
    assert "does not ship" in results[0]["error"]
    assert calls == []


def store_lines(sandbox: Any, name: str) -> dict[int, int | None]:
    """Every line the store holds for shipment ``name``, zeros and nulls included."""
    (shipment,) = [
        s
        for s in sandbox.store.query("order_shipments", {"order_id": ORDER})
        if s["shipment_name"] == name
    ]
    lines = sandbox.store.shipment_items([shipment["id"]])[shipment["id"]]
    return {x["id"]: x["quantity_shipped"] for x in lines}


def test_a_line_the_first_candidate_cannot_take_is_not_sent_at_all(sandbox, tmp_path):
    """SKU A on two lines, the first shipped already: 1 of A ships from line 2 alone.

    Line 1, with nothing left, is not sent as a line of 0.
    """
    make_order(
        sandbox,
        [{"id": 1, "sku": "A", "quantity": 1}, {"id": 2, "sku": "A", "quantity": 1}],
        shipments=[("S0", {1: 1})],
    )
    ship(sandbox, tmp_path, {"shipment_id": "S1", "items": [{"sku": "A", "quantity": 1}]})
    assert store_lines(sandbox, "S1") == {2: 1}
    assert status(sandbox) == SHIPPED


def test_a_shipment_line_the_store_lists_without_a_quantity_ships_nothing(sandbox, tmp_path):
    """A line with no quantity shipped (an import, a manual edit) counts as 0 of that line."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S0", {1: None})])
    ship(sandbox, tmp_path, {"shipment_id": "S1"})
    assert shipped_lines(sandbox, "S1") == {1: 2}
    results, calls = ship(
        sandbox, tmp_path, {"shipment_id": "S0", "items": [{"sku": "A", "quantity": 2}]}
    )
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "items[0].quantity")
    assert calls == []


def test_resending_a_shipment_whose_line_had_no_quantity_writes_its_lines(sandbox, tmp_path):
    """The store's line without a quantity is no line: sending S0 with 1 of A updates it."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S0", {1: None})])
    results, calls = ship(
        sandbox, tmp_path, {"shipment_id": "S0", "items": [{"sku": "A", "quantity": 1}]}
    )
    assert results[0]["outcome"] == "updated"
    assert results[0]["changes"]["items"] == {
        "old": [],
        "new": [{"order_item_id": 1, "quantity": 1}],
    }
    assert len(calls) >= 1
    assert shipped_lines(sandbox, "S0") == {1: 1}


def test_an_unknown_carrier_is_refused_naming_the_carrier(sandbox, tmp_path):
    """A carrier the store has no method for fails the record naming ``carrier``."""
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 1}])
    results, calls = ship(sandbox, tmp_path, {"shipment_id": "S1", "carrier": "Pigeon Post"})
    assert (results[0]["outcome"], results[0]["field"]) == ("failed", "carrier")
    assert calls == []


def test_a_shipment_sent_twice_in_one_batch_is_written_once(sandbox, tmp_path):
    """S1 changed (one more unit, a tracking number), then the same S1 again: one write.

    The second record is compared with what the first wrote: no change of its own, no second
    shipment call (it carries the order's move to Shipped, the batch's last word on the order).
    """
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}], shipments=[("S1", {1: 1})])
    record = {"shipment_id": "S1", "items": [{"sku": "A", "quantity": 2}]}
    record["tracking_numbers"] = ["1Z1"]
    results, calls = ship(sandbox, tmp_path, record, dict(record))
    assert {"items", "tracking_numbers"} <= set(results[0]["changes"])
    assert set(results[1]["changes"]) == {"order_status"}
    assert [c.path.endswith("/order_shipments") for c in calls] == [True, False]  # the status
    assert shipped_lines(sandbox, "S1") == {1: 2}
    (stored,) = sandbox.store.query("order_shipments", {"order_id": ORDER})
    assert stored["tracking_numbers"] == "1Z1"
    assert status(sandbox) == SHIPPED


def test_a_shipment_created_in_a_batch_counts_for_the_next_record(sandbox, tmp_path):
    """S1 is created shipping 1 of 2; in the same batch S2 asks for 2: only 1 is left.

    S1 sent again in the batch writes no shipment: it only carries the order's new status.
    """
    make_order(sandbox, [{"id": 1, "sku": "A", "quantity": 2}])
    s1 = {"shipment_id": "S1", "items": [{"sku": "A", "quantity": 1}]}
    s2 = {"shipment_id": "S2", "items": [{"sku": "A", "quantity": 2}]}
    results, calls = ship(sandbox, tmp_path, s1, s2, dict(s1))
    assert [r["outcome"] for r in results] == ["created", "failed", "updated"]
    assert results[1]["field"] == "items[0].quantity"
    assert set(results[2]["changes"]) == {"order_status"}
    assert [c.path.endswith("/order_shipments") for c in calls] == [True, False]  # the status
    assert shipped_lines(sandbox, "S1") == {1: 1}
    assert status(sandbox) == PARTIAL

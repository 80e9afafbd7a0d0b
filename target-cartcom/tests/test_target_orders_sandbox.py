"""End-to-end tests of the order streams against the sandbox, calls counted from its call log."""

from __future__ import annotations

from typing import Any

import pytest
from cartcom_testing.runs import run_orders as run
from cartcom_testing.runs import writes
from target_cartcom.target import FailedRecordsError


def order(sandbox: Any, order_id: int) -> dict[str, Any]:
    """An order as the store holds it, with items and shipments (with their lines)."""
    doc = sandbox.store.get("orders", order_id)
    doc["items"] = sandbox.store.query("order_items", {"order_id": order_id})
    ships = sandbox.store.query("order_shipments", {"order_id": order_id})
    lines = sandbox.store.shipment_items([s["id"] for s in ships]) if ships else {}
    for s in ships:
        s["items"] = lines.get(s["id"], [])
    doc["shipments"] = ships
    return doc


def kinds(calls: list[Any]) -> list[str]:
    """``METHOD path`` of each call."""
    return [f"{c.method} {c.path.removeprefix('/api/v1/')}" for c in calls]


def multi_line_order(seeded: Any, status: str = "Processing") -> dict[str, Any]:
    """A seeded order in ``status`` with at least two lines, one of quantity >= 2 if possible."""
    best = None
    for oid in seeded.order_ids(status):
        doc = order(seeded, oid)
        if len(doc["items"]) >= 2 and not doc["shipments"]:
            if any(i["quantity"] >= 2 for i in doc["items"]):
                return doc
            best = best or doc
    assert best is not None
    return best


# -- 2. idempotency ---------------------------------------------------------------------------
def test_target_orders_replay_is_reads_only(seeded_sandbox, tmp_path):
    """The same shipments twice: no duplicate, no second status change, second run only reads."""
    ids = seeded_sandbox.processing_order_ids[:5]
    records = [
        {
            "order_id": oid,
            "shipment_id": f"WMS-{oid}",
            "carrier": "UPS",
            "service": "Ground",
            "tracking_numbers": [f"1Z{oid}"],
            "shipped_at": "2024-05-02T15:04:05Z",
        }
        for oid in ids
    ]
    first, summary1, calls1 = run(seeded_sandbox, tmp_path, "order_shipments", records)
    assert [r["outcome"] for r in first] == ["created"] * 5
    assert kinds(writes(calls1)).count("POST order_shipments") == 5
    assert kinds(writes(calls1)).count(f"PUT orders/{ids[0]}/status") == 1
    shipped = seeded_sandbox.order_status_ids["Shipped"]
    for oid in ids:
        doc = order(seeded_sandbox, oid)
        assert doc["order_status_id"] == shipped
        assert [s["shipment_name"] for s in doc["shipments"]] == [f"WMS-{oid}"]
        assert doc["shipments"][0]["tracking_numbers"] == f"1Z{oid}"
        assert doc["shipments"][0]["shipping_provider_name"] == "UPS"
        assert doc["shipments"][0]["shipping_method"] == "UPS Ground"
        assert doc["shipments"][0]["shipping_method_type"] == "provider"
        assert {i["id"]: i["quantity_shipped"] for i in doc["shipments"][0]["items"]} == {
            i["id"]: i["quantity"] for i in doc["items"]
        }
    changed_at = {oid: order(seeded_sandbox, oid)["order_status_last_changed_at"] for oid in ids}

    for _replay in range(2):
        second, summary2, calls2 = run(seeded_sandbox, tmp_path, "order_shipments", records)
        assert writes(calls2) == []
        assert [r["outcome"] for r in second] == ["unchanged"] * 5
        assert summary2["calls"]["writes"] == 0
        for oid in ids:
            doc = order(seeded_sandbox, oid)
            assert len(doc["shipments"]) == 1
            assert doc["order_status_last_changed_at"] == changed_at[oid]
        # Reads only: one select_many for the 5 orders, plus the once-per-run reference reads.
        assert sorted(kinds(calls2)) == [
            "GET order_statuses",
            "GET orders/select_many",
            "GET shipping_providers",
        ]
        assert summary1["failed"] == summary2["failed"] == 0


def test_target_orders_changed_tracking_updates_in_place(seeded_sandbox, tmp_path):
    """A new tracking number updates the same shipment (same shipment_name), nothing else."""
    oid = seeded_sandbox.processing_order_ids[0]
    record = {
        "order_id": oid,
        "shipment_id": "S-1",
        "carrier": "FedEx",
        "service": "2Day",
        "tracking_numbers": ["111"],
    }
    run(seeded_sandbox, tmp_path, "order_shipments", [record])
    before = order(seeded_sandbox, oid)["shipments"]
    results, _, calls = run(
        seeded_sandbox,
        tmp_path,
        "order_shipments",
        [{**record, "tracking_numbers": ["222", "333"]}],
    )
    after = order(seeded_sandbox, oid)["shipments"]
    assert len(after) == 1
    assert after[0]["id"] == before[0]["id"]
    assert after[0]["tracking_numbers"] == "222,333"
    assert kinds(writes(calls)) == ["POST order_shipments"]
    assert results[0]["outcome"] == "updated"
    assert results[0]["changes"] == {"tracking_numbers": {"old": "111", "new": "222,333"}}
    assert writes(calls)[0].request_json["id"] == before[0]["id"]


# -- 3. partial shipments ---------------------------------------------------------------------
def test_target_orders_partial_then_rest(seeded_sandbox, tmp_path):
    """Two shipments with different lines: two store shipments, partial then shipped status."""
    doc = multi_line_order(seeded_sandbox)
    oid = doc["id"]
    first_line, *rest = doc["items"]
    one = {
        "order_id": oid,
        "shipment_id": "P-1",
        "carrier": "USPS",
        "service": "Priority Mail",
        "tracking_numbers": ["9400100000000000000001"],
        "items": [{"sku": first_line["item_number_full"], "quantity": 1}],
    }
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", [one])
    now = order(seeded_sandbox, oid)
    assert now["order_status_id"] == seeded_sandbox.order_status_ids["Partially Shipped"]
    assert results[0]["changes"]["order_status"] == {
        "old": "Processing",
        "new": "Partially Shipped",
    }
    assert kinds(writes(calls)) == ["POST order_shipments", f"PUT orders/{oid}/status"]

    two = {
        "order_id": oid,
        "shipment_id": "P-2",
        "carrier": "USPS",
        "tracking_numbers": ["9400100000000000000002"],
    }  # no items: whatever remains
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", [two])
    now = order(seeded_sandbox, oid)
    assert now["order_status_id"] == seeded_sandbox.order_status_ids["Shipped"]
    assert now["previous_order_status_id"] == seeded_sandbox.order_status_ids["Partially Shipped"]
    assert sorted(s["shipment_name"] for s in now["shipments"]) == ["P-1", "P-2"]
    second = next(s for s in now["shipments"] if s["shipment_name"] == "P-2")
    expected = {i["id"]: i["quantity"] for i in rest}
    if first_line["quantity"] > 1:
        expected[first_line["id"]] = first_line["quantity"] - 1
    assert {i["id"]: i["quantity_shipped"] for i in second["items"]} == expected
    assert results[0]["outcome"] == "created"
    assert kinds(writes(calls)) == ["POST order_shipments", f"PUT orders/{oid}/status"]

    # Both replayed (P-2 still means "what the other shipments leave"): nothing to write.
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", [one, two])
    assert [r["outcome"] for r in results] == ["unchanged", "unchanged"]
    assert writes(calls) == []


def test_target_orders_partial_in_one_batch(seeded_sandbox, tmp_path):
    """Both shipments in one batch: one status write, for the final state (Shipped)."""
    doc = multi_line_order(seeded_sandbox)
    oid = doc["id"]
    a, *rest = doc["items"]
    records = [
        {"order_id": oid, "shipment_id": "B-1", "items": [{"order_item_id": a["id"]}]},
        {
            "order_id": oid,
            "shipment_id": "B-2",
            "items": [{"order_item_id": i["id"], "quantity": int(i["quantity"])} for i in rest],
        },
    ]
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", records)
    assert [r["outcome"] for r in results] == ["created", "created"]
    assert kinds(writes(calls)).count(f"PUT orders/{oid}/status") == 1
    assert (
        order(seeded_sandbox, oid)["order_status_id"] == seeded_sandbox.order_status_ids["Shipped"]
    )


# -- 4. bad inputs ----------------------------------------------------------------------------
def test_target_orders_bad_inputs_fail_alone(seeded_sandbox, tmp_path):
    """Each bad record gets its own clear error; the good ones in the same batch go through."""
    good, other, third = (
        multi_line_order(seeded_sandbox, "Processing"),
        *(order(seeded_sandbox, i) for i in seeded_sandbox.processing_order_ids[-2:]),
    )
    line = good["items"][0]
    records = [
        {"order_id": 999_999, "shipment_id": "X-unknown-order"},
        {
            "order_id": good["id"],
            "shipment_id": "X-sku",
            "items": [{"sku": "NO-SUCH-SKU", "quantity": 1}],
        },
        {
            "order_id": good["id"],
            "shipment_id": "X-too-many",
            "items": [{"order_item_id": line["id"], "quantity": int(line["quantity"]) + 1}],
        },
        {"order_id": good["id"], "shipment_id": "OK-1", "items": [{"order_item_id": line["id"]}]},
        {
            "order_id": good["id"],
            "shipment_id": "X-again",  # OK-1 already ships that whole line
            "items": [{"order_item_id": line["id"], "quantity": 1}],
        },
        {"order_id": other["id"], "shipment_id": "X-date", "shipped_at": "2024-13-45T25:00:00"},
        {"order_id": other["id"], "shipment_id": "X-carrier", "carrier": "Pony Express"},
        {
            "order_id": third["id"],
            "shipment_id": "OK-2",
            "carrier": "DHL",
            "shipped_at": "2024-05-02T10:00:00-05:00",
            "tracking_numbers": ["JD014600003"],
        },
    ]
    results, summary, calls = run(seeded_sandbox, tmp_path, "order_shipments", records)
    by_key = {r["key"]: r for r in results}
    assert len(results) == len(records)
    assert by_key["X-unknown-order"]["error"].startswith("unknown order")
    assert by_key["X-unknown-order"]["field"] == "order_id"
    assert "unknown SKU 'NO-SUCH-SKU'" in by_key["X-sku"]["error"]
    assert by_key["X-sku"]["field"] == "items[0].sku"
    assert by_key["X-too-many"]["error"].startswith("shipping more than was ordered")
    assert by_key["X-again"]["error"].startswith("shipping more than was ordered")
    assert f"other shipments already ship {int(line['quantity'])}" in by_key["X-again"]["error"]
    assert by_key["X-date"]["error"].startswith("malformed date")
    assert by_key["X-date"]["field"] == "shipped_at"
    assert "unknown carrier 'Pony Express'" in by_key["X-carrier"]["error"]
    assert by_key["OK-1"]["outcome"] == "created"
    assert by_key["OK-2"]["outcome"] == "created"
    assert summary["failed"] == 6
    posted = [c.request_json["shipment_name"] for c in calls if c.method == "POST"]
    assert posted == ["OK-1", "OK-2"]
    dhl = order(seeded_sandbox, third["id"])["shipments"][0]
    assert (dhl["shipping_provider_name"], dhl["shipping_method"]) == (
        "DHL",
        "DHL Express Worldwide",
    )
    assert order(seeded_sandbox, other["id"])["shipments"] == []


def test_target_orders_fail_on_record_errors_exits_after_all(seeded_sandbox, tmp_path):
    """With fail_on_record_errors the run fails, but only after the good records were applied."""
    oid = seeded_sandbox.processing_order_ids[0]
    records = [
        {"order_id": 999_999, "shipment_id": "bad"},
        {"order_id": oid, "shipment_id": "good"},
    ]
    with pytest.raises(FailedRecordsError, match="1 record"):
        run(seeded_sandbox, tmp_path, "order_shipments", records, fail_on_record_errors=True)
    assert [s["shipment_name"] for s in order(seeded_sandbox, oid)["shipments"]] == ["good"]


def test_target_orders_by_order_number_one_lookup(seeded_sandbox, tmp_path):
    """Orders given by order_number are found with one OR-ed query, which is also their read."""
    ids = seeded_sandbox.processing_order_ids[:3]
    for n, oid in enumerate(ids):
        seeded_sandbox.store.update("orders", oid, {"order_number": f"EXT {n}+A&B"})
    records = [
        {
            "order_number": f"EXT {n}+A&B",
            "shipment_id": f"N-{n}",
            "carrier": "UPS",
            "service": "UPS_2ND_DAY_AIR",
        }
        for n in range(3)
    ]
    records.append({"order_number": "NOPE-1", "shipment_id": "N-x"})
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", records)
    assert [r["outcome"] for r in results if r["key"] != "N-x"] == ["created"] * 3
    assert next(r for r in results if r["key"] == "N-x")["error"].startswith("unknown order")
    order_reads = [c for c in calls if c.method == "GET" and c.path.endswith("/orders")]
    assert len(order_reads) == 1
    assert "select_many" not in " ".join(kinds(calls))
    for oid in ids:
        assert order(seeded_sandbox, oid)["shipments"][0]["shipping_method"] == "UPS 2nd Day Air"


# -- 6. acknowledgements ----------------------------------------------------------------------
def test_target_orders_acknowledgements(seeded_sandbox, tmp_path):
    """Only orders that need it change; history fields move like Cart.com's; bad names fail."""
    st = seeded_sandbox.order_status_ids
    processing = seeded_sandbox.processing_order_ids[:2]
    pending = seeded_sandbox.order_ids("Pending")[:2]
    shipped = seeded_sandbox.order_ids("Shipped")[0]
    before = {oid: order(seeded_sandbox, oid) for oid in (*processing, *pending, shipped)}
    records = [
        {"order_id": processing[0], "status": "Processing"},  # already: zero writes
        {"order_id": processing[1], "status": "processing"},  # case-insensitive, already
        {"order_id": pending[0], "status": "Processing"},
        {"order_id": pending[1], "status": st["Processing"]},  # by id
        {"order_id": shipped, "status": "Processing", "from_status": ["Pending"]},  # guarded
        {"order_id": pending[0], "status": "Acknowledged"},  # a name the store lacks
        {"order_id": 999_999, "status": "Processing"},
    ]
    results, summary, calls = run(seeded_sandbox, tmp_path, "order_acknowledgements", records)
    assert [r["outcome"] for r in results] == [
        "unchanged",
        "unchanged",
        "updated",
        "updated",
        "skipped",
        "failed",
        "failed",
    ]
    assert "no order status 'Acknowledged'" in results[5]["error"]
    assert results[5]["field"] == "status"
    assert results[6]["error"].startswith("unknown order")
    assert kinds(writes(calls)) == [
        f"PUT orders/{pending[0]}/status",
        f"PUT orders/{pending[1]}/status",
    ]
    assert kinds([c for c in calls if c.method == "GET"]) == [
        "GET order_statuses",
        "GET orders/select_many",
    ]
    for oid in pending:
        now = order(seeded_sandbox, oid)
        assert now["order_status_id"] == st["Processing"]
        assert now["previous_order_status_id"] == st["Pending"]
        assert now["order_status_last_changed_at"] != before[oid]["order_status_last_changed_at"]
    for oid in (*processing, shipped):
        now = order(seeded_sandbox, oid)
        for name in ("order_status_id", "previous_order_status_id", "order_status_last_changed_at"):
            assert now[name] == before[oid][name]
    assert summary["outcomes"]["order_acknowledgements"] == {
        "unchanged": 2,
        "updated": 2,
        "skipped": 1,
        "failed": 2,
    }


# -- dry run ----------------------------------------------------------------------------------
def test_target_orders_dry_run_plans_without_writing(seeded_sandbox, tmp_path):
    """dry_run: reads, plans the upsert and the status change, writes nothing."""
    oid = seeded_sandbox.processing_order_ids[0]
    record = {
        "order_id": oid,
        "shipment_id": "D-1",
        "carrier": "FedEx",
        "service": "Ground",
        "tracking_numbers": ["7777"],
    }
    results, summary, calls = run(
        seeded_sandbox, tmp_path, "order_shipments", [record], dry_run=True
    )
    assert writes(calls) == []
    assert order(seeded_sandbox, oid)["shipments"] == []
    assert results[0]["outcome"] == "created"
    assert results[0]["dry_run"] is True
    planned = [(c["method"], c["path"]) for c in results[0]["planned_calls"]]
    assert planned == [("POST", "order_shipments"), ("PUT", f"orders/{oid}/status")]
    assert summary["calls"]["planned_writes"] == 2
    assert results[0]["changes"]["order_status"] == {"old": "Processing", "new": "Shipped"}


# -- retry safety -----------------------------------------------------------------------------
def test_target_orders_lost_post_answer_is_re_sent_safely(seeded_sandbox, tmp_path):
    """The store applies the POST but the answer is lost: the target re-sends it.

    That is safe because Cart.com upserts by shipment_name within the order: one shipment.
    """
    oid = seeded_sandbox.processing_order_ids[0]
    seeded_sandbox.faults.script(
        [{"kind": "drop", "process": True, "method": "POST", "path": "/order_shipments"}]
    )
    record = {"order_id": oid, "shipment_id": "R-1", "tracking_numbers": ["42"]}
    results, summary, calls = run(seeded_sandbox, tmp_path, "order_shipments", [record])
    assert kinds(writes(calls)).count("POST order_shipments") == 2
    assert [s["shipment_name"] for s in order(seeded_sandbox, oid)["shipments"]] == ["R-1"]
    assert results[0]["outcome"] == "created"
    assert summary["failed"] == 0


def test_target_orders_notify_false_and_mark_shipped_off(seeded_sandbox, tmp_path):
    """notify_customer false sets the status with the silent PUT; mark_shipped off sets none."""
    a, b = seeded_sandbox.processing_order_ids[:2]
    _, _, calls = run(
        seeded_sandbox,
        tmp_path,
        "order_shipments",
        [{"order_id": a, "shipment_id": "Q-1", "notify_customer": False}],
    )
    assert kinds(writes(calls)) == ["POST order_shipments", f"PUT orders/{a}"]
    assert order(seeded_sandbox, a)["order_status_id"] == seeded_sandbox.order_status_ids["Shipped"]
    _, _, calls = run(
        seeded_sandbox,
        tmp_path,
        "order_shipments",
        [{"order_id": b, "shipment_id": "Q-2"}],
        mark_shipped=False,
    )
    assert kinds(writes(calls)) == ["POST order_shipments"]
    assert (
        order(seeded_sandbox, b)["order_status_id"] == seeded_sandbox.order_status_ids["Processing"]
    )


def test_target_orders_status_not_moved_from_closed_statuses(seeded_sandbox, tmp_path):
    """A Completed order gets its tracking but keeps its status (only open ones are moved)."""
    oid = seeded_sandbox.order_ids("Completed")[0]
    for shipment in order(seeded_sandbox, oid)["shipments"]:  # as if tracking never came
        seeded_sandbox.store.delete("order_shipments", shipment["id"])
    results, _, calls = run(
        seeded_sandbox,
        tmp_path,
        "order_shipments",
        [{"order_id": oid, "shipment_id": "C-1", "tracking_numbers": ["9"]}],
    )
    assert results[0]["outcome"] == "created"
    assert kinds(writes(calls)) == ["POST order_shipments"]
    assert (
        order(seeded_sandbox, oid)["order_status_id"]
        == seeded_sandbox.order_status_ids["Completed"]
    )


def test_target_orders_reference_read_once_per_run(seeded_sandbox, tmp_path):
    """Several batches in one run: one order read per batch, reference lists read once."""
    ids = seeded_sandbox.processing_order_ids[:6]
    records = [{"order_id": oid, "shipment_id": f"K-{oid}", "carrier": "UPS"} for oid in ids]
    results, _, calls = run(seeded_sandbox, tmp_path, "order_shipments", records, batch_size_rows=2)
    assert [r["outcome"] for r in results] == ["created"] * 6
    reads = kinds([c for c in calls if c.method == "GET"])
    assert reads.count("GET orders/select_many") == 3
    assert reads.count("GET order_statuses") == 1
    assert reads.count("GET shipping_providers") == 1
    assert len(reads) == 5

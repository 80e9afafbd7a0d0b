"""Must-show 1, the round trip of orders through tap, warehouse and target.

tap-cartcom extracts the orders in "Processing", a fixture shipping step turns them into shipment
records, target-cartcom pushes them, and tap-cartcom then shows the shipments, their lines and the
shipped status. Everything runs in-process against the seeded sandbox; calls are counted from its
call log.
"""

from __future__ import annotations

import contextlib
import io
import json
from importlib import resources
from typing import Any

from cartcom_testing.runs import run_tap, tap_config
from target_cartcom.target import TargetCartcom

SHIPMENT_SCHEMA = json.loads(
    (resources.files("target_cartcom") / "schemas" / "order_shipment.schema.json").read_text()
)
CARRIERS = [("UPS", "Ground"), ("FedEx", "2Day"), ("USPS", "Priority Mail"), ("DHL", None)]


def run_orders_tap(sandbox: Any, statuses: list[str]) -> dict[str, list[dict[str, Any]]]:
    """One fresh tap run filtered on ``statuses``; its records by stream."""
    config = tap_config(
        sandbox,
        calls_per_window=100_000,
        order_status_names=statuses,
        # A Get Orders window covering the whole seeded history (the default is 30 days).
        orders_created_within_days=3650,
    )
    del config["page_size"]  # the tap's default page size
    return run_tap(config)["records"]


def ship(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fixture's warehouse: every order leaves whole, lines by SKU.

    Every third order goes in two parcels (the first line alone, then the rest).
    """
    shipments = []
    for n, order in enumerate(orders):
        carrier, service = CARRIERS[n % len(CARRIERS)]
        lines = [
            {"sku": i["item_number_full"], "quantity": int(i["quantity"])}
            for i in order["items"]
            if not i["is_discount_item"]
        ]
        parcels = [lines[:1], lines[1:]] if n % 3 == 0 and len(lines) > 1 else [lines]
        for p, parcel in enumerate(parcels):
            shipments.append(
                {
                    "order_id": order["id"],
                    "shipment_id": f"WH-{order['id']}-{p + 1}",
                    "carrier": carrier,
                    "service": service,
                    "tracking_numbers": [f"TRK{order['id']}{p}"],
                    "tracking_url": f"https://track.example/{order['id']}/{p}",
                    "shipped_at": "2024-05-02T15:04:05Z",
                    "items": parcel,
                }
            )
    return shipments


def run_target(
    sandbox: Any, records: list[dict[str, Any]], results_path: Any
) -> list[dict[str, Any]]:
    """Push ``records`` through target-cartcom; the per-record results."""
    lines = [
        {
            "type": "SCHEMA",
            "stream": "order_shipments",
            "schema": SHIPMENT_SCHEMA,
            "key_properties": [],
        }
    ]
    lines += [{"type": "RECORD", "stream": "order_shipments", "record": r} for r in records]
    config = {
        "api_url": sandbox.base_url,
        "access_token": sandbox.token,
        "calls_per_window": 100_000,
        "results_path": str(results_path),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        TargetCartcom(config=config, parse_env_config=False).listen(
            io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n")
        )
    return [json.loads(x) for x in results_path.read_text().splitlines()][:-1]


def test_e2e_roundtrip_tap_ship_target_tap(seeded_sandbox, tmp_path):
    """Processing orders extracted, shipped, pushed, and seen shipped by the tap."""
    before = run_orders_tap(seeded_sandbox, ["Processing"])
    statuses = {s["name"]: s["id"] for s in before["order_statuses"]}
    orders = before["orders"]
    assert len(orders) >= 20
    assert {o["order_status_id"] for o in orders} == {statuses["Processing"]}
    assert all(o["shipments"] == [] for o in orders)

    shipments = ship(orders)
    start = len(seeded_sandbox.calls)
    results = run_target(seeded_sandbox, shipments, tmp_path / "results.jsonl")
    calls = seeded_sandbox.calls.snapshot()[start:]
    assert [r["outcome"] for r in results] == ["created"] * len(shipments)
    posts = [c for c in calls if c.method == "POST"]
    puts = [c for c in calls if c.method == "PUT"]
    reads = [c for c in calls if c.method == "GET"]
    assert len(posts) == len(shipments)
    assert len(puts) == len(orders)  # one status change per order, even for two parcels
    assert len([c for c in reads if c.path.endswith("/orders/select_many")]) == -(
        -len(orders) // 100
    )
    assert len(reads) == -(-len(orders) // 100) + 2  # + order_statuses + shipping_providers

    after = run_orders_tap(seeded_sandbox, ["Shipped"])
    shipped = {o["id"]: o for o in after["orders"]}
    sent: dict[str, dict[str, Any]] = {s["shipment_id"]: s for s in shipments}
    for order in orders:
        seen = shipped[order["id"]]  # now in the Shipped extract
        assert seen["order_status_id"] == statuses["Shipped"]
        assert seen["previous_order_status_id"] == statuses["Processing"]
        by_sku = {i["id"]: i["item_number_full"] for i in order["items"]}
        mine = [s for s in seen["shipments"] if s["shipment_name"] in sent]
        assert len(mine) == len(seen["shipments"]) >= 1
        for shipment in mine:
            record = sent[shipment["shipment_name"]]
            assert shipment["tracking_numbers"] == ",".join(record["tracking_numbers"])
            assert shipment["tracking_url"] == record["tracking_url"]
            assert shipment["shipping_provider_name"] == record["carrier"]
            assert shipment["shipping_method_type"] == "provider"
            assert {by_sku[i["id"]]: i["quantity_shipped"] for i in shipment["items"]} == {
                i["sku"]: i["quantity"] for i in record["items"]
            }
    tap_shipments = {s["shipment_name"] for s in after.get("order_shipments", [])}
    assert set(sent) <= tap_shipments

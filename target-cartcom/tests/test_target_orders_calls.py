"""Must-show 5: the calls needed to push tracking for 1,000 orders, counted by the sandbox."""

from __future__ import annotations

import io
import json
import math
from importlib import resources
from typing import Any

import pytest
from cartcom_sandbox.seeding import data
from target_cartcom.target import TargetCartcom

SCHEMA = json.loads(
    (resources.files("target_cartcom") / "schemas" / "order_shipment.schema.json").read_text()
)
CARRIERS = [("UPS", "Ground"), ("FedEx", "2Day"), ("USPS", "Priority Mail"), ("DHL", None)]


def build_store(
    sandbox: Any, orders: int, shipped_every: int = 10, number_len: int = 0
) -> list[int]:
    """Statuses, carriers and ``orders`` open orders of 1-3 lines; return their ids.

    Every ``shipped_every``-th order is already in Shipped (its status must not be written again).
    """
    store = sandbox.store
    store.bulk_insert(
        "order_statuses",
        [
            {"id": n, "name": name, **flags}
            for n, (name, flags, _c) in enumerate(data.ORDER_STATUSES, 1)
        ],
    )
    providers, services, sid = [], [], 0
    for pid, (name, code, _url, svcs) in enumerate(data.SHIPPING_PROVIDERS, 1):
        providers.append({"id": pid, "name": name, "provider_code": code, "is_enabled": True})
        for ident, sname, _cost in svcs:
            sid += 1
            services.append(
                {
                    "id": sid,
                    "shipping_provider_id": pid,
                    "identifier": ident,
                    "name": sname,
                    "is_enabled": True,
                }
            )
    store.bulk_insert("shipping_providers", providers)
    store.bulk_insert("shipping_provider_services", services)
    docs, items, item_id = [], [], 0
    ids = list(range(200_000, 200_000 + orders))
    for n, oid in enumerate(ids):
        status = 4 if n % shipped_every == 0 else 2
        number = f"EXT-{oid}".ljust(number_len, "X") if number_len else ""
        docs.append(
            {
                "id": oid,
                "order_status_id": status,
                "order_number": number,
                "selected_shipping_provider_service": "UPS_GROUND",
            }
        )
        for line in range(1 + n % 3):
            item_id += 1
            items.append(
                {
                    "id": item_id,
                    "order_id": oid,
                    "item_number": f"SKU-{line}",
                    "item_number_full": f"SKU-{line}-{oid}",
                    "quantity": 1 + line,
                    "is_discount_item": False,
                    "is_non_shipping_item": False,
                }
            )
    store.bulk_insert("orders", docs)
    store.bulk_insert("order_items", items)
    return ids


def push(sandbox: Any, records: list[dict[str, Any]], tmp_path: Any) -> tuple[list[Any], dict]:
    """Run the target over ``records``; return the calls it made and the summary."""
    lines = [
        {"type": "SCHEMA", "stream": "order_shipments", "schema": SCHEMA, "key_properties": []}
    ]
    lines += [{"type": "RECORD", "stream": "order_shipments", "record": r} for r in records]
    results = tmp_path / "results.jsonl"
    target = TargetCartcom(
        config={
            "api_url": sandbox.base_url,
            "access_token": sandbox.token,
            "calls_per_window": 100_000,
            "results_path": str(results),
        },
        parse_env_config=False,
    )
    before = len(sandbox.calls)
    target.listen(io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n"))
    summary = json.loads(results.read_text().splitlines()[-1])
    return sandbox.calls.snapshot()[before:], summary


@pytest.mark.slow
def test_target_orders_calls_for_1000_orders(sandbox, tmp_path):
    """Tracking for 1,000 orders: ceil(1000/100) order reads + 2 reference reads.

    Plus one POST per shipment and one status PUT per order whose status changes (the 100 orders
    already Shipped get none).
    """
    ids = build_store(sandbox, 1000)
    records = []
    for n, oid in enumerate(ids):
        carrier, service = CARRIERS[n % len(CARRIERS)]
        records.append(
            {
                "order_id": oid,
                "shipment_id": f"WMS-{oid}",
                "carrier": carrier,
                "service": service,
                "tracking_numbers": [f"TRK{oid}"],
                "shipped_at": "2024-05-02T15:04:05Z",
            }
        )
    calls, summary = push(sandbox, records, tmp_path)
    reads = [c for c in calls if c.method == "GET"]
    order_reads = [c for c in reads if c.path.endswith("/orders/select_many")]
    assert len(order_reads) == math.ceil(1000 / 100)
    assert all(c.status == 200 and len(c.path) + 1 + len(c.query) <= 2048 for c in order_reads)
    assert all(len(c.query.split("&")[0].split(",")) <= 100 for c in order_reads)
    # The once-per-run reference reads: order statuses, and providers with their services.
    assert sorted(c.path for c in reads if c not in order_reads) == [
        "/api/v1/order_statuses",
        "/api/v1/shipping_providers",
    ]
    posts = [c for c in calls if c.method == "POST"]
    puts = [c for c in calls if c.method == "PUT"]
    assert len(posts) == 1000
    assert all(c.path == "/api/v1/order_shipments" for c in posts)
    assert len(puts) == 900
    assert all(c.path.endswith("/status") for c in puts)
    assert len(calls) == 10 + 2 + 1000 + 900
    assert summary["calls"] == {"reads": 12, "writes": 1900, "planned_writes": 1900}
    assert summary["outcomes"]["order_shipments"] == {"created": 1000}
    assert sandbox.store.count("order_shipments") == 1000


def test_target_orders_order_numbers_split_to_fit_url_cap(sandbox, tmp_path):
    """100 long order numbers do not fit one 2,048-character URL: the lookup is split.

    Not refused (the sandbox answers 414 past the cap), and still no call per order.
    """
    build_store(sandbox, 100, number_len=60)
    records = [
        {"order_number": f"EXT-{oid}".ljust(60, "X"), "shipment_id": f"S-{oid}"}
        for oid in range(200_000, 200_100)
    ]
    calls, summary = push(sandbox, records, tmp_path)
    lookups = [c for c in calls if c.method == "GET" and c.path == "/api/v1/orders"]
    # Each number goes as ``eq:<60 chars>``, OR-joined, after the fixed part of the URL.
    fixed = len("/api/v1/orders?order_number=&expand=items,shipments&count=100")
    per_url = (2048 - fixed + len("+OR+")) // len("eq:" + "X" * 60 + "+OR+")
    assert [c.query.count("+OR+") + 1 for c in lookups] == [per_url] * 3 + [100 - 3 * per_url]
    assert all(c.status == 200 for c in lookups)
    assert all(len(c.path) + 1 + len(c.query) <= 2048 for c in lookups)
    assert not [c for c in calls if "select_many" in c.path]
    assert summary["outcomes"]["order_shipments"] == {"created": 100}

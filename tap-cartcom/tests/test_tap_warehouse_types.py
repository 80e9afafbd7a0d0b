"""What a warehouse loader gets from the tap: typed flags and dimensions, store-local time.

Loaders build columns from the SCHEMA messages (target-postgres, target-duckdb): a 0/1 flag
declared ``boolean`` is a boolean column, a dimension declared ``number`` a numeric one, and
each timestamp ``x`` has a twin ``x_local`` with the store's own clock and offset, so a
merchant can group by the store's calendar day while ``x`` and the bookmarks stay UTC.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tap_test_support import CDT, CST, base_config, local_stamp, run_tap

#: 0/1 flags as Cart.com sends them (integers), docs/api.md §9.
PRODUCT_FLAGS = (
    "is_spotlight_item",
    "is_non_taxable",
    "is_shipped_individually",
    "is_hidden",
    "e_product_allow_multiple_deliveries",
    "call_for_shipping",
    "call_for_pricing",
)


def _walk(schema: dict[str, Any], path: str = ""):
    """Every (path, properties) of an object schema, nested objects and array items included."""
    properties = schema.get("properties") or {}
    yield path, properties
    for name, prop in properties.items():
        if prop.get("properties"):
            yield from _walk(prop, f"{path}{name}.")
        items = prop.get("items")
        if isinstance(items, dict) and items.get("properties"):
            yield from _walk(items, f"{path}{name}[].")


def test_flags_sent_as_0_or_1_are_booleans(fake):
    """Products' 0/1 flags and orders' ``exported_to_accounting_system`` come out true/false."""
    fake.products[0].update(dict.fromkeys(PRODUCT_FLAGS, 1))
    fake.products[1].update(dict.fromkeys(PRODUCT_FLAGS, 0))
    fake.products[2]["is_hidden"] = None
    run = run_tap(base_config(), streams=("orders", "products"))
    schema = run["schemas"]["products"]["properties"]
    assert [schema[f]["type"] for f in PRODUCT_FLAGS] == [["boolean", "null"]] * len(PRODUCT_FLAGS)
    products = {p["id"]: p for p in run["records"]["products"]}
    first, second, third = (products[p["id"]] for p in fake.products)
    assert [first[f] for f in PRODUCT_FLAGS] == [True] * len(PRODUCT_FLAGS)
    assert [second[f] for f in PRODUCT_FLAGS] == [False] * len(PRODUCT_FLAGS)
    assert third["is_hidden"] is None
    orders = run["records"]["orders"]
    sent = {o["id"]: o["exported_to_accounting_system"] for o in fake.orders}
    assert {o["id"]: o["exported_to_accounting_system"] for o in orders} == {
        i: bool(v) for i, v in sent.items()
    }
    assert run["schemas"]["orders"]["properties"]["exported_to_accounting_system"]["type"] == [
        "boolean",
        "null",
    ]


def test_dimensions_sent_as_text_are_numbers(fake, caplog):
    """``"2.5"`` is 2.5, ``""`` null; text that is no number is null with a warning naming it."""
    fake.products[0].update(height="2.5", length="", width=" 12 ")
    fake.products[1].update(height="about 3", length="NaN", width=4)
    fake.orders[0]["_shipments"][0]["provider_base_shipping_cost"] = "7.25"
    with caplog.at_level(logging.WARNING, logger="tap-cartcom"):
        run = run_tap(
            base_config(),
            streams=("orders", "order_items", "order_shipments", "products", "variant_inventory"),
        )
    for stream, fields in (
        ("products", ("height", "length", "width")),
        ("order_items", ("height", "length", "width")),
        ("variant_inventory", ("height", "length", "width")),
        ("order_shipments", ("provider_base_shipping_cost",)),
    ):
        properties = run["schemas"][stream]["properties"]
        assert [properties[f]["type"] for f in fields] == [["number", "null"]] * len(fields)
    products = {p["id"]: p for p in run["records"]["products"]}
    first, second = products[fake.products[0]["id"]], products[fake.products[1]["id"]]
    assert (first["height"], first["length"], first["width"]) == (2.5, None, 12.0)
    assert (second["height"], second["length"], second["width"]) == (None, None, 4)
    item = run["records"]["order_items"][0]
    assert item["length"] == 4.0  # the fake sends "4"
    assert run["records"]["orders"][0]["items"][0]["length"] == 4.0
    shipment = next(
        s for s in run["records"]["order_shipments"] if s["order_id"] == fake.orders[0]["id"]
    )
    assert shipment["provider_base_shipping_cost"] == 7.25
    warnings = [r.getMessage() for r in caplog.records if "Unparseable number" in r.getMessage()]
    pid = fake.products[1]["id"]
    assert any(f"products record id={pid}, field `height`: 'about 3'" in w for w in warnings)
    assert any(f"products record id={pid}, field `length`: 'NaN'" in w for w in warnings)
    assert len(warnings) == 2


@pytest.mark.parametrize("zone", [CST, CDT], ids=["CST", "CDT"])
def test_local_twin_keeps_the_store_clock_and_offset(fake, zone):
    """An evening order is on the store's day in ``*_local`` and the next day in UTC.

    ``created_at`` stays UTC (and the bookmark with it); ``created_at_local`` is the same
    instant as the store wrote it, in the orders, their nested items and the child rows.
    """
    fake.orders.clear()
    fake.addresses.clear()
    evening = datetime(2024, 3, 1, 20, 30, tzinfo=zone)  # 02:30 or 01:30 UTC on March 2
    order = fake.add_order(evening.astimezone(UTC))
    for key in ("created_at", "ordered_at", "updated_at"):
        order[key] = local_stamp(evening, 3, zone)
    for item in order["_items"]:
        item["created_at"] = local_stamp(evening, 7, zone)
    offset = "-06:00" if zone is CST else "-05:00"
    now = evening + timedelta(hours=2)
    run = run_tap(
        base_config(),
        streams=("orders", "order_items", "order_payments"),
        now=now.astimezone(UTC),
    )
    (record,) = run["records"]["orders"]
    assert record["created_at"].startswith("2024-03-02T")
    assert record["created_at"].endswith("Z")
    assert record["created_at_local"] == f"2024-03-01T20:30:00.000000{offset}"
    assert record["ordered_at_local"][:10] == "2024-03-01"
    assert record["updated_at_local"] == record["created_at_local"]
    assert record["expires_at_local"] is None  # sent as null
    assert record["due_date_local"] is None  # sent as ""
    items = run["records"]["order_items"]
    assert items
    assert {i["created_at_local"] for i in items} == {f"2024-03-01T20:30:00.000000{offset}"}
    assert {i["created_at_local"] for i in record["items"]} == {
        f"2024-03-01T20:30:00.000000{offset}"
    }
    assert {i["created_at"] for i in items} == {record["created_at"]}
    # The state is as before: UTC text with Z (bookmarks compare as strings).
    marks = run["state"]["bookmarks"]["orders"]
    assert marks["replication_key_value"].endswith("Z")
    assert all(v.endswith("Z") for v in marks["emitted"].values())


def test_every_timestamp_has_a_local_twin_in_every_schema(fake):
    """Each date-time field, top level or nested, has an ``_local`` text twin right after it."""
    run = run_tap(base_config())
    assert len(run["schemas"]) == 16
    missing = []
    for stream, schema in run["schemas"].items():
        for path, properties in _walk(schema):
            names = list(properties)
            for index, name in enumerate(names):
                if properties[name].get("format") != "date-time":
                    continue
                twin = properties.get(f"{name}_local")
                if (
                    twin is None
                    or twin.get("type") != ["string", "null"]
                    or "format" in twin
                    or names[index + 1] != f"{name}_local"
                ):
                    missing.append(f"{stream}: {path}{name}")
    assert not missing

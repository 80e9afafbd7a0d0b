"""The suite has teeth: real bodies with one field's type changed fail validation.

Faithful sandbox bodies also fail the RAW spec, which is why the overlay exists.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cartcom_testing import conformance as C  # noqa: N812


def _load_helpers() -> Any:
    name = "_cartcom_conformance_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_conformance_helpers.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


H = _load_helpers()


@pytest.fixture(scope="module")
def bodies() -> Iterator[dict[str, tuple[str, Any]]]:
    """Real sandbox responses, each with the pointer of the schema it answers to."""
    with H.running_sandbox(products=6, orders=20, seed=5) as live:
        listed = live.ok("GET", "/order_shipments", params={"count": 1}, status=200)
        keys = C.RESOURCE_SCHEMAS["order_shipments"]["list_keys"]
        shipment = next(listed[k] for k in keys if k in listed)[0]
        calls = {
            "orders": ("GET", "/orders", {"count": 3, "expand": "items,shipments,payments"}),
            "products": ("GET", "/products", {"count": 6, "expand": "variant_inventory"}),
            "order_items": ("GET", "/order_items", {"count": 3}),
            "order_addresses": ("GET", "/order_addresses", {"count": 3}),
            "shipment": ("GET", f"/order_shipments/{shipment['id']}", {"expand": "items"}),
            "not_found": ("GET", "/orders/999999999", None),
        }
        out = {}
        for key, (method, path, params) in calls.items():
            res = live.call(method, path, params=params)
            out[key] = (res.pointer, res.body)
        # Rows with nested lines first, so the nested mutations always have a target.
        out["products"][1]["products"].sort(key=lambda p: not p.get("variant_inventory"))
        out["orders"][1]["orders"].sort(key=lambda o: not o.get("items"))
        live.assert_clean()  # unmutated, every body conforms
        yield out


# (label, body key, JSON path to change, new value, expected failing path in the message)
MUTATIONS = [
    (
        "orders.grand_total as string",
        "orders",
        ("orders", 0, "grand_total"),
        "235.10",
        "$.orders[0].grand_total",
    ),
    (
        "orders.subtotal as string",
        "orders",
        ("orders", 0, "subtotal"),
        "10.5",
        "$.orders[0].subtotal",
    ),
    ("list item id as string", "orders", ("orders", 1, "id"), "100001", "$.orders[1].id"),
    ("list item id null", "order_items", ("items", 0, "id"), None, "$.items[0].id"),
    (
        "expanded order line price as string",
        "orders",
        ("orders", 0, "items", 0, "price"),
        "9.99",
        "$.orders[0].items[0].price",
    ),
    (
        "order datetime as number",
        "orders",
        ("orders", 0, "ordered_at"),
        1700000000,
        "$.orders[0].ordered_at",
    ),
    (
        "products.is_hidden as string",
        "products",
        ("products", 0, "is_hidden"),
        "0",
        "$.products[0].is_hidden",
    ),
    (
        "products.is_hidden out of 0/1",
        "products",
        ("products", 0, "is_hidden"),
        2,
        "$.products[0].is_hidden",
    ),
    (
        "products.height as number",
        "products",
        ("products", 0, "height"),
        10.0,
        "$.products[0].height",
    ),
    (
        "expanded variant_inventory.inventory as string",
        "products",
        ("products", 0, "variant_inventory", 0, "inventory"),
        "5",
        "$.products[0].variant_inventory[0].inventory",
    ),
    (
        "postal_code as integer",
        "order_addresses",
        ("addresses", 0, "postal_code"),
        78701,
        "$.addresses[0].postal_code",
    ),
    ("total_count as string", "order_items", ("total_count",), "3", "$.total_count"),
    (
        "next_page relative",
        "order_items",
        ("next_page",),
        "/api/v1/order_items?page=2",
        "$.next_page",
    ),
    (
        "shipment line quantity as string",
        "shipment",
        ("items", 0, "quantity_shipped"),
        "1",
        "$.items[0].quantity_shipped",
    ),
    ("shipment line id as string", "shipment", ("items", 0, "id"), "12", "$.items[0].id"),
    ("envelope status_code as string", "not_found", ("status_code",), "404", "$.status_code"),
    ("envelope message missing", "not_found", ("message",), ..., "message"),
    ("wrapper extra key", "order_items", ("page",), 2, "page"),
]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    if value is ...:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_changed_type_fails(bodies: dict[str, Any], mutation: tuple[Any, ...]) -> None:
    """One field changed on purpose: validation fails and names that field's path."""
    label, key, path, value, where = mutation
    pointer, body = bodies[key]
    assert C.validation_errors(pointer, body) == [], "the real body must conform first"
    mutated = copy.deepcopy(body)
    _set(mutated, path, value)
    errors = C.validation_errors(pointer, mutated)
    assert errors, f"{label}: the mutated body still validates"
    assert any(where in e for e in errors), errors


def test_dropped_collection_key_fails(bodies: dict[str, Any]) -> None:
    """A wrapper without its collection key fails."""
    pointer, body = bodies["order_items"]
    mutated = {k: v for k, v in body.items() if k != "items"}
    assert C.validation_errors(pointer, mutated)


def test_raw_spec_rejects_faithful_bodies(bodies: dict[str, Any]) -> None:
    """The RAW spec fails real-API-shaped sandbox bodies (decimal money, nulls); the overlay not."""
    _, orders = bodies["orders"]
    order = orders["orders"][0]
    assert isinstance(order["subtotal"], float)
    assert order["subtotal"] != int(order["subtotal"])
    raw = C.validation_errors("orders", order, raw=True)
    assert any(e.startswith("$.subtotal:") for e in raw), raw
    assert any("None is not of type" in e for e in raw), raw  # e.g. from_subscription_id
    assert C.validation_errors("orders", order) == []

    _, products = bodies["products"]
    product = {k: v for k, v in products["products"][0].items() if k != "variant_inventory"}
    assert product["eta_date"] is None
    raw = C.validation_errors("products", product, raw=True)
    assert any(e.startswith("$.eta_date: None is not of type 'string'") for e in raw), raw
    assert C.validation_errors("products", product) == []

    pointer, lines = bodies["order_items"]
    raw_list = "#/paths/~1order_items/get/responses/200/content/application~1json/schema"
    assert "order_items" not in lines  # the real key is "items": the raw spec cannot see rows
    assert C.validation_errors(raw_list, lines, raw=True) == []  # ... so it checks nothing
    assert C.validation_errors(pointer, lines) == []

"""Publish call counts (the documented formula) and variant prices by adjustment or price row."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cartcom_testing.listing_scenarios import add_reference_data
from cartcom_testing.runs import routes, write_routes
from cartcom_testing.runs import run_listings as run

ALL_OPS = ["link", "sync", "publish", "overwrite"]


# -- helpers ---------------------------------------------------------------------------------
def publish_calls(
    *,
    values: int,
    variants: int,
    images: int = 0,
    brand: bool = False,
    price_rows: int = 0,
    status_read: bool = True,
) -> int:
    """docs/listings.md: calls to publish one product whose brand, category and groups exist.

    2 index look-ups + 1 product_statuses (0 with a numeric status) + 1 categories
    + 1 variant_groups + 1 manufacturers (with a brand) + 1 product + 1 per option value
    + 1 per variant row + 1 per image + 1 per price row (a variant priced apart from the
    product that an adjustment cannot carry) + 1 PUT showing the product, when it takes more
    than its own POST (it is created hidden, marked unfinished, until then).
    """
    reads = 2 + int(status_read) + 1 + int(values > 0) + int(brand)
    show = int(bool(variants or images))
    return reads + 1 + values + variants + images + price_rows + show


def value_rows(sb: Any, product_id: int) -> dict[str, dict[str, Any]]:
    """The product's option values by description."""
    return {
        r["description"]: r for r in sb.store.query("product_variants", {"product_id": product_id})
    }


def selling_price(sb: Any, vi: dict[str, Any]) -> float:
    """What a variant row sells at: its plain price row, else product price + adjustments."""
    rows = sb.store.query("product_pricing", {"variant_inventory_id": vi["id"]})
    if rows:
        return min(rows, key=lambda r: r["id"])["price"]
    product = sb.store.get("products", vi["product_id"])
    parts = sb.store.vi_variants([vi["id"]])[vi["id"]]
    return round(product["price"] + sum(p.get("price_adjustment") or 0 for p in parts), 2)


def prices(sb: Any, product_id: int) -> dict[str, float]:
    """Variant SKU -> selling price."""
    vis = sb.store.query("variant_inventory", {"product_id": product_id})
    return {vi["item_number"]: selling_price(sb, vi) for vi in vis}


ONE_DIM = {
    "sku": "ADJ",
    "title": "Adjusted Tee",
    "brand": "Northwind",
    "categories": ["Apparel > Shirts"],
    "price": 18.0,
    "images": ["https://cdn.example.com/adj.jpg"],
    "variants": [
        {"sku": "ADJ-S", "options": {"Size": "S"}, "quantity": 1, "price": 18.0},
        {"sku": "ADJ-M", "options": {"Size": "M"}, "quantity": 2, "price": 19.0},
        {"sku": "ADJ-L", "options": {"Size": "L"}, "quantity": 3, "price": 20.0},
    ],
}
TWO_DIM = {
    "sku": "GRID",
    "title": "Grid Tee",
    "brand": "Northwind",
    "categories": ["Apparel > Shirts"],
    "price": 18.0,
    "images": ["https://cdn.example.com/grid.jpg"],
    "variants": [
        {"sku": "GRID-S-RED", "options": {"Size": "S", "Color": "Red"}, "quantity": 1},
        {"sku": "GRID-M-RED", "options": {"Size": "M", "Color": "Red"}, "quantity": 2},
        {"sku": "GRID-M-BLU", "options": {"Size": "M", "Color": "Blue"}, "quantity": 3},
    ],
}


# -- publish: the documented number of calls -------------------------------------------------
def test_minimal_three_variant_product_takes_thirteen_calls(sandbox):
    add_reference_data(sandbox.store)
    listing = {
        "sku": "MIN",
        "title": "Minimal",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "variants": [
            {"sku": f"MIN-{s}", "options": {"Size": s}, "quantity": 1} for s in ("S", "M", "L")
        ],
    }
    result, calls = run(sandbox, [listing], operations=ALL_OPS)
    assert result.by_sku()["MIN"]["outcome"] == "created"
    assert len(calls) == publish_calls(values=3, variants=3) == 13
    numeric, calls2 = run(
        sandbox,
        [
            dict(
                listing,
                sku="MIN2",
                variants=[
                    dict(v, sku=v["sku"].replace("MIN", "MIN2")) for v in listing["variants"]
                ],
            )
        ],
        operations=ALL_OPS,
        product_status="1",
    )
    assert numeric.by_sku()["MIN2"]["outcome"] == "created"
    assert len(calls2) == publish_calls(values=3, variants=3, status_read=False) == 12


def test_one_option_prices_ride_on_the_option_values(sandbox):
    add_reference_data(sandbox.store)
    result, calls = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    pid = result.by_sku()["ADJ"]["ids"]["product_id"]
    # Brand, image and two distinct prices, yet no price-row call: 15.
    assert len(calls) == publish_calls(values=3, variants=3, images=1, brand=True) == 15
    assert ("POST", "/product_pricing") not in write_routes(calls)
    values = value_rows(sandbox, pid)
    adjustments = {
        k: (v["price_adjustment"] or 0.0, v["price_adjustment_type"] or "")
        for k, v in values.items()
    }
    assert adjustments == {
        "S": (0.0, ""),
        "M": (1.0, "+ dollars"),
        "L": (2.0, "+ dollars"),
    }
    assert prices(sandbox, pid) == {"ADJ-S": 18.0, "ADJ-M": 19.0, "ADJ-L": 20.0}
    _again, calls2 = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    assert write_routes(calls2) == []


def test_size_by_colour_with_brand_and_image_call_list(sandbox):
    add_reference_data(sandbox.store)
    result, calls = run(sandbox, [TWO_DIM], operations=ALL_OPS)
    assert result.by_sku()["GRID"]["outcome"] == "created"
    assert routes(calls) == [
        ("GET", "/products"),
        ("GET", "/variant_inventory"),
        ("GET", "/manufacturers"),
        ("GET", "/variant_groups"),
        ("GET", "/categories"),
        ("GET", "/product_statuses"),
        ("POST", "/products"),
        ("POST", "/product_variants"),  # S
        ("POST", "/product_variants"),  # Red
        ("POST", "/variant_inventory"),
        ("POST", "/product_variants"),  # M
        ("POST", "/variant_inventory"),
        ("POST", "/product_variants"),  # Blue
        ("POST", "/variant_inventory"),
        ("POST", "/product_pictures"),
        ("PUT", f"/products/{result.by_sku()['GRID']['ids']['product_id']}"),
    ]
    assert len(calls) == publish_calls(values=4, variants=3, images=1, brand=True) == 16
    # A distinct price on a Size x Colour product needs a price row: 17.
    priced = copy.deepcopy(TWO_DIM)
    priced["sku"] = "GRID2"
    for v in priced["variants"]:
        v["sku"] = v["sku"].replace("GRID", "GRID2")
    priced["variants"][1]["price"] = 21.0
    result2, calls2 = run(sandbox, [priced], operations=ALL_OPS)
    pid = result2.by_sku()["GRID2"]["ids"]["product_id"]
    assert (
        len(calls2) == publish_calls(values=4, variants=3, images=1, brand=True, price_rows=1) == 17
    )
    assert write_routes(calls2).count(("POST", "/product_pricing")) == 1
    assert prices(sandbox, pid) == {"GRID2-S-RED": 18.0, "GRID2-M-RED": 21.0, "GRID2-M-BLU": 18.0}


def test_prices_an_adjustment_cannot_carry_get_price_rows(sandbox):
    add_reference_data(sandbox.store)
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][0]["price"] = 17.0  # below the product price: no negative surcharge
    listing["variants"][2]["cost"] = 9.0  # a cost of its own lives on a price row
    result, calls = run(sandbox, [listing], operations=ALL_OPS)
    pid = result.by_sku()["ADJ"]["ids"]["product_id"]
    assert len(calls) == publish_calls(values=3, variants=3, images=1, brand=True, price_rows=2)
    assert write_routes(calls).count(("POST", "/product_pricing")) == 2
    assert prices(sandbox, pid) == {"ADJ-S": 17.0, "ADJ-M": 19.0, "ADJ-L": 20.0}
    assert value_rows(sandbox, pid)["M"]["price_adjustment"] == 1.0
    _again, calls2 = run(sandbox, [listing], operations=ALL_OPS)
    assert write_routes(calls2) == []


def test_without_a_listing_price_the_product_takes_the_lowest(sandbox):
    add_reference_data(sandbox.store)
    listing = copy.deepcopy(ONE_DIM)
    del listing["price"]
    listing["variants"][0]["price"] = 21.0
    result, calls = run(sandbox, [listing], operations=ALL_OPS)
    pid = result.by_sku()["ADJ"]["ids"]["product_id"]
    assert sandbox.store.get("products", pid)["price"] == 19.0
    assert ("POST", "/product_pricing") not in write_routes(calls)
    assert prices(sandbox, pid) == {"ADJ-S": 21.0, "ADJ-M": 19.0, "ADJ-L": 20.0}


# -- sync: whichever place the store keeps the price in --------------------------------------
@pytest.mark.parametrize("index_mode", ["lookup", "catalog"])
def test_sync_changes_the_adjustment_of_a_product_priced_by_adjustments(sandbox, index_mode):
    add_reference_data(sandbox.store)
    first, _ = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    pid = first.by_sku()["ADJ"]["ids"]["product_id"]
    values = value_rows(sandbox, pid)
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][1]["price"] = 18.0  # M: back to the product price
    listing["variants"][2]["price"] = 23.0  # L: +5
    result, calls = run(sandbox, [listing], operations=["link", "sync"], index_mode=index_mode)
    line = result.by_sku()["ADJ"]
    assert line["outcome"] == "updated"
    assert line["changes"] == {
        "variants[ADJ-M].price": {"old": 19.0, "new": 18.0},
        "variants[ADJ-L].price": {"old": 20.0, "new": 23.0},
    }
    assert sorted(write_routes(calls)) == sorted(
        [
            ("PUT", f"/product_variants/{values['L']['id']}"),
            ("PUT", f"/product_variants/{values['M']['id']}"),
        ]
    )
    bodies = {c.path.removeprefix("/api/v1"): c.request_json for c in calls if c.method == "PUT"}
    assert bodies[f"/product_variants/{values['L']['id']}"] == {"price_adjustment": 5.0}
    # The catalog read nests rows one level deep: one more read says which value is whose.
    reads = [p for m, p in routes(calls) if m == "GET"]
    assert reads.count("/variant_inventory") == 1
    assert prices(sandbox, pid) == {"ADJ-S": 18.0, "ADJ-M": 18.0, "ADJ-L": 23.0}
    assert sandbox.store.count("product_pricing") == 0
    for ops in (["link", "sync"], ALL_OPS):
        _again, calls2 = run(sandbox, [listing], operations=ops, index_mode=index_mode)
        assert write_routes(calls2) == []


def test_sync_of_the_product_price_keeps_adjusted_variants_right(sandbox):
    add_reference_data(sandbox.store)
    first, _ = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    pid = first.by_sku()["ADJ"]["ids"]["product_id"]
    values = value_rows(sandbox, pid)
    listing = copy.deepcopy(ONE_DIM)
    listing["price"] = 19.0
    for variant, price in zip(listing["variants"], (19.0, 20.0, 22.0), strict=True):
        variant["price"] = price
    _result, calls = run(sandbox, [listing], operations=["link", "sync"])
    # S and M follow the product price; only L's surcharge changes (2 -> 3).
    assert write_routes(calls) == [
        ("PUT", f"/products/{pid}"),
        ("PUT", f"/product_variants/{values['L']['id']}"),
    ]
    assert prices(sandbox, pid) == {"ADJ-S": 19.0, "ADJ-M": 20.0, "ADJ-L": 22.0}
    _again, calls2 = run(sandbox, [listing], operations=["link", "sync"])
    assert write_routes(calls2) == []


def test_sync_below_the_product_price_moves_the_price_to_a_price_row(sandbox):
    add_reference_data(sandbox.store)
    first, _ = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    pid = first.by_sku()["ADJ"]["ids"]["product_id"]
    values = value_rows(sandbox, pid)
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][2]["price"] = 15.0
    result, calls = run(sandbox, [listing], operations=["link", "sync"])
    line = result.by_sku()["ADJ"]
    assert (line["outcome"], line["operation"]) == ("updated", "sync")
    # A price row with the whole price, and L's own surcharge cleared so only one applies.
    assert write_routes(calls) == [
        ("POST", "/product_pricing"),
        ("PUT", f"/product_variants/{values['L']['id']}"),
    ]
    assert value_rows(sandbox, pid)["L"]["price_adjustment"] == 0.0
    assert prices(sandbox, pid) == {"ADJ-S": 18.0, "ADJ-M": 19.0, "ADJ-L": 15.0}
    _again, calls2 = run(sandbox, [listing], operations=ALL_OPS)
    assert write_routes(calls2) == []


def test_sync_keeps_using_price_rows_where_the_product_has_them(sandbox):
    add_reference_data(sandbox.store)
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][2]["cost"] = 9.0  # L gets a price row at publish
    first, _ = run(sandbox, [listing], operations=ALL_OPS)
    pid = first.by_sku()["ADJ"]["ids"]["product_id"]
    row_l = sandbox.store.query("product_pricing", {"product_id": pid})
    assert len(row_l) == 1
    listing["variants"][2]["price"] = 25.0
    listing["variants"][1]["price"] = 19.5  # M has no row, but the product prices by rows
    _result, calls = run(sandbox, [listing], operations=["link", "sync"], index_mode="catalog")
    assert sorted(write_routes(calls)) == [
        ("POST", "/product_pricing"),
        ("PUT", f"/product_pricing/{row_l[0]['id']}"),
        ("PUT", f"/product_variants/{value_rows(sandbox, pid)['M']['id']}"),
    ]
    # M's row carries the whole price and its old +1 surcharge is cleared.
    assert prices(sandbox, pid) == {"ADJ-S": 18.0, "ADJ-M": 19.5, "ADJ-L": 25.0}
    assert value_rows(sandbox, pid)["M"]["price_adjustment"] == 0.0
    _again, calls2 = run(sandbox, [listing], operations=ALL_OPS)
    assert write_routes(calls2) == []


def test_dry_run_plans_exactly_the_adjustment_write_routes(sandbox):
    add_reference_data(sandbox.store)
    run(sandbox, [ONE_DIM], operations=ALL_OPS)
    listing = copy.deepcopy(ONE_DIM)
    listing["price"] = 17.5
    listing["variants"][2]["price"] = 24.0
    dry, dry_calls = run(sandbox, [listing], operations=["link", "sync"], dry_run=True)
    assert write_routes(dry_calls) == []
    real, real_calls = run(sandbox, [listing], operations=["link", "sync"])
    plan = [(c.method, c.path, c.body) for c in dry.planned]
    done = [
        (c.method, c.path.removeprefix("/api/v1"), c.request_json)
        for c in real_calls
        if c.method != "GET"
    ]
    assert plan == done
    # The product price, then every surcharge: S +0.5, M +1.5, L +6.5 on the new 17.5.
    assert len(done) == 4
    assert prices(sandbox, real.by_sku()["ADJ"]["ids"]["product_id"]) == {
        "ADJ-S": 18.0,
        "ADJ-M": 19.0,
        "ADJ-L": 24.0,
    }


def test_sync_gives_a_variant_at_the_product_price_a_surcharge_in_dollars(sandbox):
    """S sold at the product's 18 (its option value had no surcharge); the feed says 21.

    S's option value gets +3 as dollars (it had no kind of surcharge before), in one write.
    """
    add_reference_data(sandbox.store)
    first, _ = run(sandbox, [ONE_DIM], operations=ALL_OPS)
    pid = first.by_sku()["ADJ"]["ids"]["product_id"]
    small = value_rows(sandbox, pid)["S"]
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][0]["price"] = 21.0
    result, calls = run(sandbox, [listing], operations=["link", "sync"])
    assert result.by_sku()["ADJ"]["outcome"] == "updated"
    assert [
        (c.path.removeprefix("/api/v1"), c.request_json) for c in calls if c.method != "GET"
    ] == [
        (
            f"/product_variants/{small['id']}",
            {"price_adjustment": 3.0, "price_adjustment_type": "+ dollars"},
        )
    ]
    assert value_rows(sandbox, pid)["S"]["price_adjustment_type"] == "+ dollars"
    assert prices(sandbox, pid) == {"ADJ-S": 21.0, "ADJ-M": 19.0, "ADJ-L": 20.0}


def test_a_refused_stock_and_msrp_write_names_the_quantity(sandbox):
    """Sync changes M's stock and msrp in one write; the store refuses it.

    The failed line names the variant's quantity, the first field the write carried.
    """
    add_reference_data(sandbox.store)
    run(sandbox, [ONE_DIM], operations=ALL_OPS)
    listing = copy.deepcopy(ONE_DIM)
    listing["variants"][1].update({"quantity": 7, "msrp": 30.0})
    sandbox.faults.script(
        [{"kind": "status", "status": 400, "method": "PUT", "path": "/variant_inventory/"}]
    )
    result, _ = run(sandbox, [listing], operations=["link", "sync"], fail_on_record_errors=False)
    line = result.by_sku()["ADJ"]
    assert (line["outcome"], line["field"]) == ("failed", "variants[1].quantity")

"""End-to-end tests of the listings stream against the sandbox, calls counted from its call log."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
import requests
from cartcom_testing.listing_scenarios import add_reference_data, singer_lines
from cartcom_testing.runs import longest_gap, reads, write_routes, writes
from cartcom_testing.runs import run_listings as run
from target_cartcom.target import FailedRecordsError

ALL_OPS = ["link", "sync", "publish", "overwrite"]


# -- helpers ---------------------------------------------------------------------------------
def rows(sb: Any, resource: str, **filters: Any) -> list[dict[str, Any]]:
    """Store rows of ``resource`` whose fields equal ``filters``."""
    return sb.store.query(resource, filters or None)


def category_path(sb: Any, category_id: int) -> str:
    """The ``A > B`` path of a category, walked up through parent ids."""
    names = []
    current = sb.store.get("categories", category_id)
    while current is not None:
        names.append(current["name"])
        parent = current.get("parent_category_id")
        current = sb.store.get("categories", parent) if parent else None
    return " > ".join(reversed(names))


def counts(sb: Any) -> dict[str, int]:
    """Rows per catalog resource."""
    return {
        r: sb.store.count(r)
        for r in (
            "products",
            "product_variants",
            "variant_inventory",
            "product_pricing",
            "product_pictures",
            "categories",
            "manufacturers",
            "variant_groups",
        )
    }


def seeded_simple(sb: Any) -> dict[str, Any]:
    """A seeded simple product that has a gtin and pictures."""
    for p in rows(sb, "products"):
        if (
            not p["use_variant_inventory"]
            and p["gtin"]
            and rows(sb, "product_pictures", product_id=p["id"])
        ):
            return p
    raise AssertionError("the seeded store has no simple product")


def seeded_variant(sb: Any, n: int = 0) -> dict[str, Any]:
    """The ``n``-th seeded product with at least three variant rows."""
    found = [
        p
        for p in rows(sb, "products")
        if p["use_variant_inventory"]
        and len(rows(sb, "variant_inventory", product_id=p["id"])) >= 3
    ]
    return found[n]


def listing_of(sb: Any, product: dict[str, Any]) -> dict[str, Any]:
    """A listing that describes a seeded product exactly as the store holds it."""
    vis = rows(sb, "variant_inventory", product_id=product["id"])
    listing: dict[str, Any] = {"sku": product["item_number"], "price": product["price"]}
    if not vis:
        listing["quantity"] = product["quantity_on_hand"]
        return listing
    listing["variants"] = []
    for vi in vis:
        price = rows(sb, "product_pricing", variant_inventory_id=vi["id"])[0]["price"]
        options = dict(part.split(": ", 1) for part in vi["description"].split(", "))
        listing["variants"].append(
            {
                "sku": vi["item_number"],
                "options": options,
                "quantity": vi["inventory"],
                "price": price,
            }
        )
    return listing


def base_price(sb: Any, vi_id: int) -> float:
    """The plain price row of a variant row."""
    return min(rows(sb, "product_pricing", variant_inventory_id=vi_id), key=lambda r: r["id"])[
        "price"
    ]


TEE = {
    "sku": "TEE-NEW",
    "title": "Trail Tee",
    "description": "<p>Soft cotton.</p>",
    "brand": "Brand New Co",
    "categories": ["Apparel > Shirts > Tees"],
    "images": ["https://cdn.example.com/tee-1.jpg", "https://cdn.example.com/tee-2.jpg"],
    "mpn": "BN-TEE",
    "price": 19.99,
    "msrp": 25.0,
    "cost": 7.0,
    "weight": 0.4,
    "variants": [
        {
            "sku": "TEE-NEW-S-RED",
            "upc": "036000291452",
            "options": {"Size": "S", "Color": "Red"},
            "quantity": 3,
        },
        {
            "sku": "TEE-NEW-M-RED",
            "gtin": "0012345678905",
            "options": {"Size": "M", "Color": "Red"},
            "quantity": 4,
            "price": 21.0,
        },
        {"sku": "TEE-NEW-M-BLU", "options": {"Size": "M", "Color": "Blue"}, "quantity": 5},
    ],
}
MUG = {
    "sku": "MUG-NEW",
    "title": "Camp Mug",
    "categories": ["Home > Kitchen > Mugs"],
    "price": 9.5,
    "quantity": 7,
    "upc": "012345678905",
    "images": ["https://cdn.example.com/mug.jpg"],
    "brand": "Brand New Co",
    "hidden": True,
}


# -- link ------------------------------------------------------------------------------------
def test_link_matches_by_sku_then_upc_and_reports_unlinked(seeded_sandbox):
    sb = seeded_sandbox
    simple, variant = seeded_simple(sb), seeded_variant(sb)
    vis = rows(sb, "variant_inventory", product_id=variant["id"])
    other = next(p for p in rows(sb, "products") if p["gtin"] and p["id"] != simple["id"])
    listings = [
        {"sku": simple["item_number"]},
        {
            "sku": variant["item_number"],
            "variants": [
                {"sku": v["item_number"], "options": {"n": str(i)}} for i, v in enumerate(vis)
            ],
        },
        {"sku": "FEED-ONLY-SKU", "upc": other["gtin"]},
        {"sku": "NOWHERE-1"},
        {"sku": vis[0]["item_number"] + "-FLAT"},
    ]
    listings[4]["sku"] = vis[-1]["item_number"]  # a flat feed line for one variant row
    listings[1]["variants"] = listings[1]["variants"][:-1]
    result, calls = run(sb, listings, operations=["link"], fail_on_record_errors=False)
    by = result.by_sku()
    assert by[simple["item_number"]]["outcome"] == "linked"
    assert by[simple["item_number"]]["ids"]["product_id"] == simple["id"]
    linked = by[variant["item_number"]]
    assert linked["ids"]["product_id"] == variant["id"]
    assert linked["ids"]["variant_inventory_ids"] == {v["item_number"]: v["id"] for v in vis[:-1]}
    assert by["FEED-ONLY-SKU"]["ids"] == {
        "product_id": other["id"],
        "matched_by": "upc",
        "store_skus": {"FEED-ONLY-SKU": other["item_number"]},
    }
    assert repr(other["item_number"]) in by["FEED-ONLY-SKU"]["warning"]
    assert by["NOWHERE-1"]["outcome"] == "skipped"
    assert by["NOWHERE-1"]["field"] == "sku"
    assert by[vis[-1]["item_number"]]["ids"]["variant_inventory_id"] == vis[-1]["id"]
    assert write_routes(calls) == []
    assert result.summary["outcomes"]["listings"] == {"linked": 4, "skipped": 1}


def test_ambiguous_sku_is_a_record_error_never_a_guess(seeded_sandbox):
    sb = seeded_sandbox
    simple = seeded_simple(sb)
    twin = dict(sb.store.get("products", simple["id"]))
    twin.pop("id")
    sb.store.insert("products", twin)
    good = seeded_variant(sb)
    listing = listing_of(sb, good)
    listing["variants"][0]["quantity"] += 1
    result, calls = run(
        sb, [{"sku": simple["item_number"], "quantity": 1}, listing], fail_on_record_errors=False
    )
    bad = result.by_sku()[simple["item_number"]]
    assert bad["outcome"] == "failed"
    assert bad["field"] == "sku"
    assert "ambiguous" in bad["error"]
    assert result.by_sku()[good["item_number"]]["outcome"] == "updated"
    assert write_routes(calls) == [
        (
            "PUT",
            f"/variant_inventory/{result.by_sku()[good['item_number']]['ids']['variant_inventory_ids'][listing['variants'][0]['sku']]}",
        )
    ]


# -- sync ------------------------------------------------------------------------------------
def test_sync_writes_only_what_differs_and_reads_back(seeded_sandbox):
    sb = seeded_sandbox
    simple, variant = seeded_simple(sb), seeded_variant(sb)
    unchanged = listing_of(sb, seeded_variant(sb, 1))
    s = listing_of(sb, simple)
    s.update(quantity=s["quantity"] + 3, price=12.34, msrp=20.0, cost=5.5, hidden=True)
    v = listing_of(sb, variant)
    v["variants"][0]["quantity"] += 2
    v["variants"][1]["price"] = 99.5
    v["variants"][2].update(msrp=120.0, cost=33.0)
    old_vis = {r["item_number"]: r for r in rows(sb, "variant_inventory", product_id=variant["id"])}
    old_pricing = {
        r["variant_inventory_id"]: r for r in rows(sb, "product_pricing", product_id=variant["id"])
    }
    result, calls = run(sb, [s, v, unchanged])
    by = result.by_sku()
    assert [by[x["sku"]]["outcome"] for x in (s, v, unchanged)] == [
        "updated",
        "updated",
        "unchanged",
    ]
    vis = {r["item_number"]: r for r in rows(sb, "variant_inventory", product_id=variant["id"])}
    v0, v1, v2 = (vis[x["sku"]] for x in v["variants"][:3])
    pricing = {
        r["variant_inventory_id"]: r for r in rows(sb, "product_pricing", product_id=variant["id"])
    }
    assert sorted(write_routes(calls)) == sorted(
        [
            ("PUT", f"/products/{simple['id']}"),
            ("PUT", f"/variant_inventory/{v0['id']}"),
            ("PUT", f"/product_pricing/{pricing[v1['id']]['id']}"),
            ("PUT", f"/variant_inventory/{v2['id']}"),
            ("PUT", f"/product_pricing/{pricing[v2['id']]['id']}"),
        ]
    )
    back = sb.store.get("products", simple["id"])
    assert (
        back["quantity_on_hand"],
        back["price"],
        back["retail"],
        back["cost"],
        back["is_hidden"],
    ) == (s["quantity"], 12.34, 20.0, 5.5, 1)
    assert v0["inventory"] == v["variants"][0]["quantity"]
    assert base_price(sb, v1["id"]) == 99.5
    assert v2["retail"] == 120.0
    assert pricing[v2["id"]]["cost"] == 33.0
    assert by[v["sku"]]["changes"][f"variants[{v['variants'][1]['sku']}].price"]["new"] == 99.5
    # The exact bodies and changes: each field the listing changed, and nothing else.
    a, b, c = (old_vis[x["sku"]] for x in v["variants"][:3])
    assert sorted(
        ((w.method, w.path.removeprefix("/api/v1"), w.request_json) for w in writes(calls)),
        key=lambda x: x[1],
    ) == sorted(
        [
            (
                "PUT",
                f"/products/{simple['id']}",
                {
                    "quantity_on_hand": s["quantity"],
                    "price": 12.34,
                    "retail": 20.0,
                    "cost": 5.5,
                    "is_hidden": 1,
                },
            ),
            ("PUT", f"/variant_inventory/{a['id']}", {"inventory": v["variants"][0]["quantity"]}),
            ("PUT", f"/product_pricing/{old_pricing[b['id']]['id']}", {"price": 99.5}),
            ("PUT", f"/variant_inventory/{c['id']}", {"retail": 120.0}),
            ("PUT", f"/product_pricing/{old_pricing[c['id']]['id']}", {"cost": 33.0}),
        ],
        key=lambda x: x[1],
    )
    assert by[s["sku"]]["changes"] == {
        "quantity": {"old": simple["quantity_on_hand"], "new": s["quantity"]},
        "price": {"old": simple["price"], "new": 12.34},
        "msrp": {"old": simple["retail"], "new": 20.0},
        "cost": {"old": simple["cost"], "new": 5.5},
        "hidden": {"old": False, "new": True},
    }
    assert by[v["sku"]]["changes"] == {
        f"variants[{a['item_number']}].quantity": {
            "old": a["inventory"],
            "new": v["variants"][0]["quantity"],
        },
        f"variants[{b['item_number']}].price": {"old": old_pricing[b["id"]]["price"], "new": 99.5},
        f"variants[{c['item_number']}].msrp": {"old": c["retail"], "new": 120.0},
        f"variants[{c['item_number']}].cost": {"old": old_pricing[c["id"]]["cost"], "new": 33.0},
    }
    assert by[unchanged["sku"]].get("changes") is None
    # The same input again: only the index reads.
    again, calls2 = run(sb, [s, v, unchanged])
    assert write_routes(calls2) == []
    assert {r["outcome"] for r in again.results} == {"unchanged"}
    assert again.summary["calls"]["writes"] == 0


def test_sync_reads_whole_numbers_as_sources_write_them(seeded_sandbox):
    """Quantities ``7.0`` and ``"5"`` are whole numbers; 2.5, "abc" and -1 fail naming the field.

    Every result line carries the listing's ``sku``; the replay writes nothing.
    """
    sb = seeded_sandbox
    simple, variant = seeded_simple(sb), seeded_variant(sb)
    s = listing_of(sb, simple)
    s["quantity"] = float(s["quantity"] + 7)
    v = listing_of(sb, variant)
    v["variants"][0]["quantity"] = str(v["variants"][0]["quantity"] + 5)
    bad = [
        {"sku": "NOPE-1", "quantity": 2.5},
        {"sku": "NOPE-2", "quantity": "abc"},
        {"sku": "NOPE-3", "variants": [{"sku": "NOPE-3-A", "quantity": -1}]},
    ]
    result, calls = run(sb, [s, v, *bad])
    by = result.by_sku()
    assert [by[x["sku"]]["outcome"] for x in (s, v)] == ["updated", "updated"]
    assert [(by[x["sku"]]["outcome"], by[x["sku"]]["field"]) for x in bad] == [
        ("failed", "quantity"),
        ("failed", "quantity"),
        ("failed", "variants[0].quantity"),
    ]
    assert all(line["sku"] == line["key"] for line in result.results)
    assert sb.store.get("products", simple["id"])["quantity_on_hand"] == int(s["quantity"])
    vi = rows(sb, "variant_inventory", item_number=v["variants"][0]["sku"])[0]
    assert vi["inventory"] == int(v["variants"][0]["quantity"])
    assert len(writes(calls)) == 2
    again, calls2 = run(sb, [s, v])
    assert writes(calls2) == []
    assert {r["outcome"] for r in again.results} == {"unchanged"}


# -- publish ---------------------------------------------------------------------------------
def test_publish_creates_everything_and_reads_back(seeded_sandbox):
    sb = seeded_sandbox
    before = counts(sb)
    result, calls = run(sb, [TEE, MUG], operations=ALL_OPS)
    by = result.by_sku()
    assert by["TEE-NEW"]["outcome"] == "created"
    assert by["MUG-NEW"]["outcome"] == "created"
    tee = sb.store.get("products", by["TEE-NEW"]["ids"]["product_id"])
    assert (
        tee["item_number"],
        tee["item_name"],
        tee["long_description_1"],
        tee["price"],
        tee["retail"],
        tee["cost"],
        tee["manufacturer_part_number"],
        tee["weight"],
        tee["use_variant_inventory"],
    ) == ("TEE-NEW", "Trail Tee", "<p>Soft cotton.</p>", 19.99, 25.0, 7.0, "BN-TEE", 0.4, True)
    assert sb.store.get("manufacturers", tee["manufacturer_id"])["name"] == "Brand New Co"
    assert category_path(sb, tee["primary_category_id"]) == "Apparel > Shirts > Tees"
    vis = {r["item_number"]: r for r in rows(sb, "variant_inventory", product_id=tee["id"])}
    assert set(vis) == {v["sku"] for v in TEE["variants"]}
    assert vis["TEE-NEW-S-RED"]["gtin"] == "036000291452"
    assert vis["TEE-NEW-M-RED"]["gtin"] == "0012345678905"
    assert [vis[v["sku"]]["inventory"] for v in TEE["variants"]] == [3, 4, 5]
    groups = {g["id"]: g["name"] for g in rows(sb, "variant_groups")}
    for v in TEE["variants"]:
        parts = sb.store.vi_variants([vis[v["sku"]]["id"]])[vis[v["sku"]]["id"]]
        assert {groups[p["variant_group_id"]]: p["description"] for p in parts} == v["options"]
    # Per-variant prices: a price row where the variant price differs from the product's.
    assert base_price(sb, vis["TEE-NEW-M-RED"]["id"]) == 21.0
    assert rows(sb, "product_pricing", variant_inventory_id=vis["TEE-NEW-S-RED"]["id"]) == []
    pictures = sorted(
        rows(sb, "product_pictures", product_id=tee["id"]), key=lambda p: p["sort_order"]
    )
    assert [p["image_file"] for p in pictures] == TEE["images"]
    assert [p["is_primary"] for p in pictures] == [True, False]
    mug = sb.store.get("products", by["MUG-NEW"]["ids"]["product_id"])
    assert (
        mug["quantity_on_hand"],
        mug["price"],
        mug["gtin"],
        mug["is_hidden"],
        mug["manufacturer_id"],
    ) == (7, 9.5, "012345678905", 1, tee["manufacturer_id"])
    assert category_path(sb, mug["primary_category_id"]) == "Home > Kitchen > Mugs"
    assert write_routes(calls).count(("POST", "/categories/rebuild_tree")) == 1
    assert write_routes(calls).count(("POST", "/manufacturers")) == 1
    after = counts(sb)
    assert after["products"] == before["products"] + 2
    assert after["categories"] == before["categories"] + 2  # "Tees" and "Mugs" were missing
    assert after["variant_groups"] == before["variant_groups"]  # Size and Color exist
    # Idempotency: the same input again writes nothing and duplicates nothing.
    again, calls2 = run(sb, [TEE, MUG], operations=ALL_OPS)
    assert write_routes(calls2) == []
    assert {r["outcome"] for r in again.results} == {"unchanged"}
    assert counts(sb) == after


def test_publish_of_an_existing_sku_links_and_updates(seeded_sandbox):
    sb = seeded_sandbox
    variant = seeded_variant(sb)
    listing = listing_of(sb, variant)
    listing.update(title="Ignored on link", categories=["Apparel > Shirts"])
    listing["variants"][0]["quantity"] += 9
    listing["variants"].append(
        {
            "sku": variant["item_number"] + "-NEWSIZE",
            "options": dict(listing["variants"][0]["options"], Size="5XL"),
            "quantity": 2,
        }
    )
    before = counts(sb)
    result, _calls = run(sb, [listing], operations=["link", "sync", "publish"])
    line = result.by_sku()[listing["sku"]]
    assert line["outcome"] == "updated"
    assert line["ids"]["product_id"] == variant["id"]
    assert set(line["operation"].split("+")) == {"publish", "sync"}
    after = counts(sb)
    assert after["products"] == before["products"]
    assert after["variant_inventory"] == before["variant_inventory"] + 1
    assert after["product_variants"] == before["product_variants"] + 1  # only the 5XL value
    new = rows(sb, "variant_inventory", item_number=variant["item_number"] + "-NEWSIZE")
    assert len(new) == 1
    assert new[0]["product_id"] == variant["id"]
    assert new[0]["inventory"] == 2
    _again, calls2 = run(sb, [listing], operations=["link", "sync", "publish"])
    assert write_routes(calls2) == []


def test_publish_three_variant_product_takes_thirteen_calls(sandbox):
    add_reference_data(sandbox.store, groups=("Size",))
    tee = {
        "sku": "TEE-3",
        "title": "Three Sizes",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "variants": [
            {"sku": f"TEE-3-{s}", "options": {"Size": s}, "quantity": q}
            for s, q in (("S", 1), ("M", 2), ("L", 3))
        ],
    }
    result, calls = run(sandbox, [tee], operations=ALL_OPS)
    assert result.by_sku()["TEE-3"]["outcome"] == "created"
    # 2 index lookups + status + category + group reads; product + 3 option values + 3 rows,
    # then the PUT that shows the product (created hidden and marked unfinished until then).
    assert [(c.method, c.path.removeprefix("/api/v1")) for c in calls] == [
        ("GET", "/products"),
        ("GET", "/variant_inventory"),
        ("GET", "/variant_groups"),
        ("GET", "/categories"),
        ("GET", "/product_statuses"),
        ("POST", "/products"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("PUT", f"/products/{result.by_sku()['TEE-3']['ids']['product_id']}"),
    ]
    assert len(calls) == 13


def test_publish_gives_option_values_the_feed_order(sandbox):
    """Sizes given M, XS, L show in the store's drop-down as M, XS, L (sort order 1, 2, 3).

    The feed's order is the merchant's (a size chart); neither alphabetical nor reversed.
    """
    add_reference_data(sandbox.store, groups=("Size",))
    sizes = ("M", "XS", "L")
    tee = {
        "sku": "TEE-ORDER",
        "title": "Sizes in feed order",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "variants": [
            {"sku": f"TEE-ORDER-{s}", "options": {"Size": s}, "quantity": 1} for s in sizes
        ],
    }
    result, _calls = run(sandbox, [tee], operations=ALL_OPS)
    pid = result.by_sku()["TEE-ORDER"]["ids"]["product_id"]
    values = rows(sandbox, "product_variants", product_id=pid)
    by_order = sorted((v["sort_order"], v["description"]) for v in values)
    assert by_order == [(1, "M"), (2, "XS"), (3, "L")]


def test_a_created_listing_line_names_each_variant_row_it_created(sandbox):
    """The result line lists every variant created, with its row id; no quantity is 0 in stock.

    Two option dimensions (size and colour, so prices go on price rows): a variant priced
    above the product gets a price row; one with no price, or the product's, gets none.
    """
    add_reference_data(sandbox.store)
    tee = {
        "sku": "TEE-IDS",
        "title": "Ids",
        "categories": ["Apparel > Shirts"],
        "price": 10.0,
        "variants": [
            {"sku": "TEE-IDS-S-R", "options": {"Size": "S", "Color": "Red"}, "price": 12.0},
            {"sku": "TEE-IDS-M-R", "options": {"Size": "M", "Color": "Red"}, "quantity": 2},
            {"sku": "TEE-IDS-L-R", "options": {"Size": "L", "Color": "Red"}, "price": 10.0},
        ],
    }
    result, _calls = run(sandbox, [tee], operations=ALL_OPS)
    line = result.by_sku()["TEE-IDS"]
    rows_in_store = {r["item_number"]: r for r in rows(sandbox, "variant_inventory")}
    assert line["ids"]["variant_inventory_ids"] == {
        sku: row["id"] for sku, row in rows_in_store.items()
    }
    assert {k: v for k, v in line["changes"].items() if k.startswith("variants[")} == {
        "variants[TEE-IDS-S-R]": {"old": None, "new": "created"},
        "variants[TEE-IDS-M-R]": {"old": None, "new": "created"},
        "variants[TEE-IDS-L-R]": {"old": None, "new": "created"},
    }
    assert {sku: row["inventory"] for sku, row in rows_in_store.items()} == {
        "TEE-IDS-S-R": 0,
        "TEE-IDS-M-R": 2,
        "TEE-IDS-L-R": 0,
    }
    assert base_price(sandbox, rows_in_store["TEE-IDS-S-R"]["id"]) == 12.0
    for same_as_product in ("TEE-IDS-M-R", "TEE-IDS-L-R"):  # no price, or the product's
        row_id = rows_in_store[same_as_product]["id"]
        assert rows(sandbox, "product_pricing", variant_inventory_id=row_id) == []


def test_variants_added_to_a_simple_product_track_stock_per_variant(sandbox):
    """A simple product published again with variants keeps stock per variant row.

    Without ``use_variant_inventory`` on the product, Cart.com would keep selling from the
    product's own stock and ignore the variant rows' quantities.
    """
    add_reference_data(sandbox.store, groups=("Size",))
    simple = {"sku": "CAP-1", "title": "Cap", "categories": ["Apparel"], "price": 12.0}
    first, _ = run(sandbox, [{**simple, "quantity": 4}], operations=ALL_OPS)
    pid = first.by_sku()["CAP-1"]["ids"]["product_id"]
    assert not sandbox.store.get("products", pid)["use_variant_inventory"]
    stock = (("S", 2), ("L", 5))
    variants = [{"sku": f"CAP-1-{s}", "options": {"Size": s}, "quantity": q} for s, q in stock]
    second, _ = run(sandbox, [{**simple, "variants": variants}], operations=ALL_OPS)
    assert second.by_sku()["CAP-1"]["ids"]["product_id"] == pid
    assert sandbox.store.get("products", pid)["use_variant_inventory"]
    in_store = {r["item_number"]: r["inventory"] for r in rows(sandbox, "variant_inventory")}
    assert in_store == {"CAP-1-S": 2, "CAP-1-L": 5}


@pytest.mark.parametrize(("hidden", "stored"), [(True, 1), (False, 0)])
def test_a_simple_product_is_published_as_the_feed_says(sandbox, hidden, stored):
    """Hidden or shown as the feed says; no quantity given is none in stock (never 1 by default).

    The result line says the listing was published and created.
    """
    add_reference_data(sandbox.store)
    mug = {"sku": "MUG-P", "title": "Mug", "categories": ["Apparel"], "price": 9.0}
    result, _calls = run(sandbox, [{**mug, "hidden": hidden}], operations=ALL_OPS)
    line = result.by_sku()["MUG-P"]
    assert (line["outcome"], line["operation"]) == ("created", "publish")
    product = sandbox.store.get("products", line["ids"]["product_id"])
    assert (product["is_hidden"], product["quantity_on_hand"]) == (stored, 0)


def test_sync_shows_a_hidden_product_when_the_feed_says_hidden_false(sandbox):
    """Hidden in the store, ``hidden: false`` in the feed: sync writes the plain flag 0."""
    add_reference_data(sandbox.store)
    mug = {"sku": "MUG-S", "title": "Mug", "categories": ["Apparel"], "price": 9.0}
    first, _ = run(sandbox, [{**mug, "hidden": True}], operations=ALL_OPS)
    pid = first.by_sku()["MUG-S"]["ids"]["product_id"]
    assert sandbox.store.get("products", pid)["is_hidden"] == 1
    again, _ = run(sandbox, [{**mug, "hidden": False}], operations=["link", "sync"])
    assert again.by_sku()["MUG-S"]["changes"] == {"hidden": {"old": True, "new": False}}
    assert sandbox.store.get("products", pid)["is_hidden"] == 0


def test_a_quantity_for_a_product_stocked_per_variant_is_refused(sandbox):
    """``quantity`` alone for a product stocked per variant row: refused naming ``quantity``.

    The product's own stock is not the one Cart.com sells from; nothing is written.
    """
    add_reference_data(sandbox.store, groups=("Size",))
    tee = {
        "sku": "TEE-Q",
        "title": "Stocked per size",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "variants": [{"sku": f"TEE-Q-{s}", "options": {"Size": s}, "quantity": 1} for s in "SM"],
    }
    run(sandbox, [tee], operations=ALL_OPS)
    result, calls = run(
        sandbox,
        [{"sku": "TEE-Q", "quantity": 5}],
        operations=["link", "sync"],
        fail_on_record_errors=False,
    )
    line = result.by_sku()["TEE-Q"]
    assert (line["outcome"], line["field"]) == ("failed", "quantity")
    assert write_routes(calls) == []


def test_publish_call_formula_with_brand_pictures_and_prices(sandbox):
    add_reference_data(sandbox.store, groups=("Size",))
    tee = {
        "sku": "TEE-4",
        "title": "Full",
        "brand": "Northwind",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "images": ["https://cdn.example.com/x.jpg"],
        "variants": [
            {"sku": f"TEE-4-{s}", "options": {"Size": s}, "quantity": 1, "price": p}
            for s, p in (("S", 18.0), ("M", 18.0), ("L", 20.0))
        ],
    }
    result, calls = run(sandbox, [tee], operations=ALL_OPS)
    assert result.by_sku()["TEE-4"]["outcome"] == "created"
    # 13 + 1 brand read + 1 picture = 15 (docs/listings.md): with one option dimension, L's
    # distinct price is a price_adjustment in the POST that creates its value, not a price row.
    assert len(calls) == 15
    assert write_routes(calls).count(("POST", "/product_pricing")) == 0
    assert write_routes(calls).count(("POST", "/product_pictures")) == 1
    large = [c.request_json for c in calls if c.path.endswith("/product_variants")][2]
    assert (large["description"], large["price_adjustment"]) == ("L", 2.0)


# -- overwrite -------------------------------------------------------------------------------
def test_overwrite_replaces_enabled_fields_and_images(seeded_sandbox):
    sb = seeded_sandbox
    simple, variant = seeded_simple(sb), seeded_variant(sb)
    pictures = sorted(
        rows(sb, "product_pictures", product_id=simple["id"]), key=lambda p: p["sort_order"]
    )
    kept = pictures[0]["image_file"]
    s = {
        "sku": simple["item_number"],
        "title": "New Title",
        "description": "<p>New</p>",
        "mpn": "MPN-NEW",
        "upc": "036000291452",
        "categories": ["Outdoors > Camping"],
        "images": ["https://cdn.example.com/new-front.jpg", kept],
    }
    v = listing_of(sb, variant)
    v["title"] = "Variant Title"
    v["variants"][0].update(mpn="VMPN-0", upc="012345678905")
    result, calls = run(sb, [s, v], operations=["link", "overwrite"])
    by = result.by_sku()
    assert by[s["sku"]]["outcome"] == "updated"
    assert by[s["sku"]]["operation"] == "overwrite"
    back = sb.store.get("products", simple["id"])
    assert (
        back["item_name"],
        back["long_description_1"],
        back["manufacturer_part_number"],
        back["gtin"],
    ) == ("New Title", "<p>New</p>", "MPN-NEW", "036000291452")
    assert category_path(sb, back["primary_category_id"]) == "Outdoors > Camping"
    now = sorted(
        rows(sb, "product_pictures", product_id=simple["id"]), key=lambda p: p["sort_order"]
    )
    assert [p["image_file"] for p in now] == s["images"]
    assert [p["is_primary"] for p in now] == [True, False]
    vi0 = rows(sb, "variant_inventory", item_number=v["variants"][0]["sku"])[0]
    assert (vi0["manufacturer_item_number"], vi0["gtin"]) == ("VMPN-0", "012345678905")
    assert sb.store.get("products", variant["id"])["item_name"] == "Variant Title"
    deleted = len(pictures) - 1
    assert write_routes(calls).count(("POST", "/product_pictures")) == 1
    assert sum(1 for m, _ in write_routes(calls) if m == "DELETE") == deleted
    assert by[s["sku"]]["changes"]["title"] == {"old": simple["item_name"], "new": "New Title"}
    again, calls2 = run(sb, [s, v], operations=["link", "overwrite"])
    assert write_routes(calls2) == []
    assert {r["outcome"] for r in again.results} == {"unchanged"}


def test_overwrite_fields_setting_limits_what_is_replaced(seeded_sandbox):
    sb = seeded_sandbox
    simple = seeded_simple(sb)
    s = {
        "sku": simple["item_number"],
        "title": "Only Title",
        "description": "not written",
        "images": [],
    }
    result, calls = run(sb, [s], operations=["link", "overwrite"], overwrite_fields=["title"])
    back = sb.store.get("products", simple["id"])
    assert back["item_name"] == "Only Title"
    assert back["long_description_1"] == simple["long_description_1"]
    assert rows(sb, "product_pictures", product_id=simple["id"])  # images untouched
    assert write_routes(calls) == [("PUT", f"/products/{simple['id']}")]
    assert result.by_sku()[s["sku"]]["changes"] == {
        "title": {"old": simple["item_name"], "new": "Only Title"}
    }


# -- retries and dry run ---------------------------------------------------------------------
#: What publishing TEE adds to the seeded store (its brand and the "Tees" level are new).
TEE_ADDS = {
    "products": 1,
    "variant_inventory": 3,
    "product_pictures": 2,
    "categories": 1,
    "manufacturers": 1,
    "product_variants": 4,  # S, M, Red, Blue
}


@pytest.mark.parametrize(
    ("path", "process"),
    [
        ("/products", True),
        ("/variant_inventory", True),
        ("/product_pictures", True),
        ("/categories", True),
        ("/manufacturers", True),
        ("/product_variants", True),
        ("/products", False),
        ("/product_variants", False),
    ],
)
def test_connection_dropped_after_post_creates_no_duplicate(seeded_sandbox, path, process):
    sb = seeded_sandbox
    before = counts(sb)
    # process=True: the store applied the POST and the answer was lost; False: it never did.
    sb.faults.script([{"kind": "drop", "method": "POST", "path": path, "process": process}])
    result, calls = run(sb, [TEE], operations=ALL_OPS)
    assert [f["path"] for f in sb.faults.state()["fired"]] == [f"/api/v1{path}"]
    assert result.by_sku()["TEE-NEW"]["outcome"] == "created"
    expected = TEE_ADDS
    after = counts(sb)
    for resource, n in expected.items():
        assert after[resource] == before[resource] + n
    # Lost answer: one look-up by the natural key, no second POST; never applied: re-posted.
    posts = [w for w in write_routes(calls) if w == ("POST", path)]
    assert len(posts) == expected[path.strip("/")] + (0 if process else 1)
    # The rerun links everything and writes nothing.
    _again, calls2 = run(sb, [TEE], operations=ALL_OPS)
    assert write_routes(calls2) == []
    assert counts(sb) == after


@pytest.mark.parametrize("path", ["/categories", "/manufacturers", "/product_variants"])
def test_lost_post_then_failed_look_up_then_rerun_creates_no_duplicate(seeded_sandbox, path):
    """The POST was applied, its answer lost, and the look-up failed too: the rerun reuses it."""
    sb = seeded_sandbox
    before = counts(sb)
    sb.faults.script(
        [
            {"kind": "drop", "method": "POST", "path": path, "process": True},
            # The look-up after the lost answer fails (the run's first name look-up passes).
            {
                "kind": "status",
                "status": 400,
                "method": "GET",
                "path": path,
                "after": 0 if path == "/product_variants" else 1,
            },
        ]
    )
    first, _ = run(sb, [TEE], operations=ALL_OPS, fail_on_record_errors=False)
    assert [(f["method"], f["path"]) for f in sb.faults.state()["fired"]] == [
        ("POST", f"/api/v1{path}"),
        ("GET", f"/api/v1{path}"),
    ]
    assert first.by_sku()["TEE-NEW"]["outcome"] == "failed"
    resource = path.strip("/")
    assert counts(sb)[resource] == before[resource] + 1  # the lost POST did happen
    again, calls2 = run(sb, [TEE], operations=ALL_OPS)
    assert again.by_sku()["TEE-NEW"]["outcome"] in {"created", "updated"}
    after = counts(sb)
    for name, n in TEE_ADDS.items():
        assert after[name] == before[name] + n, name
    # The rerun finds what the lost POST made: only the values not made yet are posted.
    assert write_routes(calls2).count(("POST", path)) == TEE_ADDS[resource] - 1
    _third, calls3 = run(sb, [TEE], operations=ALL_OPS)
    assert write_routes(calls3) == []
    assert counts(sb) == after


def test_rerun_after_a_failed_run_completes_without_duplicates(seeded_sandbox):
    sb = seeded_sandbox
    before = counts(sb)
    # The second variant row's POST fails for good (three 503s): the listing fails part-way.
    sb.faults.script(
        [
            {
                "kind": "status",
                "status": 503,
                "method": "POST",
                "path": "/variant_inventory",
                "after": 1,
                "times": 3,
            }
        ]
    )
    first, _ = run(sb, [TEE], operations=ALL_OPS, fail_on_record_errors=False)
    line = first.by_sku()["TEE-NEW"]
    assert line["outcome"] == "failed"
    assert line["field"] == "variants[1].sku"
    again, _calls2 = run(sb, [TEE], operations=ALL_OPS)
    assert again.by_sku()["TEE-NEW"]["outcome"] == "updated"
    after = counts(sb)
    assert after["products"] == before["products"] + 1
    assert after["variant_inventory"] == before["variant_inventory"] + 3
    _third, calls3 = run(sb, [TEE], operations=ALL_OPS)
    assert write_routes(calls3) == []


def _normalise(calls: list[dict[str, Any]], ids: dict[int, int]) -> list[tuple[str, str, Any]]:
    def fix(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value < 0:
            return ids.get(value, value)
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, float) and value == int(value):
            return value
        return value

    out = []
    for c in calls:
        path = "/".join(
            str(fix(int(p))) if p.lstrip("-").isdigit() else p for p in c["path"].split("/")
        )
        out.append((c["method"], path, fix(c["body"])))
    return out


def test_dry_run_writes_nothing_and_plans_exactly_the_real_write_routes(seeded_sandbox):
    sb = seeded_sandbox
    simple, variant = seeded_simple(sb), seeded_variant(sb)
    s = {
        "sku": simple["item_number"],
        "quantity": 999,
        "title": "Dry Title",
        "images": ["https://cdn.example.com/dry.jpg"],
    }
    v = listing_of(sb, variant)
    v["variants"][0]["price"] = 1.23
    records = [TEE, MUG, s, v]
    before = counts(sb)
    dry, dry_calls = run(sb, records, operations=ALL_OPS, dry_run=True)
    assert write_routes(dry_calls) == []
    assert counts(sb) == before
    assert dry.summary["dry_run"] is True
    assert dry.summary["calls"]["writes"] == 0
    assert dry.by_sku()["TEE-NEW"]["outcome"] == "created"
    assert dry.by_sku()["TEE-NEW"]["planned_calls"][0]["method"] == "POST"
    # One listing at a time, so the real writes come in the plan's order (several at once
    # interleave listings; test_target_listings_in_flight.py pins that case per product).
    real, real_calls = run(sb, records, operations=ALL_OPS, max_in_flight=1)
    assert [r["outcome"] for r in real.results] == [r["outcome"] for r in dry.results]
    ids = {}
    for planned, applied in zip(dry.planned, real.planned, strict=True):
        if "created_id" in planned.extra:
            ids[planned.extra["created_id"]] = applied.extra["created_id"]
    plan = _normalise(
        [{"method": c.method, "path": c.path, "body": c.body} for c in dry.planned], ids
    )
    done = [
        (c.method, c.path.removeprefix("/api/v1"), c.request_json)
        for c in real_calls
        if c.method != "GET"
    ]
    assert plan == done
    assert len(plan) == real.summary["calls"]["writes"] > 20


# -- bad input -------------------------------------------------------------------------------
def test_each_bad_record_fails_alone_with_its_field(seeded_sandbox):
    sb = seeded_sandbox
    variant = seeded_variant(sb)
    good = listing_of(sb, variant)
    good["variants"][0]["quantity"] += 1
    simple = seeded_simple(sb)
    good_simple = {"sku": simple["item_number"], "quantity": simple["quantity_on_hand"] + 1}
    other = next(p for p in rows(sb, "products") if p["id"] not in (simple["id"], variant["id"]))
    bad_options = copy.deepcopy(good)
    bad_options["sku"] = "OPT-BAD"
    for i, x in enumerate(bad_options["variants"]):
        x["sku"] = f"OPT-BAD-{i}"
    bad_options["variants"][1]["options"] = {"Shoe size": "9"}
    records = [
        {"title": "no sku"},
        {"sku": "NEG-1", "quantity": -2},
        {"sku": "PRICE-1", "price": "twelve"},
        {"sku": "GTIN-1", "gtin": "036000291453"},
        good_simple,
        dict(good_simple, quantity=1),
        bad_options,
        {"sku": other["item_number"], "title": "x", "categories": ["Nowhere > Land"]},
        good,
    ]
    result, _calls = run(sb, records, operations=["link", "sync", "overwrite"])
    assert isinstance(result.exit_error, FailedRecordsError)
    fields = [(r.get("key"), r["outcome"], r.get("field")) for r in result.results]
    assert fields == [
        (None, "failed", "sku"),
        ("NEG-1", "failed", "quantity"),
        ("PRICE-1", "failed", "price"),
        ("GTIN-1", "failed", "gtin"),
        (simple["item_number"], "updated", None),
        (simple["item_number"], "failed", "sku"),
        ("OPT-BAD", "failed", "variants[1].options"),
        (other["item_number"], "failed", "categories[0]"),
        (good["sku"], "updated", None),
    ]
    assert "check digit" in result.results[3]["error"]
    assert "earlier in this input" in result.results[5]["error"]
    assert sb.store.get("products", simple["id"])["quantity_on_hand"] == good_simple["quantity"]
    assert result.summary["failed"] == 7
    assert sb.store.get("products", other["id"])["item_name"] == other["item_name"]
    # With fail_on_record_errors off, the same input exits cleanly.
    quiet, _ = run(
        sb, records, operations=["link", "sync", "overwrite"], fail_on_record_errors=False
    )
    assert quiet.exit_error is None
    assert quiet.summary["failed"] == 7


def test_negative_variant_quantity_names_the_variant(seeded_sandbox):
    sb = seeded_sandbox
    listing = listing_of(sb, seeded_variant(sb))
    listing["variants"][2]["quantity"] = -1
    result, calls = run(sb, [listing], fail_on_record_errors=False)
    assert result.results[0]["field"] == "variants[2].quantity"
    assert write_routes(calls) == []
    assert reads(calls) == []


# -- pacing ----------------------------------------------------------------------------------
def test_pacing_makes_no_429_at_five_calls_per_second(sandbox):
    add_reference_data(sandbox.store, groups=("Size",))
    sandbox.ratelimit.configure(calls=5, window=1.0)
    # Control: an unpaced burst of twelve calls does get a 429 from this sandbox.
    burst = [
        requests.get(
            f"{sandbox.base_url}/product_statuses",
            timeout=5,
            headers={"X-AC-Auth-Token": sandbox.token},
        ).status_code
        for _ in range(12)
    ]
    assert 429 in burst
    sandbox.ratelimit.configure(calls=5, window=1.0)
    listings = [dict(MUG, sku=f"MUG-{i}", upc=None) for i in range(4)]
    result, calls = run(sandbox, listings, operations=ALL_OPS, calls_per_window=5, window_seconds=1)
    assert {r["outcome"] for r in result.results} == {"created"}
    assert len(rows(sandbox, "products")) == 4
    # 5 reads (2 index look-ups, brands, categories, statuses); the 3 categories of the path
    # and the brand; per mug its product, picture and the PUT showing it; one tree rebuild.
    assert len(calls) == 5 + 3 + 1 + 3 * len(listings) + 1
    assert [c.status for c in calls if c.status == 429] == []
    # Paced, not stalled: no wait longer than the 1-s window (plus slack) between two calls.
    stamps = [c.ts for c in calls]
    assert longest_gap(stamps) <= 1.0 + 0.5


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_exits_non_zero_after_processing_every_record(seeded_sandbox, tmp_path):
    sb = seeded_sandbox
    simple = seeded_simple(sb)
    config = tmp_path / "config.json"
    results = tmp_path / "results.jsonl"
    config.write_text(
        json.dumps(
            {
                "access_token": sb.token,
                "api_url": sb.base_url,
                "calls_per_window": 1000,
                "window_seconds": 1,
                "results_path": str(results),
            }
        )
    )
    text = singer_lines(
        [{"sku": "BAD", "quantity": -1}, {"sku": simple["item_number"], "quantity": 4321}]
    )
    done = subprocess.run(
        [sys.executable, "-m", "target_cartcom", "--config", str(config)],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "failed" in done.stderr
    assert sb.store.get("products", simple["id"])["quantity_on_hand"] == 4321
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert [x.get("outcome") for x in lines[:2]] == ["failed", "updated"]
    assert sb.token not in done.stderr + done.stdout


def test_publish_refuses_listings_cart_com_cannot_create(seeded_sandbox):
    sb = seeded_sandbox
    records = [
        {"sku": "NO-TITLE", "categories": ["Home > Kitchen"], "price": 5.0},
        {"sku": "NO-CAT", "title": "x", "price": 5.0},
        {"sku": "NO-PRICE", "title": "x", "categories": ["Home > Kitchen"]},
        dict(MUG, sku="OK-MUG", upc=None),
    ]
    result, calls = run(sb, records, operations=ALL_OPS, fail_on_record_errors=False)
    assert [(r["key"], r["outcome"], r.get("field")) for r in result.results] == [
        ("NO-TITLE", "failed", "title"),
        ("NO-CAT", "failed", "categories"),
        ("NO-PRICE", "failed", "price"),
        ("OK-MUG", "created", None),
    ]
    assert write_routes(calls).count(("POST", "/products")) == 1


@pytest.mark.parametrize(
    "quirks",
    [
        {
            "list_keys": {
                "product_variants": "variants",
                "product_pictures": "pictures",
                "variant_inventory": "inventory",
                "manufacturers": "brands",
            }
        },
        {"empty_page_status": 404},
    ],
    ids=["list-keys", "empty-404"],
)
def test_publish_and_rerun_under_the_api_quirks(quirks):
    """List keys named after nested collections (§13), and empty lists answered 404 (§1.3)."""
    from cartcom_sandbox.config import SandboxConfig
    from cartcom_sandbox.server import SandboxServer

    config = SandboxConfig(plan="unlimited", **quirks)
    with SandboxServer(":memory:", tokens=["test-token"], config=config) as sb:
        add_reference_data(sb.store, groups=("Size",))
        first, _ = run(sb, [TEE, MUG], operations=ALL_OPS)
        assert {r["outcome"] for r in first.results} == {"created"}
        again, calls = run(sb, [TEE, MUG], operations=ALL_OPS)
        assert write_routes(calls) == []
        assert {r["outcome"] for r in again.results} == {"unchanged"}
        assert sb.store.count("variant_inventory") == 3


def test_publish_never_duplicates_a_sku_even_when_link_by_skips_it(seeded_sandbox):
    sb = seeded_sandbox
    simple = seeded_simple(sb)
    listing = {"sku": simple["item_number"], "title": "Dup", "categories": ["Home"], "price": 1.0}
    result, calls = run(
        sb, [listing], operations=ALL_OPS, link_by=["upc"], fail_on_record_errors=False
    )
    line = result.by_sku()[simple["item_number"]]
    assert line["outcome"] == "failed"
    assert line["field"] == "sku"
    assert write_routes(calls) == []
    assert len(rows(sb, "products", item_number=simple["item_number"])) == 1


def test_sync_put_of_a_simple_product_carries_only_the_changed_fields(seeded_sandbox):
    """Stock changed, price, msrp and cost restated at the store's values: one PUT of the stock.

    Re-sending unchanged prices would leave the store the same, so only the request body (the
    sandbox logs it parsed) and the result's ``changes`` map can show it.
    """
    sb = seeded_sandbox
    simple = seeded_simple(sb)
    sb.store.update("products", simple["id"], {"retail": 24.5, "cost": 7.25})
    stock = simple["quantity_on_hand"]
    listing = {
        "sku": simple["item_number"],
        "quantity": stock + 3,
        "price": simple["price"],
        "msrp": 24.5,
        "cost": 7.25,
    }
    result, calls = run(sb, [listing])
    assert [(c.method, c.path, c.request_json) for c in writes(calls)] == [
        ("PUT", f"/api/v1/products/{simple['id']}", {"quantity_on_hand": stock + 3}),
    ]
    line = result.by_sku()[listing["sku"]]
    assert (line["outcome"], line["changes"]) == (
        "updated",
        {"quantity": {"old": stock, "new": stock + 3}},
    )


def test_publishing_a_new_variant_leaves_the_existing_rows_as_they_are(sandbox):
    """A published listing sent again with one more variant: publish adds that row only.

    The existing row's stock and weight differ in the feed, but they are sync's and
    overwrite's to change: publish alone writes nothing to it.
    """
    add_reference_data(sandbox.store, groups=("Size",))
    cap = {"sku": "CAP-2", "title": "Cap", "categories": ["Apparel"], "price": 12.0}
    small = {"sku": "CAP-2-S", "options": {"Size": "S"}, "quantity": 2, "weight": 1.0}
    run(sandbox, [{**cap, "variants": [small]}], operations=ALL_OPS)
    large = {"sku": "CAP-2-L", "options": {"Size": "L"}, "quantity": 5}
    changed = {**small, "quantity": 9, "weight": 2.0}
    result, calls = run(
        sandbox, [{**cap, "variants": [changed, large]}], operations=["link", "publish"]
    )
    assert set(result.by_sku()["CAP-2"]["changes"]) == {"variants[CAP-2-L]"}
    in_store = {r["item_number"]: r for r in rows(sandbox, "variant_inventory")}
    assert (in_store["CAP-2-S"]["inventory"], in_store["CAP-2-S"]["weight"]) == (2, 1.0)
    assert in_store["CAP-2-L"]["inventory"] == 5
    assert ("PUT", f"/variant_inventory/{in_store['CAP-2-S']['id']}") not in write_routes(calls)

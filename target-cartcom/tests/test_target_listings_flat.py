"""Flat feeds on the sandbox: one row per variant with ``parent_sku``, grouped per run.

The demo's listings feed given flat (rows shuffled, batches small enough to split parents)
leaves a store exactly as the same feed given nested does; replays write nothing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import add_reference_data, run_target
from target_cartcom.listings.flat import VARIANT_FIELDS

DEMO_FEED = Path(__file__).resolve().parents[2] / "demo" / "data" / "listings.jsonl"
ALL_OPS = ["link", "sync", "publish", "overwrite"]
TOKEN = "test-token"


def nested_feed() -> list[dict[str, Any]]:
    """The demo feed; a parent of variants keeps only what flat rows can say of a parent."""
    out = []
    for line in DEMO_FEED.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("variants"):
            record = {k: v for k, v in record.items() if k == "sku" or k not in VARIANT_FIELDS}
        out.append(record)
    return out


def flat_feed(nested: list[dict[str, Any]], seed: int = 10) -> list[dict[str, Any]]:
    """One row per variant (the parent's fields repeated on each), simple products as is."""
    rows = []
    for record in nested:
        if not record.get("variants"):
            rows.append(record)
            continue
        parent = {k: v for k, v in record.items() if k not in ("sku", "variants")}
        rows.extend({**parent, **v, "parent_sku": record["sku"]} for v in record["variants"])
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    # Each parent's rows keep their relative order (the order of its option values, as a
    # sorted table gives it); parents are interleaved and split anywhere.
    queues: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        queues.setdefault(row.get("parent_sku") or row["sku"], []).append(row)
    return [queues[row.get("parent_sku") or row["sku"]].pop(0) for row in shuffled]


@pytest.fixture
def two_stores():
    """Two empty stores with the same reference data."""
    servers = [SandboxServer(":memory:", tokens=[TOKEN]) for _ in range(2)]
    for server in servers:
        server.start()
        add_reference_data(server.store)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def run(sb: Any, records: list[dict[str, Any]], **settings: Any):
    """Run the target; return the run and the write calls it made."""
    before = len(sb.calls)
    result = run_target(sb.base_url, TOKEN, records, operations=ALL_OPS, **settings)
    calls = sb.calls.snapshot()[before:]
    return result, [(c.method, c.path) for c in calls if c.method != "GET"]


def catalog(sb: Any) -> dict[str, list[tuple]]:
    """The store's catalog with ids replaced by what they name (SKUs, category names)."""
    products = {p["id"]: p["item_number"] for p in sb.store.query("products")}
    vis = {v["id"]: v["item_number"] for v in sb.store.query("variant_inventory")}
    categories = {c["id"]: c["name"] for c in sb.store.query("categories")}
    brands = {m["id"]: m["name"] for m in sb.store.query("manufacturers")}
    names = {
        "product_id": products,
        "variant_inventory_id": vis,
        "category_id": categories,
        "parent_category_id": categories,
        "primary_category_id": categories,
        "manufacturer_id": brands,
    }

    def canon(row: dict[str, Any]) -> tuple:
        out = []
        for key, value in sorted(row.items()):
            if key in names:
                out.append((key, names[key].get(value, value)))
            elif key != "id" and not key.endswith("_id") and not key.endswith("_at"):
                out.append((key, json.dumps(value, sort_keys=True, default=str)))
        return tuple(out)

    resources = (
        "products",
        "variant_inventory",
        "product_pricing",
        "product_pictures",
        "product_variants",
        "categories",
        "manufacturers",
    )
    return {r: sorted(canon(row) for row in sb.store.query(r)) for r in resources}


# -- one store: what a row says of its parent ------------------------------------------------
def variant_rows(parent_sku: str, sizes: tuple[str, ...], **parent: Any) -> list[dict[str, Any]]:
    """One flat row per size of ``parent_sku``, each with ``parent``'s fields."""
    return [
        {
            **parent,
            "parent_sku": parent_sku,
            "sku": f"{parent_sku}-{size}",
            "options": {"Size": size},
            "price": 10,
            "quantity": 1,
        }
        for size in sizes
    ]


def test_a_row_whose_parent_sku_is_its_own_sku_is_a_plain_listing(sandbox):
    """``parent_sku`` equal to ``sku`` (an ERP export's habit): one simple product, no rows."""
    add_reference_data(sandbox.store)
    row = {"sku": "MUG", "parent_sku": "MUG", "title": "Mug", "price": 8, "quantity": 6}
    row["categories"] = ["Apparel > Shirts"]
    result, _ = run(sandbox, [row])
    assert [(r["sku"], r["outcome"]) for r in result.results] == [("MUG", "created")]
    (mug,) = sandbox.store.query("products")
    assert (mug["item_number"], mug["quantity_on_hand"]) == ("MUG", 6)
    assert not mug["use_variant_inventory"]
    assert sandbox.store.query("variant_inventory") == []


def test_a_parent_field_null_on_one_row_and_given_on_a_sibling_is_no_disagreement(sandbox):
    """A null ``title`` says nothing: the sibling's title is the parent's, both rows land."""
    add_reference_data(sandbox.store)
    rows = variant_rows("TEE", ("S", "M"), categories=["Apparel > Shirts"])
    rows[0]["title"] = None
    rows[1]["title"] = "Tee"
    result, _ = run(sandbox, rows)
    assert {r["sku"]: r["outcome"] for r in result.results} == {
        "TEE-S": "created",
        "TEE-M": "created",
    }
    (tee,) = sandbox.store.query("products")
    assert tee["item_name"] == "Tee"


def test_a_dry_run_plans_a_parents_calls_on_its_first_row_only(sandbox):
    """The planned calls of a parent are listed once: summing rows gives the run's calls."""
    add_reference_data(sandbox.store)
    rows = variant_rows("TEE", ("S", "M", "L"), title="Tee", categories=["Apparel > Shirts"])
    dry, writes = run(sandbox, rows, dry_run=True)
    assert writes == []
    planned = {r["sku"]: r.get("planned_calls", []) for r in dry.results}
    assert planned["TEE-S"]
    assert ("POST", "/products") in {(c["method"], c["path"]) for c in planned["TEE-S"]}
    assert planned["TEE-M"] == planned["TEE-L"] == []


def test_a_row_with_an_empty_sku_fails_its_parent_and_its_line_has_no_sku(sandbox, caplog):
    """A variant row whose SKU cell is empty: the parent fails; that row's line has no SKU.

    The log says so too (``listings None failed``), never an empty-looking ``''``.
    """
    add_reference_data(sandbox.store)
    rows = variant_rows("TEE", ("S", "M"), title="Tee", categories=["Apparel > Shirts"])
    rows[1]["sku"] = ""
    with caplog.at_level("WARNING"):
        result, writes = run(sandbox, rows)
    assert "listings None failed (sku): is required" in caplog.text
    assert writes == []
    lines = sorted(result.results, key=lambda r: "sku" not in r)
    assert [(r.get("sku"), r["parent_sku"], r["outcome"]) for r in lines] == [
        ("TEE-S", "TEE", "failed"),
        (None, "TEE", "failed"),
    ]
    assert lines[1]["field"] == "sku"


def test_flat_feed_leaves_the_store_as_the_nested_feed_does(two_stores):
    """The demo feed nested in one store, flat (shuffled, 7 rows a batch) in the other.

    Same products, variant rows, prices, pictures and categories; replays write nothing.
    """
    nested_store, flat_store = two_stores
    nested = nested_feed()
    flat = flat_feed(nested)
    assert sum(1 for r in flat if r.get("parent_sku")) > 300

    first_nested, writes_nested = run(nested_store, nested)
    first_flat, writes_flat = run(flat_store, flat, batch_size_rows=7)
    assert first_nested.summary["failed"] == 0
    assert first_flat.summary["failed"] == 0, [
        r for r in first_flat.results if r["outcome"] == "failed"
    ][:3]
    assert writes_flat, "the flat feed published nothing"
    assert catalog(flat_store) == catalog(nested_store)
    assert len(writes_flat) == len(writes_nested)
    # One result line per row, naming the row's SKU and its parent.
    assert len(first_flat.results) == len(flat)
    by_sku = {r["sku"]: r for r in first_flat.results}
    for row in flat:
        line = by_sku[row["sku"]]
        assert line["outcome"] == "created"
        assert line.get("parent_sku") == row.get("parent_sku")

    for store, feed, extra in (
        (nested_store, nested, {}),
        (flat_store, flat, {"batch_size_rows": 7}),
    ):
        again, writes = run(store, feed, **extra)
        assert writes == []
        assert {r["outcome"] for r in again.results} == {"unchanged"}


def test_flat_rows_that_disagree_on_a_parent_field_fail_alone(two_stores):
    """A row whose title differs from its parent's fails naming ``title``; its siblings land.

    A row's bad quantity fails the parent as it would nested, named on that row as
    ``quantity``; dry run plans the writes and makes none.
    """
    store, _ = two_stores
    parent = {"title": "Tee", "categories": ["Apparel > Shirts"], "brand": "Northwind"}
    rows = [
        {
            **parent,
            "parent_sku": "TEE",
            "sku": "TEE-S",
            "options": {"Size": "S"},
            "price": 10,
            "quantity": "3",
        },
        {
            **parent,
            "parent_sku": "TEE",
            "sku": "TEE-M",
            "options": {"Size": "M"},
            "price": 10,
            "quantity": 4.0,
        },
        {
            **parent,
            "title": "Other",
            "parent_sku": "TEE",
            "sku": "TEE-L",
            "options": {"Size": "L"},
            "price": 10,
        },
        {
            **parent,
            "parent_sku": "CAP",
            "sku": "CAP-S",
            "options": {"Size": "S"},
            "price": 5,
            "quantity": 2.5,
        },
        {
            **parent,
            "parent_sku": "CAP",
            "sku": "CAP-M",
            "options": {"Size": "M"},
            "price": 5,
            "quantity": 1,
        },
    ]
    dry, writes = run(store, rows, dry_run=True)
    assert writes == []
    assert {r["sku"]: r["outcome"] for r in dry.results} == {
        "TEE-S": "created",
        "TEE-M": "created",
        "TEE-L": "failed",
        "CAP-S": "failed",
        "CAP-M": "failed",
    }
    result, writes = run(store, rows, batch_size_rows=2)
    by = {r["sku"]: r for r in result.results}
    assert (by["TEE-L"]["field"], by["TEE-L"]["parent_sku"]) == ("title", "TEE")
    assert by["CAP-S"]["field"] == "quantity"
    assert by["CAP-M"]["field"] == "variants[0].quantity"
    assert by["TEE-S"]["outcome"] == by["TEE-M"]["outcome"] == "created"
    tee = [p for p in store.store.query("products") if p["item_number"] == "TEE"]
    assert len(tee) == 1
    assert tee[0]["item_name"] == "Tee"
    vis = {v["item_number"]: v["inventory"] for v in store.store.query("variant_inventory")}
    assert (vis["TEE-S"], vis["TEE-M"]) == (3, 4)
    assert "TEE-L" not in vis
    assert not any(p["item_number"] == "CAP" for p in store.store.query("products"))


def test_a_disagreement_names_the_row_that_gave_the_parent_field(sandbox):
    """The row that disagrees fails naming the earlier row whose value it contradicts."""
    add_reference_data(sandbox.store)
    rows = variant_rows("TEE", ("S", "M"), title="Tee", categories=["Apparel > Shirts"])
    rows[1]["title"] = "Other"
    result, _ = run(sandbox, rows, fail_on_record_errors=False)
    line = {r["sku"]: r for r in result.results}["TEE-M"]
    assert (line["outcome"], line["field"]) == ("failed", "title")
    assert "given for parent 'TEE' by an earlier row (sku 'TEE-S')" in line["error"]


def test_a_parent_sku_of_true_is_no_parent(sandbox):
    """``parent_sku: true`` (a spreadsheet's checkbox) names no parent: a plain listing."""
    add_reference_data(sandbox.store)
    row = {"sku": "MUG", "parent_sku": True, "title": "Mug", "price": 8, "quantity": 6}
    row["categories"] = ["Apparel > Shirts"]
    result, _ = run(sandbox, [row])
    assert [(r["sku"], r["outcome"]) for r in result.results] == [("MUG", "created")]
    (mug,) = sandbox.store.query("products")
    assert (mug["item_number"], mug["quantity_on_hand"]) == ("MUG", 6)
    assert sandbox.store.query("variant_inventory") == []

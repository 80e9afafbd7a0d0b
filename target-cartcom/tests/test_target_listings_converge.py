"""Publish never leaves a half-published product, and a publish stopped part-way converges.

Issue 20, point 2. What the store refuses is caught before the first write of a listing, naming
the field; a publish refused, killed or failed part-way anyway leaves a hidden product marked
unfinished, and the next run of the same feed makes it exactly what a clean publish of that feed
makes on a fresh store (compared row by row in the sandbox store); a third run writes nothing.
A product without the mark is the merchant's: a rerun does not undo the merchant's edits.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import (
    add_reference_data,
    category_path,
    published,
    singer_lines,
)
from cartcom_testing.runs import run_listings as run
from cartcom_testing.runs import write_routes
from target_cartcom.listings.flat import VARIANT_FIELDS

PUBLISH = ["link", "sync", "publish"]
ALL_OPS = ["link", "sync", "publish", "overwrite"]
MARKER = "target-cartcom: unfinished publish, hidden until the next run completes it"

#: A 3-variant product with a new brand, a new category level and 2 images. One option
#: dimension: S is priced below the product (a price row), M has a cost of its own (a price
#: row), L is priced above it (a surcharge on its option value, no price row).
TEE = {
    "sku": "CNV",
    "title": "Converge Tee",
    "description": "<p>Heavy cotton.</p>",
    "brand": "Converge Co",
    "categories": ["Apparel > Shirts > Converge"],
    "images": ["https://cdn.example.com/cnv-front.jpg", "https://cdn.example.com/cnv-back.jpg"],
    "mpn": "CNV-01",
    "weight": 0.5,
    "price": 20.0,
    "msrp": 25.0,
    "cost": 7.0,
    "variants": [
        {
            "sku": "CNV-S",
            "upc": "036000291452",
            "options": {"Size": "S"},
            "price": 18.0,
            "quantity": 1,
        },
        {"sku": "CNV-M", "options": {"Size": "M"}, "price": 20.0, "cost": 9.0, "quantity": 2},
        {"sku": "CNV-L", "options": {"Size": "L"}, "price": 22.0, "quantity": 3, "mpn": "L-1"},
    ],
}

#: Each write of a clean publish of TEE: (step, method, path, matching calls to let through,
#: the field the failed result names).
STEPS = [
    ("category", "POST", "/categories", 0, "categories[0]"),
    ("brand", "POST", "/manufacturers", 0, "brand"),
    ("product", "POST", "/products", 0, "sku"),
    ("option-S", "POST", "/product_variants", 0, "variants[0].options"),
    ("row-S", "POST", "/variant_inventory", 0, "variants[0].sku"),
    ("price-S", "POST", "/product_pricing", 0, "variants[0].price"),
    ("option-M", "POST", "/product_variants", 1, "variants[1].options"),
    ("row-M", "POST", "/variant_inventory", 1, "variants[1].sku"),
    ("price-M", "POST", "/product_pricing", 1, "variants[1].cost"),
    ("option-L", "POST", "/product_variants", 2, "variants[2].options"),
    ("row-L", "POST", "/variant_inventory", 2, "variants[2].sku"),
    ("picture-1", "POST", "/product_pictures", 0, "images[0]"),
    ("picture-2", "POST", "/product_pictures", 1, "images[1]"),
    ("show", "PUT", "/products/", 0, "sku"),
]


# -- the store, as rows to compare -----------------------------------------------------------
def hidden_products(sb: Any, sku: str) -> list[int]:
    """``is_hidden`` of every product with SKU ``sku``."""
    return [p["is_hidden"] for p in sb.store.query("products", {"item_number": sku})]


@pytest.fixture
def fresh() -> Iterator[Callable[[], SandboxServer]]:
    """Start sandboxes with the reference data (status, Apparel > Shirts, Size and Color)."""
    servers: list[SandboxServer] = []

    def start(**config: Any) -> SandboxServer:
        server = SandboxServer(
            ":memory:", tokens=["test-token"], config=SandboxConfig(plan="unlimited", **config)
        )
        server.start()
        servers.append(server)
        add_reference_data(server.store)
        return server

    yield start
    for server in servers:
        server.faults.clear()
        server.stop()


@pytest.fixture
def clean(fresh: Callable[[], SandboxServer]) -> dict[str, Any]:
    """The store rows a clean publish of TEE gives on a fresh store."""
    sb = fresh()
    result, calls = run(sb, [TEE], operations=PUBLISH)
    assert result.by_sku()["CNV"]["outcome"] == "created"
    # The steps of STEPS are the writes of a clean publish, in this order.
    assert [(m, p) for m, p in write_routes(calls)] == [
        ("POST", "/categories"),
        ("POST", "/manufacturers"),
        ("POST", "/products"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("POST", "/product_pricing"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("POST", "/product_pricing"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("POST", "/product_pictures"),
        ("POST", "/product_pictures"),
        ("PUT", f"/products/{result.by_sku()['CNV']['ids']['product_id']}"),
        ("POST", "/categories/rebuild_tree"),
    ]
    return published(sb, "CNV")


def _converges(sb: Any, clean: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """The rerun makes the product what a clean publish makes it; a third run writes nothing."""
    again, _ = run(sb, records, operations=PUBLISH)
    assert {r["outcome"] for r in again.results} <= {"created", "updated"}, again.results
    assert published(sb, "CNV") == clean
    third, calls3 = run(sb, records, operations=PUBLISH)
    assert write_routes(calls3) == []
    assert {r["outcome"] for r in third.results} == {"unchanged"}


# -- the convergence matrix ------------------------------------------------------------------
@pytest.mark.parametrize("step", STEPS, ids=[s[0] for s in STEPS])
def test_a_refused_write_at_each_step_then_a_rerun_gives_the_clean_publish(fresh, clean, step):
    _, method, path, after, field = step
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": method, "path": path, "after": after}]
    )
    first, _ = run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    assert [f["method"] for f in sb.faults.state()["fired"]] == [method]
    line = first.by_sku()["CNV"]
    assert (line["outcome"], line["field"]) == ("failed", field)
    # Never on sale half-published: whatever exists is hidden and marked unfinished.
    assert hidden_products(sb, "CNV") in ([], [1])
    for product in sb.store.query("products", {"item_number": "CNV"}):
        assert product["keywords"] == MARKER
        assert "the next run of this feed completes it" in line["warning"]
    sb.faults.clear()
    _converges(sb, clean, [TEE])


@pytest.mark.parametrize(
    ("method", "path", "after"),
    [("POST", "/variant_inventory", 1), ("POST", "/product_pictures", 1)],
    ids=["row-M", "picture-2"],
)
def test_a_fault_outlasting_the_retries_then_a_rerun_gives_the_clean_publish(
    fresh, clean, method, path, after
):
    sb = fresh()
    sb.faults.script(
        [
            {
                "kind": "status",
                "status": 503,
                "method": method,
                "path": path,
                "after": after,
                "times": 5,
            }
        ]
    )
    first, _ = run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    assert first.by_sku()["CNV"]["outcome"] == "failed"
    assert hidden_products(sb, "CNV") == [1]
    sb.faults.clear()
    _converges(sb, clean, [TEE])


def test_a_refused_picture_converges_when_the_store_rewrites_image_urls(fresh):
    """A store that keeps its downloaded copy's path as ``image_file`` (docs/api.md §4, INF)."""
    reference = fresh(external_images="rewrite")
    assert run(reference, [TEE], operations=PUBLISH)[0].by_sku()["CNV"]["outcome"] == "created"
    clean = published(reference, "CNV")
    pictures = sorted((json.loads(p) for p in clean["pictures"]), key=lambda p: p["sort_order"])
    assert [p["image_file"] for p in pictures] == [
        "/shared/images/cnv-front.jpg",
        "/shared/images/cnv-back.jpg",
    ]
    sb = fresh(external_images="rewrite")
    sb.faults.script(
        [
            {
                "kind": "status",
                "status": 400,
                "method": "POST",
                "path": "/product_pictures",
                "after": 1,
            }
        ]
    )
    first, _ = run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    assert first.by_sku()["CNV"]["field"] == "images[1]"
    sb.faults.clear()
    _converges(sb, clean, [TEE])


def test_flat_rows_refused_part_way_then_rerun_give_the_clean_publish(fresh):
    """The product as flat rows (one per variant): refused at its second picture."""
    parent = {k: v for k, v in TEE.items() if k not in ("sku", "variants", *VARIANT_FIELDS)}
    rows = [{**parent, **v, "parent_sku": "CNV"} for v in TEE["variants"]]
    reference = fresh()
    assert {r["outcome"] for r in run(reference, rows, operations=PUBLISH)[0].results} == {
        "created"
    }
    clean = published(reference, "CNV")
    sb = fresh()
    sb.faults.script(
        [
            {
                "kind": "status",
                "status": 400,
                "method": "POST",
                "path": "/product_pictures",
                "after": 1,
            }
        ]
    )
    first, _ = run(sb, rows, operations=PUBLISH, fail_on_record_errors=False)
    assert {r["outcome"] for r in first.results} == {"failed"}
    assert {r["field"] for r in first.results} == {"images[1]"}
    sb.faults.clear()
    _converges(sb, clean, rows)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait until ``condition`` holds (a condition, not a duration: no timing in the test)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_target_killed_part_way_then_a_rerun_gives_the_clean_publish(fresh, clean, tmp_path):
    """The target process is killed while its second variant row's POST is in flight."""
    sb = fresh()
    sb.faults.script([{"kind": "hold", "method": "POST", "path": "/variant_inventory", "after": 1}])
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "access_token": sb.token,
                "api_url": sb.base_url,
                "calls_per_window": 1000,
                "window_seconds": 1,
                "operations": PUBLISH,
                "results_path": str(tmp_path / "results.jsonl"),
            }
        )
    )
    feed = tmp_path / "feed.singer"
    feed.write_text(singer_lines([TEE]))
    with feed.open() as stdin:
        target = subprocess.Popen(
            [sys.executable, "-m", "target_cartcom", "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait_for(lambda: bool(sb.faults.state()["fired"]), "the held POST")
        os.kill(target.pid, signal.SIGKILL)
        target.wait(timeout=30)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait(timeout=30)
    assert target.returncode == -signal.SIGKILL
    sb.faults.release()  # the store applies the POST the dead target sent
    _wait_for(
        lambda: (
            [c.method for c in sb.calls if c.path.endswith("/variant_inventory")].count("POST") == 2
        ),
        "the released POST",
    )
    assert hidden_products(sb, "CNV") == [1]
    assert sb.store.count("variant_inventory") == 2
    assert sb.store.count("product_pictures") == 0
    _converges(sb, clean, [TEE])


def test_dry_run_of_a_completion_plans_exactly_its_writes(fresh, clean):
    sb = fresh()
    sb.faults.script(
        [
            {
                "kind": "status",
                "status": 400,
                "method": "POST",
                "path": "/product_variants",
                "after": 1,
            }
        ]
    )
    run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    before = published(sb, "CNV")
    dry, dry_calls = run(sb, [TEE], operations=PUBLISH, dry_run=True)
    assert write_routes(dry_calls) == []
    assert published(sb, "CNV") == before
    real, real_calls = run(sb, [TEE], operations=PUBLISH)
    ids = {}
    for planned, applied in zip(dry.planned, real.planned, strict=True):
        if "created_id" in planned.extra:
            ids[planned.extra["created_id"]] = applied.extra["created_id"]

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            return ids.get(value, value)
        return value

    plan = [
        (
            c.method,
            "/".join(str(fix(int(p))) if p.lstrip("-").isdigit() else p for p in c.path.split("/")),
            fix(c.body),
        )
        for c in dry.planned
    ]
    done = [(c.method, c.path.removeprefix("/api/v1"), c.request_json) for c in real_calls]
    assert plan == [d for d in done if d[0] != "GET"]
    assert len(plan) > 5
    assert [r["outcome"] for r in dry.results] == [r["outcome"] for r in real.results]
    assert published(sb, "CNV") == clean


# -- what is not ours, or not ours to finish -------------------------------------------------
def test_a_merchants_edits_to_a_completed_product_survive_a_rerun(fresh, clean):
    sb = fresh()
    first, _ = run(sb, [TEE], operations=PUBLISH)
    pid = first.by_sku()["CNV"]["ids"]["product_id"]
    back = [
        p
        for p in sb.store.query("product_pictures", {"product_id": pid})
        if p["image_file"].endswith("cnv-back.jpg")
    ]
    sb.store.delete("product_pictures", back[0]["id"])
    sb.store.update(
        "products", pid, {"item_name": "Merchant's title", "is_hidden": 1, "keywords": "tee"}
    )
    row_l = sb.store.query("variant_inventory", {"item_number": "CNV-L"})[0]
    sb.store.update("variant_inventory", row_l["id"], {"manufacturer_item_number": "MERCHANT"})
    edited = published(sb, "CNV")
    again, calls = run(sb, [TEE], operations=PUBLISH)
    assert write_routes(calls) == []
    assert published(sb, "CNV") == edited
    line = again.by_sku()["CNV"]
    assert line["outcome"] == "unchanged"
    # The missing picture is not re-added, and the result says why.
    assert "1 of the listing's 2 images (not images[1])" in line["warning"]


def test_a_product_missing_a_picture_without_the_mark_gets_a_warning_not_a_guess(fresh):
    """As a product published before unfinished publishes were marked: nothing is added."""
    sb = fresh()
    listing = {k: v for k, v in TEE.items() if k != "variants"}
    listing["quantity"] = 4
    first, _ = run(sb, [listing], operations=PUBLISH)
    pid = first.by_sku()["CNV"]["ids"]["product_id"]
    pictures = sb.store.query("product_pictures", {"product_id": pid})
    sb.store.delete("product_pictures", max(p["id"] for p in pictures))
    again, calls = run(sb, [listing], operations=PUBLISH)
    assert write_routes(calls) == []
    line = again.by_sku()["CNV"]
    assert line["outcome"] == "unchanged"
    assert "(not images[1])" in line["warning"]
    assert sb.store.count("product_pictures") == 1
    # Overwrite with images is the way to add it.
    fixed, calls2 = run(sb, [listing], operations=ALL_OPS)
    assert write_routes(calls2) == [("POST", "/product_pictures")]
    assert fixed.by_sku()["CNV"].get("warning") is None


def test_an_unfinished_product_is_neither_shown_nor_synced_without_publish(fresh, clean):
    """Publish off (a sync run, full feed hiding what left it): the product stays hidden."""
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    synced = copy.deepcopy(TEE)
    synced["hidden"] = False
    synced["variants"][0]["quantity"] = 50
    result, calls = run(
        sb,
        [synced],
        operations=["link", "sync"],
        missing_listings="hide",
        feed_scope={"sku_prefix": "CNV"},
        fail_on_record_errors=False,
    )
    assert write_routes(calls) == []
    lines = [r for r in result.results if r.get("key") == "CNV"]
    assert [(r["operation"], r["outcome"], r["field"]) for r in lines] == [
        ("link", "skipped", "sku")
    ]
    assert "unfinished publish" in lines[0]["error"]
    assert hidden_products(sb, "CNV") == [1]
    _converges(sb, clean, [TEE])


# -- what the store refuses, caught before any write -----------------------------------------
GOOD = {
    "sku": "GOOD-1",
    "title": "Good",
    "categories": ["Apparel > Shirts"],
    "price": 5.0,
    "variants": [{"sku": "GOOD-1-S", "options": {"Size": "S"}, "quantity": 1}],
}


def _bad(**changes: Any) -> dict[str, Any]:
    listing = {
        "sku": "BAD-1",
        "title": "Bad",
        "brand": "Refused Brand",
        "categories": ["Apparel > Refused Category"],
        "images": ["https://cdn.example.com/bad.jpg"],
        "price": 5.0,
        "variants": [{"sku": "BAD-1-S", "options": {"Size": "S"}, "quantity": 1}],
    }
    listing.update(changes)
    return listing


REFUSED = [
    (
        "variant-without-options",
        _bad(variants=[{"sku": "BAD-1-S", "quantity": 1}]),
        "variants[0].options",
    ),
    (
        "empty-options",
        _bad(variants=[{"sku": "BAD-1-S", "options": {}, "quantity": 1}]),
        "variants[0].options",
    ),
    ("description-over-4-MiB", _bad(description="x" * (4 * 1024 * 1024)), "description"),
    ("no-title", _bad(title=None), "title"),
    ("no-category", _bad(categories=None), "categories"),
]


def good_writes(sb: Any) -> list[tuple[str, str]]:
    """The writes of GOOD-1's publish: the only writes of a run where BAD-1 fails."""
    pid = sb.store.query("products", {"item_number": "GOOD-1"})[0]["id"]
    return [
        ("POST", "/products"),
        ("POST", "/product_variants"),
        ("POST", "/variant_inventory"),
        ("PUT", f"/products/{pid}"),
    ]


def _nothing_for_bad(sb: Any) -> None:
    """The store holds nothing of BAD-1: no product, row, brand or category it would make."""
    assert sb.store.query("products", {"item_number": "BAD-1"}) == []
    assert sb.store.query("variant_inventory", {"item_number": "BAD-1-S"}) == []
    assert sb.store.query("manufacturers", {"name": "Refused Brand"}) == []
    assert sb.store.query("categories", {"name": "Refused Category"}) == []


@pytest.mark.parametrize(
    ("listing", "field"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_what_the_store_refuses_fails_before_any_write_naming_the_field(fresh, listing, field):
    sb = fresh()
    result, calls = run(sb, [listing, GOOD], operations=PUBLISH, fail_on_record_errors=False)
    by = result.by_sku()
    assert (by["BAD-1"]["outcome"], by["BAD-1"]["field"]) == ("failed", field)
    assert by["GOOD-1"]["outcome"] == "created"
    assert sb.store.count("products") == 1
    _nothing_for_bad(sb)
    assert write_routes(calls) == good_writes(sb)


FLAT_PARENT = {
    "parent_sku": "BAD-1",
    "title": "Bad",
    "brand": "Refused Brand",
    "categories": ["Apparel > Refused Category"],
    "price": 5.0,
}


@pytest.mark.parametrize(
    ("rows", "fields"),
    [
        ([{**FLAT_PARENT, "sku": "BAD-1-S", "quantity": 1}], ["options"]),
        (
            [
                {**FLAT_PARENT, "sku": "BAD-1-S", "options": {"Size": "S"}},
                {**FLAT_PARENT, "sku": "BAD-1-M"},
            ],
            ["variants[1].options", "options"],
        ),
        (
            [
                {**FLAT_PARENT, "sku": "BAD-1-S"},
                {**FLAT_PARENT, "sku": "BAD-1-M"},
            ],
            ["options", "variants[0].options"],
        ),
    ],
    ids=["one-row-without-options", "second-row-without-options", "no-row-with-options"],
)
def test_flat_rows_without_options_fail_before_any_write(fresh, rows, fields):
    sb = fresh()
    result, calls = run(sb, [*rows, GOOD], operations=PUBLISH, fail_on_record_errors=False)
    bad = [r for r in result.results if r.get("parent_sku") == "BAD-1"]
    assert [(r["outcome"], r["field"]) for r in bad] == [("failed", f) for f in fields]
    assert result.by_sku()["GOOD-1"]["outcome"] == "created"
    _nothing_for_bad(sb)
    assert write_routes(calls) == good_writes(sb)


def test_a_new_variant_without_options_on_a_linked_product_changes_nothing(fresh):
    """Publish adding a variant to a simple product: refused before its first write."""
    sb = fresh()
    simple = {"sku": "SIMPLE-1", "title": "Simple", "categories": ["Apparel"], "price": 3.0}
    run(sb, [simple], operations=PUBLISH)
    before = sb.store.query("products", {"item_number": "SIMPLE-1"})[0]
    listing = {**simple, "variants": [{"sku": "SIMPLE-1-A", "quantity": 2}]}
    result, calls = run(sb, [listing], operations=PUBLISH, fail_on_record_errors=False)
    line = result.by_sku()["SIMPLE-1"]
    assert (line["outcome"], line["field"]) == ("failed", "variants[0].options")
    assert write_routes(calls) == []
    assert sb.store.query("products", {"item_number": "SIMPLE-1"})[0] == before
    assert sb.store.count("variant_inventory") == 0


def test_the_clean_publish_is_hidden_until_its_last_write(fresh):
    """Every write of a clean publish before the last sees the product hidden and marked."""
    sb = fresh()
    result, calls = run(sb, [TEE], operations=PUBLISH)
    product = sb.store.query("products", {"item_number": "CNV"})[0]
    posted = next(
        c.request_json for c in calls if c.method == "POST" and c.path.endswith("/products")
    )
    assert (posted["is_hidden"], posted["keywords"]) == (1, MARKER)
    shown = [c for c in calls if c.method == "PUT"]
    assert [c.request_json for c in shown] == [{"is_hidden": 0, "keywords": ""}]
    assert calls.index(shown[0]) == max(
        i for i, c in enumerate(calls) if c.method != "GET" and "rebuild_tree" not in c.path
    )
    assert (product["is_hidden"], product["keywords"]) == (0, "")
    assert result.by_sku()["CNV"]["outcome"] == "created"


def test_a_simple_product_without_pictures_costs_no_extra_call(fresh):
    sb = fresh()
    simple = {"sku": "SIMPLE-2", "title": "Simple", "categories": ["Apparel"], "price": 3.0}
    _, calls = run(sb, [simple], operations=PUBLISH)
    assert write_routes(calls) == [("POST", "/products")]
    assert "keywords" not in next(c.request_json for c in calls if c.method == "POST")


def test_a_publish_stopped_part_way_completes_as_the_changed_feed_says(fresh):
    """Stopped at its first picture, then the feed changed: the rerun gives the new feed's publish.

    Whatever the first run wrote (product fields, option values and their order, surcharges,
    rows) is restated to what a clean publish of the changed feed makes on a fresh store, and
    the result line names the product fields that changed.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    assert hidden_products(sb, "CNV") == [1]
    changed = copy.deepcopy(TEE)
    changed.update(title="Converge Tee 2", weight=0.75, mpn="CNV-02", hidden=True)
    small, medium, large = changed["variants"]
    small.update(price=19.0, quantity=4, mpn="S-2")
    large.update(price=24.0)
    changed["variants"] = [medium, small, large]  # M first: sort orders change
    again, _ = run(sb, [changed], operations=PUBLISH)
    line = again.by_sku()["CNV"]
    assert line["outcome"] == "updated"
    assert line["changes"] == {
        "title": {"old": "Converge Tee", "new": "Converge Tee 2"},
        "weight": {"old": 0.5, "new": 0.75},
        "mpn": {"old": "CNV-01", "new": "CNV-02"},
        "variants[CNV-S].price": {"old": 18.0, "new": 19.0},
        "variants[CNV-S].quantity": {"old": 1, "new": 4},
        "variants[CNV-S].mpn": {"old": None, "new": "S-2"},
        "images": {"old": [], "new": TEE["images"]},
        "publish": {"old": "unfinished", "new": "complete"},
    }
    reference = fresh()
    run(reference, [changed], operations=PUBLISH)
    assert published(sb, "CNV") == published(reference, "CNV")
    _, calls = run(sb, [changed], operations=PUBLISH)
    assert write_routes(calls) == []


def _sells_at(sb: Any, sku: str) -> dict[str, tuple[Any, Any]]:
    """Variant SKU -> (price, cost) it sells at: its price row, else the product's (+ surcharge)."""
    product = sb.store.query("products", {"item_number": sku})[0]
    out = {}
    for row in sb.store.query("variant_inventory", {"product_id": product["id"]}):
        priced = sb.store.query("product_pricing", {"variant_inventory_id": row["id"]})
        if priced:
            first = min(priced, key=lambda p: p["id"])
            out[row["item_number"]] = (first["price"], first["cost"] or product.get("cost"))
            continue
        values = sb.store.vi_variants([row["id"]]).get(row["id"], [])
        surcharge = sum(v.get("price_adjustment") or 0 for v in values)
        out[row["item_number"]] = (round(product["price"] + surcharge, 2), product.get("cost"))
    return out


def test_a_variant_priced_apart_then_at_the_products_price_is_completed_at_it(fresh):
    """Stopped at its first picture; the feed then gives S the product's price and M its cost.

    S and M got price rows in the first run (18; cost 9). The completed publish sells every
    variant at what a clean publish of the changed feed gives: S at 20, M at cost 7.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    assert _sells_at(sb, "CNV")["CNV-S"] == (18.0, 7.0)
    changed = copy.deepcopy(TEE)
    changed["variants"][0]["price"] = 20.0  # S: the product's price
    changed["variants"][1]["cost"] = 7.0  # M: the product's cost
    run(sb, [changed], operations=PUBLISH)
    reference = fresh()
    run(reference, [changed], operations=PUBLISH)
    assert _sells_at(sb, "CNV") == _sells_at(reference, "CNV")
    assert _sells_at(sb, "CNV")["CNV-S"] == (20.0, 7.0)
    _, calls = run(sb, [changed], operations=PUBLISH)
    assert write_routes(calls) == []


def test_a_created_listings_line_names_its_rows_and_that_it_was_shown(fresh):
    """The line of a clean publish names its ids, its rows and that it was shown.

    The product id and every row id the store holds, each row named created, the product shown
    at the end (hidden while being built); no variant unlinked.
    """
    sb = fresh()
    result, _ = run(sb, [TEE], operations=PUBLISH)
    line = result.by_sku()["CNV"]
    product = sb.store.query("products", {"item_number": "CNV"})[0]
    rows_in_store = sb.store.query("variant_inventory", {"product_id": product["id"]})
    assert line["ids"] == {
        "product_id": product["id"],
        "variant_inventory_ids": {r["item_number"]: r["id"] for r in rows_in_store},
    }
    assert line["changes"] == {
        "hidden": {"old": True, "new": False},
        "variants[CNV-S]": {"old": None, "new": "created"},
        "variants[CNV-M]": {"old": None, "new": "created"},
        "variants[CNV-L]": {"old": None, "new": "created"},
    }


def test_the_first_category_path_is_the_primary_one(fresh):
    sb = fresh()
    listing = {
        "sku": "TWO-CATS",
        "title": "Two categories",
        "categories": ["Apparel > Shirts", "Apparel > Sale"],
        "price": 5.0,
    }
    run(sb, [listing], operations=PUBLISH)
    product = sb.store.query("products", {"item_number": "TWO-CATS"})[0]
    assert [name for name, _ in category_path(sb, product["primary_category_id"])] == [
        "Apparel",
        "Shirts",
    ]


def test_a_publish_completed_after_the_product_price_changed_prices_each_variant_from_it(fresh):
    """Stopped at its first picture; the feed then raises the product to 22, L's price.

    L had a surcharge of 2 on 20; the completed publish sells every variant as a clean publish
    of the changed feed does (L at 22, no surcharge left), and a rerun writes nothing.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    run(sb, [TEE], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    changed = copy.deepcopy(TEE)
    changed["price"] = 22.0
    _, completion = run(sb, [changed], operations=PUBLISH)
    large = sb.store.query("product_variants", {"description": "L"})[0]
    restated = [c.request_json for c in completion if c.method == "PUT" and "variants/" in c.path]
    assert restated == [{"price_adjustment": 0.0}]  # L's surcharge gone, in one write
    assert large["price_adjustment"] == 0.0
    reference = fresh()
    run(reference, [changed], operations=PUBLISH)
    assert _sells_at(sb, "CNV") == _sells_at(reference, "CNV")
    assert _sells_at(sb, "CNV")["CNV-L"] == (22.0, 7.0)
    _, calls = run(sb, [changed], operations=PUBLISH)
    assert write_routes(calls) == []


def test_a_simple_product_whose_picture_is_refused_fails_as_a_publish(fresh):
    """The product was created, its picture refused: the line says publish failed, on images[0]."""
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    simple = {
        "sku": "PIC-1",
        "title": "Pictured",
        "categories": ["Apparel"],
        "price": 3.0,
        "images": ["https://cdn.example.com/pic-1.jpg"],
    }
    result, _ = run(sb, [simple], operations=PUBLISH, fail_on_record_errors=False)
    line = result.by_sku()["PIC-1"]
    assert (line["operation"], line["outcome"], line["field"]) == ("publish", "failed", "images[0]")
    assert hidden_products(sb, "PIC-1") == [1]


def test_a_refused_new_option_name_fails_before_the_product_is_created(fresh):
    """A variant group the store refuses to create is found out before any product write."""
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/variant_groups"}]
    )
    listing = {
        "sku": "MAT",
        "title": "Material",
        "categories": ["Apparel"],
        "price": 3.0,
        "variants": [{"sku": "MAT-W", "options": {"Material": "Wool"}}],
    }
    result, calls = run(sb, [listing], operations=PUBLISH, fail_on_record_errors=False)
    line = result.by_sku()["MAT"]
    assert (line["outcome"], line["field"]) == ("failed", "variants[0].options")
    assert sb.store.query("products", {"item_number": "MAT"}) == []
    assert ("POST", "/products") not in write_routes(calls)


def test_a_variant_added_to_a_one_option_product_is_priced_on_its_option_value(fresh):
    """A new, dearer variant of a one-option product is priced by its value's surcharge.

    The product has no price rows: the surcharge rides on the option value's POST (no price-row
    call, no second write), and the variant sells at its price.
    """
    sb = fresh()
    first = {
        "sku": "ONE",
        "title": "One dimension",
        "categories": ["Apparel"],
        "price": 10.0,
        "variants": [{"sku": "ONE-S", "options": {"Size": "S"}}],
    }
    run(sb, [first], operations=PUBLISH)
    more = copy.deepcopy(first)
    more["variants"].append({"sku": "ONE-M", "options": {"Size": "M"}, "price": 12.0})
    _, calls = run(sb, [more], operations=PUBLISH)
    assert write_routes(calls) == [("POST", "/product_variants"), ("POST", "/variant_inventory")]
    posted = next(c.request_json for c in calls if c.path.endswith("/product_variants"))
    assert posted["price_adjustment"] == 2.0
    assert _sells_at(sb, "ONE") == {"ONE-S": (10.0, None), "ONE-M": (12.0, None)}


def test_a_dry_run_says_a_publish_with_variants_is_hidden_until_complete(fresh):
    sb = fresh()
    simple = {"sku": "PLAIN", "title": "Plain", "categories": ["Apparel"], "price": 3.0}
    dry, _ = run(sb, [TEE, simple], operations=PUBLISH, dry_run=True)
    posts = [c.purpose for c in dry.planned if (c.method, c.path) == ("POST", "/products")]
    assert posts == ["publish CNV (hidden until complete)", "publish PLAIN"]


def test_a_publish_completed_with_a_weight_the_first_run_lacked_writes_it(fresh):
    """Stopped at its first picture without a weight; the feed then gives one (0.5).

    The store holds no weight: the completion writes 0.5 and names the change.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    weightless = copy.deepcopy(TEE)
    del weightless["weight"]
    run(sb, [weightless], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    assert sb.store.query("products", {"item_number": "CNV"})[0]["weight"] is None
    result, _ = run(sb, [TEE], operations=PUBLISH)
    line = result.by_sku()["CNV"]
    assert (line["outcome"], line["changes"]["weight"]) == ("updated", {"old": None, "new": 0.5})
    assert sb.store.query("products", {"item_number": "CNV"})[0]["weight"] == 0.5


def test_a_publish_stopped_as_a_simple_product_completes_with_stock_per_variant(fresh):
    """Stopped at its first picture while the feed had no variants; the feed then gives S and L.

    The completed product keeps its stock per variant row (``use_variant_inventory``), so the
    rows' quantities are the ones Cart.com sells from; the result line names the change.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    simple = {key: value for key, value in TEE.items() if key != "variants"}
    run(sb, [simple], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    (product,) = sb.store.query("products", {"item_number": "CNV"})
    assert not product["use_variant_inventory"]
    variants = [{"sku": f"CNV-{s}", "options": {"Size": s}, "quantity": q} for s, q in ("S2", "L5")]
    result, _ = run(sb, [{**simple, "variants": variants}], operations=PUBLISH)
    line = result.by_sku()["CNV"]
    assert line["changes"]["variants"] == {"old": False, "new": True}
    assert sb.store.get("products", product["id"])["use_variant_inventory"]
    rows = sb.store.query("variant_inventory", {"product_id": product["id"]})
    assert {r["item_number"]: r["inventory"] for r in rows} == {"CNV-S": 2, "CNV-L": 5}


def test_a_publish_completed_after_a_variant_got_a_surcharge_writes_it_in_dollars(fresh):
    """Stopped at its first picture while L sold at the product's 20; the feed then asks 22.

    L's option value gets its surcharge of 2 as dollars (not a percentage or a blank kind),
    in one write, and L sells at 22 as after a clean publish of the changed feed.
    """
    sb = fresh()
    sb.faults.script(
        [{"kind": "status", "status": 400, "method": "POST", "path": "/product_pictures"}]
    )
    level = copy.deepcopy(TEE)
    level["variants"][2]["price"] = 20.0
    run(sb, [level], operations=PUBLISH, fail_on_record_errors=False)
    sb.faults.clear()
    _, completion = run(sb, [TEE], operations=PUBLISH)
    restated = [c.request_json for c in completion if c.method == "PUT" and "variants/" in c.path]
    assert restated == [{"price_adjustment": 2.0, "price_adjustment_type": "+ dollars"}]
    large = sb.store.query("product_variants", {"description": "L"})[0]
    assert (large["price_adjustment"], large["price_adjustment_type"]) == (2.0, "+ dollars")
    assert _sells_at(sb, "CNV")["CNV-L"][0] == 22.0

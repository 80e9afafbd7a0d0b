"""Full-feed mode on the sandbox: what left the feed is hidden or zeroed, within the safety rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cartcom_testing.listing_scenarios import build_catalog, catalog_listings, run_target
from target_cartcom.listings.fullfeed import MissingFractionError

PRODUCTS = 40


@pytest.fixture
def store(sandbox):
    """40 Northwind products (CAT-..., 3 sizes each) and 3 products of another brand."""
    build_catalog(sandbox.store, PRODUCTS)
    sandbox.store.bulk_insert("manufacturers", [{"id": 2, "name": "Acme"}])
    sandbox.store.bulk_insert(
        "products",
        [
            {
                "id": 1000 + n,
                "item_number": f"OTH-{n}",
                "item_name": f"Other {n}",
                "price": 5.0,
                "manufacturer_id": 2,
                "use_variant_inventory": False,
                "quantity_on_hand": 7,
                "is_hidden": 0,
                "product_status_id": 1,
            }
            for n in range(3)
        ],
    )
    return sandbox


def run(sb: Any, records: list[dict[str, Any]], **settings: Any):
    """Run the target; return the run and its writes (method, path, body)."""
    before = len(sb.calls)
    result = run_target(sb.base_url, sb.token, records, **settings)
    calls = sb.calls.snapshot()[before:]
    return result, [(c.method, c.path.removeprefix("/api/v1")) for c in calls if c.method != "GET"]


def snapshot(sb: Any) -> dict[str, Any]:
    """Each product's hidden flag and stock, and each variant row's stock, by SKU."""
    products = {
        p["item_number"]: (bool(p["is_hidden"]), p["quantity_on_hand"])
        for p in sb.store.query("products")
    }
    rows = {v["item_number"]: v["inventory"] for v in sb.store.query("variant_inventory")}
    return {"products": products, "rows": rows}


def feed_without(every: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The catalog's feed with every ``every``-th product left out; the SKUs left out."""
    listings = catalog_listings(PRODUCTS)
    kept = [x for n, x in enumerate(listings) if n % every != every - 1]
    gone = [x["sku"] for n, x in enumerate(listings) if n % every == every - 1]
    return kept, gone


def test_hide_what_left_the_feed_and_nothing_out_of_scope(store):
    """10 % of the brand's products left: those are hidden (one write each), nothing else."""
    feed, gone = feed_without(10)
    before = snapshot(store)
    settings = {"missing_listings": "hide", "feed_scope": {"brand": "Northwind"}}
    result, writes = run(store, feed, **settings)
    assert result.exit_error is None
    ids = {p["item_number"]: p["id"] for p in store.store.query("products")}
    assert sorted(writes) == sorted(("PUT", f"/products/{ids[sku]}") for sku in gone)
    after = snapshot(store)
    for sku, (hidden, _) in after["products"].items():
        assert hidden == (sku in gone), sku
    assert after["rows"] == before["rows"]
    missing = [r for r in result.results if r["operation"] == "missing"]
    assert sorted({r["ids"]["product_id"] for r in missing}) == sorted(ids[s] for s in gone)
    assert len(missing) == 3 * len(gone)  # one line per variant row
    assert {r["outcome"] for r in missing} == {"updated"}

    again, writes = run(store, feed, **settings)
    assert writes == []
    assert {r["outcome"] for r in again.results} == {"unchanged"}

    # A product back in the feed is shown again (its record does not say hidden: true).
    back = catalog_listings(PRODUCTS)[9]
    assert back["sku"] == gone[0]
    _, writes = run(store, [*feed, back], **settings)
    assert writes == [("PUT", f"/products/{ids[gone[0]]}")]
    assert snapshot(store)["products"][gone[0]][0] is False


def test_zero_what_left_the_feed_by_sku_prefix(store):
    """``zero``: each variant row of the products that left is set to 0, once."""
    feed, gone = feed_without(10)
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    _, writes = run(store, feed, **settings)
    rows = {v["item_number"]: v["id"] for v in store.store.query("variant_inventory")}
    gone_rows = [sku for sku in rows if sku.rsplit("-", 1)[0] in gone]
    assert sorted(writes) == sorted(("PUT", f"/variant_inventory/{rows[s]}") for s in gone_rows)
    after = snapshot(store)
    assert all(after["rows"][s] == 0 for s in gone_rows)
    assert all(after["rows"][s] > 0 for s in rows if s not in gone_rows)
    assert after["products"]["OTH-0"] == (False, 7)
    _, writes = run(store, feed, **settings)
    assert writes == []


def test_half_the_feed_missing_changes_nothing_and_exits_non_zero(store, tmp_path):
    """50 % removed: nothing changes; the run fails naming max_missing_fraction."""
    feed, gone = feed_without(2)
    before = snapshot(store)
    results = tmp_path / "results.jsonl"
    with pytest.raises(MissingFractionError, match="max_missing_fraction"):
        run(
            store,
            feed,
            missing_listings="hide",
            feed_scope={"brand": "Northwind"},
            results_path=str(results),
        )
    assert snapshot(store) == before
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    summary = lines[-1]
    assert summary["status"] == "aborted"
    assert "max_missing_fraction" in summary["reason"]
    assert summary["calls"]["writes"] == 0
    skipped = [x for x in lines if x.get("operation") == "missing"]
    assert len(skipped) == 3 * len(gone)
    assert {x["outcome"] for x in skipped} == {"skipped"}


def test_an_empty_feed_changes_nothing(store):
    """A feed with no record (a failed export): refused, nothing hidden."""
    before = snapshot(store)
    with pytest.raises(MissingFractionError, match="max_missing_fraction"):
        run(store, [], missing_listings="hide", feed_scope={"sku_prefix": "CAT-"})
    assert snapshot(store) == before


def test_dry_run_reports_the_same_changes_and_writes_nothing(store):
    """Dry run: the missing items' lines and planned writes, no write."""
    feed, gone = feed_without(10)
    settings = {"missing_listings": "hide", "feed_scope": {"brand": "Northwind"}}
    before = snapshot(store)
    dry, writes = run(store, feed, dry_run=True, **settings)
    assert writes == []
    assert snapshot(store) == before
    missing = [r for r in dry.results if r["operation"] == "missing"]
    ids = {p["item_number"]: p["id"] for p in store.store.query("products")}
    planned = [c for r in missing for c in r.get("planned_calls", [])]
    assert sorted(c["path"] for c in planned) == sorted(f"/products/{ids[s]}" for s in gone)
    assert {r["outcome"] for r in missing} == {"updated"}


def test_full_feed_needs_a_scope():
    """``missing_listings`` other than ignore without ``feed_scope`` is a setting error."""
    from target_cartcom._client import ConfigurationError
    from target_cartcom.listings.settings import ListingOptions

    with pytest.raises(ConfigurationError, match="feed_scope"):
        ListingOptions.from_config({"missing_listings": "hide"})
    with pytest.raises(ConfigurationError, match="feed_scope"):
        ListingOptions.from_config({"missing_listings": "zero", "feed_scope": {"size": "M"}})
    assert ListingOptions.from_config({}).missing_listings == "ignore"

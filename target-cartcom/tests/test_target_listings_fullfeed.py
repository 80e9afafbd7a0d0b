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


def test_hide_what_left_the_feed_and_nothing_out_of_scope(store, tmp_path):
    """10 % of the brand's products left: those are hidden (one write each), nothing else."""
    feed, gone = feed_without(10)
    before = snapshot(store)
    settings = {
        "missing_listings": "hide",
        "feed_scope": {"brand": "Northwind"},
        "full_feed_hidden_path": str(tmp_path / "hidden.json"),
    }
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


# -- issue 20 point 3: the safety rule, the scope of a variant row, hidden by hand ---------------
SIMPLE = 40


@pytest.fixture
def simple_store(sandbox):
    """40 simple Northwind products SIM-01 .. SIM-40, 5 in stock each."""
    build_catalog(sandbox.store, 0)
    sandbox.store.bulk_insert(
        "products",
        [
            {
                "id": n,
                "item_number": f"SIM-{n:02d}",
                "item_name": f"Simple {n}",
                "price": 5.0,
                "manufacturer_id": 1,
                "primary_category_id": 1,
                "product_status_id": 1,
                "use_variant_inventory": False,
                "quantity_on_hand": 5,
                "is_hidden": 0,
            }
            for n in range(1, SIMPLE + 1)
        ],
    )
    return sandbox


def simple_feed(sb: Any, skus: list[str]) -> list[dict[str, Any]]:
    """Listings for ``skus`` that carry the store's own quantity (sync changes nothing)."""
    stock = {p["item_number"]: p["quantity_on_hand"] for p in sb.store.query("products")}
    return [{"sku": sku, "quantity": stock[sku]} for sku in skus]


def sell_out(sb: Any, skus: list[str]) -> None:
    """Orders took these products' last units (quantity 0 in the store)."""
    ids = {p["item_number"]: p["id"] for p in sb.store.query("products")}
    for sku in skus:
        sb.store.update("products", ids[sku], {"quantity_on_hand": 0})


def test_a_mostly_sold_out_catalog_keeps_its_last_items(simple_store):
    """34 of 40 sold out: a feed of only those 34 would zero the whole rest, so nothing changes.

    The share is measured against what is still on sale (6 of 6), not against every in-scope
    item (6 of 40, which passed the rule before).
    """
    sb = simple_store
    sold_out = [f"SIM-{n:02d}" for n in range(1, 35)]
    sell_out(sb, sold_out)
    before = snapshot(sb)
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "SIM-"}}
    with pytest.raises(MissingFractionError, match="max_missing_fraction") as raised:
        run(sb, simple_feed(sb, sold_out), **settings)
    assert raised.value.field == "max_missing_fraction"
    assert "confirmed_missing to 6" in raised.value.message
    assert snapshot(sb) == before
    assert sb.calls.count(method="PUT") == 0


@pytest.mark.parametrize("fraction", [0.2, 1.0])
def test_an_empty_feed_on_a_mostly_sold_out_catalog_changes_nothing(simple_store, fraction):
    """A feed naming no in-scope item changes nothing, even when the settings would allow it."""
    sb = simple_store
    sell_out(sb, [f"SIM-{n:02d}" for n in range(1, 35)])
    before = snapshot(sb)
    settings = {
        "missing_listings": "zero",
        "feed_scope": {"sku_prefix": "SIM-"},
        "max_missing_fraction": fraction,
        "confirmed_missing": SIMPLE if fraction == 1.0 else 0,
    }
    with pytest.raises(MissingFractionError, match="names none of the 40 in-scope items"):
        run(sb, [], **settings)
    assert snapshot(sb) == before
    assert sb.calls.count(method="PUT") == 0


def test_slow_erosion_stops_at_the_bound_and_resumes_only_when_confirmed(store, tmp_path):
    """A feed losing 4 of 40 products a run: 10 %, 20 % pass; the 3rd run (30 %) stops.

    It stops again when rerun, until confirmed_missing accepts the 36 missing rows; from there
    the bound applies again to what goes missing next.
    """
    listings = catalog_listings(PRODUCTS)
    rows = {v["item_number"]: v["id"] for v in store.store.query("variant_inventory")}
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}

    def feed(kept: int) -> list[dict[str, Any]]:
        return listings[:kept]

    def zeroed() -> set[str]:
        return {sku for sku, qty in snapshot(store)["rows"].items() if qty == 0}

    def rows_of(first: int, last: int) -> set[str]:
        return {sku for sku in rows if first <= int(sku[4:10]) <= last}

    run(store, feed(36), **settings)
    assert zeroed() == rows_of(37, 40)
    run(store, feed(32), **settings)
    assert zeroed() == rows_of(33, 40)  # 24 of 120 rows: exactly the 0.2 allowed
    before = snapshot(store)
    for _ in range(2):  # stopped, and stopped again on the next run
        with pytest.raises(MissingFractionError, match="max_missing_fraction") as raised:
            run(store, feed(28), **settings, results_path=str(tmp_path / "r.jsonl"))
        assert "set confirmed_missing to 36" in raised.value.message
        assert snapshot(store) == before
        summary = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])
        assert summary["status"] == "aborted"
        assert "max_missing_fraction" in summary["reason"]
        assert summary["full_feed"]["refused"] is True
    confirmed, _ = run(store, feed(28), **settings, confirmed_missing=36)
    assert zeroed() == rows_of(29, 40)
    assert confirmed.summary["full_feed"]["confirmed_missing"] == 36
    assert confirmed.summary["full_feed"]["taken_off_sale"] == 12
    # From the confirmation on: 12 more (12 of 84 on sale or missing) pass, 24 more do not.
    run(store, feed(24), **settings, confirmed_missing=36)
    assert zeroed() == rows_of(25, 40)
    before = snapshot(store)
    with pytest.raises(MissingFractionError, match="set confirmed_missing to 60"):
        run(store, feed(20), **settings, confirmed_missing=36)
    assert snapshot(store) == before
    # Items back in the feed (restocked by sync) are no longer missing: room again.
    back, _ = run(store, feed(32), **settings, confirmed_missing=36)
    assert zeroed() == rows_of(33, 40)
    assert back.summary["full_feed"]["missing"] == 24


@pytest.fixture
def foreign_row(store):
    """Product CAT-000001 also holds a variant row XX-77 (12 in stock) outside the scope."""
    store.store.bulk_insert(
        "variant_inventory",
        [{"id": 9000, "product_id": 1, "item_number": "XX-77", "inventory": 12}],
    )
    return store


@pytest.mark.parametrize("mode", ["zero", "hide"])
def test_a_row_outside_the_scope_keeps_its_stock_and_its_product_stays_shown(foreign_row, mode):
    """CAT-000001 left the feed: its CAT- rows go to 0, XX-77 keeps 12, the product stays shown."""
    sb = foreign_row
    feed = catalog_listings(PRODUCTS)[1:]
    settings = {"missing_listings": mode, "feed_scope": {"sku_prefix": "CAT-"}}
    result, writes = run(sb, feed, **settings)
    assert result.exit_error is None
    after = snapshot(sb)
    assert after["rows"]["XX-77"] == 12
    assert after["products"]["CAT-000001"][0] is False
    own = [sku for sku in after["rows"] if sku.startswith("CAT-000001-")]
    assert len(own) == 3
    assert all(after["rows"][sku] == 0 for sku in own)
    assert len(writes) == 3
    assert "XX-77" not in {r["sku"] for r in result.results}


def hide_by_hand(sb: Any, skus: list[str]) -> None:
    """The merchant hides these products in the admin."""
    ids = {p["item_number"]: p["id"] for p in sb.store.query("products")}
    for sku in skus:
        sb.store.update("products", ids[sku], {"is_hidden": 1})


def test_products_hidden_by_hand_stay_hidden_and_are_not_counted(store, tmp_path):
    """The merchant hid 10 products the feed still lists: none is shown again, no write.

    Only what full-feed mode hid itself comes back: 2 products leave the feed and return, those
    2 are shown again (counted in the summary), the merchant's 10 stay hidden throughout.
    """
    listings = catalog_listings(PRODUCTS)
    by_hand = [x["sku"] for x in listings[:10]]
    hide_by_hand(store, by_hand)
    settings = {
        "missing_listings": "hide",
        "feed_scope": {"brand": "Northwind"},
        "full_feed_hidden_path": str(tmp_path / "hidden.json"),
    }
    before = snapshot(store)
    reads_before = store.calls.count(method="GET")
    result, writes = run(store, listings, **settings)
    assert writes == []
    assert snapshot(store) == before
    assert not [r for r in result.results if r["operation"] == "reappeared"]
    counts = result.summary["full_feed"]
    assert (counts["shown_again"], counts["taken_off_sale"]) == (0, 0)
    assert counts["on_sale"] == 3 * 30  # the 10 hidden by hand are not on sale
    # Nothing changed: the scope cost one page (40 products) and the brand lookup, no more.
    reads = store.calls.count(method="GET") - reads_before
    plain, _ = run(store, listings)
    assert reads == plain.summary["calls"]["reads"] + 2

    gone = [x["sku"] for x in listings[20:22]]
    _, writes = run(store, [x for x in listings if x["sku"] not in gone], **settings)
    assert len(writes) == 2
    assert {s for s, (hidden, _) in snapshot(store)["products"].items() if hidden} == {
        *by_hand,
        *gone,
    }
    result, writes = run(store, listings, **settings)
    assert len(writes) == 2
    shown = [r for r in result.results if r["operation"] == "reappeared"]
    assert sorted(r["sku"] for r in shown) == sorted(gone)
    assert result.summary["full_feed"]["shown_again"] == 2
    assert {s for s, (hidden, _) in snapshot(store)["products"].items() if hidden} == set(by_hand)


def test_without_the_hidden_file_nothing_is_shown_again(store):
    """No ``full_feed_hidden_path``: full-feed mode cannot tell its hiding from the merchant's."""
    listings = catalog_listings(PRODUCTS)
    settings = {"missing_listings": "hide", "feed_scope": {"brand": "Northwind"}}
    run(store, listings[1:], **settings)
    assert snapshot(store)["products"]["CAT-000001"][0] is True
    _, writes = run(store, listings, **settings)
    assert writes == []
    assert snapshot(store)["products"]["CAT-000001"][0] is True


def test_a_hidden_file_of_another_store_stops_full_feed_mode(store, tmp_path):
    """A file another store's run wrote is never used (its ids are not this store's)."""
    path = tmp_path / "hidden.json"
    path.write_text(json.dumps({"store": "https://other.example/api/v1", "products": {"1": "X"}}))
    hide_by_hand(store, ["CAT-000001"])
    before = snapshot(store)
    from target_cartcom._client import ConfigurationError

    with pytest.raises(ConfigurationError, match="full_feed_hidden_path"):
        run(
            store,
            catalog_listings(PRODUCTS),
            missing_listings="hide",
            feed_scope={"brand": "Northwind"},
            full_feed_hidden_path=str(path),
        )
    assert snapshot(store) == before


def test_hiding_stopped_part_way_is_completed_and_remembered(store, tmp_path):
    """A run stopped after 2 of 4 hides: the next one hides the other 2.

    All 4 are shown again when they come back: each was noted before it was hidden.
    """
    listings = catalog_listings(PRODUCTS)
    gone = [x["sku"] for x in listings[10:14]]
    feed = [x for x in listings if x["sku"] not in gone]
    settings = {
        "missing_listings": "hide",
        "feed_scope": {"brand": "Northwind"},
        "full_feed_hidden_path": str(tmp_path / "hidden.json"),
    }
    store.faults.script([{"kind": "status", "status": 401, "method": "PUT", "after": 2}])
    with pytest.raises(Exception, match="401"):
        run(store, feed, **settings)
    hidden = {s for s, (h, _) in snapshot(store)["products"].items() if h}
    assert len(hidden) == 2
    run(store, feed, **settings)
    assert {s for s, (h, _) in snapshot(store)["products"].items() if h} == set(gone)
    run(store, listings, **settings)
    assert not any(h for h, _ in snapshot(store)["products"].values())


# -- the safety rule's edges (mutation survivors) ------------------------------------------------
@pytest.mark.parametrize(("left", "refused"), [(8, False), (9, True)])
def test_exactly_max_missing_fraction_passes_only_more_is_refused(store, left, refused):
    """8 of 40 products (24 of 120 rows, exactly 0.2) are zeroed; 9 (27 rows) change nothing."""
    feed = catalog_listings(PRODUCTS)[left:]
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    before = snapshot(store)
    if refused:
        with pytest.raises(MissingFractionError):
            run(store, feed, **settings)
        assert snapshot(store) == before
        return
    run(store, feed, **settings)
    after = snapshot(store)["rows"]
    assert sum(1 for qty in after.values() if qty == 0) == 3 * left


def test_zero_writes_nothing_for_a_simple_product_already_at_0(simple_store):
    """SIM-07 sold out and left the feed: nothing to write, its line says unchanged."""
    sb = simple_store
    sell_out(sb, ["SIM-07"])
    skus = [f"SIM-{n:02d}" for n in range(1, SIMPLE + 1) if n != 7]
    result, writes = run(
        sb, simple_feed(sb, skus), missing_listings="zero", feed_scope={"sku_prefix": "SIM-"}
    )
    assert writes == []
    (line,) = [r for r in result.results if r["operation"] == "missing"]
    assert (line["sku"], line["outcome"]) == ("SIM-07", "unchanged")


@pytest.mark.parametrize("says_hidden", [True, "TRUE", " yes "])
def test_a_product_the_feed_names_with_hidden_true_stays_hidden(store, tmp_path, says_hidden):
    """Hidden by full-feed mode, then named with hidden: true (any spelling): it stays hidden."""
    listings = catalog_listings(PRODUCTS)
    settings = {
        "missing_listings": "hide",
        "feed_scope": {"brand": "Northwind"},
        "full_feed_hidden_path": str(tmp_path / "hidden.json"),
    }
    run(store, listings[1:], **settings)
    assert snapshot(store)["products"]["CAT-000001"][0] is True
    _, writes = run(store, [{**listings[0], "hidden": says_hidden}, *listings[1:]], **settings)
    assert writes == []
    assert snapshot(store)["products"]["CAT-000001"][0] is True
    _, writes = run(store, listings, **settings)  # without hidden: true it is shown again
    assert writes == [("PUT", "/products/1")]
    assert snapshot(store)["products"]["CAT-000001"][0] is False


def test_a_dry_run_decides_as_the_real_run(store):
    """The dry run refuses what the real run refuses, though sync's writes are not made.

    Sync zeroes 30 products the feed still names: 18 rows stay on sale, so the 12 rows of the 4
    products that left are 12 of 30 (40 %).
    """
    listings = catalog_listings(PRODUCTS)
    for listing in listings[:30]:
        for variant in listing["variants"]:
            variant["quantity"] = 0
    feed = listings[:36]
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    before = snapshot(store)
    with pytest.raises(MissingFractionError, match="12 not confirmed are 40%"):
        run(store, feed, dry_run=True, **settings)
    assert snapshot(store) == before
    with pytest.raises(MissingFractionError, match="12 not confirmed are 40%"):
        run(store, feed, **settings)


def test_confirmed_missing_must_be_a_whole_number():
    """A negative or non-numeric ``confirmed_missing`` is a setting error naming it."""
    from target_cartcom._client import ConfigurationError
    from target_cartcom.listings.settings import ListingOptions

    scope = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    for bad in (-1, "some"):
        with pytest.raises(ConfigurationError, match="confirmed_missing"):
            ListingOptions.from_config({**scope, "confirmed_missing": bad})
    assert ListingOptions.from_config({**scope, "confirmed_missing": "36"}).confirmed_missing == 36


# -- what the operator reads: the summary, the refusal, the warnings, the hidden file -----------
HIDE = {"missing_listings": "hide", "feed_scope": {"brand": "Northwind"}}


def test_a_refused_run_reports_nothing_taken_off_sale_and_names_confirmed_items(store, tmp_path):
    """Refused: the summary says 0 taken off sale and 0 shown again; the share has 4 decimals.

    The refusal names the items confirmed by ``confirmed_missing`` only when there are some.
    """
    listings = catalog_listings(PRODUCTS)
    feed = listings[:26]  # 14 of 40 products gone: 42 of 120 rows
    settings = {**HIDE, "full_feed_hidden_path": str(tmp_path / "hidden.json")}
    results = tmp_path / "results.jsonl"
    with pytest.raises(MissingFractionError) as refused:
        run(store, feed, results_path=str(results), **settings)
    assert "confirmed by confirmed_missing" not in refused.value.message
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert [x for x in lines[:-1] if x.get("changes")] == []  # nothing changed, none claimed
    summary = lines[-1]["full_feed"]
    assert (summary["taken_off_sale"], summary["shown_again"]) == (0, 0)
    assert summary["share"] == round(42 / 120, 4) == 0.35
    with pytest.raises(MissingFractionError) as refused:
        run(store, feed, confirmed_missing=3, **settings)
    assert "42 in-scope items are missing from the feed (3 confirmed by confirmed_missing)" in (
        refused.value.message
    )


def test_the_share_has_four_decimals(store):
    """1 row of 120 missing: the summary's share is 0.0083 (what the log's percentage rounds)."""
    feed = catalog_listings(PRODUCTS)
    feed[0] = {**feed[0], "variants": feed[0]["variants"][1:]}
    result, _ = run(store, feed, missing_listings="zero", feed_scope={"sku_prefix": "CAT-"})
    assert result.summary["full_feed"]["share"] == 0.0083


def test_warnings_only_when_the_bound_is_passed_or_confirmed_missing_is_loose(store, caplog):
    """Within the bound: no warning; ``confirmed_missing`` above the missing count: one."""
    feed, _gone = feed_without(10)
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    with caplog.at_level("WARNING"):
        run(store, feed, **settings)
    assert [r.getMessage() for r in caplog.records if "Full feed" in r.getMessage()] == []
    caplog.clear()
    with caplog.at_level("WARNING"):
        run(store, feed, confirmed_missing=50, **settings)
    warned = [r.getMessage() for r in caplog.records if "Full feed" in r.getMessage()]
    assert len(warned) == 1
    assert "confirmed_missing (50) is more than the 12 item(s) now missing" in warned[0]


def test_a_zeroed_row_reports_its_ids_and_its_stock_change(store):
    """Each row zeroed says which row (``variant_inventory_id``) and its stock, old and new."""
    listings = catalog_listings(PRODUCTS)
    rows = {v["item_number"]: v for v in store.store.query("variant_inventory")}
    gone = listings[0]["sku"]
    result, _ = run(store, listings[1:], missing_listings="zero", feed_scope={"sku_prefix": "CAT-"})
    zeroed = [r for r in result.results if r["operation"] == "missing"]
    assert len(zeroed) == 3
    for line in zeroed:
        row = rows[line["sku"]]
        assert line["sku"].startswith(gone)
        assert line["outcome"] == "updated"
        assert line["ids"] == {"product_id": row["product_id"], "variant_inventory_id": row["id"]}
        assert line["changes"] == {"quantity": {"old": row["inventory"], "new": 0}}


def test_a_product_shown_again_leaves_the_hidden_file(store, tmp_path):
    """Hidden when it left, shown when it is back: the file no longer lists it.

    So a merchant who hides it by hand later keeps it hidden.
    """
    listings = catalog_listings(PRODUCTS)
    path = tmp_path / "hidden.json"
    settings = {**HIDE, "full_feed_hidden_path": str(path)}
    run(store, listings[1:], **settings)
    first = store.store.query("products", {"item_number": listings[0]["sku"]})[0]
    assert json.loads(path.read_text())["products"] == {str(first["id"]): listings[0]["sku"]}
    run(store, listings, **settings)
    assert json.loads(path.read_text())["products"] == {}
    store.store.update("products", first["id"], {"is_hidden": 1})  # the merchant hides it now
    _, writes = run(store, listings, **settings)
    assert writes == []
    assert snapshot(store)["products"][listings[0]["sku"]][0] is True


def test_a_product_shown_by_hand_leaves_the_hidden_file(store, tmp_path):
    """Hidden by full-feed mode, then shown by the merchant: the file forgets it.

    Full-feed mode shows again only what it hid and what is still hidden; a product the merchant
    already showed is theirs again (hidden by hand later, it stays hidden).
    """
    listings = catalog_listings(PRODUCTS)
    path = tmp_path / "hidden.json"
    settings = {**HIDE, "full_feed_hidden_path": str(path)}
    run(store, listings[1:], **settings)
    first = store.store.query("products", {"item_number": listings[0]["sku"]})[0]
    store.store.update("products", first["id"], {"is_hidden": 0})  # shown by hand
    run(store, listings, **settings)  # back in the feed: nothing to show again
    assert json.loads(path.read_text())["products"] == {}


def test_a_row_with_one_unit_left_is_on_sale(store):
    """Every row down to its last unit: still on sale, so 8 of 40 products gone is 0.2, zeroed."""
    for row in store.store.query("variant_inventory"):
        store.store.update("variant_inventory", row["id"], {"inventory": 1})
    feed = [
        {**x, "variants": [{**v, "quantity": 1} for v in x["variants"]]}
        for x in catalog_listings(PRODUCTS)[8:]
    ]
    result, writes = run(store, feed, missing_listings="zero", feed_scope={"sku_prefix": "CAT-"})
    assert result.exit_error is None
    assert result.summary["full_feed"]["on_sale"] == 96
    assert len(writes) == 24


def test_a_sold_out_catalog_fed_whole_has_a_share_of_0(store):
    """Nothing on sale and nothing missing: the summary's share is 0, not a negative number."""
    feed = [
        {**x, "variants": [{**v, "quantity": 0} for v in x["variants"]]}
        for x in catalog_listings(PRODUCTS)
    ]
    result, _ = run(store, feed, missing_listings="zero", feed_scope={"sku_prefix": "CAT-"})
    assert (result.summary["full_feed"]["on_sale"], result.summary["full_feed"]["share"]) == (0, 0)


def test_a_refusal_in_zero_mode_says_zeroed_and_counts_the_scope(store):
    """14 of 40 products gone (42 of 120 rows): "would be zeroed", "of the 120 in-scope items"."""
    feed = catalog_listings(PRODUCTS)[14:]
    with pytest.raises(MissingFractionError) as refused:
        run(store, feed, missing_listings="zero", feed_scope={"sku_prefix": "CAT-"})
    assert "42 of them would be zeroed now" in refused.value.message
    assert "are 35% of the 120 in-scope items on sale or missing" in refused.value.message


def test_every_missing_item_confirmed_leaves_a_share_of_0(store):
    """``confirmed_missing`` covering all 42 missing rows: share 0, the rows are zeroed."""
    feed = catalog_listings(PRODUCTS)[14:]
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    result, writes = run(store, feed, confirmed_missing=42, **settings)
    full_feed = result.summary["full_feed"]
    assert (full_feed["share"], full_feed["named"], full_feed["in_scope"]) == (0, 78, 120)
    assert len(writes) == 42


def test_hide_mode_lines_say_what_changed_and_the_store_holds_a_plain_flag(store, tmp_path):
    """Hiding: each row of the product says is_hidden false -> true; shown again: true -> false.

    The store's flag is the plain 1 Cart.com writes for a hidden product, and 0 once shown.
    """
    listings = catalog_listings(PRODUCTS)
    settings = {**HIDE, "full_feed_hidden_path": str(tmp_path / "hidden.json")}
    gone = listings[0]["sku"]
    hid, _ = run(store, listings[1:], **settings)
    lines = [r for r in hid.results if r["operation"] == "missing"]
    assert [r["changes"] for r in lines] == [{"is_hidden": {"old": False, "new": True}}] * 3
    assert [r["outcome"] for r in lines] == ["updated"] * 3
    (product,) = store.store.query("products", {"item_number": gone})
    assert product["is_hidden"] == 1
    back, _ = run(store, listings, **settings)
    (shown,) = [r for r in back.results if r["operation"] == "reappeared"]
    assert (shown["sku"], shown["outcome"]) == (gone, "updated")
    assert shown["changes"] == {"is_hidden": {"old": True, "new": False}}
    assert back.summary["full_feed"]["shown_again"] == 1
    assert back.summary["full_feed"]["on_sale"] == 120  # shown again: on sale in this run
    assert store.store.get("products", product["id"])["is_hidden"] == 0


def test_a_dry_run_never_writes_the_hidden_file(store, tmp_path):
    """A product hidden by a run comes back: a dry run plans to show it, the file keeps it."""
    listings = catalog_listings(PRODUCTS)
    path = tmp_path / "hidden.json"
    settings = {**HIDE, "full_feed_hidden_path": str(path)}
    run(store, listings[1:], **settings)
    before = path.read_text()
    dry, writes = run(store, listings, dry_run=True, **settings)
    assert writes == []
    assert [r["sku"] for r in dry.results if r["operation"] == "reappeared"] == [listings[0]["sku"]]
    assert path.read_text() == before


def test_a_run_taking_nothing_off_sale_warns_only_past_the_bound(store, caplog):
    """Items an earlier run zeroed are still missing; later runs have nothing to take off sale.

    Such a run changes nothing and is never refused, but it warns, with the share, when the
    missing items not confirmed are more than ``max_missing_fraction`` of the scope: exactly
    the bound is no warning.
    """
    listings = catalog_listings(PRODUCTS)
    feed = [x for n, x in enumerate(listings) if n % 5 < 2]  # 3 products of 5 left
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    first, _ = run(store, feed, max_missing_fraction=0.6, **settings)
    assert first.summary["full_feed"]["share"] == 0.6
    for bound, warnings in ((0.6, []), (0.5, ["are 60% of the scope, more than"])):
        caplog.clear()
        with caplog.at_level("WARNING"):
            result, writes = run(store, feed, max_missing_fraction=bound, **settings)
        warned = [r.getMessage() for r in caplog.records if "Full feed" in r.getMessage()]
        assert len(warned) == len(warnings)
        assert all(text in line for text, line in zip(warnings, warned, strict=True))
        assert writes == []
        assert not result.summary["full_feed"]["refused"]


def test_a_refused_hide_run_says_the_product_back_in_the_feed_was_not_shown(store, tmp_path):
    """The first run hid a product that left; it is back, but this feed lost half the catalog.

    The run is refused: the product stays hidden and its line says it reappeared and was
    skipped, with the refusal's reason.
    """
    listings = catalog_listings(PRODUCTS)
    settings = {**HIDE, "full_feed_hidden_path": str(tmp_path / "hidden.json")}
    run(store, listings[1:], **settings)
    back = listings[0]["sku"]
    assert store.store.query("products", {"item_number": back})[0]["is_hidden"] == 1
    results = tmp_path / "results.jsonl"
    with pytest.raises(MissingFractionError):
        run(store, listings[:20], results_path=str(results), **settings)
    lines = [json.loads(x) for x in results.read_text().splitlines()[:-1]]
    (line,) = [x for x in lines if x.get("operation") == "reappeared"]
    assert (line["sku"], line["outcome"]) == (back, "skipped")
    assert "full feed refused" in line["error"]
    assert store.store.query("products", {"item_number": back})[0]["is_hidden"] == 1


def test_confirmed_missing_equal_to_the_items_missing_is_no_warning(store, caplog):
    """12 items missing and ``confirmed_missing`` 12: the setting is tight, nothing to say."""
    feed, _gone = feed_without(10)
    settings = {"missing_listings": "zero", "feed_scope": {"sku_prefix": "CAT-"}}
    with caplog.at_level("WARNING"):
        run(store, feed, confirmed_missing=12, **settings)
    assert [r.getMessage() for r in caplog.records if "Full feed" in r.getMessage()] == []

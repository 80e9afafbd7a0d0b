"""Calls spent by the listings stream, counted from the sandbox's call log."""

from __future__ import annotations

import math
from urllib.parse import parse_qs

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_testing.listing_scenarios import (
    build_catalog,
    catalog_listings,
    change_some,
)
from cartcom_testing.runs import reads, writes
from cartcom_testing.runs import run_listings as run


def test_small_batch_uses_or_ed_lookups(sandbox):
    build_catalog(sandbox.store, 200)
    listings = catalog_listings(200)[10:15]
    listings[0]["variants"][1]["quantity"] += 1
    result, calls = run(sandbox, listings)
    assert [(c.method, c.path.removeprefix("/api/v1")) for c in reads(calls)] == [
        ("GET", "/products"),
        ("GET", "/variant_inventory"),
    ]
    products = parse_qs(reads(calls)[0].query)
    assert products["item_number"] == [" OR ".join(x["sku"] for x in listings)]
    assert "variant_inventory" in products["fields"][0]
    assert "pricing" in products["fields"][0]
    rows = parse_qs(reads(calls)[1].query)
    assert rows["item_number"][0].count(" OR ") == 14
    assert rows["gtin"][0].startswith("OR ")
    assert len(writes(calls)) == 1
    assert result.summary["outcomes"]["listings"] == {"unchanged": 4, "updated": 1}


def test_lookups_respect_the_url_cap_and_find_everything(sandbox):
    build_catalog(sandbox.store, 400)
    listings = catalog_listings(400)
    result, calls = run(sandbox, listings, index_mode="lookup")
    assert {c.status for c in calls} == {200}
    lengths = [len(c.path) + 1 + len(c.query) for c in calls]
    assert max(lengths) <= 2048
    assert len(calls) >= 4  # the terms do not fit in one URL per resource
    assert result.summary["outcomes"]["listings"] == {"unchanged": 400}
    assert writes(calls) == []


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="unlimited", max_count=100)])
def test_a_paged_lookup_still_fits_the_url_cap(sandbox):
    """A store capping pages at 100 pages a long lookup; its next_page URL still fits.

    The link adds ``page=N`` to the lookup's URL: each lookup leaves room for it.
    """
    build_catalog(sandbox.store, 400)
    listings = catalog_listings(400)
    result, calls = run(sandbox, listings, index_mode="lookup")
    assert any("page=2" in c.query for c in calls), "no lookup was paged: the test means nothing"
    assert {c.status for c in calls} == {200}
    assert max(len(c.path) + 1 + len(c.query) for c in calls) <= 2048
    assert result.summary["outcomes"]["listings"] == {"unchanged": 400}


def test_auto_reads_the_whole_catalog_when_that_is_cheaper(sandbox):
    build_catalog(sandbox.store, 1500)
    listings = catalog_listings(1500)
    change_some(listings, 100)
    _result, calls = run(sandbox, listings)
    # pages of 1,000 products with their rows and prices (fewer where the store caps ``count``)
    pages = math.ceil(1500 / min(1000, sandbox.config.max_count))
    assert len(reads(calls)) == pages
    assert all("count=1000" in c.query for c in reads(calls))
    assert len(writes(calls)) == 45
    _again, calls2 = run(sandbox, listings)
    assert len(reads(calls2)) == pages
    assert writes(calls2) == []


def test_auto_switches_to_lookups_after_the_first_page_when_the_store_is_big(sandbox):
    build_catalog(sandbox.store, 3000)
    listings = catalog_listings(3000)[100:160]
    result, calls = run(sandbox, listings, page_size=100)
    done = reads(calls)
    # Page 1 of the catalog (30 pages) tells the size; lookups then take 3 URLs instead of 29
    # pages, each read to its last page: one per store page of the rows its SKUs match.
    assert done[0].path == "/api/v1/products"
    assert "item_number" not in parse_qs(done[0].query)
    lookups = [(c.path, parse_qs(c.query)) for c in done[1:] if "page" not in parse_qs(c.query)]
    assert [path.removeprefix("/api/v1") for path, _ in lookups] == [
        "/products",
        "/variant_inventory",
        "/variant_inventory",
    ]
    cap = sandbox.config.max_count
    pages = sum(math.ceil((q["item_number"][0].count(" OR ") + 1) / cap) for _, q in lookups)
    assert len(done) == 1 + pages
    assert result.summary["outcomes"]["listings"] == {"unchanged": 60}


@pytest.mark.slow
def test_sync_of_10000_listings_with_30000_variants(sandbox):
    counts = build_catalog(sandbox.store, 10_000)
    assert counts["variant_inventory"] == 30_000
    listings = catalog_listings(10_000)
    changed = change_some(listings, 100)  # 1% of the 30,000 variants
    assert changed == 300
    result, calls = run(sandbox, listings)
    # The index is the catalog read: 10,000 products (variant rows embedded) at the store's
    # largest page; then one write per changed variant, and nothing else.
    index_reads = math.ceil(10_000 / sandbox.config.max_count)
    assert [c.path for c in reads(calls)] == ["/api/v1/products"] * index_reads
    assert len(calls) == index_reads + changed
    assert len(writes(calls)) == changed
    assert result.summary["outcomes"]["listings"]["updated"] == changed
    # A second identical run makes only the index reads.
    again, calls2 = run(sandbox, listings)
    assert len(calls2) == index_reads
    assert writes(calls2) == []
    assert again.summary["outcomes"]["listings"] == {"unchanged": 10_000}


@pytest.mark.parametrize("index_mode", ["lookup", "catalog"])
def test_a_sku_the_filter_syntax_cannot_carry_fails_alone(sandbox, index_mode):
    """``TEE OR SHIRT`` would split into two conditions: it fails in every mode, no read widens."""
    build_catalog(sandbox.store, 3)
    sandbox.store.update("products", 2, {"item_number": "TEE OR SHIRT"})
    listings = catalog_listings(3)
    listings[1]["sku"] = "TEE OR SHIRT"
    listings[1]["price"] = 21.0
    listings[2]["price"] = 22.0
    result, calls = run(sandbox, listings, index_mode=index_mode)
    assert all("SHIRT" not in c.query for c in reads(calls))
    assert [(c.method, c.path) for c in writes(calls)] == [("PUT", "/api/v1/products/3")]
    failed = result.by_sku()["TEE OR SHIRT"]
    assert (failed["outcome"], failed["field"]) == ("failed", "sku")
    assert "connector" in failed["error"]
    assert sandbox.store.get("products", 2)["price"] != 21.0
    assert sandbox.store.get("products", 3)["price"] == 22.0
    assert result.summary["outcomes"]["listings"] == {"failed": 1, "unchanged": 1, "updated": 1}


def test_auto_sizes_pages_by_what_the_store_returns():
    """A store that caps ``count`` at 100 has 30 pages of 3,000 products, not 3."""
    from cartcom_sandbox.config import SandboxConfig
    from cartcom_sandbox.server import SandboxServer

    config = SandboxConfig(plan="unlimited", max_count=100)
    with SandboxServer(":memory:", tokens=["test-token"], config=config) as sb:
        build_catalog(sb.store, 3000)
        listings = catalog_listings(3000)[100:160]
        result, calls = run(sb, listings)
        assert len(reads(calls)) == 4  # page 1, then 1 product and 2 variant-row lookups
        assert result.summary["outcomes"]["listings"] == {"unchanged": 60}

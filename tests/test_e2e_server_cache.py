"""Cart.com's server-side GET cache (docs/api.md §1.10) against the tap and the target.

The sandbox here caches every 200 GET for 300 s per token+URL, as the live API may; only
``Cache-Control: no-cache`` gets a fresh answer. Each test runs the same reads twice around a
change made directly in the store: the second run asks for the very URLs the first one cached,
so it can only see the change if its requests bypass the cache. A plain GET of the same URL
(no header) in between shows the cache really holds the stale answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cartcom_sandbox.clock import normalise_input
from cartcom_sandbox.config import SandboxConfig
from cartcom_testing.listing_scenarios import run_target
from cartcom_testing.runs import run_tap, tap_config, utc_datetime

CACHE_SECONDS = 300


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The seeded sandbox with the server-side GET cache on."""
    return SandboxConfig(plan="unlimited", cache_seconds=CACHE_SECONDS)


# -- helpers ---------------------------------------------------------------------------------
def _z(moment: datetime) -> str:
    """A UTC datetime as the tap writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_orders_tap(sb: Any, now: datetime) -> dict[str, Any]:
    """One fresh in-process run of the orders stream, its clock pinned to ``now``."""
    config = tap_config(sb, calls_per_window=100_000, page_size=1000)
    run = run_tap(config, streams=("orders",), now=now)
    return {"orders": {o["id"]: o for o in run["records"].get("orders", [])}}


def gets(calls: list[Any]) -> list[tuple[str, str]]:
    """(path, query) of every GET, in order: the server cache's keys (with the token)."""
    return [(c.path, c.query) for c in calls if c.method == "GET"]


def plain_get(sb: Any, path: str, query: str) -> requests.Response:
    """A GET of exactly ``path?query`` with the token and no Cache-Control header."""
    url = f"{sb.base_url.split('/api/v1')[0]}{path}" + (f"?{query}" if query else "")
    before = len(sb.calls)
    response = requests.get(url, headers=sb.headers, timeout=10)
    assert response.status_code == 200
    assert "Cache-Control" not in response.request.headers
    # The sandbox saw the same path and query, so the same cache key as the run's read.
    logged = sb.calls.snapshot()[before]
    assert (logged.path, logged.query) == (path, query)
    return response


def docs_with(body: Any, key: str, value: Any) -> list[dict[str, Any]]:
    """Every dict anywhere in ``body`` whose ``key`` equals ``value``."""
    found: list[dict[str, Any]] = []
    if isinstance(body, dict):
        if body.get(key) == value:
            found.append(body)
        for item in body.values():
            found += docs_with(item, key, value)
    elif isinstance(body, list):
        for item in body:
            found += docs_with(item, key, value)
    return found


def test_docs_with_finds_nested_matches():
    """The body search helper finds nested rows and nothing else."""
    body = {
        "total_count": 2,
        "products": [
            {"item_number": "A", "q": 1},
            {"item_number": "B", "kids": [{"item_number": "A"}]},
        ],
    }
    assert docs_with(body, "item_number", "A") == [
        {"item_number": "A", "q": 1},
        {"item_number": "A"},
    ]
    assert docs_with(body, "item_number", "C") == []


# -- the tap ---------------------------------------------------------------------------------
def test_tap_rerun_sees_changed_and_added_orders_through_the_cache(seeded_sandbox):
    """Same window twice: run 2 reads the URLs run 1 cached, yet sees the store's changes."""
    sb = seeded_sandbox
    created = [utc_datetime(o["created_at"]) for o in sb.store.query("orders")]
    now = (max(created) + timedelta(hours=1)).replace(microsecond=0)

    first = run_orders_tap(sb, now)
    urls1 = gets(sb.calls.snapshot())
    # The window's pages (the other /orders read lists the orders without a created_at).
    orders_urls = [u for u in urls1 if u[0] == "/api/v1/orders" and "fields=" not in u[1]]
    assert len(orders_urls) == 1  # one page holds every order
    assert set(first["orders"]) == {o["id"] for o in sb.store.query("orders")}

    # Between the runs, straight in the store: one order changed, one added inside the window.
    changed_id = min(first["orders"])
    old_total = first["orders"][changed_id]["grand_total"]
    new_total = round(float(old_total) + 11.11, 2)
    sb.store.update("orders", changed_id, {"grand_total": new_total})
    template = sb.store.get("orders", changed_id)
    stamp = normalise_input(_z(now - timedelta(minutes=30)), sb.store.timezone)
    doc = {k: v for k, v in template.items() if k not in ("id", "created_at", "updated_at")}
    added_id = sb.store.insert("orders", {**doc, "created_at": stamp, "updated_at": stamp})["id"]

    # Control: without no-cache the same URL still answers run 1's orders, unchanged.
    stale = plain_get(sb, *orders_urls[0])
    assert stale.headers["Cache-Control"] == f"private, max-age={CACHE_SECONDS}"
    stale_orders = {o["id"]: o for o in stale.json()["orders"]}
    assert set(stale_orders) == set(first["orders"])
    assert added_id not in stale_orders
    assert stale_orders[changed_id]["grand_total"] == old_total

    before = len(sb.calls)
    second = run_orders_tap(sb, now)
    calls2 = sb.calls.snapshot()[before:]
    assert gets(calls2) == urls1  # the very cache keys run 1 filled
    assert set(second["orders"]) == set(first["orders"]) | {added_id}
    assert second["orders"][changed_id]["grand_total"] == new_total
    assert second["orders"][added_id]["created_at"] < _z(now)


# -- the target ------------------------------------------------------------------------------
def test_target_sync_corrects_a_quantity_changed_between_runs_despite_the_cache(seeded_sandbox):
    """A listings sync reads fresh quantities: a store-side change is corrected on the rerun."""
    sb = seeded_sandbox
    product = next(
        p
        for p in sb.store.query("products")
        if not p["use_variant_inventory"]
        and not sb.store.query("variant_inventory", {"product_id": p["id"]})
    )
    sku, quantity = product["item_number"], product["quantity_on_hand"]
    listing = {"sku": sku, "price": product["price"], "quantity": quantity}
    ops = ["link", "sync"]

    before = len(sb.calls)
    first = run_target(sb.base_url, sb.token, [listing], operations=ops)
    calls1 = sb.calls.snapshot()[before:]
    assert first.exit_error is None
    assert first.by_sku()[sku]["outcome"] == "unchanged"
    assert [c for c in calls1 if c.method != "GET"] == []
    urls1 = gets(calls1)
    assert urls1

    # Someone changes the stock straight in the store between the runs.
    drifted = quantity + 7
    sb.store.update("products", product["id"], {"quantity_on_hand": drifted})
    assert sb.store.get("products", product["id"])["quantity_on_hand"] == drifted

    # Control: plain GETs of the run's URLs still show the old quantity for this SKU.
    seen = [
        doc
        for path, query in urls1
        for doc in docs_with(plain_get(sb, path, query).json(), "item_number", sku)
        if "quantity_on_hand" in doc
    ]
    assert seen, "the run's reads should include the product's quantity"
    assert {doc["quantity_on_hand"] for doc in seen} == {quantity}

    before = len(sb.calls)
    second = run_target(sb.base_url, sb.token, [listing], operations=ops)
    calls2 = sb.calls.snapshot()[before:]
    assert second.exit_error is None
    result = second.by_sku()[sku]
    assert result["outcome"] == "updated"
    assert [(c.method, c.path) for c in calls2 if c.method != "GET"] == [
        ("PUT", f"/api/v1/products/{product['id']}")
    ]
    assert gets(calls2)[: len(urls1)] == urls1  # it asked for the URLs the cache holds
    assert sb.store.get("products", product["id"])["quantity_on_hand"] == quantity

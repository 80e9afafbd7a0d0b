"""Benchmark of target-cartcom's listings stream: calls and wall time next to the ideal.

Scenarios (issue 4, "Must show" 6), each at the steel (5 calls) and gold (50 calls) plans with a
short 1-second window instead of Cart.com's 10 s, sandbox and target paced alike:

- sync: 10,000 listings with 30,000 variants against a store that holds them, 1% of the variants
  changed (300 writes), then the same input again (index reads only);
- publish: one 3-variant product into a store holding its category and Size group, then 20 more
  in one run; and one Size x Colour product with a brand and an image (the "full" case of
  docs/listings.md, 16 calls).

The ideal wall time is calls / rate (rate = calls per window / window). Calls come from the
sandbox's call log. The sandbox runs in-process (a thread), so wall time includes its work.

Run: ``.venv/bin/python bench/bench_listings.py [--quick]``. Results: bench/results/listings.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "listings.json"
sys.path.insert(0, str(ROOT / "tests" / "support"))  # cartcom_testing: shared with the tests
PLANS = {"steel": 5, "gold": 50}
WINDOW = 1.0


def _server(calls: int) -> Any:
    from cartcom_sandbox.config import SandboxConfig
    from cartcom_sandbox.server import SandboxServer

    config = SandboxConfig(plan="unlimited")
    server = SandboxServer(":memory:", tokens=["bench-token"], config=config).start()
    server.ratelimit.configure(calls=calls, window=WINDOW)
    return server


def _measure(
    server: Any, records: list[dict[str, Any]], calls_per_window: int, **settings: Any
) -> dict[str, Any]:
    from cartcom_testing.listing_scenarios import run_target

    before = len(server.calls)
    started = time.perf_counter()
    run = run_target(
        server.base_url,
        server.token,
        records,
        calls_per_window=calls_per_window,
        window_seconds=WINDOW,
        **settings,
    )
    wall = time.perf_counter() - started
    calls = server.calls.snapshot()[before:]
    total = len(calls)
    ideal = total / (calls_per_window / WINDOW)
    return {
        "calls": total,
        "reads": sum(1 for c in calls if c.method == "GET"),
        "writes": sum(1 for c in calls if c.method != "GET"),
        "status_429": sum(1 for c in calls if c.status == 429),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "utilisation": round(ideal / wall, 3) if wall else None,
        "outcomes": run.summary.get("outcomes", {}).get("listings", {}),
        "failed": run.summary.get("failed"),
    }


def bench_sync(plan: str, products: int) -> dict[str, Any]:
    """Sync ``products`` 3-variant listings, 1% of variants changed, then the same input again."""
    from cartcom_testing.listing_scenarios import build_catalog, catalog_listings, change_some

    calls_per_window = PLANS[plan]
    server = _server(calls_per_window)
    try:
        build_catalog(server.store, products)
        listings = catalog_listings(products)
        changed = change_some(listings, 100)
        first = _measure(server, listings, calls_per_window)
        second = _measure(server, listings, calls_per_window)
    finally:
        server.stop()
    return {
        "listings": products,
        "variants": products * 3,
        "changed_items": changed,
        "bound": f"index reads + {changed} changed + 10",
        "changed_run": first,
        "identical_rerun": second,
    }


def _tee(n: int) -> dict[str, Any]:
    return {
        "sku": f"BENCH-TEE-{n}",
        "title": f"Bench Tee {n}",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "variants": [
            {"sku": f"BENCH-TEE-{n}-{s}", "options": {"Size": s}, "quantity": q}
            for s, q in (("S", 1), ("M", 2), ("L", 3))
        ],
    }


def _full(n: int) -> dict[str, Any]:
    """A Size x Colour product with a brand and an image (docs/listings.md: 15 calls)."""
    return {
        "sku": f"BENCH-FULL-{n}",
        "title": f"Bench Full {n}",
        "brand": "Northwind",
        "categories": ["Apparel > Shirts"],
        "price": 18.0,
        "images": [f"https://cdn.example.com/bench-full-{n}.jpg"],
        "variants": [
            {"sku": f"BENCH-FULL-{n}-{s}-{c}", "options": {"Size": s, "Color": c}, "quantity": 1}
            for s, c in (("S", "Red"), ("M", "Red"), ("M", "Blue"))
        ],
    }


def bench_publish(plan: str, batch: int) -> dict[str, Any]:
    """Publish one 3-variant product, then ``batch`` more in one run."""
    calls_per_window = PLANS[plan]
    server = _server(calls_per_window)
    try:
        store = server.store
        store.insert("product_statuses", {"id": 1, "name": "In Stock"})
        apparel = {"id": 1, "name": "Apparel", "parent_category_id": 0, "lookup_path": "Apparel"}
        store.insert("categories", apparel)
        shirts = {"name": "Shirts", "parent_category_id": 1, "lookup_path": "Apparel > Shirts"}
        store.insert("categories", {"id": 2, **shirts})
        store.insert("variant_groups", {"id": 1, "name": "Size", "display_type": "DropDown"})
        store.insert("variant_groups", {"id": 2, "name": "Color", "display_type": "DropDown"})
        store.insert("manufacturers", {"id": 1, "name": "Northwind"})
        ops = ["link", "sync", "publish", "overwrite"]
        one = _measure(server, [_tee(0)], calls_per_window, operations=ops)
        many = _measure(
            server, [_tee(i) for i in range(1, batch + 1)], calls_per_window, operations=ops
        )
        full = _measure(server, [_full(0)], calls_per_window, operations=ops)
    finally:
        server.stop()
    return {
        "one_3_variant_product": one,
        f"batch_of_{batch}": many,
        "one_size_by_colour_product_with_brand_and_image": full,
    }


def main() -> None:
    """Run every scenario at each plan and write bench/results/listings.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 listings instead of 10,000")
    args = parser.parse_args()
    products = 1_000 if args.quick else 10_000
    results: dict[str, Any] = {"window_seconds": WINDOW, "plans": PLANS, "sync": {}, "publish": {}}
    for plan in PLANS:
        results["publish"][plan] = bench_publish(plan, 20)
        print(plan, "publish", json.dumps(results["publish"][plan]), flush=True)
        results["sync"][plan] = bench_sync(plan, products)
        print(plan, "sync", json.dumps(results["sync"][plan]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

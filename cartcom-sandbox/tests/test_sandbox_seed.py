"""The deterministic store builder (cartcom_sandbox.seed) and the seeded_sandbox fixture."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from itertools import product
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from cartcom_sandbox.seed import RESOURCE_ORDER, generate, make_config, seed_store
from cartcom_sandbox.seeding.gtin import check_digit, is_valid_gtin

ARGS = {"products": 80, "orders": 1500, "seed": 11, "start": date(2024, 2, 15), "days": 60}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?(-05:00|-06:00)$")
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def docs() -> dict[str, list[dict]]:
    """One generated store (pure generator, no database), grouped by resource."""
    out: dict[str, list[dict]] = defaultdict(list)
    for resource, doc in generate(make_config(**ARGS)):
        out[resource].append(doc)
    return out


def _table_dump(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name != 'meta' ORDER BY name"
            )
        ]
        return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}
    finally:
        con.close()


def _digest(stream) -> str:
    h = hashlib.sha256()
    for resource, doc in stream:
        h.update(resource.encode())
        h.update(json.dumps(doc, sort_keys=True).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_tables_and_another_seed_differs(tmp_path: Path) -> None:
    small = {**ARGS, "products": 30, "orders": 200}
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    sa = seed_store(str(a), **small, parallel=False)
    # neither chunking nor the helper process may change the data
    seed_store(str(b), **small, chunk_size=97, parallel=True)
    seed_store(str(c), **{**small, "seed": small["seed"] + 1})
    dump_a, dump_b, dump_c = _table_dump(a), _table_dump(b), _table_dump(c)
    assert dump_a["r_orders"], "nothing was written"
    assert dump_a == dump_b
    assert dump_a["r_orders"] != dump_c["r_orders"]
    assert dump_a["r_products"] != dump_c["r_products"]
    assert sa["counts"]["orders"] == 200 == len(dump_a["r_orders"])


def test_generator_is_deterministic_without_a_database() -> None:
    cfg = make_config(**{**ARGS, "orders": 300})
    assert _digest(generate(cfg)) == _digest(generate(cfg))
    assert _digest(generate(cfg)) != _digest(
        generate(make_config(**{**ARGS, "orders": 300, "seed": 12}))
    )


def test_existing_file_is_refused_unless_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    seed_store(str(path), products=5, orders=5, seed=1, start=date(2024, 1, 1), days=5)
    with pytest.raises(FileExistsError):
        seed_store(str(path), products=5, orders=5, seed=1, start=date(2024, 1, 1), days=5)
    s = seed_store(
        str(path), products=5, orders=7, seed=1, start=date(2024, 1, 1), days=5, overwrite=True
    )
    assert len(_table_dump(path)["r_orders"]) == 7 == s["counts"]["orders"]


# --------------------------------------------------------------------------- identifiers
def test_gtin_check_digits() -> None:
    assert check_digit("03600029145") == "2"  # a published UPC-A example
    assert check_digit("400638133393") == "1"  # a published EAN-13 example
    assert is_valid_gtin("036000291452")
    assert not is_valid_gtin("036000291453")
    assert not is_valid_gtin("12345")


def test_every_gtin_valid_and_unique_and_both_lengths_used(docs) -> None:
    codes = [d["gtin"] for d in docs["products"] if d["gtin"]]
    codes += [d["gtin"] for d in docs["variant_inventory"]]
    assert codes
    assert all(is_valid_gtin(c) for c in codes), [c for c in codes if not is_valid_gtin(c)][:5]
    assert len(codes) == len(set(codes))
    assert {len(c) for c in codes} == {12, 13}
    simple = [d for d in docs["products"] if not d["use_variant_inventory"]]
    assert all(is_valid_gtin(d["gtin"]) for d in simple)


def test_skus_unique_across_products_and_variant_inventory(docs) -> None:
    skus = [d["item_number"] for d in docs["products"]]
    skus += [d["item_number"] for d in docs["variant_inventory"]]
    assert all(skus)
    assert len(skus) == len(set(skus))


def test_order_ids_start_at_100000_and_follow_creation_time(docs) -> None:
    orders = docs["orders"]
    assert [o["id"] for o in orders] == list(range(100000, 100000 + ARGS["orders"]))
    created = [datetime.fromisoformat(o["created_at"]) for o in orders]
    assert created == sorted(created)


# --------------------------------------------------------------------------- integrity
FKS = [
    ("products", "primary_category_id", "categories"),
    ("products", "manufacturer_id", "manufacturers"),
    ("products", "product_status_id", "product_statuses"),
    ("product_variants", "product_id", "products"),
    ("product_variants", "variant_group_id", "variant_groups"),
    ("variant_inventory", "product_id", "products"),
    ("variant_inventory", "product_status_id", "product_statuses"),
    ("product_pricing", "product_id", "products"),
    ("product_pricing", "variant_inventory_id", "variant_inventory"),
    ("product_pictures", "product_id", "products"),
    ("order_addresses", "customer_id", "customers"),
    ("orders", "customer_id", "customers"),
    ("orders", "order_status_id", "order_statuses"),
    ("orders", "order_billing_address_id", "order_addresses"),
    ("orders", "order_shipping_address_id", "order_addresses"),
    ("order_items", "order_id", "orders"),
    ("order_items", "product_id", "products"),
    ("order_items", "variant_inventory_id", "variant_inventory"),
    ("order_payments", "order_id", "orders"),
    ("order_payments", "customer_id", "customers"),
    ("order_shipments", "order_id", "orders"),
    ("shipping_provider_services", "shipping_provider_id", "shipping_providers"),
]


def test_every_foreign_key_resolves(docs) -> None:
    ids = {r: {d["id"] for d in docs[r]} for r in RESOURCE_ORDER}
    for child, fk, parent in FKS:
        refs = [d[fk] for d in docs[child] if d.get(fk) is not None]
        assert refs, f"{child}.{fk} never set"
        missing = {r for r in refs if r not in ids[parent]}
        assert not missing, f"{child}.{fk} -> {parent}: {sorted(missing)[:5]}"
    cats = {d["id"] for d in docs["categories"]}
    assert all(d["parent_category_id"] in cats | {0} for d in docs["categories"])
    secondary = [c for p in docs["products"] for c in p.get("categories", [])]
    assert secondary
    assert all(c["id"] in cats and c["is_primary"] is False for c in secondary)
    items = {d["id"]: d for d in docs["order_items"]}
    for s in docs["order_shipments"]:
        assert s["items"]
        assert all(items[i["id"]]["order_id"] == s["order_id"] for i in s["items"])
    vis = {d["id"]: d for d in docs["variant_inventory"]}
    variants = {d["id"]: d for d in docs["product_variants"]}
    for it in docs["order_items"]:
        if it["variant_inventory_id"] is not None:
            vi = vis[it["variant_inventory_id"]]
            assert vi["product_id"] == it["product_id"]
            assert it["item_number_full"] == vi["item_number"]
            assert {v["id"] for v in it["variants"]} == {v["id"] for v in vi["variants"]}
        else:
            assert it["variants"] == []
    for vi in docs["variant_inventory"]:
        assert all(variants[v["id"]]["product_id"] == vi["product_id"] for v in vi["variants"])
    ship = {d["id"]: d for d in docs["shipping_provider_services"]}
    custom = {d["id"]: d for d in docs["custom_shipping_methods"]}
    for s in docs["order_shipments"]:
        table = ship if s["shipping_method_type"] == "provider" else custom
        assert table[s["shipping_method_id"]]["name"] == s["shipping_method"]


def test_category_tree_has_lookup_paths(docs) -> None:
    cats = {d["id"]: d for d in docs["categories"]}
    for c in cats.values():
        path = [c["name"]]
        parent = c["parent_category_id"]
        while parent:
            path.insert(0, cats[parent]["name"])
            parent = cats[parent]["parent_category_id"]
        assert c["lookup_path"] == " > ".join(path)
    assert any(c["lookup_path"] == "Apparel > Shirts" for c in cats.values())
    assert max(c["lookup_path"].count(" > ") for c in cats.values()) == 2


def test_totals_add_up(docs) -> None:
    lines = defaultdict(list)
    for it in docs["order_items"]:
        lines[it["order_id"]].append(it)
    for o in docs["orders"]:
        sub = round(sum(i["price"] * i["quantity"] for i in lines[o["id"]]), 2)
        assert o["subtotal"] == pytest.approx(sub, abs=0.011)
        total = o["subtotal"] - o["discount_total"] + o["shipping_total"] + o["tax_total"]
        assert o["grand_total"] == pytest.approx(total, abs=0.011)
        for f in ("subtotal", "grand_total", "tax_total", "shipping_total"):
            assert round(o[f], 2) == o[f]


# --------------------------------------------------------------------------- statuses
def test_order_statuses_and_their_flags(docs) -> None:
    by_name = {d["name"]: d for d in docs["order_statuses"]}
    assert by_name["Processing"]["is_open"]
    assert by_name["Pending"]["is_open"]
    assert by_name["Shipped"]["is_shipped"]
    assert not by_name["Shipped"]["is_open"]
    assert by_name["Partially Shipped"]["is_partially_shipped"]
    assert by_name["Cancelled"]["is_cancelled"]
    assert by_name["Declined"]["is_declined"]
    assert by_name["Refunded"]["is_fully_refunded"]
    assert by_name["Quote"]["is_quote_status"]
    assert [d["name"] for d in docs["order_statuses"] if d["is_shipped"]] == ["Shipped"]


def test_shipments_match_statuses(docs) -> None:
    names = {d["id"]: d["name"] for d in docs["order_statuses"]}
    ordered: dict[int, float] = defaultdict(float)
    for it in docs["order_items"]:
        ordered[it["order_id"]] += it["quantity"]
    shipped: dict[int, int] = defaultdict(int)
    per_item: Counter = Counter()
    for s in docs["order_shipments"]:
        for i in s["items"]:
            shipped[s["order_id"]] += i["quantity_shipped"]
            per_item[i["id"]] += i["quantity_shipped"]
    items = {d["id"]: d for d in docs["order_items"]}
    assert all(q <= items[i]["quantity"] for i, q in per_item.items())
    seen = Counter()
    for o in docs["orders"]:
        status = names[o["order_status_id"]]
        seen[status] += 1
        got, want = shipped.get(o["id"], 0), ordered[o["id"]]
        if status in ("Shipped", "Completed"):
            assert got == want, o["id"]
        elif status == "Partially Shipped":
            assert 0 < got < want, o["id"]
        elif status == "Refunded":
            assert got in (0, want)
        else:
            assert got == 0, (o["id"], status)
    assert set(seen) == set(names.values())
    share = seen["Processing"] / len(docs["orders"])
    assert 0.15 <= share <= 0.25, share


def test_status_history_fields(docs) -> None:
    names = {d["id"]: d["name"] for d in docs["order_statuses"]}
    for o in docs["orders"]:
        status = names[o["order_status_id"]]
        changed = datetime.fromisoformat(o["order_status_last_changed_at"])
        assert datetime.fromisoformat(o["created_at"]) <= changed
        assert changed <= datetime.fromisoformat(o["updated_at"])
        if status == "Shipped":
            assert names[o["previous_order_status_id"]] == "Processing"
    completed = [
        o["updated_at"] for o in docs["orders"] if names[o["order_status_id"]] == "Completed"
    ]
    # the nightly job completes many orders at the very same instant (incremental-sync ties)
    assert Counter(completed).most_common(1)[0][1] > 1


# --------------------------------------------------------------------------- variants
def test_variant_combinations_complete(docs) -> None:
    groups = {d["id"]: d["name"] for d in docs["variant_groups"]}
    assert sorted(groups.values()) == ["Color", "Size"]
    values = defaultdict(lambda: defaultdict(list))
    for v in docs["product_variants"]:
        values[v["product_id"]][v["variant_group_id"]].append(v["id"])
    vis = defaultdict(list)
    for vi in docs["variant_inventory"]:
        vis[vi["product_id"]].append(vi)
    pricing = Counter(p["variant_inventory_id"] for p in docs["product_pricing"])
    pv = {d["id"]: d for d in docs["product_variants"]}
    variant_products = [p for p in docs["products"] if p["use_variant_inventory"]]
    assert variant_products
    assert any(len(values[p["id"]]) == 2 for p in variant_products)
    for p in docs["products"]:
        if not p["use_variant_inventory"]:
            assert not values[p["id"]]
            assert not vis[p["id"]]
            continue
        combos = {tuple(sorted(v["id"] for v in vi["variants"])) for vi in vis[p["id"]]}
        expected = {tuple(sorted(c)) for c in product(*values[p["id"]].values())}
        assert combos == expected
        assert len(vis[p["id"]]) == len(expected)
        for vi in vis[p["id"]]:
            assert pricing[vi["id"]] == 1
            parts = sorted(vi["variants"], key=lambda v: v["variant_group_id"])
            assert vi["item_number"] == p["item_number"] + "".join(
                pv[v["id"]]["item_number_extension"] for v in parts
            )
            assert vi["description"] == ", ".join(
                f"{groups[v['variant_group_id']]}: {pv[v['id']]['description']}" for v in parts
            )
    for pr in docs["product_pricing"]:
        assert pr["starting_quantity"] == 1
        assert pr["price"] > 0


def test_product_shapes(docs) -> None:
    for p in docs["products"]:
        assert p["is_hidden"] in (0, 1)
        assert isinstance(p["is_hidden"], int)
        assert all(isinstance(p[f], str) and float(p[f]) > 0 for f in ("height", "length", "width"))
        assert p["price"] > p["cost"] > 0
    pictures = defaultdict(list)
    for pic in docs["product_pictures"]:
        assert pic["image_file"].startswith("/shared/images/")
        pictures[pic["product_id"]].append(pic)
    for p in docs["products"]:
        pics = pictures[p["id"]]
        assert [x["is_primary"] for x in pics].count(True) == 1
        assert pics[0]["image_file"] == f"/shared/images/{p['item_number']}-1.jpg"


# --------------------------------------------------------------------------- timestamps
def test_timestamps_local_with_offsets_and_varying_precision(docs) -> None:
    digits = Counter()
    offsets = Counter()
    for resource in ("orders", "order_items", "order_shipments", "products", "customers"):
        for d in docs[resource]:
            for f in ("created_at", "updated_at", "ordered_at", "shipped_at"):
                v = d.get(f)
                if v is None:
                    continue
                m = TS.match(v)
                assert m, (resource, f, v)
                digits[len(m.group(1) or ".") - 1] += 1
                offsets[m.group(2)] += 1
                dt = datetime.fromisoformat(v)
                assert dt.astimezone(CHICAGO).utcoffset() == dt.utcoffset(), v  # DST right
    assert set(digits) == set(range(8)), digits
    assert set(offsets) == {"-05:00", "-06:00"}
    approved = Counter(
        "empty" if p["approved_at"] == "" else "null" if p["approved_at"] is None else "set"
        for p in docs["order_payments"]
    )
    assert approved["empty"]
    assert approved["null"]
    assert approved["set"]


def test_nothing_happens_outside_the_window(docs) -> None:
    cfg = make_config(**ARGS)
    start = datetime.combine(ARGS["start"], datetime.min.time(), CHICAGO)
    for resource, rows in docs.items():
        for d in rows:
            for f, v in d.items():
                if f.endswith("_at") and f != "expires_at" and isinstance(v, str) and v:
                    when = datetime.fromisoformat(v)
                    if when.tzinfo is None:  # paid_at without offset: store-local time
                        when = when.replace(tzinfo=CHICAGO)
                    assert when <= cfg.end, (resource, f, v)
    for o in docs["orders"]:
        assert datetime.fromisoformat(o["created_at"]) >= start


def test_default_window_ends_today_and_is_stable() -> None:
    a, b = make_config(), make_config()
    assert a == b
    assert a.end.hour == 0
    assert (a.end.date() - a.start).days in (90, 91)


# --------------------------------------------------------------------------- CLI + server
def test_cli_seed_then_serve(tmp_path: Path) -> None:
    from cartcom_sandbox.server import SandboxServer

    db = tmp_path / "cli.db"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cartcom_sandbox",
            "seed",
            "--db",
            str(db),
            "--products",
            "25",
            "--orders",
            "120",
            "--seed",
            "3",
            "--start",
            "2024-03-01",
            "--days",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "orders=120" in run.stdout
    again = subprocess.run(
        [sys.executable, "-m", "cartcom_sandbox", "seed", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode != 0
    assert "exists" in again.stderr
    with SandboxServer(str(db), tokens=["t0k"]) as srv:
        r = requests.get(
            f"{srv.base_url}/orders",
            params={"expand": "items", "count": 50},
            headers={"X-AC-Auth-Token": "t0k"},
            timeout=10,
        )
    assert r.status_code == 200
    body = r.json()
    assert body["total_count"] == 120
    assert len(body["orders"]) == 50
    assert all(o["items"] for o in body["orders"])
    assert body["orders"][0]["items"][0]["order_id"] == body["orders"][0]["id"]


# --------------------------------------------------------------------------- fixture
def test_seeded_sandbox_fixture_serves_a_private_copy(seeded_sandbox, seeded_sandbox_db) -> None:
    pristine, summary = seeded_sandbox_db
    assert seeded_sandbox.path != pristine
    assert seeded_sandbox.counts["orders"] == 300
    processing = seeded_sandbox.processing_order_ids
    assert processing
    assert len(processing) == summary["orders_by_status"]["Processing"]
    status_id = seeded_sandbox.order_status_ids["Processing"]
    r = requests.get(
        f"{seeded_sandbox.base_url}/orders",
        params={"order_status_id": status_id, "count": 200},
        headers=seeded_sandbox.headers,
        timeout=10,
    )
    assert r.status_code == 200
    assert sorted(o["id"] for o in r.json()["orders"]) == sorted(processing)
    # mutate the copy; the session file stays untouched
    before = hashlib.sha256(pristine.read_bytes()).hexdigest()
    seeded_sandbox.store.delete("orders", processing[0])
    assert hashlib.sha256(pristine.read_bytes()).hexdigest() == before
    assert seeded_sandbox.store.get("orders", processing[0]) is None

"""End to end: a supplier's CSV through a CSV tap from PyPI into target-cartcom, with Meltano.

The pipeline of meltano.yml (`supplier-csv`, tap-spreadsheets 1.1.2, into
`target-cartcom-csv-publish` / `-csv-sync`, option columns size and colour) reads a CSV written
the way a supplier's spreadsheet writes it: Excel's "CSV UTF-8" (byte-order mark, CRLF), a
header row of human names, quoted cells with commas, quotes and line breaks, empty cells,
TRUE/yes/0 flags, amounts as "$19.99" or "1,299.00", lists separated by "|", a trailing row of
empty cells. 80 rows: 33 simple products, 15 parents of 3 variants (options from the size and
colour columns), 2 products the store already has.

link+publish, then a changed CSV with link+sync, then the same CSV again (a replay): 0 failures,
and after each run every value is read back from the sandbox's store (products, variant rows,
option values, prices, quantities, hidden flags, pictures, categories, brands, barcodes) and
compared with what the CSV means, worked out here from the data the CSV was written from.
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import run_demo as demo
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import add_reference_data

#: The first run installs the Meltano plugins into .meltano/ (a minute on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"
HEADER = [
    "SKU",
    "Parent SKU",
    "Title",
    "Description",
    "Brand",
    "Categories",
    "Images",
    "Price",
    "MSRP",
    "Cost",
    "Quantity",
    "Hidden",
    "UPC",
    "Weight",
    "Size",
    "Colour",
]
HIDDEN_SPELLINGS = {True: ("TRUE", "yes", "Y", "1", "True"), False: ("FALSE", "no", "n", "0")}
EXISTING = ("CSV-OLD-1", "CSV-OLD-2")


# -- the data the CSV is written from ----------------------------------------------------------
@dataclass
class Variant:
    sku: str
    options: dict[str, str]
    price: Decimal | None
    quantity: int | None
    msrp: Decimal | None = None
    upc: str | None = None


@dataclass
class Product:
    sku: str
    title: str
    categories: list[str]
    description: str | None = None
    brand: str | None = None
    images: list[str] = field(default_factory=list)
    hidden: bool | None = None
    price: Decimal | None = None
    msrp: Decimal | None = None
    cost: Decimal | None = None
    quantity: int | None = None
    upc: str | None = None
    weight: Decimal | None = None
    variants: list[Variant] = field(default_factory=list)


def upc(n: int) -> str:
    """A valid UPC-A (12 digits, check digit computed), with a leading zero."""
    body = f"0{7_000_000_000 + n:010d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def supplier_feed() -> list[Product]:
    """33 simple products, 15 parents of 3 variants and the store's 2, with varied content."""
    products = []
    brands = ("Northwind", "Ümlaut & Co", None)
    for n in range(1, 34):
        products.append(
            Product(
                sku=f"CSV-S{n:02d}",
                title=[f"Café Mug {n}", f'Tall "Jar", size {n}', f"Straße Lamp {n}"][n % 3],
                description=[None, f"<p>Line one of {n},\nline two</p>", "Plain, with commas"][
                    n % 3
                ],
                brand=brands[n % 3],
                categories=[["Home > Kitchen"], ["Home > Kitchen", "Sale"], ["Apparel > Shirts"]][
                    n % 3
                ],
                images=[
                    [],
                    [f"https://cdn.example.com/s{n}.jpg"],
                    [f"https://cdn.example.com/s{n}-a.jpg", f"https://cdn.example.com/s{n}-b.jpg"],
                ][n % 3],
                hidden=[None, True, False][n % 3],
                price=Decimal("1299.00") if n % 11 == 0 else Decimal(f"{n + 4}.{n * 7 % 100:02d}"),
                msrp=None if n % 4 == 0 else Decimal(f"{n + 20}.00"),
                cost=None if n % 5 == 0 else Decimal(f"{n}.50"),
                quantity=n % 9,
                upc=upc(n) if n % 2 else None,
                weight=None if n % 6 == 0 else Decimal(f"0.{n}"),
            )
        )
    for n in range(1, 16):
        kind = n % 3  # 0: size only, 1: size and colour, 2: colour only
        if kind == 0:
            combos = [{"Size": s} for s in ("S", "M", "L")]
        elif kind == 1:
            combos = [
                {"Size": s, "Colour": c} for s, c in (("S", "Red"), ("M", "Red"), ("M", "Blue"))
            ]
        else:
            combos = [{"Colour": c} for c in ("Black", "White", "Grün")]
        sku = f"CSV-P{n:02d}"
        variants = [
            Variant(
                sku=f"{sku}-{'-'.join(c.values()).upper()}",
                options=c,
                price=Decimal(f"{20 + n}.{i * 25:02d}"),
                quantity=(n + i) % 7,
                msrp=Decimal(f"{40 + n}.00") if i == 1 else None,
                upc=upc(100 + 3 * n + i) if n % 2 else None,
            )
            for i, c in enumerate(combos)
        ]
        products.append(
            Product(
                sku=sku,
                title=f"Parent Tee {n}, cotton",
                description=f"Tee {n}" if n % 2 else None,
                brand="Northwind" if n % 2 else None,
                categories=["Apparel > Shirts"] if n % 2 else ["Apparel > Shirts", "Sale"],
                images=[f"https://cdn.example.com/p{n}.jpg"] if n % 3 else [],
                hidden=[None, True, False][n % 3],
                variants=variants,
            )
        )
    for i, sku in enumerate(EXISTING):
        products.append(
            Product(
                sku=sku,
                title=f"Supplier's title {i}",
                categories=["Home > Kitchen"],
                price=Decimal("8.50"),
                quantity=3,
                hidden=None,
            )
        )
    return products


def changed_feed(products: list[Product]) -> list[Product]:
    """The supplier's next file: prices, stock and flags changed; some cells left empty.

    An empty cell is not given (None here), so the store keeps what it has.
    """
    out = copy.deepcopy(products)
    for n, p in enumerate(out):
        if p.variants:
            if n % 2:
                p.hidden = not p.hidden if p.hidden is not None else True
            for i, v in enumerate(p.variants):
                if (n + i) % 2:
                    v.quantity = (v.quantity or 0) + 5
                if i == 2:
                    v.price = (v.price or Decimal(0)) + Decimal("1.10")
                if i == 0 and n % 3 == 0:
                    v.quantity = None  # an empty cell: the store keeps its stock
            continue
        if n % 3 == 0:
            p.price = (p.price or Decimal(0)) + Decimal("2.00")
        if n % 4 == 1:
            p.quantity = (p.quantity or 0) + 10
        if n % 5 == 2:
            p.hidden = not bool(p.hidden)
        if n % 7 == 3:
            p.quantity = None  # an empty cell
            p.price = None
        if n % 6 == 5 and p.msrp is not None:
            p.msrp += Decimal("1.00")
        p.title = p.title + " (v2)"  # content: sync never writes it
    return out


# -- writing it as a supplier's spreadsheet does ---------------------------------------------
def amount(value: Decimal | None, style: int) -> str:
    if value is None:
        return ""
    if value >= 1000:
        return [f"{value:,.2f}", f"${value:,.2f}"][style % 2]
    text = f"{value:.2f}"
    if style % 5 == 4 and value == value.to_integral_value():
        return str(int(value))  # "70"
    return [text, f"${text}", f" {text} ", f"$ {text}", text][style % 5]


def flag(value: bool | None, style: int) -> str:
    if value is None:
        return ""
    spellings = HIDDEN_SPELLINGS[value]
    return spellings[style % len(spellings)]


def quantity(value: int | None, style: int) -> str:
    return "" if value is None else [str(value), f" {value} ", f"{value}.0"][style % 3]


def rows_of(products: list[Product]) -> list[list[str]]:
    """One CSV row per simple product or variant; a parent's fields on its first row (or all)."""
    rows = []
    for n, p in enumerate(products):
        content = [
            p.title,
            p.description or "",
            p.brand or "",
            "|".join(p.categories),
            "|".join(p.images),
        ]
        if not p.variants:
            weight = str(p.weight) if p.weight is not None else ""
            rows.append(
                [
                    *(p.sku, "", *content),
                    *(amount(p.price, n), amount(p.msrp, n + 1), amount(p.cost, n + 2)),
                    *(quantity(p.quantity, n), flag(p.hidden, n), p.upc or ""),
                    *(weight, "", ""),
                ]
            )
            continue
        for i, v in enumerate(p.variants):
            # Odd parents repeat their fields on every row (in other spellings), even ones
            # give them on the first row only.
            repeat = n % 2 == 1 or i == 0
            parent_cells = [f"{c} " if c and i else c for c in content] if repeat else [""] * 5
            hidden = flag(p.hidden, n + i) if repeat else ""
            rows.append(
                [
                    *(v.sku, p.sku, *parent_cells),
                    *(amount(v.price, n + i), amount(v.msrp, i), ""),
                    *(quantity(v.quantity, i), hidden, v.upc or ""),
                    *("", v.options.get("Size", ""), v.options.get("Colour", "")),
                ]
            )
    return rows


def write_csv(path: Path, products: list[Product]) -> int:
    """The feed as Excel's "CSV UTF-8" writes it; returns its number of data rows."""
    rows = rows_of(products)
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)  # quotes what needs it, CRLF line ends
        writer.writerow(HEADER)
        writer.writerows(rows)
        writer.writerow([""] * len(HEADER))  # the row of empty cells spreadsheets leave
    return len(rows)


# -- what the store must hold -----------------------------------------------------------------
def money(value: Any) -> float | None:
    return round(float(value), 2) if value not in (None, "", 0) else None


def expected_store(published: list[Product], synced: list[Product] | None = None) -> dict:
    """The store view the feed means: content from the publish, what sync writes from the sync.

    The store's own products keep their content; a cell left empty keeps the store's value.
    """
    view = {}
    for n, p in enumerate(published):
        later = synced[n] if synced else None
        if p.sku in EXISTING:
            item = existing_product(p.sku)
            price, qty, hidden = item["price"], item["quantity_on_hand"], False
            expected = {
                "title": item["item_name"],
                "description": None,
                "brand": None,
                "category": None,
                "pictures": [],
                "msrp": None,
                "cost": None,
                "gtin": None,
                "weight": None,
            }
        else:
            price, qty, hidden = p.price, p.quantity, bool(p.hidden)
            expected = {
                "title": p.title,
                "description": p.description,
                "brand": p.brand,
                "category": p.categories[0],
                "pictures": p.images,
                "msrp": money(p.msrp),
                "cost": money(p.cost),
                "gtin": p.upc,
                "weight": float(p.weight) if p.weight is not None else None,
            }
        if later is not None:
            price = later.price if later.price is not None else price
            qty = later.quantity if later.quantity is not None else qty
            hidden = later.hidden if later.hidden is not None else hidden
            if later.msrp is not None:
                expected["msrp"] = money(later.msrp)
        rows = {}
        for i, v in enumerate(p.variants):
            now = later.variants[i] if later else v
            rows[v.sku] = {
                "options": v.options,
                "inventory": now.quantity if now.quantity is not None else v.quantity,
                "price": money(now.price if now.price is not None else v.price),
                "msrp": money(v.msrp),
                "gtin": v.upc,
            }
        expected.update(
            hidden=bool(hidden),
            price=None if p.variants else money(price),
            quantity=None if p.variants else qty,
            rows=rows,
        )
        view[p.sku] = expected
    return view


def existing_product(sku: str) -> dict[str, Any]:
    """A product the store had before the feed (made by hand, no barcode, no category)."""
    n = EXISTING.index(sku)
    return {
        "id": 9000 + n,
        "item_number": sku,
        "item_name": f"Store's own name {n}",
        "price": 5.0,
        "use_variant_inventory": False,
        "quantity_on_hand": 1,
        "is_hidden": 0,
        "product_status_id": 1,
    }


def store_view(store: Any) -> dict[str, Any]:
    """Every product of the store as the feed describes it, read from the store's tables."""
    categories = {c["id"]: c for c in store.query("categories")}

    def path(category_id: int | None) -> str | None:
        names = []
        while category_id:
            names.insert(0, categories[category_id]["name"])
            category_id = categories[category_id].get("parent_category_id")
        return " > ".join(names) or None

    brands = {m["id"]: m["name"] for m in store.query("manufacturers")}
    groups = {g["id"]: g["name"] for g in store.query("variant_groups")}
    values = {v["id"]: v for v in store.query("product_variants")}
    rows = store.query("variant_inventory")
    made_of = store.vi_variants([r["id"] for r in rows])
    price_rows: dict[int, list[dict[str, Any]]] = {}
    for r in store.query("product_pricing"):
        if r.get("variant_inventory_id"):
            price_rows.setdefault(r["variant_inventory_id"], []).append(r)
    pictures: dict[int, list[dict[str, Any]]] = {}
    for pic in store.query("product_pictures"):
        pictures.setdefault(pic["product_id"], []).append(pic)
    products = {p["id"]: p for p in store.query("products")}

    def selling_price(row: dict[str, Any]) -> float | None:
        """A variant row's price: its plain price row, else the product price + adjustments."""
        if row["id"] in price_rows:
            return money(min(price_rows[row["id"]], key=lambda r: r["id"])["price"])
        base = products[row["product_id"]]["price"]
        parts = [values[v["id"]] for v in made_of[row["id"]]]
        return money(base + sum(v.get("price_adjustment") or 0 for v in parts))

    view: dict[str, Any] = {}
    for p in products.values():
        variant_rows = {
            r["item_number"]: {
                "options": {
                    groups[values[v["id"]]["variant_group_id"]]: values[v["id"]]["description"]
                    for v in made_of[r["id"]]
                },
                "inventory": r["inventory"],
                "price": selling_price(r),
                "msrp": money(r.get("retail")),
                "gtin": r.get("gtin") or None,
            }
            for r in rows
            if r["product_id"] == p["id"]
        }
        view[p["item_number"]] = {
            "title": p["item_name"],
            "description": p.get("long_description_1") or None,
            "brand": brands.get(p.get("manufacturer_id")),
            "category": path(p.get("primary_category_id")),
            "pictures": [
                pic["image_file"]
                for pic in sorted(pictures.get(p["id"], []), key=lambda x: x["sort_order"])
            ],
            "msrp": money(p.get("retail")),
            "cost": money(p.get("cost")),
            "gtin": p.get("gtin") or None,
            "weight": float(p["weight"]) if p.get("weight") else None,
            "hidden": bool(p["is_hidden"]),
            "price": None if variant_rows else money(p["price"]),
            "quantity": None if variant_rows else p["quantity_on_hand"],
            "rows": variant_rows,
        }
    return view


def assert_store_holds(store: Any, expected: dict[str, Any]) -> None:
    """The store holds exactly the expected products, field by field (a diff names the first)."""
    got = store_view(store)
    assert sorted(got) == sorted(expected)
    for sku, want in expected.items():
        assert got[sku] == want, sku


# -- the pipeline -----------------------------------------------------------------------------
@dataclass
class Pipeline:
    """The sandbox, the Meltano environment, and the CSV file the tap reads."""

    server: SandboxServer
    env: dict[str, str]
    out: Path
    csv_path: Path
    runs: int = 0

    def run(self, *args: str) -> None:
        """``meltano run ARGS``; fails the test with the log's tail on error."""
        proc = subprocess.run(
            [demo.meltano_bin(), "run", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self.runs += 1
        log = proc.stdout + proc.stderr
        (self.out / f"{self.runs:02d}-{args[-1]}.log").write_text(log)
        tail = [ln for ln in log.splitlines() if not ln.startswith(("│", "╭", "╰"))][-30:]
        assert proc.returncode == 0, f"meltano run {' '.join(args)} failed:\n" + "\n".join(tail)

    def results(self, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The last run's result lines and summary of a target-cartcom-csv-* loader."""
        return demo.results(self.out / "results" / f"{name}.jsonl")

    def writes(self) -> list[tuple[str, str]]:
        """Every write the store received so far."""
        return [(c.method, c.path) for c in self.server.calls.snapshot() if c.method != "GET"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """An empty store (a status, Apparel > Shirts, Northwind, Size) with 2 products of its own."""
    tmp = tmp_path_factory.mktemp("csv-feed")
    demo.ensure_plugins(tmp / "install.log")
    server = SandboxServer(
        str(tmp / "store.db"),
        tokens=[TOKEN],
        config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0),
    )
    add_reference_data(server.store, groups=("Size",))
    for sku in EXISTING:
        server.store.insert("products", existing_product(sku))
    server.start()
    out = tmp / "out"
    (out / "results").mkdir(parents=True)
    feed = tmp / "supplier"
    feed.mkdir()
    env = demo.meltano_env(
        server.base_url, out, tmp / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    csv_path = feed / "supplier.csv"
    files = [
        {
            "path": str(feed / "*.csv"),
            "format": "csv",
            "table_name": "listings",
            "primary_keys": ["sku"],
            "drop_empty": False,
            "delimiter": ",",
            "quote_char": '"',
        }
    ]
    env["SUPPLIER_CSV_FILES"] = json.dumps(files)
    for name in ("PUBLISH", "SYNC"):
        env[f"TARGET_CARTCOM_CSV_{name}_RESULTS_PATH"] = str(
            out / "results" / f"csv-{name.lower()}.jsonl"
        )
    try:
        yield Pipeline(server, env, out, csv_path)
    finally:
        server.stop()


def outcomes(lines: list[dict[str, Any]]) -> Counter:
    return Counter(line["outcome"] for line in lines)


def test_a_supplier_csv_publishes_syncs_and_replays_with_no_failure(pipeline: Pipeline) -> None:
    feed = supplier_feed()
    assert write_csv(pipeline.csv_path, feed) == 80
    assert sum(1 for p in feed if not p.variants) == 35  # 33 new, 2 the store has
    assert sum(len(p.variants) for p in feed) == 45

    # 1. link + publish: 78 rows created (33 products, 45 variant rows), the store's 2 linked.
    pipeline.run("supplier-csv", "target-cartcom-csv-publish")
    lines, summary = pipeline.results("csv-publish")
    assert summary["failed"] == 0, [x for x in lines if x["outcome"] == "failed"][:3]
    assert outcomes(lines) == {"created": 78, "unchanged": 2, "skipped": 1}
    assert {x["sku"] for x in lines if x["outcome"] == "unchanged"} == set(EXISTING)
    (blank,) = [x for x in lines if x["outcome"] == "skipped"]
    assert "an empty row" in blank["error"]
    assert_store_holds(pipeline.server.store, expected_store(feed))

    # 2. The supplier's changed file, link + sync: what changed is written, the rest is not.
    changed = changed_feed(feed)
    assert write_csv(pipeline.csv_path, changed) == 80
    pipeline.run("supplier-csv", "target-cartcom-csv-sync")
    lines, summary = pipeline.results("csv-sync")
    assert summary["failed"] == 0, [x for x in lines if x["outcome"] == "failed"][:3]
    expected = expected_store(feed, changed)
    before = expected_store(feed)
    moved = {sku for sku in expected if expected[sku] != before[sku]}
    updated = {x.get("parent_sku") or x["sku"] for x in lines if x["outcome"] == "updated"}
    assert updated == moved
    assert len(moved) > 20
    assert outcomes(lines)["updated"] + outcomes(lines)["unchanged"] == 80
    assert_store_holds(pipeline.server.store, expected)

    # 3. The same file again (--full-refresh: the tap skips a file it read unchanged): no write.
    writes_before = len(pipeline.writes())
    pipeline.run("--full-refresh", "supplier-csv", "target-cartcom-csv-sync")
    lines, summary = pipeline.results("csv-sync")
    assert summary["failed"] == 0
    assert outcomes(lines) == {"unchanged": 80, "skipped": 1}
    assert pipeline.writes()[writes_before:] == []
    assert_store_holds(pipeline.server.store, expected)

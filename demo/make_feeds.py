"""Build the sample feeds in demo/data/ from the demo's seeded sandbox store.

    .venv/bin/python demo/make_feeds.py

The sandbox seed is deterministic (the same products, SKUs, GTINs, order ids and statuses for the
same --seed and sizes, whatever the day), so the feeds refer to real items of the store that
`make demo` seeds (seed 42, 300 products, 1,000 orders):

- listings.jsonl: a supplier feed of 210 listings. 55 are already on the store (45 linked by SKU,
  10 by UPC only, with the store's current price and stock), 155 are new (116 simple, 39 with
  size x colour variants), with images, categories and brands, some of them new to the store.
- listings-changed.jsonl: the same feed a day later: 18 stock changes and 8 price changes.
- shipments.jsonl: 12 shipments (9 whole orders, 3 partial) for recent "Processing" orders,
  with UPS, FedEx and USPS tracking numbers.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demo" / "data"
SEED, PRODUCTS, ORDERS = 42, 300, 1000
TOKEN = "feed-builder"  # noqa: S105 - the throw-away sandbox's token
IMG = "https://cdn.example.com/northwind-supply"

NEW_BRANDS = ["Alder & Ash", "Kestrel Gear", "Tidewater Home"]
NEW_CATEGORIES = ["Outdoor > Camping", "Outdoor > Hydration", "Home > Storage"]
NOUNS = {
    "Outdoor > Camping": ["Camp Lantern", "Folding Stool", "Mess Kit", "Tarp", "Hammock"],
    "Outdoor > Hydration": ["Water Bottle", "Filter Straw", "Hydration Pack", "Tumbler"],
    "Home > Storage": ["Storage Bin", "Shelf Basket", "Drawer Organizer", "Garment Bag"],
}
ADJECTIVES = ["Trail", "Summit", "Harbor", "Canyon", "Aspen", "Prairie", "Glacier", "Cedar"]
SIZES = ["S", "M", "L", "XL"]
COLORS = ["Black", "Navy", "Olive", "Sand", "Red"]


def upc(n: int) -> str:
    """A UPC-A with a valid check digit from an 11-digit body."""
    body = f"{n:011d}"
    odd = sum(int(d) for d in body[0::2])
    even = sum(int(d) for d in body[1::2])
    return body + str((10 - (odd * 3 + even) % 10) % 10)


class Reader:
    """Read every page of a list endpoint."""

    def __init__(self, base: str) -> None:
        """Read from ``base``."""
        self.base = base
        self.http = requests.Session()
        self.http.headers["X-AC-Auth-Token"] = TOKEN

    def all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every record of ``path`` (following next_page)."""
        url: str | None = self.base + path
        query: dict[str, Any] | None = {"count": 1000, **params}
        out: list[dict[str, Any]] = []
        while url:
            r = self.http.get(url, params=query, timeout=60)
            r.raise_for_status()
            body = r.json()
            out += body[key]
            url, query = body.get("next_page"), None
        return out


def category_paths(categories: list[dict[str, Any]]) -> dict[int, str]:
    """Category id to 'Parent > Child' path."""
    by_id = {c["id"]: c for c in categories}

    def path(cid: int) -> str:
        c = by_id[cid]
        parent = c.get("parent_category_id") or 0
        return f"{path(parent)} > {c['name']}" if parent in by_id else c["name"]

    return {cid: path(cid) for cid in by_id}


def money(x: float) -> float:
    """Round to cents."""
    return round(x + 1e-9, 2)


def build(reader: Reader) -> tuple[list[dict], list[dict], list[dict]]:
    """The three feeds."""
    rnd = random.Random(SEED)
    products = reader.all(
        "/products",
        "products",
        sort="id",
        fields=(
            "id,item_number,item_name,gtin,use_variant_inventory,price,retail,cost,quantity_on_hand,"
            "is_hidden,manufacturer_id,primary_category_id,manufacturer_part_number"
        ),
    )
    paths = category_paths(
        reader.all("/categories", "categories", fields="id,name,parent_category_id")
    )
    brands = {
        m["id"]: m["name"] for m in reader.all("/manufacturers", "manufacturers", fields="id,name")
    }
    groups = {g["id"]: g["name"] for g in reader.all("/variant_groups", "variant_groups")}
    rows = reader.all("/variant_inventory", "variant_inventory", expand="variants", sort="id")
    pricing = {
        p["variant_inventory_id"]: p
        for p in reader.all("/product_pricing", "product_pricing")
        if p.get("variant_inventory_id")
        and p.get("starting_quantity") == 1
        and not p.get("customer_type_id")
    }
    rows_by_product: dict[int, list[dict]] = {}
    for row in rows:
        rows_by_product.setdefault(row["product_id"], []).append(row)

    simple = [p for p in products if not p["use_variant_inventory"]]
    variant = [p for p in products if p["use_variant_inventory"] and rows_by_product.get(p["id"])]
    with_upc = [p for p in simple if len(p.get("gtin") or "") == 12]
    by_upc = with_upc[-10:]
    by_sku = [p for p in simple if p not in by_upc][:30]
    listings: list[dict[str, Any]] = []

    def existing(p: dict[str, Any], sku: str, extra: dict[str, Any]) -> dict[str, Any]:
        rec = {
            "sku": sku,
            "title": p["item_name"],
            "brand": brands.get(p.get("manufacturer_id")),
            "categories": [paths[p["primary_category_id"]]]
            if p.get("primary_category_id") in paths
            else [],
            "images": [f"{IMG}/{p['item_number']}-1.jpg"],
            "mpn": p.get("manufacturer_part_number") or None,
        }
        rec.update(extra)
        return {k: v for k, v in rec.items() if v not in (None, [])}

    for p in by_sku:
        listings.append(
            existing(
                p,
                p["item_number"],
                {
                    "price": p["price"],
                    "msrp": p["retail"],
                    "cost": p["cost"],
                    "quantity": p["quantity_on_hand"],
                },
            )
        )
    for p in variant[:15]:
        variants = []
        for row in rows_by_product[p["id"]]:
            price = pricing.get(row["id"], {})
            v = {
                "sku": row["item_number"],
                "options": {
                    groups[x["variant_group_id"]]: x["description"]
                    for x in row.get("variants") or []
                },
                "quantity": row["inventory"],
                "price": price.get("price", p["price"]),
                "cost": price.get("cost", p["cost"]),
            }
            if row.get("retail") is not None:
                v["msrp"] = row["retail"]
            variants.append(v)
        listings.append(existing(p, p["item_number"], {"variants": variants}))
    for i, p in enumerate(by_upc):
        listings.append(
            existing(
                p,
                f"NWS-{70001 + i}",
                {
                    "upc": p["gtin"],
                    "price": p["price"],
                    "msrp": p["retail"],
                    "cost": p["cost"],
                    "quantity": p["quantity_on_hand"],
                },
            )
        )

    store_brands = sorted(set(brands.values()))
    store_paths = sorted(
        {paths[p["primary_category_id"]] for p in products if p.get("primary_category_id") in paths}
    )
    for i in range(155):
        has_variants = i % 4 == 3 and i < 160  # 39 of 155, plus one below
        category = NEW_CATEGORIES[i % 3] if i % 5 == 0 else rnd.choice(store_paths)
        leaf = category.split(" > ")[-1]
        noun = rnd.choice(NOUNS.get(category, [leaf.rstrip("s") or leaf]))
        title = f"{rnd.choice(ADJECTIVES)} {noun}"
        sku = f"NWS-{10001 + i}"
        cost = money(rnd.uniform(4, 60))
        price = money(cost * rnd.choice([1.8, 2.0, 2.2]) - 0.01)
        rec: dict[str, Any] = {
            "sku": sku,
            "title": title,
            "description": f"<p>{title} from Northwind Supply. Built to last.</p>",
            "brand": NEW_BRANDS[i % 3] if i % 7 == 0 else rnd.choice(store_brands),
            "categories": [category],
            "images": [f"{IMG}/{sku}-{k}.jpg" for k in range(1, 1 + rnd.choice([1, 2, 3]))],
            "mpn": f"NW-{20001 + i}",
            "weight": money(rnd.uniform(0.2, 6)),
            "price": price,
            "msrp": money(price * 1.25),
            "cost": cost,
        }
        if has_variants or i == 154:
            sizes = SIZES[: rnd.choice([2, 3, 4])]
            colors = rnd.sample(COLORS, rnd.choice([1, 2]))
            rec["variants"] = [
                {
                    "sku": f"{sku}-{s}-{c[:3].upper()}",
                    "upc": upc(81000000000 + i * 100 + k),
                    "options": {"Size": s, "Color": c},
                    "price": price,
                    "cost": cost,
                    "quantity": rnd.randint(0, 40),
                }
                for k, (s, c) in enumerate((s, c) for c in colors for s in sizes)
            ]
        else:
            rec["upc"] = upc(80000000000 + i)
            rec["quantity"] = rnd.randint(0, 120)
        listings.append(rec)

    changed = json.loads(json.dumps(listings))
    stock = rnd.sample(range(len(changed)), 18)
    prices = rnd.sample([i for i in range(len(changed)) if i not in stock], 8)
    for i in stock:
        rec = changed[i]
        target = rec["variants"][0] if rec.get("variants") else rec
        target["quantity"] = max(0, int(target.get("quantity") or 0) + rnd.choice([-5, -2, 7, 12]))
    for i in prices:
        rec = changed[i]
        target = rec["variants"][0] if rec.get("variants") else rec
        target["price"] = money(float(target.get("price") or 10) * 0.9)

    shipments = build_shipments(reader, rnd)
    return listings, changed, shipments


def build_shipments(reader: Reader, rnd: random.Random) -> list[dict[str, Any]]:
    """Shipments for recent Processing orders (the ones get-orders imports)."""
    statuses = {s["name"]: s["id"] for s in reader.all("/order_statuses", "order_statuses")}
    orders = reader.all(
        "/orders",
        "orders",
        order_status_id=statuses["Processing"],
        sort="-created_at",
        expand="items",
        fields="id,created_at,items",
    )
    carriers = [
        ("UPS", "Ground", "1Z999AA1{:010d}"),
        ("FedEx", "2Day", "7946{:08d}"),
        ("USPS", "Priority Mail", "9400{:018d}"),
    ]
    out = []
    for n, order in enumerate(orders[2:14]):  # skip the newest two: still being picked
        carrier, service, fmt = carriers[n % 3]
        tracking = fmt.format(order["id"] * 7 + n)
        rec: dict[str, Any] = {
            "order_id": order["id"],
            "shipment_id": f"WMS-{order['id']}-1",
            "carrier": carrier,
            "service": service,
            "tracking_numbers": [tracking],
        }
        items = [i for i in order.get("items") or [] if not i.get("is_non_shipping_item")]
        if n % 4 == 1 and len(items) > 1:  # a partial shipment: the first line only
            first = items[0]
            rec["items"] = [
                {"sku": first.get("item_number_full") or first["item_number"], "quantity": 1}
            ]
        out.append(rec)
    rnd.shuffle(out)
    return out


def write(path: Path, records: list[dict[str, Any]]) -> None:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"wrote {len(records):4d} records to {path.relative_to(ROOT)}")


FILES = ("listings.jsonl", "listings-changed.jsonl", "shipments.jsonl")


def generate() -> dict[str, list[dict[str, Any]]]:
    """Seed a throw-away store like the demo's and build the feeds from it."""
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "store.db")
        seed_store(db, products=PRODUCTS, orders=ORDERS, seed=SEED)
        with SandboxServer(db, tokens=[TOKEN]) as server:
            feeds = build(Reader(server.base_url))
    return dict(zip(FILES, feeds, strict=True))


def main() -> int:
    """Write the feeds."""
    DATA.mkdir(parents=True, exist_ok=True)
    for name, records in generate().items():
        write(DATA / name, records)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for tests and benchmarks: run the target in-process, and build a large catalog.

``build_catalog`` writes a store of N products with K size variants each (variant rows, option
values and plain price rows) straight into a sandbox ``Store`` with ``bulk_insert``;
``catalog_listings`` gives the listings that describe that store exactly. Imports of the sandbox
happen inside the functions, so the target never needs it at run time.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from target_cartcom.target import FailedRecordsError, TargetCartcom

SCHEMA_PATH = files("target_cartcom") / "schemas" / "listing.schema.json"
SIZES = ("S", "M", "L", "XL", "XXL")


def listing_schema() -> dict[str, Any]:
    """The documented JSON Schema of a listing (without its examples)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema.pop("examples", None)
    schema.pop("$id", None)
    schema.pop("$schema", None)
    return schema


def singer_lines(records: list[dict[str, Any]], stream: str = "listings") -> str:
    """A Singer input: the listing SCHEMA, then one RECORD per listing."""
    lines = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": listing_schema(),
                "key_properties": ["sku"],
            }
        )
    ]
    lines += [json.dumps({"type": "RECORD", "stream": stream, "record": r}) for r in records]
    return "\n".join(lines) + "\n"


@dataclass
class Run:
    """What one in-process run of the target did."""

    results: list[dict[str, Any]]
    summary: dict[str, Any]
    exit_error: Exception | None
    planned: list[Any] = field(default_factory=list)

    def by_sku(self) -> dict[str, dict[str, Any]]:
        """Result lines by listing SKU."""
        return {r.get("key"): r for r in self.results}


def run_target(
    base_url: str, token: str, records: list[dict[str, Any]] | str, **settings: Any
) -> Run:
    """Run target-cartcom in-process on ``records`` (or raw Singer text) against ``base_url``."""
    with tempfile.TemporaryDirectory() as tmp:
        results_path = Path(tmp) / "results.jsonl"
        config = {
            "access_token": token,
            "api_url": base_url,
            "calls_per_window": 1000,
            "window_seconds": 1,
            "results_path": str(results_path),
            **settings,
        }
        target = TargetCartcom(config=config, parse_env_config=False)
        text = records if isinstance(records, str) else singer_lines(records)
        error: Exception | None = None
        try:
            target.listen(io.StringIO(text))
        except FailedRecordsError as exc:
            error = exc
        lines = [json.loads(x) for x in results_path.read_text(encoding="utf-8").splitlines() if x]
    summary = lines[-1] if lines and lines[-1].get("type") == "summary" else {}
    results = [x for x in lines if x.get("type") != "summary"]
    planned = target.run.planned
    return Run(results, summary, error, planned)


# -- a large catalog ------------------------------------------------------------------------
def add_reference_data(store: Any, groups: tuple[str, ...] = ("Size", "Color")) -> None:
    """Seed an empty store with a status, the category path Apparel > Shirts, a brand and groups."""
    store.insert("product_statuses", {"id": 1, "name": "In Stock"})
    apparel = {"id": 1, "name": "Apparel", "parent_category_id": 0, "lookup_path": "Apparel"}
    store.insert("categories", apparel)
    shirts = {"id": 2, "name": "Shirts", "parent_category_id": 1, "lookup_path": "Apparel > Shirts"}
    store.insert("categories", shirts)
    store.insert("manufacturers", {"id": 1, "name": "Northwind"})
    for number, name in enumerate(groups, start=1):
        store.insert("variant_groups", {"id": number, "name": name, "display_type": "DropDown"})


def _stamp() -> dict[str, str]:
    return {"created_at": "2024-01-02T03:04:05-06:00", "updated_at": "2024-01-02T03:04:05-06:00"}


def _gtin(n: int) -> str:
    body = f"0{n:010d}"
    total = sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def build_catalog(store: Any, products: int, variants_per_product: int = 3) -> dict[str, int]:
    """Fill an empty sandbox Store with ``products`` size-variant products; return counts."""
    base = [
        ("product_statuses", {"id": 1, "name": "In Stock", **_stamp()}),
        (
            "categories",
            {
                "id": 1,
                "name": "Apparel",
                "parent_category_id": 0,
                "lookup_path": "Apparel",
                **_stamp(),
            },
        ),
        ("manufacturers", {"id": 1, "name": "Northwind", **_stamp()}),
        ("variant_groups", {"id": 1, "name": "Size", "display_type": "DropDown", **_stamp()}),
    ]
    for resource, doc in base:
        store.bulk_insert(resource, [doc])
    docs: dict[str, list[dict[str, Any]]] = {
        "products": [],
        "product_variants": [],
        "variant_inventory": [],
        "product_pricing": [],
    }
    for p in range(1, products + 1):
        sku = f"CAT-{p:06d}"
        docs["products"].append(
            {
                "id": p,
                "item_number": sku,
                "item_name": f"Catalog tee {p}",
                "price": 20.0,
                "cost": 8.0,
                "retail": 0.0,
                "product_status_id": 1,
                "primary_category_id": 1,
                "manufacturer_id": 1,
                "use_variant_inventory": True,
                "quantity_on_hand": 0,
                "is_hidden": 0,
                "gtin": "",
                **_stamp(),
            }
        )
        for k in range(variants_per_product):
            n = (p - 1) * variants_per_product + k + 1
            size = SIZES[k % len(SIZES)]
            docs["product_variants"].append(
                {
                    "id": n,
                    "product_id": p,
                    "variant_group_id": 1,
                    "description": size,
                    "sort_order": k + 1,
                    **_stamp(),
                }
            )
            docs["variant_inventory"].append(
                {
                    "id": n,
                    "product_id": p,
                    "item_number": f"{sku}-{size}",
                    "gtin": _gtin(n),
                    "inventory": 10 + k,
                    "product_status_id": 1,
                    "retail": None,
                    "description": f"Size: {size}",
                    "variants": [{"id": n, "product_id": p, "variant_group_id": 1}],
                    **_stamp(),
                }
            )
            docs["product_pricing"].append(
                {
                    "id": n,
                    "product_id": p,
                    "variant_inventory_id": n,
                    "price": 20.0 + k,
                    "cost": 8.0,
                    "starting_quantity": 1,
                    **_stamp(),
                }
            )
    counts = {}
    for resource in ("products", "product_variants", "variant_inventory", "product_pricing"):
        counts[resource] = store.bulk_insert(resource, docs[resource])
    return counts


def catalog_listings(products: int, variants_per_product: int = 3) -> list[dict[str, Any]]:
    """Listings that match ``build_catalog``'s store exactly (a sync of them changes nothing)."""
    out = []
    for p in range(1, products + 1):
        sku = f"CAT-{p:06d}"
        variants = []
        for k in range(variants_per_product):
            n = (p - 1) * variants_per_product + k + 1
            size = SIZES[k % len(SIZES)]
            variants.append(
                {
                    "sku": f"{sku}-{size}",
                    "gtin": _gtin(n),
                    "options": {"Size": size},
                    "price": 20.0 + k,
                    "quantity": 10 + k,
                }
            )
        out.append({"sku": sku, "price": 20.0, "variants": variants})
    return out


def change_some(listings: list[dict[str, Any]], every: int, offset: int = 0) -> int:
    """Change one value of every ``every``-th variant (quantity or price, alternating)."""
    changed = 0
    n = offset
    for listing in listings:
        for variant in listing["variants"]:
            n += 1
            if n % every == 0:
                if changed % 2 == 0:
                    variant["quantity"] += 5
                else:
                    variant["price"] = round(variant["price"] + 1.5, 2)
                changed += 1
    return changed


# -- a product as the store holds it ----------------------------------------------------------
_NOISE = {"id", "created_at", "updated_at"}


def _plain(doc: dict[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _NOISE and k not in drop}


def category_path(sb: Any, category_id: int | None) -> list[tuple[str, Any]]:
    """The category and its parents, as (name, lookup_path) from the root."""
    out = []
    current = sb.store.get("categories", category_id) if category_id else None
    while current is not None:
        out.append((current["name"], current.get("lookup_path")))
        parent = current.get("parent_category_id")
        current = sb.store.get("categories", parent) if parent else None
    return list(reversed(out))


def published(sb: Any, sku: str) -> dict[str, Any]:
    """Everything the store holds for the product ``sku``, ids and timestamps left out.

    Foreign keys become what they name: the brand's name, the category path (with its
    ``lookup_path``), the status name, option values as group name and value.
    """
    products = sb.store.query("products", {"item_number": sku})
    assert len(products) == 1, f"{len(products)} products with SKU {sku!r}"
    product = products[0]
    pid = product["id"]
    groups = {g["id"]: g["name"] for g in sb.store.query("variant_groups")}
    brand = sb.store.get("manufacturers", product["manufacturer_id"])
    status = sb.store.get("product_statuses", product["product_status_id"])
    values = {v["id"]: v for v in sb.store.query("product_variants", {"product_id": pid})}
    rows = sb.store.query("variant_inventory", {"product_id": pid})
    makeup = sb.store.vi_variants([r["id"] for r in rows])
    sku_of = {r["id"]: r["item_number"] for r in rows}
    pricing = sb.store.query("product_pricing", {"product_id": pid})
    pictures = sb.store.query("product_pictures", {"product_id": pid})
    return {
        "product": _plain(product, "manufacturer_id", "primary_category_id", "product_status_id"),
        "brand": brand["name"] if brand else None,
        "category": category_path(sb, product["primary_category_id"]),
        "status": status["name"],
        "option_values": sorted(
            (
                (groups[v["variant_group_id"]], v["description"]),
                _plain(v, "product_id", "variant_group_id"),
            )
            for v in values.values()
        ),
        "variant_rows": {
            r["item_number"]: {
                **_plain(r, "product_id"),
                "made_of": sorted(
                    (groups[m["variant_group_id"]], values[m["id"]]["description"])
                    for m in makeup.get(r["id"], [])
                ),
            }
            for r in rows
        },
        "price_rows": sorted(
            json.dumps(
                {
                    "row": sku_of.get(p["variant_inventory_id"]),
                    **_plain(p, "product_id", "variant_inventory_id"),
                },
                sort_keys=True,
            )
            for p in pricing
        ),
        "pictures": sorted(json.dumps(_plain(p, "product_id"), sort_keys=True) for p in pictures),
        "brands named": len(sb.store.query("manufacturers", {"name": "Converge Co"})),
        "categories named": len(sb.store.query("categories", {"name": "Converge"})),
        "groups": sorted(groups.values()),
    }

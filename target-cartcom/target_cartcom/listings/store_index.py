"""What the store holds for a batch's listings, keyed by id, SKU and GTIN.

The index is data only: ``index_builder.py`` decides how to read it (the catalog or lookups),
and the operations read it and keep it current as they write (a product created, a row priced).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from target_cartcom._client.gtin import gtin_key
from target_cartcom.sku import sku_key


def is_base_price(row: dict[str, Any]) -> bool:
    """A plain per-SKU price: no customer type, store, dates, or quantity tier above 1."""
    return (
        not row.get("customer_type_id")
        and not row.get("store_id")
        and not row.get("start_date")
        and not row.get("end_date")
        and (row.get("starting_quantity") or 0) <= 1
    )


@dataclass
class StoreIndex:
    """What the store holds for this run's listings, keyed by id, SKU and GTIN.

    The ``add_*`` methods keep the dicts they are given, without a copy: every caller hands
    over one of its own (a decoded page, a body it built), and a large catalog is 70,000 rows.
    """

    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    vi: dict[int, dict[str, Any]] = field(default_factory=dict)
    pricing: dict[int, dict[str, Any]] = field(default_factory=dict)
    vi_by_product: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    pricing_by_vi: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    pictures: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: variant_inventory id -> ids of the product_variants (option values) it is made of.
    vi_values: dict[int, list[int]] = field(default_factory=dict)
    options: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    products_by_sku: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    products_by_gtin: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    vi_by_sku: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    vi_by_gtin: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    complete: bool = False
    mode: str = ""
    reads: int = 0

    # -- adding -------------------------------------------------------------------------------
    def add_product(self, doc: dict[str, Any]) -> None:
        """Index a product and whichever nested collections came with it."""
        pid = doc["id"]
        nested_vi = doc.pop("variant_inventory", None)
        nested_pricing = doc.pop("pricing", None)
        nested_pictures = doc.pop("pictures", None)
        nested_variants = doc.pop("variants", None)
        doc.pop("categories", None)
        old = self.products.get(pid)
        if old is not None:
            self.products_by_sku[sku_key(old.get("item_number"))].discard(pid)
            key = gtin_key(old.get("gtin"))
            if key:
                self.products_by_gtin[key].discard(pid)
        self.products[pid] = {**old, **doc} if old is not None else doc
        self.products_by_sku[sku_key(doc.get("item_number"))].add(pid)
        key = gtin_key(doc.get("gtin"))
        if key:
            self.products_by_gtin[key].add(pid)
        if isinstance(nested_vi, list):
            add_vi = self.add_vi
            for row in nested_vi:
                add_vi(row)
        if isinstance(nested_pricing, list):
            add_pricing = self.add_pricing
            for row in nested_pricing:
                add_pricing(row)
        if isinstance(nested_pictures, list):
            self.pictures[pid] = sorted(nested_pictures, key=_picture_order)
        if isinstance(nested_variants, list):
            self.options[pid] = list(nested_variants)

    def add_vi(self, row: dict[str, Any]) -> None:
        """Index one variant_inventory row."""
        vid = row["id"]
        old = self.vi.get(vid)
        if old is not None:
            self.vi_by_sku[sku_key(old.get("item_number"))].discard(vid)
            key = gtin_key(old.get("gtin"))
            if key:
                self.vi_by_gtin[key].discard(vid)
        else:
            self.vi_by_product[row.get("product_id")].append(vid)
        nested_values = row.get("variants")
        if isinstance(nested_values, list):
            self.vi_values[vid] = [v["id"] for v in nested_values if isinstance(v, dict)]
        merged = {**old, **row} if old is not None else row
        merged.pop("variants", None)  # never kept, so ``old`` has neither
        merged.pop("pricing", None)
        self.vi[vid] = merged
        if merged.get("item_number"):
            self.vi_by_sku[sku_key(merged["item_number"])].add(vid)
        key = gtin_key(merged.get("gtin"))
        if key:
            self.vi_by_gtin[key].add(vid)

    def add_pricing(self, row: dict[str, Any]) -> None:
        """Index one product_pricing row."""
        rid = row["id"]
        old = self.pricing.get(rid)
        if old is None:
            if row.get("variant_inventory_id"):
                self.pricing_by_vi[row["variant_inventory_id"]].append(rid)
            self.pricing[rid] = row
        else:
            self.pricing[rid] = {**old, **row}

    # -- reading ------------------------------------------------------------------------------
    def base_price_row(self, vi_id: int) -> dict[str, Any] | None:
        """The plain price row of a variant row (lowest id), if any."""
        ids = self.pricing_by_vi.get(vi_id)
        if not ids:
            return None
        if len(ids) == 1:  # the usual case: one row, no list to build
            row = self.pricing.get(ids[0])
            return row if row is not None and is_base_price(row) else None
        rows = [self.pricing[r] for r in self.pricing_by_vi.get(vi_id, []) if r in self.pricing]
        rows = [r for r in rows if is_base_price(r)]
        return min(rows, key=lambda r: r["id"]) if rows else None

    def products_with_sku(self, sku: str) -> list[int]:
        """Product ids whose item_number is ``sku``."""
        return sorted(self.products_by_sku.get(sku_key(sku), ()))

    def products_with_gtin(self, gtin: str | None) -> list[int]:
        """Product ids whose gtin is ``gtin`` (any spelling)."""
        key = gtin_key(gtin)
        return sorted(self.products_by_gtin.get(key, ())) if key else []

    def vi_with_sku(self, sku: str) -> list[int]:
        """Variant row ids whose item_number is ``sku``."""
        return sorted(self.vi_by_sku.get(sku_key(sku), ()))

    def vi_with_gtin(self, gtin: str | None) -> list[int]:
        """Variant row ids whose gtin is ``gtin``."""
        key = gtin_key(gtin)
        return sorted(self.vi_by_gtin.get(key, ())) if key else []

    def variant_rows(self, product_id: int) -> list[dict[str, Any]]:
        """The variant_inventory rows of a product."""
        return [self.vi[v] for v in self.vi_by_product.get(product_id, []) if v in self.vi]


def _picture_order(p: dict[str, Any]) -> tuple:
    return (not p.get("is_primary"), p.get("sort_order") or 0, p.get("id") or 0)

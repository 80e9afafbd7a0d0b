"""The store's catalog by SKU and GTIN, read the cheapest way for the batch.

Two ways to read it, chosen by estimated calls:

- **catalog**: a paged read of ``/products`` with a large ``count``, ``fields`` trimming each
  product and naming the nested collections it needs (``variant_inventory``, ``pricing``, and
  ``pictures``/``variants`` when overwrite/publish need them), which Cart.com expands in the same
  call (docs/api.md §1.4). One call per ``page_size`` products covers every variant row and price.
- **lookup**: ``/products`` and ``/variant_inventory`` filtered with OR-ed SKUs and GTINs
  (``item_number=A OR B&gtin=OR 0123 OR 0456``, §1.5, encoded by ``cartcom_client.query``), each
  URL within the 2,048-character cap (§14, packed by ``urls.lookup_chunks``), then the owning
  products of variant rows found elsewhere by id. A non-ASCII SKU is also looked up under its
  look-alike (``sku_lookalike``), so both modes hold the same items for the one SKU rule
  (``sku_key``) to judge.

``auto`` estimates the lookup calls from the batch; when they exceed two it reads the catalog's
first page (which the catalog read needs anyway) to learn ``total_count``, and continues with
whichever read is cheaper from there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from target_cartcom._client import CartcomSession
from target_cartcom._client.quirks import records_from_page
from target_cartcom._client.urls import lookup_chunks
from target_cartcom.listings.marker import MARKER_FIELD
from target_cartcom.listings.record import Listing
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.listings.store_index import StoreIndex
from target_cartcom.sku import sku_key, sku_spellings

LOGGER = logging.getLogger("target-cartcom.listings")

PRODUCT_FIELDS = (
    "id",
    "item_number",
    "gtin",
    "price",
    "retail",
    "cost",
    "quantity_on_hand",
    "use_variant_inventory",
    "is_hidden",
    MARKER_FIELD,  # an unfinished publish (marker.py)
)
OVERWRITE_PRODUCT_FIELDS = (
    "item_name",
    "long_description_1",
    "manufacturer_part_number",
    "primary_category_id",
)
VI_FIELDS = (
    "id",
    "product_id",
    "item_number",
    "gtin",
    "inventory",
    "retail",
    "manufacturer_item_number",
    "variant_inventory_image",
)
#: Every product field a publish writes: read only for unfinished publishes, to complete them.
PUBLISHED_FIELDS = (
    *PRODUCT_FIELDS,
    *OVERWRITE_PRODUCT_FIELDS,
    "product_status_id",
    "manufacturer_id",
    "weight",
    "length",
    "width",
    "height",
)
LOOKUP_COUNT = 1000


def gtin_forms(code: str) -> list[str]:
    """The spellings one GTIN is looked up under: as given, and as UPC-A/EAN-13 when it fits."""
    digits = code.lstrip("0") or "0"
    forms = [code]
    for n in (12, 13):
        # Forms of one length are one string (the digits zero-filled), so length orders them.
        if len(digits) <= n and (form := digits.zfill(n)) not in forms:
            forms.append(form)
    return sorted(forms, key=len)


class IndexBuilder:
    """Reads the store's catalog for a batch of listings with the fewest calls."""

    def __init__(
        self,
        session: CartcomSession,
        options: ListingOptions,
        logger: logging.Logger = LOGGER,
    ) -> None:
        """Read through ``session`` with ``options``; log to the run's ``logger``."""
        self.session = session
        self.options = options
        self.logger = logger
        self._gtin_owners: dict[str, list[tuple[str, str]]] = {}
        #: Rows the store returns per page when it caps ``count`` (learned from page 1).
        self._row_cap: int | None = None

    # -- the shape of a read ------------------------------------------------------------------
    def product_params(self) -> dict[str, str]:
        """``fields``/``expand`` of product reads: trimmed, with the nested rows needed."""
        fields = list(PRODUCT_FIELDS)
        nested = ["variant_inventory", "pricing"]
        if "overwrite" in self.options.operations:
            fields += OVERWRITE_PRODUCT_FIELDS
        if self.options.overwrites("images") or "publish" in self.options.operations:
            nested.append("pictures")  # publish: to say when a product lacks an image
        if self.options.operations & {"publish", "sync"}:
            nested.append("variants")  # option values, with their price_adjustment
        return {"fields": ",".join(fields + nested), "expand": ",".join(nested)}

    # -- public -------------------------------------------------------------------------------
    def build(self, listings: list[Listing], reuse: StoreIndex | None = None) -> StoreIndex:
        """An index covering ``listings``; a complete index from an earlier batch is reused."""
        if reuse is not None and reuse.complete:
            return reuse
        before = self.session.reads
        index = StoreIndex()
        mode = self.options.index_mode
        if mode == "catalog":  # reads everything: no lookup terms to build
            self._read_catalog(index)
        else:
            terms = self._terms(listings, with_gtin="upc" in self.options.link_by)
            if mode == "lookup" or self.estimate_lookups(terms, at_most=2) <= 2:
                self._lookups(index, terms)
            else:
                self._auto(index, terms)
        index.reads = self.session.reads - before
        self.logger.info(
            "Store index: %s mode, %d products, %d variant rows, %d calls",
            index.mode,
            len(index.products),
            len(index.vi),
            index.reads,
        )
        return index

    def estimate_lookups(
        self, terms: dict[str, dict[str, list[str]]], at_most: int | None = None
    ) -> int:
        """Calls the lookup read needs (before GTIN follow-ups and owning-product loads).

        With ``at_most``, counting stops once the calls exceed it (the answer is then
        ``at_most + 1``): deciding between lookups and the catalog only needs to know whether
        the lookups cost more, and a large batch is not packed into URLs just to learn that.
        """
        total = 0
        for path, key in (("/products", "products"), ("/variant_inventory", "vi")):
            base = self._lookup_base(path)
            # GTINs ride along when every term fits one URL, as ``_lookups`` reads them.
            together = len(self._chunks(path, terms[key], base, limit=1)) <= 1
            by_field = terms[key] if together else {"item_number": terms[key]["item_number"]}
            limit = None if at_most is None else at_most - total
            total += len(self._chunks(path, by_field, base, limit=limit))
            if at_most is not None and total > at_most:
                return at_most + 1
        return total

    # -- catalog ------------------------------------------------------------------------------
    def _catalog_pages(self) -> Iterator[dict[str, Any]]:
        params = {"count": str(self.options.page_size), **self.product_params()}
        empty = True
        for payload in self.session.iter_payloads("/products", params):
            empty = False
            yield payload
        if empty:  # some stores answer an empty list with 404 (docs/api.md §1.3)
            yield {"total_count": 0}

    def _read_catalog(
        self, index: StoreIndex, pages: Iterator[dict[str, Any]] | None = None
    ) -> None:
        index.mode = "catalog"
        for payload in pages if pages is not None else self._catalog_pages():
            for doc in records_from_page(payload):
                index.add_product(doc)
        index.complete = True

    def _auto(self, index: StoreIndex, terms: dict[str, dict[str, list[str]]]) -> None:
        pages = self._catalog_pages()
        first = next(pages)
        total = int(first.get("total_count") or 0) if isinstance(first, dict) else 0
        # The store may cap ``count`` below page_size: size pages by what page 1 held.
        per_page = max(1, min(self.options.page_size, len(records_from_page(first)) or 1))
        if per_page < total and per_page < self.options.page_size:
            self._row_cap = per_page  # also the most terms one lookup may carry
        remaining = max(0, math.ceil(total / per_page) - 1)
        if remaining <= self.estimate_lookups(terms, at_most=remaining):
            self._read_catalog(index, _chain([first], pages))
            return
        for doc in records_from_page(first):
            index.add_product(doc)
        self._lookups(index, terms)

    # -- lookups ------------------------------------------------------------------------------
    def _terms(
        self, listings: list[Listing], *, with_gtin: bool = True
    ) -> dict[str, dict[str, list[str]]]:
        """OR-terms per resource and field: products by listing SKU/GTIN, rows by the rest."""
        p_sku: dict[str, str] = {}
        p_gtin: dict[str, str] = {}
        v_sku: dict[str, str] = {}
        v_gtin: dict[str, str] = {}
        for listing in listings:
            for sku in sku_spellings(listing.sku):
                p_sku.setdefault(sku_key(sku), sku)
            if listing.gtin:
                for form in gtin_forms(listing.gtin):
                    p_gtin.setdefault(form, form)
            if not listing.variants:
                for sku in sku_spellings(listing.sku):
                    v_sku.setdefault(sku_key(sku), sku)
                if listing.gtin:
                    for form in gtin_forms(listing.gtin):
                        v_gtin.setdefault(form, form)
            for variant in listing.variants:
                for sku in sku_spellings(variant.sku):
                    v_sku.setdefault(sku_key(sku), sku)
                if variant.gtin:
                    for form in gtin_forms(variant.gtin):
                        v_gtin.setdefault(form, form)
        self._gtin_owners = {
            "products": [(x.sku, x.gtin) for x in listings if x.gtin],
            "vi": [(x.sku, x.gtin) for x in listings if x.gtin and not x.variants]
            + [(v.sku, v.gtin) for x in listings for v in x.variants if v.gtin],
        }
        if not with_gtin:
            p_gtin, v_gtin = {}, {}
            self._gtin_owners = {}
        return {
            "products": {"item_number": list(p_sku.values()), "gtin": list(p_gtin.values())},
            "vi": {"item_number": list(v_sku.values()), "gtin": list(v_gtin.values())},
        }

    def _lookup_base(self, path: str) -> dict[str, str]:
        """Lookups ask for 1,000 rows: a URL holds far fewer terms, so one page answers it."""
        count = str(max(self.options.page_size, LOOKUP_COUNT))
        if path == "/products":
            return {"count": count, **self.product_params()}
        return {"count": count, "fields": ",".join((*VI_FIELDS, "variants"))}

    def _chunks(
        self,
        path: str,
        by_field: dict[str, list[str]],
        base: dict[str, str],
        limit: int | None = None,
    ) -> list[dict[str, str]]:
        """Pack ``field=value`` terms into as few URLs as fit the cap (``lookup_chunks``).

        A page that held fewer rows than asked also caps the terms of one lookup. With
        ``limit``, packing stops at ``limit + 1`` URLs (enough to know there are more).
        """
        chunks = lookup_chunks(
            self.session.url(path),
            base,
            by_field,
            max_items=self._row_cap,
            max_chars=self.options.max_url_length,
        )
        return list(chunks if limit is None else islice(chunks, limit + 1))

    def _lookup(self, index: StoreIndex, path: str, by_field: dict[str, list[str]]) -> None:
        for params in self._chunks(path, by_field, self._lookup_base(path)):
            for doc in self.session.iter_records(path, params):
                if path == "/products":
                    index.add_product(doc)
                else:
                    index.add_vi(doc)

    def _lookups(self, index: StoreIndex, terms: dict[str, dict[str, list[str]]]) -> None:
        """SKU and GTIN lookups; GTINs ride along when they fit in one URL, else follow up.

        When the terms of a resource need more than one URL, SKUs are looked up first and
        GTINs only for what no SKU matched (the usual sync batch then needs no GTIN call).
        """
        index.mode = "lookup" if not index.products else "catalog page 1 + lookup"
        for path, key in (("/products", "products"), ("/variant_inventory", "vi")):
            by_field = terms[key]
            base = self._lookup_base(path)
            if len(self._chunks(path, by_field, base, limit=1)) <= 1:
                self._lookup(index, path, by_field)
                continue
            self._lookup(index, path, {"item_number": by_field["item_number"]})
            unmatched = self._unmatched_gtins(index, key)
            if unmatched:
                self._lookup(index, path, {"gtin": unmatched})
        missing = sorted({row["product_id"] for row in index.vi.values()} - set(index.products))
        if missing:
            self._lookup(index, "/products", {"id": [str(pid) for pid in missing]})

    def load_vi_values(self, index: StoreIndex, product_ids: Iterable[int]) -> None:
        """Which option values make up each variant row of ``product_ids`` (OR-ed, URL-sized).

        Needed only where a price comes from ``product_variants.price_adjustment`` and the
        catalog read (products with nested rows, one level deep) did not say.
        """
        ids = sorted(set(product_ids))
        if ids:
            self._lookup(index, "/variant_inventory", {"product_id": [str(i) for i in ids]})

    def load_unfinished(self, index: StoreIndex, product_ids: Iterable[int]) -> None:
        """All a clean publish writes, for products whose publish is unfinished.

        One read of the products with every published field, their option values, variant
        rows, price rows and pictures, and one of which option values make up each row; only
        for batches that hold such a product.
        """
        ids = sorted(set(product_ids))
        nested = ["variants", "variant_inventory", "pricing", "pictures"]
        base = {
            "count": str(max(self.options.page_size, LOOKUP_COUNT)),
            "fields": ",".join((*PUBLISHED_FIELDS, *nested)),
            "expand": ",".join(nested),
        }
        for params in self._chunks("/products", {"id": [str(i) for i in ids]}, base):
            for doc in self.session.iter_records("/products", params):
                index.add_product(doc)
        self.load_vi_values(index, ids)

    def _unmatched_gtins(self, index: StoreIndex, key: str) -> list[str]:
        out: dict[str, str] = {}
        for sku, gtin in self._gtin_owners.get(key, []):
            found = index.products_with_sku(sku) if key == "products" else index.vi_with_sku(sku)
            if not found:
                for form in gtin_forms(gtin):
                    out.setdefault(form, form)
        return list(out.values())


def _chain(first: Iterable[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest

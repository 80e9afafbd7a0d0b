"""link: match a listing and its variants to store items, by SKU then UPC/GTIN.

Precedence follows ``link_by``. A listing with variants matches a product; each variant matches a
variant_inventory row of that product. A listing without variants matches a product, or else a
single variant_inventory row (a feed that lists variants flat). Two store items answering the same
key is an ambiguous match: a per-record error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from target_cartcom.listings.record import Listing, RecordError, Variant
from target_cartcom.listings.store_index import StoreIndex
from target_cartcom.sku import sku_key, sku_lookalike


@dataclass
class Link:
    """Where a listing lives in the store."""

    product_id: int | None = None
    #: A listing without variants that matched a variant_inventory row.
    vi_id: int | None = None
    matched_by: str | None = None
    #: variant index -> variant_inventory id
    variants: dict[int, int] = field(default_factory=dict)
    #: Links made by UPC/GTIN to an item whose SKU differs: (field, listing SKU, store SKU).
    other_skus: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        """Whether the listing matched anything."""
        return self.product_id is not None or self.vi_id is not None


def _ambiguous(field_name: str, what: str, value: str, ids: list[int]) -> RecordError:
    listed = ", ".join(str(i) for i in ids)
    return RecordError(
        field_name,
        f"ambiguous match: {what} {listed} all have {value!r}; fix the store, nothing was written",
    )


def _note_other_sku(link: Link, field_name: str, sku: str, item: dict) -> None:
    """Remember a link whose store item carries another SKU (a UPC shared across SKUs)."""
    store_sku = str(item.get("item_number") or "")
    if store_sku != sku and sku_key(store_sku) != sku_key(sku):  # equal text: the same SKU
        link.other_skus.append((field_name, sku, store_sku))


def _refuse_lookalikes(
    index: StoreIndex,
    sku: str,
    field_name: str,
    *,
    with_products: bool = True,
    with_rows: bool = True,
) -> None:
    """A non-ASCII SKU that the store holds in a look-alike spelling is ambiguous.

    ``\u212aBC-1`` (Kelvin sign) and ``KBC-1`` differ for ``sku_key`` but may be equal for the
    store's own collation; neither link nor publish may guess which item the feed means.
    """
    alike = sku_lookalike(sku)
    if alike is None:
        return
    found = [
        str(doc.get("item_number"))
        for ids, table in (
            (index.products_with_sku(alike) if with_products else [], index.products),
            (index.vi_with_sku(alike) if with_rows else [], index.vi),
        )
        for doc in (table[i] for i in ids)
    ]
    if found:
        listed = ", ".join(repr(s) for s in sorted(set(found)))
        msg = (
            f"ambiguous match: {sku!a} is not {listed} for an exact SKU match, but looks "
            "the same "
            "under Unicode case folding; fix the SKU in the feed or the store, nothing was written"
        )
        raise RecordError(field_name, msg)


def link_listing(listing: Listing, index: StoreIndex, link_by: tuple[str, ...]) -> Link:
    """Match ``listing`` against ``index``; raise ``RecordError`` on an ambiguous match."""
    result = Link()
    if "sku" in link_by:
        _refuse_lookalikes(index, listing.sku, "sku", with_rows=not listing.variants)
        for variant in listing.variants:
            if not variant.sku.isascii():  # an ASCII SKU has no look-alike: no field name made
                _refuse_lookalikes(index, variant.sku, f"{variant.where}.sku", with_products=False)
    for key in link_by:
        value = listing.sku if key == "sku" else listing.gtin
        if not value:
            continue
        field_name = "sku" if key == "sku" else ("gtin" if "gtin" in listing.present else "upc")
        products = (
            index.products_with_sku(value) if key == "sku" else index.products_with_gtin(value)
        )
        rows: list[int] = []
        if not listing.variants:
            rows = index.vi_with_sku(value) if key == "sku" else index.vi_with_gtin(value)
        if len(products) > 1:
            raise _ambiguous(field_name, "products", value, products)
        if products and rows:
            raise _ambiguous(field_name, "a product and variant rows", value, products + rows)
        if len(rows) > 1:
            raise _ambiguous(field_name, "variant rows", value, rows)
        if products:
            result.product_id, result.matched_by = products[0], key
            _note_other_sku(result, field_name, listing.sku, index.products[products[0]])
            break
        if rows:
            result.vi_id, result.matched_by = rows[0], key
            result.product_id = None
            _note_other_sku(result, field_name, listing.sku, index.vi[rows[0]])
            break
    if listing.variants:
        _link_variants(listing, index, link_by, result)
    return result


def _variant_field(variant: Variant, key: str) -> str:
    """``variants[2].sku``: made only when a message or a note needs it."""
    return f"{variant.where}.{'sku' if key == 'sku' else 'gtin'}"


def _link_variants(
    listing: Listing, index: StoreIndex, link_by: tuple[str, ...], result: Link
) -> None:
    owners: dict[int, int] = {}
    for variant in listing.variants:
        for key in link_by:
            value = variant.sku if key == "sku" else variant.gtin
            if not value:
                continue
            rows = index.vi_with_sku(value) if key == "sku" else index.vi_with_gtin(value)
            if not rows:
                continue
            if len(rows) > 1:
                raise _ambiguous(_variant_field(variant, key), "variant rows", value, rows)
            row = index.vi[rows[0]]
            owner = row.get("product_id")
            if result.product_id is not None and owner != result.product_id:
                msg = (
                    f"{value!r} is variant row {rows[0]} of product {owner}, not of the "
                    f"listing's product {result.product_id}"
                )
                raise RecordError(_variant_field(variant, key), msg)
            owners[variant.index] = owner
            result.variants[variant.index] = rows[0]
            if row.get("item_number") != variant.sku:  # the same text is the same SKU
                _note_other_sku(result, _variant_field(variant, key), variant.sku, row)
            break
    if result.product_id is None and owners:
        distinct = sorted(set(owners.values()))
        if len(distinct) > 1:
            msg = f"the variants belong to different products ({', '.join(map(str, distinct))})"
            raise RecordError("variants", msg)
        result.product_id, result.matched_by = distinct[0], "variants"
    taken: dict[int, int] = {}
    for vindex, vi_id in result.variants.items():
        if vi_id in taken:
            msg = f"matches the same variant row {vi_id} as variants[{taken[vi_id]}]"
            raise RecordError(f"variants[{vindex}]", msg)
        taken[vi_id] = vindex

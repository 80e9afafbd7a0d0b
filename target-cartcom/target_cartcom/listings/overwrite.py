"""overwrite: replace the enabled content fields of linked items with the record's.

Only fields present in the record are replaced. Mapping: title → ``item_name``, description →
``long_description_1``, mpn → ``manufacturer_part_number`` (variants: ``manufacturer_item_number``),
upc/gtin → ``gtin`` (Cart.com has no UPC field), categories → ``primary_category_id`` (the first
path; Cart.com has no writable link for secondary categories), images → product_pictures (missing
URLs added, unlisted pictures deleted, order and primary picture fixed) and a variant's image →
``variant_inventory_image``.
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.link import Link
from target_cartcom.listings.pictures import set_pictures
from target_cartcom.listings.record import Listing, gtin_key


def wants_gtin(ctx: Context, present: set[str] | frozenset[str]) -> bool:
    """Whether overwrite replaces the barcode given in a record with keys ``present``."""
    return any(k in present and ctx.options.overwrites(k) for k in ("upc", "gtin"))


def overwrite_listing(
    ctx: Context, listing: Listing, link: Link, out: Outcome, category_id: int | None
) -> None:
    """Replace content fields of ``listing``'s linked product and variant rows."""
    present = listing.present
    if link.vi_id is not None:
        _row(
            ctx,
            link.vi_id,
            out,
            mpn=listing.mpn if "mpn" in present and ctx.options.overwrites("mpn") else None,
            gtin=listing.gtin if wants_gtin(ctx, present) else None,
            image=listing.images[0]
            if listing.images and ctx.options.overwrites("images")
            else None,
            prefix="",
            field_prefix="",
        )
        return
    pid = link.product_id
    if pid is None:
        return
    product = ctx.index.products[pid]
    body: dict[str, Any] = {}
    wanted: list[tuple[str, str, Any]] = []
    if "title" in present and ctx.options.overwrites("title"):
        wanted.append(("title", "item_name", listing.title))
    if "description" in present and ctx.options.overwrites("description"):
        wanted.append(("description", "long_description_1", listing.description))
    if "mpn" in present and ctx.options.overwrites("mpn"):
        wanted.append(("mpn", "manufacturer_part_number", listing.mpn))
    if category_id is not None:
        wanted.append(("categories", "primary_category_id", category_id))
    for name, store_field, value in wanted:
        if (product.get(store_field) or None) != value:
            body[store_field] = value
            out.change(name, product.get(store_field), value)
    if (
        wants_gtin(ctx, present)
        and listing.gtin
        and gtin_key(product.get("gtin")) != gtin_key(listing.gtin)
    ):
        body["gtin"] = listing.gtin
        out.change("gtin", product.get("gtin"), listing.gtin)
    if body:
        first = next(iter(out.changes))
        ctx.write("PUT", f"/products/{pid}", body, field=first, purpose=f"overwrite {listing.sku}")
        product.update(body)
        out.did("overwrite")
    for variant in listing.variants:
        vi_id = link.variants.get(variant.index)
        if vi_id is None:
            continue
        _row(
            ctx,
            vi_id,
            out,
            mpn=variant.mpn if ctx.options.overwrites("mpn") else None,
            gtin=variant.gtin
            if ctx.options.overwrites("gtin") or ctx.options.overwrites("upc")
            else None,
            image=variant.image if ctx.options.overwrites("images") else None,
            prefix=f"variants[{variant.sku}].",
            field_prefix=f"{variant.where}.",
        )
    if "images" in present and ctx.options.overwrites("images"):
        set_pictures(ctx, pid, listing.images, out, operation="overwrite")


def _row(
    ctx: Context,
    vi_id: int,
    out: Outcome,
    *,
    mpn: str | None,
    gtin: str | None,
    image: str | None,
    prefix: str,
    field_prefix: str,
) -> None:
    row = ctx.index.vi[vi_id]
    body: dict[str, Any] = {}
    if mpn is not None and (row.get("manufacturer_item_number") or None) != mpn:
        body["manufacturer_item_number"] = mpn
        out.change(f"{prefix}mpn", row.get("manufacturer_item_number"), mpn)
    if gtin is not None and gtin_key(row.get("gtin")) != gtin_key(gtin):
        body["gtin"] = gtin
        out.change(f"{prefix}gtin", row.get("gtin"), gtin)
    if image is not None and (row.get("variant_inventory_image") or None) != image:
        body["variant_inventory_image"] = image
        out.change(f"{prefix}image", row.get("variant_inventory_image"), image)
    if body:
        names = {"manufacturer_item_number": "mpn", "variant_inventory_image": "image"}
        ctx.write(
            "PUT",
            f"/variant_inventory/{vi_id}",
            body,
            field=field_prefix + names.get(next(iter(body)), next(iter(body))),
            purpose=f"overwrite {row.get('item_number')}",
        )
        row.update(body)
        out.did("overwrite")

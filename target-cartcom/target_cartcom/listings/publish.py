"""publish: create what the store lacks, following the recipe of docs/api.md §3.

For a new listing, in order:

1. the brand (``/manufacturers``, found or created by name) and the primary category path
   (``/categories``, each missing level created under its parent; ``rebuild_tree`` once per run);
2. ``POST /products`` with SKU, title, description, prices, status, brand, category, barcode,
   MPN, weight and dimensions (stock too for a simple product);
3. to 5., the variants (``variants.py``): per option value, ``POST /product_variants`` (the
   variant group, e.g. "Size", found or created); per variant, ``POST /variant_inventory`` with
   SKU, GTIN, MPN, quantity and msrp; per variant whose price or cost differs from the
   product's, a ``price_adjustment`` in the option value's POST (one option dimension, no cost of
   its own: no extra call), otherwise ``POST /product_pricing``;
6. per image URL, ``POST /product_pictures`` with the absolute URL as ``image_file`` and
   ``download_external_image: true``;
7. when steps 3 to 6 wrote anything, ``PUT /products/{id}`` showing the product: it was created
   hidden and marked unfinished (``marker.py``), so a publish stopped part-way is never on sale
   and the next run completes it (``complete_listing``) to what a clean publish gives.

A listing that already exists is linked and updated instead: publish only adds its missing
variants. Every POST whose answer is lost is looked up again before it is re-posted.
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.link import Link
from target_cartcom.listings.marker import MARKER_FIELD, UNFINISHED
from target_cartcom.listings.pictures import add_picture, set_pictures
from target_cartcom.listings.record import Listing
from target_cartcom.listings.refusals import check_publishable
from target_cartcom.listings.variants import add_variants, same_value

#: A product's fields as the listing names them (in results and failures).
_PRODUCT_NAMES = {
    "item_number": "sku",
    "item_name": "title",
    "product_status_id": "status",
    "primary_category_id": "categories[0]",
    "use_variant_inventory": "variants",
    "long_description_1": "description",
    "retail": "msrp",
    "manufacturer_id": "brand",
    "manufacturer_part_number": "mpn",
    "quantity_on_hand": "quantity",
}


def _needs_marker(listing: Listing) -> bool:
    """Whether publishing ``listing`` takes more than the product's own POST."""
    return bool(listing.variants or listing.images)


def product_body(ctx: Context, listing: Listing) -> dict[str, Any]:
    """The ``POST /products`` body of a clean publish (brand and category found or created)."""
    status_id = ctx.refs.status_id()
    ctx.field = "categories[0]"  # the field a refused or failed write of a reference names
    category_id = ctx.refs.category(
        listing.categories[0], create=True, field="categories[0]", publishing=True
    )
    ctx.field = "brand"
    brand_id = ctx.refs.brand(listing.brand) if listing.brand else None
    ctx.field = "variants[0].options"
    for name in listing.option_names:
        ctx.refs.group(name, field="variants[0].options")
    # Without a listing price, the lowest variant price: every other variant is then a surcharge.
    lowest = min((v.price for v in listing.variants if v.price is not None), default=None)
    price = listing.price if listing.price is not None else lowest
    body: dict[str, Any] = {
        "item_number": listing.sku,
        "item_name": listing.title,
        "product_status_id": status_id,
        "primary_category_id": category_id,
        "price": price if price is not None else 0.0,
        "use_variant_inventory": bool(listing.variants),
    }
    optional = {
        "long_description_1": listing.description,
        "retail": listing.msrp,
        "cost": listing.cost,
        "manufacturer_id": brand_id,
        "manufacturer_part_number": listing.mpn,
        "gtin": listing.gtin,
        "weight": listing.weight,
        "length": _dimension(listing.length),
        "width": _dimension(listing.width),
        "height": _dimension(listing.height),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if not listing.variants:
        body["quantity_on_hand"] = listing.quantity or 0
    if listing.hidden is not None:
        body["is_hidden"] = 1 if listing.hidden else 0
    return body


def publish_listing(ctx: Context, listing: Listing, out: Outcome) -> Link:
    """Create the product of an unlinked listing, with its variants and pictures."""
    check_publishable(listing)
    body = product_body(ctx, listing)
    marked = _needs_marker(listing)
    sent = {**body, "is_hidden": 1, MARKER_FIELD: UNFINISHED} if marked else body
    product = ctx.create(
        "/products",
        sent,
        {"item_number": listing.sku},
        field="sku",
        purpose=f"publish {listing.sku}" + (" (hidden until complete)" if marked else ""),
    )
    pid = product["id"]
    ctx.index.add_product({**sent, "id": pid})
    ctx.index.options[pid] = []
    ctx.index.pictures[pid] = []
    out.created = True
    out.did("publish")
    out.ids["product_id"] = pid
    link = Link(product_id=pid, matched_by="publish")
    add_variants(ctx, listing, link, out)
    for i, url in enumerate(listing.images):
        add_picture(ctx, pid, url, i, field=f"images[{i}]")
    if marked:
        _show(ctx, listing, pid, {}, out)
    return link


def complete_listing(ctx: Context, listing: Listing, link: Link, out: Outcome) -> None:
    """Finish a publish an earlier run began: the product ends as a clean publish makes it.

    The product carries the unfinished mark (``marker.py``), so it is ours and was never shown:
    its fields, option values, variant rows, prices and pictures are each made what a clean
    publish of ``listing`` gives (missing ones created, differing ones restated), then the last
    write shows it, with any product field that differed.
    """
    check_publishable(listing)
    pid = link.product_id
    if pid is None:
        return
    product = ctx.index.products[pid]
    body = product_body(ctx, listing)
    fix: dict[str, Any] = {}
    for key, wanted in body.items():
        if key != "is_hidden" and not same_value(key, product.get(key), wanted):
            fix[key] = wanted
            out.change(_PRODUCT_NAMES.get(key, key), product.get(key), wanted)
    product.update(body)  # what the last write makes it; variant prices compare against it
    add_variants(ctx, listing, link, out, complete=True)
    set_pictures(ctx, pid, listing.images, out, operation="publish")
    _show(ctx, listing, pid, fix, out)
    out.change("publish", "unfinished", "complete")


def _show(ctx: Context, listing: Listing, pid: int, fix: dict[str, Any], out: Outcome) -> None:
    """The publish's last write: clear the mark, show the product (unless the listing hides it)."""
    product = ctx.index.products[pid]
    body = {**fix, "is_hidden": 1 if listing.hidden else 0, MARKER_FIELD: ""}
    ctx.write(
        "PUT",
        f"/products/{pid}",
        body,
        field=_PRODUCT_NAMES.get(next(iter(fix), "item_number"), "sku"),
        purpose=f"publish {listing.sku} complete: show it",
    )
    if bool(product.get("is_hidden")) != bool(body["is_hidden"]):
        out.change("hidden", bool(product.get("is_hidden")), bool(body["is_hidden"]))
    product.update(body)
    out.did("publish")


def _dimension(value: float | None) -> str | None:
    """Product dimensions are strings on Cart.com (a known issue, docs/api.md §9.14)."""
    if value is None:
        return None
    return f"{value:g}"

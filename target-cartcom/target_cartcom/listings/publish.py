"""publish: create what the store lacks, following the recipe of docs/api.md §3.

For a new listing, in order:

1. the brand (``/manufacturers``, found or created by name) and the primary category path
   (``/categories``, each missing level created under its parent; ``rebuild_tree`` once per run);
2. ``POST /products`` with SKU, title, description, prices, status, brand, category, barcode,
   MPN, weight and dimensions (stock too for a simple product);
3. per option value, ``POST /product_variants`` (the variant group, e.g. "Size", found or created);
4. per variant, ``POST /variant_inventory`` with SKU, GTIN, MPN, quantity and msrp;
5. per variant whose price or cost differs from the product's: with one option dimension and
   no cost of its own, a ``price_adjustment`` in step 3's POST (no extra call); otherwise
   ``POST /product_pricing``;
6. per image URL, ``POST /product_pictures`` with the absolute URL as ``image_file`` and
   ``download_external_image: true``.

A listing that already exists is linked and updated instead: publish only adds its missing
variants. Every POST whose answer is lost is looked up again before it is re-posted.
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.link import Link
from target_cartcom.listings.pictures import find_picture
from target_cartcom.listings.prices import ADJUSTMENT_TYPE, adjustment_for, uses_price_rows
from target_cartcom.listings.record import Listing, RecordError, Variant, money_equal
from target_cartcom.listings.refs import fold
from target_cartcom.listings.sync import set_row_price

PICTURE_FIELDS = "id,product_id,image_file,is_primary,sort_order"


def check_publishable(listing: Listing) -> None:
    """Fields Cart.com requires to create a product (checked before any write)."""
    if not listing.title:
        raise RecordError("title", "is required to publish (Cart.com's item_name)")
    if not listing.categories:
        raise RecordError(
            "categories", "is required to publish (Cart.com needs a primary category)"
        )
    if listing.price is None and all(v.price is None for v in listing.variants):
        raise RecordError("price", "is required to publish (a product never goes live at 0)")


def publish_listing(ctx: Context, listing: Listing, out: Outcome) -> Link:
    """Create the product of an unlinked listing, with its variants and pictures."""
    check_publishable(listing)
    status_id = ctx.refs.status_id()
    category_id = ctx.refs.category(listing.categories[0], create=True, field="categories[0]")
    brand_id = ctx.refs.brand(listing.brand) if listing.brand else None
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
    product = ctx.create(
        "/products",
        body,
        {"item_number": listing.sku},
        field="sku",
        purpose=f"publish {listing.sku}",
    )
    pid = product["id"]
    ctx.index.add_product({**body, "id": pid})
    ctx.index.options[pid] = []
    ctx.index.pictures[pid] = []
    out.created = True
    out.did("publish")
    out.ids["product_id"] = pid
    link = Link(product_id=pid, matched_by="publish")
    add_variants(ctx, listing, link, out)
    for i, url in enumerate(listing.images):
        add_picture(ctx, pid, url, i, field=f"images[{i}]")
    return link


def _dimension(value: float | None) -> str | None:
    """Product dimensions are strings on Cart.com (a known issue, docs/api.md §9.14)."""
    if value is None:
        return None
    return f"{value:g}"


def add_picture(ctx: Context, pid: int, url: str, position: int, *, field: str) -> dict[str, Any]:
    """Add one picture by URL (the external-URL route).

    A POST whose answer was lost is found again among the product's pictures by URL, or by file
    name when the store rewrote ``image_file`` to its downloaded copy (``pictures.py``).
    """
    body = {
        "product_id": pid,
        "image_file": url,
        "is_primary": position == 0,
        "sort_order": position + 1,
        "download_external_image": True,
    }
    claimed = list(ctx.index.pictures.get(pid, []))

    def find() -> dict[str, Any] | None:
        return find_picture(read_pictures(ctx, pid), url, claimed)

    ctx.field = field
    created = ctx.creator.create(
        "/product_pictures", body, find, purpose=f"picture {url}", field=field
    )
    picture = {**body, "id": created["id"]}
    if isinstance(created.get("image_file"), str):
        picture["image_file"] = created["image_file"]  # what the store kept
    ctx.index.pictures.setdefault(pid, []).append(picture)
    return picture


def read_pictures(ctx: Context, pid: int) -> list[dict[str, Any]]:
    """The product's pictures as the store has them now (one paged read)."""
    return list(
        ctx.session.iter_records(
            "/product_pictures",
            {"product_id": str(pid), "count": str(ctx.options.page_size), "fields": PICTURE_FIELDS},
        )
    )


def _product_options(ctx: Context, pid: int) -> list[dict[str, Any]]:
    """The product's option values (product_variants); read once when not in the index."""
    if pid not in ctx.index.options:
        rows = list(
            ctx.session.iter_records(
                "/product_variants",
                {
                    "product_id": str(pid),
                    "count": str(ctx.options.page_size),
                    "fields": "id,product_id,variant_group_id,description,sort_order",
                },
            )
        )
        ctx.index.options[pid] = rows
    return ctx.index.options[pid]


def add_variants(ctx: Context, listing: Listing, link: Link, out: Outcome) -> None:
    """Create the listing's variants that the store lacks (option values, rows, prices)."""
    missing = [v for v in listing.variants if v.index not in link.variants]
    if not missing or link.product_id is None:
        return
    pid = link.product_id
    product = ctx.index.products[pid]
    if not product.get("use_variant_inventory"):
        ctx.write(
            "PUT",
            f"/products/{pid}",
            {"use_variant_inventory": True},
            field="variants",
            purpose="track stock per variant",
        )
        product["use_variant_inventory"] = True
    options = _product_options(ctx, pid)
    status_id = ctx.refs.status_id()
    order = _value_order(listing)
    by_adjustment = _prices_by_adjustment(ctx, listing, pid)
    for variant in missing:
        links = []
        for name, value in variant.options.items():
            gid = ctx.refs.group(name, field=f"{variant.where}.options")
            links.append(
                _option(
                    ctx,
                    pid,
                    gid,
                    value,
                    sort_order=order[fold(name)].index(fold(value)) + 1,
                    options=options,
                    field=f"{variant.where}.options",
                    adjustment=_adjustment(variant, product) if by_adjustment else None,
                )
            )
        vi_id = _add_row(ctx, pid, variant, links, status_id)
        link.variants[variant.index] = vi_id
        out.ids.setdefault("variant_inventory_ids", {})[variant.sku] = vi_id
        out.change(f"variants[{variant.sku}]", None, "created")
        out.did("publish")
        price = variant.price
        cost = variant.cost
        if price is not None and money_equal(price, product.get("price")):
            price = None
        if cost is not None and money_equal(cost, product.get("cost")):
            cost = None
        if price is not None or cost is not None:
            scratch = Outcome()
            set_row_price(
                ctx,
                vi_id,
                price,
                cost,
                scratch,
                prefix="",
                field_prefix=f"{variant.where}.",
                operation="publish",
            )


def _prices_by_adjustment(ctx: Context, listing: Listing, pid: int) -> bool:
    """Per-variant prices go on the option values when the product has one option dimension.

    With one dimension each value makes exactly one variant row, so its ``price_adjustment``
    prices that row alone and rides in the POST that creates the value: no price-row call.
    A product that already prices its rows by ``product_pricing`` keeps doing so.
    """
    if len(listing.option_names) != 1 or uses_price_rows(ctx.index, pid):
        return False
    groups = {o.get("variant_group_id") for o in ctx.index.options.get(pid, [])}
    gid = ctx.refs.group(listing.option_names[0], field="variants[0].options")
    return groups <= {gid}


def _adjustment(variant: Variant, product: dict[str, Any]) -> float | None:
    """The surcharge of a new option value, when its price can be one (else a price row)."""
    if variant.price is None or money_equal(variant.price, product.get("price")):
        return None
    if variant.cost is not None and not money_equal(variant.cost, product.get("cost")):
        return None  # a cost needs a price row, which then carries the price too
    return adjustment_for(product.get("price"), variant.price)


def _value_order(listing: Listing) -> dict[str, list[str]]:
    """Per option name, its values in the order they first appear (the sort order)."""
    order: dict[str, list[str]] = {}
    for v in listing.variants:
        for name, value in v.options.items():
            values = order.setdefault(fold(name), [])
            if fold(value) not in values:
                values.append(fold(value))
    return order


def _option(
    ctx: Context,
    pid: int,
    gid: int,
    value: str,
    *,
    sort_order: int,
    options: list[dict[str, Any]],
    field: str,
    adjustment: float | None = None,
) -> dict[str, Any]:
    for row in options:
        if row.get("variant_group_id") == gid and fold(row.get("description")) == fold(value):
            return row
    body = {
        "product_id": pid,
        "variant_group_id": gid,
        "description": value,
        "sort_order": sort_order,
    }
    if adjustment:
        body["price_adjustment"] = adjustment
        body["price_adjustment_type"] = ADJUSTMENT_TYPE
    created = ctx.create(
        "/product_variants",
        body,
        {"product_id": str(pid), "variant_group_id": str(gid), "description": value},
        field=field,
        purpose=f"option {value!r}",
    )
    row = {**body, "id": created["id"]}
    options.append(row)
    return row


def _add_row(
    ctx: Context, pid: int, variant: Variant, options: list[dict[str, Any]], status_id: int
) -> int:
    body: dict[str, Any] = {
        "product_id": pid,
        "item_number": variant.sku,
        "inventory": variant.quantity or 0,
        "product_status_id": status_id,
        "description": ", ".join(f"{k}: {v}" for k, v in variant.options.items()),
        "variants": [
            {"id": o["id"], "product_id": pid, "variant_group_id": o["variant_group_id"]}
            for o in options
        ],
    }
    optional = {
        "gtin": variant.gtin,
        "manufacturer_item_number": variant.mpn,
        "retail": variant.msrp,
        "weight": variant.weight,
        "variant_inventory_image": variant.image,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    created = ctx.create(
        "/variant_inventory",
        body,
        {"item_number": variant.sku, "product_id": str(pid)},
        field=f"{variant.where}.sku",
        purpose=f"variant {variant.sku}",
    )
    row = {k: v for k, v in body.items() if k != "variants"}
    ctx.index.add_vi({**row, "id": created["id"]})
    ctx.index.vi_values[created["id"]] = [o["id"] for o in options]
    return created["id"]

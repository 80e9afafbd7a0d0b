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
from target_cartcom.listings.prices import ADJUSTMENT_TYPE, adjustment_for, uses_price_rows
from target_cartcom.listings.record import Listing, Variant, gtin_key, money_equal
from target_cartcom.listings.refs import fold
from target_cartcom.listings.refusals import check_publishable
from target_cartcom.listings.sync import set_row_price

#: Fields compared as money (to the cent) when an unfinished publish is completed.
_MONEY = frozenset({"price", "retail", "cost"})
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
        if key != "is_hidden" and not _same(key, product.get(key), wanted):
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


def _same(key: str, store: Any, wanted: Any) -> bool:
    """Whether a store product field already holds what a clean publish writes."""
    if key in _MONEY:
        return money_equal(store, wanted)
    if key == "gtin":
        return gtin_key(store) == gtin_key(wanted)
    if isinstance(wanted, bool):
        return bool(store) == wanted and store not in ("0", "false")
    if isinstance(wanted, float) and isinstance(store, int | float):
        return float(store) == wanted
    return store == wanted


def _dimension(value: float | None) -> str | None:
    """Product dimensions are strings on Cart.com (a known issue, docs/api.md §9.14)."""
    if value is None:
        return None
    return f"{value:g}"


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


def add_variants(
    ctx: Context, listing: Listing, link: Link, out: Outcome, *, complete: bool = False
) -> None:
    """Create the listing's variants that the store lacks (option values, rows, prices).

    With ``complete`` (finishing an unfinished publish), every variant is made what a clean
    publish makes it: existing option values and rows are restated where they differ, every
    row is priced, and prices go where a clean publish puts them whatever an earlier run left.
    """
    variants = [v for v in listing.variants if complete or v.index not in link.variants]
    if not variants or link.product_id is None:
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
    # A clean publish starts from a product with no option values and no price rows.
    if complete:
        by_adjustment = len(listing.option_names) == 1
    else:
        by_adjustment = _prices_by_adjustment(ctx, listing, pid)
    for variant in variants:
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
                    restate=complete,
                )
            )
        vi_id = link.variants.get(variant.index)
        if vi_id is None:
            vi_id = _add_row(ctx, pid, variant, links, status_id)
            link.variants[variant.index] = vi_id
            out.ids.setdefault("variant_inventory_ids", {})[variant.sku] = vi_id
            out.change(f"variants[{variant.sku}]", None, "created")
            out.did("publish")
        else:
            _restate_row(ctx, vi_id, variant, status_id, out)
        price = variant.price
        cost = variant.cost
        # A new row already sells at the product's price and cost. A row an earlier run priced
        # apart (``complete``) is set to them: it must not keep a price the feed no longer gives.
        if not complete and price is not None and money_equal(price, product.get("price")):
            price = None
        if not complete and cost is not None and money_equal(cost, product.get("cost")):
            cost = None
        if price is not None or cost is not None:
            scratch = Outcome()
            set_row_price(
                ctx,
                vi_id,
                price,
                cost,
                scratch if not complete else out,
                prefix="" if not complete else f"variants[{variant.sku}].",
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
    restate: bool = False,
) -> dict[str, Any]:
    """The product's option value ``value`` of group ``gid``, created when missing.

    ``restate``: an existing value gets the sort order and surcharge a clean publish gives it.
    """
    for row in options:
        if row.get("variant_group_id") == gid and fold(row.get("description")) == fold(value):
            if restate:
                _restate_option(ctx, row, sort_order, adjustment, field=field)
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


def _restate_option(
    ctx: Context, row: dict[str, Any], sort_order: int, adjustment: float | None, *, field: str
) -> None:
    fix: dict[str, Any] = {}
    if row.get("sort_order") != sort_order:
        fix["sort_order"] = sort_order
    if not money_equal(row.get("price_adjustment") or 0, adjustment or 0):
        fix["price_adjustment"] = adjustment or 0.0
    kind = (row.get("price_adjustment_type") or "").strip().casefold()
    if adjustment and kind != ADJUSTMENT_TYPE:
        fix["price_adjustment_type"] = ADJUSTMENT_TYPE
    if fix:
        ctx.write(
            "PUT",
            f"/product_variants/{row['id']}",
            fix,
            field=field,
            purpose=f"option {row.get('description')!r} as published",
        )
        row.update(fix)


def _row_body(
    pid: int, variant: Variant, options: list[dict[str, Any]], status_id: int
) -> dict[str, Any]:
    """The ``POST /variant_inventory`` body of a clean publish."""
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
    return body


def _add_row(
    ctx: Context, pid: int, variant: Variant, options: list[dict[str, Any]], status_id: int
) -> int:
    body = _row_body(pid, variant, options, status_id)
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


#: A variant row's fields as the listing names them (in results and failures).
_ROW_NAMES = {
    "item_number": "sku",
    "inventory": "quantity",
    "product_status_id": "status",
    "description": "options",
    "gtin": "gtin",
    "manufacturer_item_number": "mpn",
    "retail": "msrp",
    "weight": "weight",
    "variant_inventory_image": "image",
}


def _restate_row(ctx: Context, vi_id: int, variant: Variant, status_id: int, out: Outcome) -> None:
    """An existing row of an unfinished publish gets the fields a clean publish gives it."""
    row = ctx.index.vi[vi_id]
    wanted = _row_body(0, variant, [], status_id)
    fix: dict[str, Any] = {}
    for key, value in wanted.items():
        if key in ("product_id", "variants"):
            continue
        if not _same(key, row.get(key), value):
            fix[key] = value
            out.change(f"variants[{variant.sku}].{_ROW_NAMES[key]}", row.get(key), value)
    if fix:
        ctx.write(
            "PUT",
            f"/variant_inventory/{vi_id}",
            fix,
            field=f"{variant.where}.{_ROW_NAMES[next(iter(fix))]}",
            purpose=f"variant {variant.sku} as published",
        )
        row.update(fix)
        out.did("publish")

"""The variants publish creates: option values, variant rows and their prices.

For a listing's variants the store lacks (a new listing, or new variants of a linked one), in
the order of docs/api.md §3: per option value, ``POST /product_variants`` (its variant group,
e.g. "Size", found or created); per variant, ``POST /variant_inventory``; per variant priced
apart from the product, a ``price_adjustment`` on its option value (one option dimension, no
cost of its own: no extra call) or ``POST /product_pricing``. Completing an unfinished publish
restates what exists to what a clean publish gives (``complete=True``).
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.link import Link
from target_cartcom.listings.prices import ADJUSTMENT_TYPE, adjustment_for, uses_price_rows
from target_cartcom.listings.record import Listing, Variant, gtin_key, money_equal
from target_cartcom.listings.refs import fold
from target_cartcom.listings.sync import set_row_price

#: Fields compared as money (to the cent) when an unfinished publish is completed.
_MONEY = frozenset({"price", "retail", "cost"})


def same_value(key: str, store: Any, wanted: Any) -> bool:
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
        if not same_value(key, row.get(key), value):
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

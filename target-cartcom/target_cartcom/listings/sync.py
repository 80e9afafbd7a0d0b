"""sync: write quantity, price, msrp, cost and hidden of linked items, only where they differ.

- A simple product: one ``PUT /products/{id}`` with the changed fields among
  ``quantity_on_hand``, ``price``, ``retail`` (msrp), ``cost`` and ``is_hidden``.
- A variant row: one ``PUT /variant_inventory/{id}`` with ``inventory`` and ``retail``; its price
  and cost where the store keeps them: its plain ``product_pricing`` row (``PUT``), else the
  ``price_adjustment`` of its own option value (``PUT /product_variants/{id}``), else a new
  price row (one ``POST``); see ``prices.py``.

Nothing unchanged costs a write.
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.link import Link
from target_cartcom.listings.prices import (
    ADJUSTMENT_TYPE,
    adjustment_for,
    current_row_price,
    own_option_value,
    uses_price_rows,
)
from target_cartcom.listings.record import Listing, RecordError, Variant, money_equal


def _as_bool(value: Any) -> bool:
    return bool(value) and value not in ("0", "false")


def sync_listing(ctx: Context, listing: Listing, link: Link, out: Outcome) -> None:
    """Bring quantity and prices of ``listing``'s linked items in line with the record."""
    if link.vi_id is not None:
        sync_row(ctx, link.vi_id, _values(listing), out, prefix="", field_prefix="")
        return
    pid = link.product_id
    if pid is None:
        return
    product = ctx.index.products[pid]
    body: dict[str, Any] = {}
    if listing.quantity is not None and not listing.variants:
        if product.get("use_variant_inventory") and ctx.index.variant_rows(pid):
            msg = "the store keeps this product's stock per variant row; send its variants"
            raise RecordError("quantity", msg)
        if product.get("quantity_on_hand") != listing.quantity:
            body["quantity_on_hand"] = listing.quantity
            out.change("quantity", product.get("quantity_on_hand"), listing.quantity)
    for name, store_field in (("price", "price"), ("msrp", "retail"), ("cost", "cost")):
        wanted = getattr(listing, name)
        if wanted is not None and not money_equal(product.get(store_field), wanted):
            body[store_field] = wanted
            out.change(name, product.get(store_field), wanted)
    if listing.hidden is not None and _as_bool(product.get("is_hidden")) != listing.hidden:
        body["is_hidden"] = 1 if listing.hidden else 0
        out.change("hidden", _as_bool(product.get("is_hidden")), listing.hidden)
    if body:
        ctx.write(
            "PUT",
            f"/products/{pid}",
            body,
            field=next(iter(_fields(body))),
            purpose=f"sync {listing.sku}",
        )
        product.update(body)
        out.did("sync")
    for variant in listing.variants:
        vi_id = link.variants.get(variant.index)
        if vi_id is not None:
            sync_row(
                ctx,
                vi_id,
                _values(variant),
                out,
                prefix=f"variants[{variant.sku}].",
                field_prefix=f"{variant.where}.",
            )


def _values(item: Listing | Variant) -> dict[str, Any]:
    return {"quantity": item.quantity, "price": item.price, "msrp": item.msrp, "cost": item.cost}


def _fields(body: dict[str, Any]) -> list[str]:
    names = {
        "quantity_on_hand": "quantity",
        "inventory": "quantity",
        "retail": "msrp",
        "is_hidden": "hidden",
    }
    return [names.get(k, k) for k in body]


def sync_row(
    ctx: Context,
    vi_id: int,
    values: dict[str, Any],
    out: Outcome,
    *,
    prefix: str,
    field_prefix: str,
) -> None:
    """Sync one variant_inventory row: stock and msrp on the row, price and cost in pricing."""
    row = ctx.index.vi[vi_id]
    body: dict[str, Any] = {}
    if values["quantity"] is not None and row.get("inventory") != values["quantity"]:
        body["inventory"] = values["quantity"]
        out.change(f"{prefix}quantity", row.get("inventory"), values["quantity"])
    if values["msrp"] is not None and not money_equal(row.get("retail"), values["msrp"]):
        body["retail"] = values["msrp"]
        out.change(f"{prefix}msrp", row.get("retail"), values["msrp"])
    if body:
        ctx.write(
            "PUT",
            f"/variant_inventory/{vi_id}",
            body,
            field=field_prefix + _fields(body)[0],
            purpose=f"sync {row.get('item_number')}",
        )
        row.update(body)
        out.did("sync")
    set_row_price(
        ctx,
        vi_id,
        values["price"],
        values["cost"],
        out,
        prefix=prefix,
        field_prefix=field_prefix,
        operation="sync",
    )


def set_row_price(
    ctx: Context,
    vi_id: int,
    price: float | None,
    cost: float | None,
    out: Outcome,
    *,
    prefix: str,
    field_prefix: str,
    operation: str,
) -> None:
    """Make a variant row's price and cost what the record says (no call when they already are).

    The row's price comes from where the store keeps it (``prices.py``): its plain
    ``product_pricing`` row when it has one (``PUT``); else the product price plus the
    ``price_adjustment`` of its option value, changed with one ``PUT /product_variants/{id}``
    when that value belongs to this row alone, no other row of the product has a price row, no
    cost is to be written and the new price is not below the product's; else a new plain price
    row (one ``POST``).
    """
    row = ctx.index.vi[vi_id]
    pid = row.get("product_id")
    product = ctx.index.products.get(pid, {})
    base = ctx.index.base_price_row(vi_id)
    current_price, current_cost = current_row_price(ctx.index, vi_id, base)
    body: dict[str, Any] = {}
    if price is not None and not money_equal(current_price, price):
        body["price"] = price
        out.change(f"{prefix}price", current_price, price)
    if cost is not None and not money_equal(current_cost, cost):
        body["cost"] = cost
        out.change(f"{prefix}cost", current_cost, cost)
    if not body:
        return
    field = field_prefix + next(iter(body))
    label = row.get("item_number")
    if base is not None:
        ctx.write(
            "PUT", f"/product_pricing/{base['id']}", body, field=field, purpose=f"price of {label}"
        )
        base.update(body)
        out.did(operation)
        return
    value = own_option_value(ctx.index, vi_id)
    if value is not None and "cost" not in body and not uses_price_rows(ctx.index, pid):
        adjustment = adjustment_for(product.get("price"), body["price"])
        if adjustment is not None:
            _set_adjustment(ctx, value, adjustment, field=field, label=label)
            out.did(operation)
            return
    new = {
        "product_id": pid,
        "variant_inventory_id": vi_id,
        "price": body.get("price", current_price),
        "starting_quantity": 1,
    }
    if "cost" in body:
        new["cost"] = body["cost"]
    created = ctx.create(
        "/product_pricing",
        new,
        {"variant_inventory_id": str(vi_id)},
        field=field,
        purpose=f"price of {label}",
    )
    ctx.index.add_pricing({**new, **{"id": created["id"]}})
    if value is not None and not money_equal(value.get("price_adjustment") or 0, 0):
        # The price row now holds the whole price: a surcharge left on this row's own value
        # would leave the storefront's precedence (undocumented, docs/api.md §12 q6) to decide.
        _set_adjustment(ctx, value, 0.0, field=field, label=label)
    out.did(operation)


def _set_adjustment(
    ctx: Context, value: dict[str, Any], adjustment: float, *, field: str, label: Any
) -> None:
    body: dict[str, Any] = {"price_adjustment": adjustment}
    if (value.get("price_adjustment_type") or "").strip().casefold() != ADJUSTMENT_TYPE:
        body["price_adjustment_type"] = ADJUSTMENT_TYPE
    ctx.write(
        "PUT", f"/product_variants/{value['id']}", body, field=field, purpose=f"price of {label}"
    )
    value.update(body)

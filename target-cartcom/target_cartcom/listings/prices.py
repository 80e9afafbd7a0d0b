"""Where a variant row's price lives, and what it is.

Cart.com keeps a per-variant price in one of two documented places (docs/api.md §3): a plain
``product_pricing`` row of the variant row, or a surcharge on the product price
(``product_variants.price_adjustment``, typed by ``price_adjustment_type``). Which one the
storefront uses when both exist is undocumented (§12 q6); we read a row's price as

1. its plain price row's price, when it has one;
2. else the product price with the adjustments of the option values it is made of
   (``"+ dollars"`` or ``""`` add, ``"+ percent"`` adds a percentage, ``"total"`` replaces: INF);
3. else the product price.

A row's cost is its price row's cost, else the product's (option values carry no cost).
"""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.record import money_equal
from target_cartcom.listings.store_index import StoreIndex

#: The adjustment type we write: a surcharge in the store's currency.
ADJUSTMENT_TYPE = "+ dollars"


def _amount(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def option_values(index: StoreIndex, vi_id: int) -> list[dict[str, Any]] | None:
    """The option values (product_variants rows) a variant row is made of; None when unknown."""
    ids = index.vi_values.get(vi_id)
    pid = index.vi.get(vi_id, {}).get("product_id")
    known = {o.get("id"): o for o in index.options.get(pid, [])}
    if ids is None or any(i not in known for i in ids):
        return None
    return [known[i] for i in ids]


def uses_adjustments(index: StoreIndex, product_id: int) -> bool:
    """Whether any option value of the product carries a non-zero price adjustment."""
    return any(_amount(o.get("price_adjustment")) for o in index.options.get(product_id, []))


def adjusted(product_price: Any, values: list[dict[str, Any]]) -> float:
    """The product price with the option values' adjustments applied."""
    base = _amount(product_price)
    price = base
    for value in values:
        amount = _amount(value.get("price_adjustment"))
        kind = (value.get("price_adjustment_type") or "").strip().casefold()
        if not amount:
            continue
        if kind == "+ percent":
            price += base * amount / 100
        elif kind == "total":
            price = amount
        else:
            price += amount
    return round(price, 2)


def current_row_price(
    index: StoreIndex, vi_id: int, base: dict[str, Any] | None
) -> tuple[Any, Any]:
    """(price, cost) a variant row sells at, read the way the module docstring says.

    ``base`` is the row's plain price row (``index.base_price_row``), which the caller has.
    """
    if base is not None:
        return base.get("price"), base.get("cost")
    row = index.vi.get(vi_id, {})
    product = index.products.get(row.get("product_id"), {})
    values = option_values(index, vi_id)
    if values is None:
        return product.get("price"), product.get("cost")
    return adjusted(product.get("price"), values), product.get("cost")


def own_option_value(index: StoreIndex, vi_id: int) -> dict[str, Any] | None:
    """The option value whose adjustment prices this row alone, if there is one.

    That is the case when the product has one option dimension (every value in one variant
    group, so each value makes exactly one row) and no other known row uses the value.
    """
    values = option_values(index, vi_id)
    if values is None or len(values) != 1:
        return None
    pid = index.vi[vi_id].get("product_id")
    groups = {o.get("variant_group_id") for o in index.options.get(pid, [])}
    if len(groups) != 1:
        return None
    value_id = values[0].get("id")
    for other in index.vi_by_product.get(pid, []):
        if other != vi_id and value_id in index.vi_values.get(other, []):
            return None
    return values[0]


def adjustment_for(product_price: Any, price: float) -> float | None:
    """The surcharge that sells at ``price`` on top of ``product_price``; None if it is negative.

    ``"+ dollars"`` reads as a surcharge: a price below the product's gets a price row instead.
    """
    diff = round(price - _amount(product_price), 2)
    if diff < 0 and not money_equal(diff, 0):
        return None
    return max(diff, 0.0)


def uses_price_rows(index: StoreIndex, product_id: int) -> bool:
    """Whether any variant row of the product has a plain price row (the product prices by rows)."""
    return any(index.base_price_row(v) is not None for v in index.vi_by_product.get(product_id, []))


def row_needs_values(index: StoreIndex, vi_id: int, wanted_price: Any, product_price: Any) -> bool:
    """Whether pricing this row needs to know its option values (and they are not known)."""
    if vi_id in index.vi_values or index.base_price_row(vi_id) is not None:
        return False
    pid = index.vi.get(vi_id, {}).get("product_id")
    if not index.options.get(pid):
        return False
    if uses_adjustments(index, pid):
        return True  # its current price depends on its values
    one_dimension = len({o.get("variant_group_id") for o in index.options[pid]}) == 1
    # A new price could become its value's adjustment (one dimension only).
    return (
        one_dimension
        and wanted_price is not None
        and not money_equal(wanted_price, product_price)
        and not uses_price_rows(index, pid)
    )

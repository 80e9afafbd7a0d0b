"""A listing record, validated: every error names the field it concerns.

A listing is a parent product with optional ``variants``; without variants it is a simple
product. UPC and GTIN both go to Cart.com's only barcode field, ``gtin`` (docs/api.md §9.18).
Values given as text, as a CSV tap gives every cell, are read by ``cells.py`` (an empty cell is
not given); ``option_columns.py`` makes a variant's options of CSV columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from target_cartcom._client.gtin import gtin_key
from target_cartcom._client.gtin import is_valid_gtin as check_digit_ok
from target_cartcom._client.query import is_plain_value
from target_cartcom.listings.cells import flag, is_given, number_text, text_list, whole_text
from target_cartcom.listings.option_columns import OptionColumns, refuse_option_cells, with_columns
from target_cartcom.outcomes import WHOLE_NUMBER_LIMIT, RecordError, lookup_value, whole_number
from target_cartcom.sku import sku_key, sku_lookalike

__all__ = ["RecordError", "check_digit_ok", "gtin_key"]


#: Integers below this convert to float exactly as through ``Decimal`` (both round correctly).
_EXACT = 2**63


def _lookup_sku(field_name: str, sku: str) -> None:
    """A SKU, and its look-alike, must be exact in a filter (else the record fails here)."""
    lookup_value(field_name, sku)
    alike = sku_lookalike(sku)
    if alike is not None:
        lookup_value(field_name, alike)


def money_equal(a: Any, b: Any) -> bool:
    """Whether two amounts are equal to the cent (None equals None only)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return round(float(a), 2) == round(float(b), 2)
    except (TypeError, ValueError):
        return False


@dataclass
class Variant:
    """One variant of a listing (a variant_inventory row in Cart.com)."""

    index: int
    sku: str
    options: dict[str, str]
    gtin: str | None = None
    mpn: str | None = None
    price: float | None = None
    msrp: float | None = None
    cost: float | None = None
    quantity: int | None = None
    weight: float | None = None
    image: str | None = None

    #: The field prefix of this variant in error messages (``variants[2]``), made once.
    where: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        """Name the variant's place in the record (the parser passes the name it made)."""
        if not self.where:
            self.where = f"variants[{self.index}]"


@dataclass
class Listing:
    """A validated listing."""

    sku: str
    raw: dict[str, Any]
    title: str | None = None
    description: str | None = None
    brand: str | None = None
    categories: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    mpn: str | None = None
    gtin: str | None = None
    weight: float | None = None
    length: float | None = None
    width: float | None = None
    height: float | None = None
    price: float | None = None
    msrp: float | None = None
    cost: float | None = None
    quantity: int | None = None
    hidden: bool | None = None
    variants: list[Variant] = field(default_factory=list)
    #: Record keys given: not null, not blank (overwrite replaces only these).
    present: frozenset[str] = frozenset()
    #: What the result line says of how a value was read (a JSON amount rounded to the cent).
    notes: list[str] = field(default_factory=list)

    @property
    def option_names(self) -> list[str]:
        """The option names (variant groups), in the order of the first variant."""
        return list(self.variants[0].options) if self.variants else []


def _text(record: dict[str, Any], key: str, where: str | None = None) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if type(value) is str:  # the usual case, first
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(where or key, f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _number(record: dict[str, Any], key: str, where: str, *, money: bool = False) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    kind = type(value)
    if kind is Decimal or kind is float or (kind is int and -_EXACT < value < _EXACT):
        result = float(value)  # what the Decimal route gives (JSON numbers), with less work
    elif kind is str:
        if not is_given(value):
            return None  # an empty cell
        result = float(number_text(value, where, money=money))
    else:
        result = _decimal_number(value, where)
    if not math.isfinite(result):
        raise RecordError(where, f"expected a finite number, got {value!r}")
    if result < 0:
        raise RecordError(where, f"must not be negative, got {value!r}")
    return result


def _decimal_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise RecordError(where, f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise RecordError(where, f"expected a number, got {value!r}") from None
    return float(number)


def _cents(amount: float, where: str, notes: list[str]) -> float:
    """A JSON amount to the cent; a rounding is noted for the result line (text never rounds)."""
    rounded = round(amount, 2)
    if rounded != amount:
        notes.append(f"{where} {amount!r} rounded to the cent: {rounded:.2f}")
    return rounded


def _money(record: dict[str, Any], key: str, where: str, notes: list[str]) -> float | None:
    value = _number(record, key, where, money=True)
    return None if value is None else _cents(value, where, notes)


def _quantity(record: dict[str, Any], key: str, where: str) -> int | None:
    value = record.get(key)
    if type(value) is str:
        if not is_given(value):
            return None  # an empty cell
        value = whole_text(value, where)
    elif value is None:
        return None
    return whole_number(value, where)


def _gtin(record: dict[str, Any], where: str) -> str | None:
    """The barcode from ``gtin`` (preferred) or ``upc``, check digits verified."""
    found: dict[str, str] = {}
    for key in ("gtin", "upc"):
        if record.get(key) is None:
            continue  # absent: no field name to build
        value = _text(record, key, f"{where}{key}")
        if value is None:
            continue
        code = value.replace(" ", "").replace("-", "")
        if not check_digit_ok(code):
            raise RecordError(
                f"{where}{key}",
                f"{value!r} is not a valid GTIN-8/12/13/14 (wrong length or check digit)",
            )
        found[key] = code
    if "gtin" in found and "upc" in found and gtin_key(found["gtin"]) != gtin_key(found["upc"]):
        raise RecordError(f"{where}upc", "upc and gtin name different codes; Cart.com keeps one")
    return found.get("gtin") or found.get("upc")


def _string_list(
    record: dict[str, Any], key: str, check: Callable[[str], Any] | None = None, hint: str = ""
) -> list[str]:
    """A list field: a list of texts, or one text of ``|``-separated items; blanks dropped."""
    out = []
    for i, text in text_list(record.get(key), key):
        if check is not None and not check(text):
            raise RecordError(f"{key}[{i}]", hint)
        out.append(text)
    return out


def field_meaning(name: str, value: Any) -> Any:
    """What a listing field's value means, so two spellings of it compare equal.

    ``"TRUE"`` and ``"yes"`` (hidden), ``"0.40"`` and ``0.4`` (weight), ``"A|B"`` and
    ``["A", "B"]`` (categories), ``" Tee "`` and ``"Tee"``; a bad value fails naming ``name``.
    """
    if name == "hidden":
        return flag(value, name)
    if name in ("categories", "images"):
        return [text for _, text in text_list(value, name)]
    if name in ("weight", "length", "width", "height"):
        return _number({name: value}, name, name)
    if type(value) is str:
        return value.strip()
    return value


def category_path(path: str) -> tuple[str, ...]:
    """``"Apparel > Shirts"`` as ``("Apparel", "Shirts")``."""
    return tuple(part.strip() for part in path.split(">") if part.strip())


def _usual_amount(value: Any) -> float | None:
    """A JSON number that is finite and not negative, as ``_number`` reads it; else None."""
    kind = type(value)
    if kind is float or (kind is Decimal and value.is_finite()):
        number = float(value)  # a finite Decimal converts without raising
        if 0 <= number < math.inf:  # NaN compares false
            return number
    return None


def _variant(raw: Any, index: int, notes: list[str], columns: OptionColumns) -> Variant:
    where = f"variants[{index}]"
    if not isinstance(raw, dict):
        raise RecordError(where, "expected an object")
    get = raw.get
    sku = get("sku")
    if type(sku) is not str or not is_plain_value(sku):
        # Not the usual SKU (a plain one has no space to strip and no look-alike): check it all.
        sku = _text(raw, "sku", f"{where}.sku")
        if not sku:
            raise RecordError(f"{where}.sku", "is required")
        _lookup_sku(f"{where}.sku", sku)
    options_raw = (with_columns(raw, columns, f"{where}.") if columns else get("options")) or {}
    if not isinstance(options_raw, dict):
        raise RecordError(f"{where}.options", 'expected an object such as {"Size": "M"}')
    options: dict[str, str] = {}
    for name, value in options_raw.items():
        label = str(name).strip()
        text = "" if value is None else str(value).strip()
        if not label or not text:
            raise RecordError(f"{where}.options", f"option {name!r} needs a name and a value")
        options[label] = text
    # Fields that are absent (None) cost no call, and the usual values (a valid barcode, a
    # plain amount or count) no field name: a sync sends a few of the eleven. The fast checks
    # never raise, and the keyword order is the check order: the first bad field is named.
    code = get("gtin")
    usual_code = type(code) is str and get("upc") is None and check_digit_ok(code)
    price = _usual_amount(get("price"))
    quantity = get("quantity")
    usual_quantity = type(quantity) is int and 0 <= quantity < WHOLE_NUMBER_LIMIT
    return Variant(
        index=index,
        sku=sku,
        options=options,
        gtin=(
            code
            if usual_code
            else None
            if code is None and get("upc") is None
            else _gtin(raw, f"{where}.")
        ),
        mpn=None if get("mpn") is None else _text(raw, "mpn", f"{where}.mpn"),
        price=(
            _cents(price, f"{where}.price", notes)
            if price is not None
            else None
            if get("price") is None
            else _money(raw, "price", f"{where}.price", notes)
        ),
        msrp=None if get("msrp") is None else _money(raw, "msrp", f"{where}.msrp", notes),
        cost=None if get("cost") is None else _money(raw, "cost", f"{where}.cost", notes),
        quantity=(
            quantity
            if usual_quantity
            else None
            if quantity is None
            else _quantity(raw, "quantity", f"{where}.quantity")
        ),
        weight=None if get("weight") is None else _number(raw, "weight", f"{where}.weight"),
        image=None if get("image") is None else _text(raw, "image", f"{where}.image"),
        where=where,
    )


def _check_options(variants: list[Variant]) -> None:
    if not variants:
        return
    names = [v.options for v in variants]
    first = {k.casefold() for k in names[0]}
    if len(variants) > 1 and not first:
        raise RecordError("variants[0].options", "variants need options that tell them apart")
    for v in variants[1:]:
        keys = {k.casefold() for k in v.options}
        if keys != first:
            raise RecordError(
                f"{v.where}.options",
                f"option names {sorted(v.options)} disagree with variants[0]'s "
                f"{sorted(variants[0].options)}",
            )
    seen: dict[tuple, int] = {}
    for v in variants:
        combo = tuple(sorted((k.casefold(), val.casefold()) for k, val in v.options.items()))
        if combo in seen:
            raise RecordError(
                f"{v.where}.options",
                f"same options as variants[{seen[combo]}]; each variant needs its own combination",
            )
        seen[combo] = v.index


def parse_listing(record: dict[str, Any], columns: OptionColumns = ()) -> Listing:
    """Validate one listing record; raise ``RecordError`` naming the first bad field.

    ``columns`` are the ``option_columns`` (column, option name): a nested variant's become
    its options; the listing's own fail it (a product without a parent has no options).
    """
    if not isinstance(record, dict):
        raise RecordError("record", "expected an object")
    sku = record.get("sku")
    if type(sku) is not str or not is_plain_value(sku):
        sku = _text(record, "sku")
        if not sku:
            raise RecordError("sku", "is required")
        _lookup_sku("sku", sku)
    variants_raw = record.get("variants") or []
    if not isinstance(variants_raw, list):
        raise RecordError("variants", "expected a list")
    if columns:
        refuse_option_cells(record, columns)
    notes: list[str] = []
    variants = [_variant(raw, i, notes, columns) for i, raw in enumerate(variants_raw)]
    _check_options(variants)
    seen = {sku_key(sku): "sku"}
    for v in variants:
        key = sku_key(v.sku)
        if key in seen:
            raise RecordError(f"{v.where}.sku", f"{v.sku!r} repeats {seen[key]}")
        seen[key] = f"{v.where}.sku"
    categories = _string_list(
        record, "categories", category_path, "expected a path such as 'Apparel > Shirts'"
    )
    present = frozenset(k for k, v in record.items() if is_given(v))
    # What is not given (None, an empty cell) costs no call: a sync sends a few of these fields.
    return Listing(
        sku=sku,
        raw=record,
        title=_text(record, "title") if "title" in present else None,
        description=_text(record, "description") if "description" in present else None,
        brand=_text(record, "brand") if "brand" in present else None,
        categories=categories,
        images=_string_list(record, "images") if "images" in present else [],
        mpn=_text(record, "mpn") if "mpn" in present else None,
        gtin=_gtin(record, "") if "gtin" in present or "upc" in present else None,
        weight=_number(record, "weight", "weight") if "weight" in present else None,
        length=_number(record, "length", "length") if "length" in present else None,
        width=_number(record, "width", "width") if "width" in present else None,
        height=_number(record, "height", "height") if "height" in present else None,
        price=_money(record, "price", "price", notes) if "price" in present else None,
        msrp=_money(record, "msrp", "msrp", notes) if "msrp" in present else None,
        cost=_money(record, "cost", "cost", notes) if "cost" in present else None,
        quantity=_quantity(record, "quantity", "quantity") if "quantity" in present else None,
        hidden=flag(record.get("hidden"), "hidden") if "hidden" in present else None,
        variants=variants,
        present=present,
        notes=notes,
    )

"""Values as a CSV gives them: every cell is text, and an empty cell means "not given".

A CSV tap types every column as a string, so every listing field also takes the spellings a
spreadsheet writes (docs/listings.md, "CSV supplier feeds"):

- an empty or blank cell is not given, for every optional field (``""``, ``"  "``, ``[""]``);
- a number may have spaces around it (``" 7 "``), and thousands separators only in the form
  that cannot be a decimal comma (``"1,299.00"``): ``"12,50"`` and ``"1,299"`` are refused;
- an amount may start with ``$``, read as the store's currency (Cart.com has one currency per
  store and no currency field); another currency sign or code is refused, never read as it;
- an amount given as text has at most 2 decimals: ``"12.345"`` is refused, never rounded;
- a flag is true/false, yes/no, y/n or 1/0, in any case;
- a list (``categories``, ``images``) given as one text is split on ``|``.

Every refusal is a ``RecordError`` naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from target_cartcom.outcomes import RecordError, shorten

#: Singer metadata columns (a tap's file name, line number, modified time): no listing content.
METADATA_PREFIX = "_sdc_"
#: What separates the items of a list given as one cell: ``"Apparel > Shirts|Sale"``.
LIST_SEPARATOR = "|"
_TRUE = frozenset(("true", "yes", "y", "1"))
_FALSE = frozenset(("false", "no", "n", "0"))
#: The one form a thousands comma may take: groups of 3 digits, then a decimal point.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+\.\d+")
#: An ISO currency code before or after the amount (``EUR 19.99``, ``19.99 usd``).
_CURRENCY_CODE = re.compile(r"(?:^[A-Za-z]{3}\s*[\d.,]|[\d.,]\s*[A-Za-z]{3}$)")


def is_given(value: Any) -> bool:
    """Whether a field says something: not None, not blank text, not a list of blank texts.

    ``[]`` is given (an empty list, as JSON says it); ``[""]`` is an empty cell's list.
    """
    kind = type(value)
    if kind is str:
        return bool(value) and not value.isspace()
    if value is None:
        return False
    if kind is list and value:
        return any(type(item) is not str or (item and not item.isspace()) for item in value)
    return True


def is_empty_row(record: Any) -> bool:
    """A CSV row with every cell empty (a blank line, ``,,,``): Singer metadata aside, no field."""
    return isinstance(record, dict) and not any(
        is_given(value) for key, value in record.items() if not key.startswith(METADATA_PREFIX)
    )


def flag(value: Any, field: str) -> bool | None:
    """A true/false field: JSON booleans, 0/1, and the spellings spreadsheets write."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if not text:
            return None
    elif value in (0, 1):
        return value == 1
    msg = f"expected true or false (also yes/no, y/n, 1/0, any case), got {shorten(value)}"
    raise RecordError(field, msg)


def number_text(text: str, field: str, *, money: bool = False) -> Decimal:
    """A number given as text (not blank), as a ``Decimal``; refusals name ``field``."""
    body = text.strip()
    if money and body.startswith("$"):
        body = body[1:].lstrip()
    if money and (
        any(unicodedata.category(c) == "Sc" for c in body) or _CURRENCY_CODE.search(body)
    ):
        msg = (
            f"{shorten(text)} is in a currency other than $: Cart.com keeps one currency per "
            "store and no currency field, so it is not read as the store's; give the amount "
            "in the store's currency, without a sign or code"
        )
        raise RecordError(field, msg)
    if "," in body:
        if not _GROUPED.fullmatch(body):
            msg = (
                f"{shorten(text)}: a comma is read only as a thousands separator in a number "
                "with a decimal point, such as 1,299.00 (12,50 or 1,299 could be a decimal "
                "comma); write the number without it"
            )
            raise RecordError(field, msg)
        body = body.replace(",", "")
    try:
        number = Decimal(body)
    except InvalidOperation:
        raise RecordError(field, f"expected a number, got {shorten(text)}") from None
    if money:
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            msg = (
                f"{shorten(text)} has more than 2 decimals; an amount given as text is never "
                "rounded: give it in cents (at most 2 decimals)"
            )
            raise RecordError(field, msg)
    return number


def whole_text(text: str, field: str) -> str:
    """A whole number's text with its thousands commas taken out (``"1,200.0"``), else refused."""
    if "," not in text:
        return text
    return str(number_text(text, field))


def text_list(value: Any, field: str) -> list[tuple[int, str]]:
    """A list of texts, with the position each had: one text is split on ``|``; blanks dropped.

    ``"A|B"`` and ``["A", "B"]`` both give ``[(0, "A"), (1, "B")]``; ``""``, ``[""]`` and
    ``"A||B"``'s middle item are not given.
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(LIST_SEPARATOR)
    elif not isinstance(value, list):
        raise RecordError(field, f"expected a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RecordError(f"{field}[{i}]", f"expected a text, got {type(item).__name__}")
        text = item.strip()
        if text:
            out.append((i, text))
    return out

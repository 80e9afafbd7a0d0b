"""The one SKU rule: when two SKUs are the same item, for listings and order lines alike.

Listings link store items by SKU and shipments find an order's lines by SKU; both compare with
``sku_key``, so a SKU matches the same way in every index mode and in both streams.
"""

from __future__ import annotations

import string
import unicodedata

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def sku_key(sku: str | None) -> str:
    """The one SKU comparison, in every index mode: ASCII letters without case, nothing else.

    Cart.com's collation is not documented (docs/api.md has no word on it) and the sandbox's
    filters fold ASCII case only, so only ASCII case is folded: ``kbc-1`` is ``KBC-1``, but the
    Kelvin sign in ``\u212aBC-1`` or the ``ß`` in ``straße-1`` is a different character.
    """
    text = (sku or "").strip()
    # On ASCII text ``lower`` folds exactly A-Z, as the table does, and is quicker.
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def sku_lookalike(sku: str | None) -> str | None:
    """The SKU a non-ASCII SKU could be taken for under a Unicode-aware collation, or None.

    NFKC plus full case folding: ``\u212aBC-1`` gives ``kbc-1``, ``straße-1`` gives
    ``strasse-1``. A store item with that SKU is a look-alike: the match is ambiguous.
    """
    text = (sku or "").strip()
    if text.isascii():
        return None
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded if sku_key(folded) != sku_key(text) else None


def sku_spellings(sku: str) -> tuple[str, ...]:
    """A SKU and, when it is not ASCII, the SKU it could be taken for (``sku_lookalike``).

    Index lookups and the input's duplicate check both go by these, so both see the same
    look-alikes as the catalog read.
    """
    if sku.isascii():  # the usual SKU has no look-alike
        return (sku,)
    alike = sku_lookalike(sku)
    return (sku,) if alike is None else (sku, alike)

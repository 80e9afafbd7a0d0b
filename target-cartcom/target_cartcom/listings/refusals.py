"""What Cart.com refuses on a publish's writes, checked before the first write of a listing.

A refusal met half-way would leave a product without its variants or pictures, so everything
the store is known to refuse is checked first, and the failure names the field:

- ``POST /products`` needs ``item_name``, ``primary_category_id`` and ``product_status_id``
  (400): ``title`` and ``categories`` are required, the status comes from the settings.
  ``price`` is required too (our rule: a product never goes live at 0).
- ``POST /variant_inventory`` needs a non-empty ``variants`` (the option values the row is made
  of, 400 "Missing required field(s): variants"): every variant to create needs ``options``.
- ``POST /categories`` needs ``name``, ``POST /product_pictures`` needs ``image_file``:
  category paths and image URLs are non-empty texts (``record.py``).
- Types (409) come from validation: numbers are finite and not negative, quantities whole,
  texts are text; ids are the store's own.
- Text that is not valid Unicode (a lone surrogate) never reaches a listing: the reader fails
  its record, naming the field (``reader.py``).
- A request body may hold at most 4 MiB (413; INF: ASP.NET's default ``maxRequestLength``,
  Cart.com's own limit is not documented).
- The store does not refuse a second item with a SKU it has; publish does (``batch.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from target_cartcom.listings.record import Listing, RecordError, Variant

#: Largest request body Cart.com takes (INF, see above).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Room in one body for what is not listing text: keys, ids, numbers and flags.
_BODY_ROOM = 2048


def check_publishable(listing: Listing) -> None:
    """Everything a publish of ``listing`` would be refused for, before any write."""
    if not listing.title:
        raise RecordError("title", "is required to publish (Cart.com's item_name)")
    if not listing.categories:
        raise RecordError(
            "categories", "is required to publish (Cart.com needs a primary category)"
        )
    if listing.price is None and all(v.price is None for v in listing.variants):
        raise RecordError("price", "is required to publish (a product never goes live at 0)")
    _check_body(_product_body_texts(listing))
    for i, url in enumerate(listing.images):
        _check_body([(f"images[{i}]", url)])
    check_new_variants(listing.variants)


def check_new_variants(variants: Iterable[Variant]) -> None:
    """What the store refuses when publish creates these variants (option values, rows)."""
    for variant in variants:
        if not variant.options:
            msg = (
                "is required to publish a variant: Cart.com makes a variant row from its option "
                'values (e.g. {"Size": "M"}) and refuses one without'
            )
            raise RecordError(f"{variant.where}.options", msg)
        _check_body(list(_variant_texts(variant)))


def _product_body_texts(listing: Listing) -> list[tuple[str, str]]:
    """The listing's texts that go into the ``POST /products`` body."""
    texts = [("sku", listing.sku), ("title", listing.title), ("description", listing.description)]
    texts.append(("mpn", listing.mpn))
    return [(name, text) for name, text in texts if text]


def _variant_texts(variant: Variant) -> Iterator[tuple[str, str]]:
    yield f"{variant.where}.sku", variant.sku
    for name, value in variant.options.items():
        yield f"{variant.where}.options", name
        yield f"{variant.where}.options", value
    if variant.mpn:
        yield f"{variant.where}.mpn", variant.mpn
    if variant.image:
        yield f"{variant.where}.image", variant.image


def _check_body(texts: list[tuple[str, str]]) -> None:
    """One request body's texts, JSON-encoded as sent, must fit in ``MAX_BODY_BYTES``."""
    sizes = [(len(json.dumps(text)), name) for name, text in texts]
    if sum(size for size, _ in sizes) + _BODY_ROOM > MAX_BODY_BYTES:
        size, name = max(sizes)
        msg = (
            f"is {size:,} bytes as sent; with the rest of its request it passes the "
            f"{MAX_BODY_BYTES:,} bytes Cart.com takes in one request"
        )
        raise RecordError(name, msg)

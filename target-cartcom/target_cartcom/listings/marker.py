"""The mark of an unfinished publish, kept on the product in the store itself.

A publish takes several writes (the product, its option values, variant rows, price rows and
pictures). When it needs more than one, the product is created hidden with ``keywords`` set to
``UNFINISHED``, and the publish's last write shows it (``is_hidden`` as the listing says) and
clears the mark. A run stopped in between (a refusal, a kill, a fault that outlasted the
retries) leaves a hidden product carrying the mark; the next run of the feed completes it to
what a clean publish gives. A product without the mark is the merchant's, and only the usual
link, sync and publish rules apply to it.

Why in the store: the target keeps no state of its own under Meltano, and runs may happen on
other machines; the mark survives any of them and any kill. Why ``keywords``: a text field
(so the mark says whose it is, which a flag cannot), never shown to shoppers while the product
is hidden, readable by the merchant in the admin, and written by no listing field.
"""

from __future__ import annotations

from typing import Any

#: The product field that carries the mark.
MARKER_FIELD = "keywords"
#: Its value while a publish is unfinished (cleared to "" by the publish's last write).
UNFINISHED = "target-cartcom: unfinished publish, hidden until the next run completes it"


def is_unfinished(product: dict[str, Any]) -> bool:
    """Whether a store product is a publish of ours that has not finished."""
    value = product.get(MARKER_FIELD)
    return isinstance(value, str) and value.strip() == UNFINISHED

"""The store probe (``cartcom-sandbox probe``): learn a live store's API dialect, read-only.

The probe turns the INF points of docs/api.md (list keys, empty page status, largest ``count``,
timestamp formats, flag encoding, URL cap, call-limit header, answer time) into evidence from
the merchant's own store, and says where that store differs from the sandbox's defaults; its
report is what ``cartcom-sandbox serve --profile`` serves. It is read-only by construction: it
only ever sends GET, at most ``MAX_CALLS`` of them, paced at the Steel plan's rate unless told
otherwise, and it stops at the first 401, 429 or redirect. The report holds shapes, types,
counts and formats only: no record values (names, addresses, e-mails, SKUs, ids, amounts) are
ever copied into it, and the token never leaves the request header. Names are the store's
choice too (a field or a list key can be called anything, an e-mail address included): the
report names only fields and list keys the project knows (the sandbox's resources), and counts
the others.

A client of a real store, it talks through the shared Cart.com client, shipped inside this
package as ``_client`` (docs/architecture.md). This module imports nothing of it, so the
sandbox's command line can offer ``probe`` without loading the client when it serves.
"""

from __future__ import annotations

from cartcom_sandbox.config import PLANS

#: The report's format; ``serve --profile`` reads only this version.
REPORT_VERSION = 1
#: The most GETs one probe sends: a hard ceiling, enforced before every request.
MAX_CALLS = 30
#: The default pace: the smallest plan, Steel, 5 calls per 10 s (docs/api.md §1.9).
STEEL_CALLS = PLANS["steel"] or 5
STEEL_WINDOW = 10.0
#: The lists read: the ``read_orders`` and ``read_catalog`` scopes a tap token has (§1.11).
#: Nothing that needs settings/system: a scope refusal is a 401, which would end the probe.
RESOURCES = (
    "orders",
    "order_items",
    "order_shipments",
    "order_payments",
    "order_addresses",
    "order_statuses",
    "products",
    "product_variants",
    "product_pictures",
    "variant_inventory",
    "product_statuses",
    "categories",
    "manufacturers",
)

"""Cart.com's webhook vocabulary: the event types and failure types a subscription may name.

One home for the lists (DOC docs/webhooks.md of AmeriCommerce/rest-api; docs/api.md §7), so the
stores file's checks and the subscriptions written from it agree. The sandbox keeps its own copy
(it must not import the client); tests/test_wire_rule_copies.py checks that the copies agree.
"""

from __future__ import annotations

#: Every documented event type, in the docs' order.
EVENT_TYPES = (
    "AuthorizingPayment",
    "CapturingPayment",
    "CustomerCreated",
    "CustomerEmailUpdated",
    "CustomerUpdated",
    "CustomerRegistered",
    "GetDiscount",
    "GetPrice",
    "GetProductStatus",
    "GetTax",
    "NewOrder",
    "NewQuote",
    "NewValidOrder",
    "OrderApproved",
    "OrderCanceled",
    "OrderDeclined",
    "OrderPlaced",
    "OrderShipped",
    "OrderStatusChanged",
    "OrderUpdated",
    "PaymentProcessed",
    "ProductCreated",
    "ProductStatusChanged",
    "ProductUpdated",
    "QuoteStatusChanged",
    "QuoteUpdated",
    "ValidateCart",
    "ValidateCheckout",
    "ValidateCustomer",
    "ValidateProduct",
)
#: Reply-type events: Cart.com waits for an answer (a price, a tax, a verdict), not a notice.
REPLY_EVENTS = frozenset(
    e for e in EVENT_TYPES if e.startswith(("Get", "Validate", "Authorizing", "Capturing"))
)
#: The events that only notify: what a receiver of hints can subscribe to.
NOTIFICATION_EVENTS = tuple(e for e in EVENT_TYPES if e not in REPLY_EVENTS)
FAILURE_TYPES = ("Ignore", "Error", "Fallback")  # "Ignore" is the default

"""Webhooks: which writes are which Cart.com events, what each delivery carries, and who gets it.

DOC (docs/webhooks.md, docs/api.md §7): 30 event types; subscriptions are plain CRUD at
``/api/v1/webhooks`` (``event_type, url, failure_type, fallback_url, store_id, cache_length``);
notification payloads are the standard resource models (``{order}``, ``{order, old_status,
new_status}``, ``{product}``, ``{customer}``, ``{item: {...}}`` for ProductStatusChanged); nothing
is signed. Sending (threads, timeout, failure_type, faults, log) is delivery.py's job.

INF choices (each in docs/sandbox.md, "Webhooks"): an event fires only for writes made through
the API; OrderUpdated / ProductUpdated / CustomerUpdated fire on every write of the record (the
sandbox moves ``updated_at`` on each); a subscription without ``store_id`` hears every store, and
a record without one is heard by every subscription; a stock change of a variant is a
ProductUpdated of its product; events this sandbox never causes (payments, quotes, carts, reply
hooks) can be subscribed to but never fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cartcom_sandbox import jsonio
from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.errors import ApiError

if TYPE_CHECKING:
    from cartcom_sandbox.delivery import Deliverer
    from cartcom_sandbox.engine import Engine

Doc = dict[str, Any]

#: Every documented event type, in the docs' order (DOC docs/webhooks.md). Reference:
#: cartcom_client/webhooks.py; tests/test_wire_rule_copies.py checks that the copies agree.
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
FAILURE_TYPES = ("Ignore", "Error", "Fallback")  # DOC; "Ignore" is the default
CACHE_LENGTHS = ("Short", "Long", "NoCache")  # DOC: 5 min, 30 min, none


def _canonical(value: Any, choices: tuple[str, ...], name: str) -> str:
    """The documented spelling of an enum value sent in any case; 409 naming the field otherwise.

    INF: Json.NET reads enums case-insensitively and writes their names.
    """
    if isinstance(value, str):
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
    known = f"one of {', '.join(choices)}" if len(choices) < 5 else "a documented event type"
    raise ApiError(409, f"Invalid value for '{name}': {value!r} is not {known}.")


def _check_url(value: Any, name: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ApiError(409, f"Invalid value for '{name}': an absolute http(s) URL is required.")


def check_subscription(fields: Doc, current: Doc | None) -> Doc:
    """A webhooks write body made canonical (enums spelt as documented), 409 on a bad value.

    An event type outside the 30 documented ones is refused (INF: the docs' example spells
    "OrderPlace", which a store would not fire); ``failure_type`` defaults to "Ignore" (DOC).
    """
    out = dict(fields)
    if "event_type" in out:
        out["event_type"] = _canonical(out["event_type"], EVENT_TYPES, "event_type")
    for key, choices in (("failure_type", FAILURE_TYPES), ("cache_length", CACHE_LENGTHS)):
        if out.get(key) is not None:
            out[key] = _canonical(out[key], choices, key)
    if current is None and out.get("failure_type") is None:
        out["failure_type"] = "Ignore"
    if "url" in out:
        _check_url(out["url"], "url")
    if out.get("fallback_url") not in (None, ""):
        _check_url(out["fallback_url"], "fallback_url")
    return out


@dataclass(frozen=True)
class Change:
    """One committed write made through the API, as the engine reports it.

    ``action`` is "created", "updated" or "status" (``PUT /orders/{id}/status``).
    """

    action: str
    resource: str
    before: Doc | None
    after: Doc


@dataclass(frozen=True)
class Event:
    """One event to deliver: its type, payload, the record's id and store."""

    event_type: str
    payload: bytes
    resource_id: int | None
    store_id: int | None


class Webhooks:
    """Turns the engine's changes into deliveries for the matching subscriptions."""

    def __init__(self, engine: Engine, deliverer: Deliverer) -> None:
        """Listen to ``engine`` (set as its ``on_change``) and hand events to ``deliverer``."""
        self.engine = engine
        self.store = engine.store
        self.config = engine.config
        self.deliverer = deliverer
        engine.on_change = self.changed

    # -------------------------------------------------------------- dispatch
    def changed(self, change: Change) -> None:
        """Deliver every event ``change`` causes to its subscribers.

        Called in the engine's write lock after the commit: deliveries queue in write order.
        """
        if change.resource not in _HANDLERS or self.store.count("webhooks") == 0:
            return
        for event_type, build in _HANDLERS[change.resource](self, change):
            subs = self.store.query("webhooks", {"event_type": event_type})
            if not subs:
                continue
            payload, resource_id, store_id = build()
            event = Event(event_type, jsonio.dumps(payload), resource_id, store_id)
            for sub in subs:
                if _hears(sub, store_id):
                    self.deliverer.submit(sub, event)

    def model(self, resource: str, doc: Doc | None) -> Doc | None:
        """A record as ``GET /{resource}/{id}`` shows it (no expansion)."""
        if doc is None:
            return None
        return self.engine.render(R.get(resource), [dict(doc)], set())[0]

    def _get(self, resource: str, id_: Any) -> Doc | None:
        if not isinstance(id_, int) or isinstance(id_, bool):
            return None
        return self.model(resource, self.store.get(resource, id_))

    # ---------------------------------------------------------------- orders
    def order_events(self, change: Change) -> list[tuple[str, Callable[[], tuple]]]:
        """NewOrder/NewValidOrder/OrderPlaced on create; the status events; OrderUpdated."""
        order = change.after
        sid = order.get("store_id")

        def plain() -> tuple:
            return {"order": self.model("orders", order)}, order["id"], sid

        status = self._get("order_statuses", order.get("order_status_id")) or {}
        events: list[tuple[str, Callable[[], tuple]]] = []
        if change.action == "created":
            events.append(("NewOrder", plain))
            if not (status.get("is_cancelled") or status.get("is_declined")):
                events.append(("NewValidOrder", plain))
            if self.config.webhook_order_placed_on_create:
                events.append(("OrderPlaced", plain))
            return events
        before = change.before or {}
        moved = before.get("order_status_id") != order.get("order_status_id")
        if moved and (change.action == "status" or self.config.webhook_status_events_on_put):
            old = self._get("order_statuses", before.get("order_status_id"))

            def with_statuses() -> tuple:
                body = {"order": self.model("orders", order), "old_status": old}
                body["new_status"] = status or None
                return body, order["id"], sid

            events.append(("OrderStatusChanged", with_statuses))
            for flag, name in (
                ("is_shipped", "OrderShipped"),
                ("is_cancelled", "OrderCanceled"),
                ("is_declined", "OrderDeclined"),
            ):
                if status.get(flag):
                    events.append((name, plain))
        events.append(("OrderUpdated", plain))
        return events

    # -------------------------------------------------------------- products
    def product_events(self, change: Change) -> list[tuple[str, Callable[[], tuple]]]:
        """ProductCreated; ProductUpdated; ProductStatusChanged when product_status_id moves."""
        product = change.after

        def plain() -> tuple:
            return {"product": self.model("products", product)}, product["id"], None

        if change.action == "created":
            return [("ProductCreated", plain)]
        events = [("ProductUpdated", plain)]
        if (change.before or {}).get("product_status_id") != product.get("product_status_id"):
            events.append(("ProductStatusChanged", lambda: self._item(product, None)))
        return events

    def variant_events(self, change: Change) -> list[tuple[str, Callable[[], tuple]]]:
        """A variant's status change: ProductStatusChanged of its product, with the variant.

        A variant's stock change is a ProductUpdated of its product (INF).
        """
        variant, before = change.after, change.before or {}
        product = self.store.get("products", variant.get("product_id"))
        if change.action == "created" or product is None:
            return []

        def parent() -> tuple:
            return {"product": self.model("products", product)}, product["id"], None

        events: list[tuple[str, Callable[[], tuple]]] = []
        if before.get("inventory") != variant.get("inventory"):
            events.append(("ProductUpdated", parent))
        if before.get("product_status_id") != variant.get("product_status_id"):
            events.append(("ProductStatusChanged", lambda: self._item(product, variant)))
        return events

    def _item(self, product: Doc, variant: Doc | None) -> tuple:
        """ProductStatusChanged's ``item`` (DOC field list)."""
        source = variant or product
        status_id = source.get("product_status_id")
        item = {
            "product_id": product["id"],
            "variant_inventory_id": variant["id"] if variant else None,
            "product_status_id": status_id,
            "product": self.model("products", product),
            "variant_inventory": self.model("variant_inventory", variant),
            "product_status": self._get("product_statuses", status_id),
            "inventory": variant.get("inventory") if variant else product.get("quantity_on_hand"),
            "item_number": source.get("item_number"),
            "manufacturer_item_number": (
                variant.get("manufacturer_item_number")
                if variant
                else product.get("manufacturer_part_number")
            ),
        }
        return {"item": item}, product["id"], None

    # ------------------------------------------------------------- customers
    def customer_events(self, change: Change) -> list[tuple[str, Callable[[], tuple]]]:
        """CustomerCreated; CustomerUpdated; CustomerEmailUpdated when ``email`` moves."""
        customer = change.after
        sid = customer.get("store_id")

        def plain() -> tuple:
            return {"customer": self.model("customers", customer)}, customer["id"], sid

        if change.action == "created":
            return [("CustomerCreated", plain)]
        events = [("CustomerUpdated", plain)]
        old_email = (change.before or {}).get("email")
        if old_email != customer.get("email"):

            def email() -> tuple:
                body = {"old_email": old_email, "new_email": customer.get("email")}
                body["customer"] = self.model("customers", customer)
                return body, customer["id"], sid

            events.append(("CustomerEmailUpdated", email))
        return events


_HANDLERS: dict[str, Callable[[Webhooks, Change], list[tuple[str, Callable[[], tuple]]]]] = {
    "orders": Webhooks.order_events,
    "products": Webhooks.product_events,
    "variant_inventory": Webhooks.variant_events,
    "customers": Webhooks.customer_events,
}


def _hears(sub: Doc, store_id: Any) -> bool:
    """Whether ``sub`` hears an event of ``store_id``.

    DOC: only events on its store. INF: no store on either side matches every store.
    """
    wanted = sub.get("store_id")
    return wanted is None or store_id is None or wanted == store_id

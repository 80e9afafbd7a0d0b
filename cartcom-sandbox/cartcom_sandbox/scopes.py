"""Token scopes (docs/api.md §1.11, docs/scopes.md): which scope a route needs, token specs.

A ``read_*`` scope allows GET only; the plain name (``catalog``) allows every method. Scopes
without a ``read_*`` twin (``settings``, ``system``, ...) allow every method too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Scopes with a read-only twin (``read_<name>``).
FAMILIES = ("catalog", "orders", "people", "content", "marketing")
# Scopes that exist on their own.
SINGLE = ("settings", "system", "import", "custom_fields", "email", "decrypt", "no_expiry")
ALL_SCOPES: frozenset[str] = frozenset([*FAMILIES, *(f"read_{f}" for f in FAMILIES), *SINGLE])

# Resource (first path segment) -> scope. DOC: docs/scopes.md and §1.11; entries marked INF
# are not listed by the docs and are our reading.
_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "catalog": (
        "attributes",
        "attribute_groups",
        "categories",
        "manufacturers",
        "products",
        "product_lists",
        "product_pictures",
        "product_statuses",
        "product_variants",
        "shipping_rate_adjustments",
        "variant_groups",
        "variant_inventory",
        "product_pricing",
        "product_inactive_in_store",  # §1.11 (per-resource docs)
        "inventory",  # INF (§1.11 footnote)
        "product_reviews",
        "price_calculators",
        "price_calculator_rules",
        "price_calculator_rule_modifiers",  # INF
    ),
    "orders": (
        "carts",
        "cart_items",
        "credit_cards",
        "orders",
        "order_addresses",
        "order_items",
        "order_payments",
        "order_shipments",
        "order_statuses",
        "quotes",
        "subscriptions",
    ),
    "people": (
        "addresses",
        "customers",
        "customer_types",
        "customer_payment_methods",
        "profiles",
        "users",
        "wishlists",  # INF
    ),
    "content": ("blogs", "blog_categories", "blog_posts", "links", "pages"),
    "marketing": (
        "adcodes",
        "affiliates",
        "coupon_codes",
        "discount_methods",
        "discount_rules",
        "drips",
        "email_templates",
        "gift_certificates",
        "gift_certificate_transactions",
        "mailing_lists",
        "discount_actions",  # INF
    ),
    "custom_fields": ("custom_fields", "custom_field_values"),  # custom_field_values: INF
    "settings": (
        "custom_shipping_methods",
        "payment_methods",
        "regions",
        "shipping_providers",
        "shipping_provider_services",
        "tax_rates",
        "url_redirects",
        "warehouses",
        "external_image_whitelist",
        "blacklisted_ips",
        "payment_method_fields",
        "store_locations",  # INF
    ),
    # webhooks: DOC docs/webhooks.md (with the event's own scope, see webhooks.EVENT_SCOPE)
    "system": ("stores", "sessions", "upload", "microstores", "webhooks"),  # microstores: INF
    "import": ("import",),
}
RESOURCE_SCOPE: dict[str, str] = {r: s for s, names in _BY_SCOPE.items() for r in names}

#: The scope a subscription to an event needs besides ``system``. DOC for OrderPlaced only
#: (the docs' example needs "View and change order data"); the rest by the event's resource, INF.
EVENT_SCOPE: dict[str, str] = {
    **dict.fromkeys(
        (
            "AuthorizingPayment",
            "CapturingPayment",
            "GetDiscount",
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
            "QuoteStatusChanged",
            "QuoteUpdated",
            "ValidateCart",
            "ValidateCheckout",
        ),
        "orders",
    ),
    **dict.fromkeys(
        (
            "GetPrice",
            "GetProductStatus",
            "ProductCreated",
            "ProductStatusChanged",
            "ProductUpdated",
            "ValidateProduct",
        ),
        "catalog",
    ),
    **dict.fromkeys(
        (
            "CustomerCreated",
            "CustomerEmailUpdated",
            "CustomerRegistered",
            "CustomerUpdated",
            "ValidateCustomer",
        ),
        "people",
    ),
}

_EVENT_SCOPE_ANY_CASE = {name.lower(): scope for name, scope in EVENT_SCOPE.items()}


def missing_event_scope(granted: frozenset[str] | None, event_type: Any) -> str | None:
    """None when ``granted`` may subscribe to ``event_type`` (besides ``system``), else the need.

    The event's family needs its read/write scope: "View and change order data" for OrderPlaced
    in the docs' example. An unknown event type is not checked here (the write answers 409).
    """
    scope = _EVENT_SCOPE_ANY_CASE.get(event_type.lower()) if isinstance(event_type, str) else None
    if granted is None or scope is None or scope in granted:
        return None
    return f"'{scope}'" + (f" ('read_{scope}' is read-only)" if f"read_{scope}" in granted else "")


def required_scope(resource: str) -> str | None:
    """The (read/write) scope a route under ``/{resource}`` belongs to (None: not a route)."""
    return RESOURCE_SCOPE.get(resource)


def missing_scope(granted: frozenset[str] | None, resource: str, method: str) -> str | None:
    """None when ``granted`` allows ``method`` on ``resource``, else a description of the need.

    ``granted`` None means every scope (a default token). Unknown routes are not checked:
    they answer 404.
    """
    if granted is None:
        return None
    scope = required_scope(resource)
    if scope is None or scope in granted:
        return None
    if scope in FAMILIES:
        if method in ("GET", "HEAD"):
            if f"read_{scope}" in granted:
                return None
            return f"'read_{scope}' or '{scope}'"
        if f"read_{scope}" in granted:
            return f"'{scope}' ('read_{scope}' is read-only)"
    return f"'{scope}'"


def parse_scopes(text: str) -> frozenset[str]:
    """``"read_catalog,orders"`` -> a set of known scopes (ValueError on unknown ones)."""
    names = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(names - ALL_SCOPES)
    if unknown:
        raise ValueError(
            f"unknown token scope(s) {', '.join(unknown)}; known: {', '.join(sorted(ALL_SCOPES))}"
        )
    return names


def parse_tokens(
    tokens: Iterable[str] | Mapping[str, Iterable[str] | None],
) -> dict[str, frozenset[str] | None]:
    """Token specs -> ``{token: scopes or None (all)}``.

    A mapping gives scopes per token (None: all). A string ``"T"`` has every scope;
    ``"T:read_catalog,read_orders"`` only those (split at the last ``:``).
    """
    out: dict[str, frozenset[str] | None] = {}
    if isinstance(tokens, Mapping):
        for tok, scopes in tokens.items():
            if scopes is None:
                out[tok] = None
            else:
                out[tok] = parse_scopes(",".join(scopes) if not isinstance(scopes, str) else scopes)
        return out
    for spec in tokens:
        tok, sep, scopes = spec.rpartition(":")
        if not sep:
            out[spec] = None
        elif not tok:
            raise ValueError("a token spec needs the token before ':'")
        else:
            out[tok] = parse_scopes(scopes)
    return out

"""The resource catalogue: fields (from the vendored spec), types, defaults, keys, nesting."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).parent / "spec" / "acapi.yaml"

# Component schemas that are not root collections.
_NOT_RESOURCES = {"inventory", "product_nested_variant", "theme_import"}

# Product flags the real API returns as integer 0/1 (§2, §9 item 13).
INT_FLAGS: dict[str, set[str]] = {
    "products": {
        "is_hidden",
        "is_spotlight_item",
        "is_non_taxable",
        "is_shipped_individually",
        "call_for_shipping",
        "call_for_pricing",
        "e_product_allow_multiple_deliveries",
    },
    "orders": {"exported_to_accounting_system"},
}

# Spec types corrected by field evidence (§9 items 11, 12, 15, 14): money is a decimal number,
# postal codes are strings, product dimensions stay strings.
TYPE_FIXES: dict[str, dict[str, str]] = {
    "orders": dict.fromkeys(
        (
            "subtotal",
            "shipping_total",
            "discount_total",
            "cost_total",
            "handling_total",
            "additional_fees",
            "discounted_shipping_total",
        ),
        "number",
    ),
    "order_items": {"price": "number", "cost": "number", "weight": "number"},
    "product_variants": {"price_adjustment": "number"},
    "order_addresses": {"postal_code": "string"},
    "products": {"cart_product_id": "string"},
}

# POST-required fields. The spec's lists are used except where the notes correct them (§2.1, §10).
REQUIRED_OVERRIDES: dict[str, tuple[str, ...]] = {
    "products": ("item_name", "product_status_id", "primary_category_id"),
    "order_shipments": ("order_id",),
    "profiles": (),
    "shipping_rate_adjustments": (),
}

# List keys read by public clients written against live stores (docs/api.md §1.2, the table
# there cites each client's repository and path): a child resource answers under its nested
# name. Every other resource answers under its own name (the spec's keys, INF for most).
DEFAULT_LIST_KEYS = {
    "order_items": "items",  # Airbyte source-cart, Americommerce4Net, sparkpay
    "order_payments": "payments",  # Airbyte source-cart, sparkpay, sparkpay-signifyd
    "order_shipments": "shipments",  # Americommerce4Net, sparkpay, Pipedream
    "order_addresses": "addresses",  # Americommerce4Net, sparkpay, Pipedream
    "product_variants": "variants",  # Americommerce4Net, sparkpay
    "product_pictures": "pictures",  # Americommerce4Net, sparkpay
    "shipping_provider_services": "services",  # the official Python example
    "blog_posts": "posts",  # sparkpay only
    "custom_field_values": "values",  # sparkpay only
    "gift_certificate_transactions": "transactions",  # sparkpay only
    "price_calculators": "price_calculation",  # sparkpay only
}

# Foreign keys checked on writes: field -> (resource, value that means "none" or None).
FOREIGN_KEYS: dict[str, dict[str, tuple[str, int | None]]] = {
    "products": {
        "product_status_id": ("product_statuses", None),
        "primary_category_id": ("categories", None),
        "manufacturer_id": ("manufacturers", 0),
    },
    "product_variants": {
        "product_id": ("products", None),
        "variant_group_id": ("variant_groups", None),
    },
    "variant_inventory": {
        "product_id": ("products", None),
        "product_status_id": ("product_statuses", 0),
    },
    "product_pricing": {
        "product_id": ("products", None),
        "variant_inventory_id": ("variant_inventory", 0),
    },
    "product_pictures": {"product_id": ("products", None)},
    "categories": {"parent_category_id": ("categories", 0)},
    "orders": {
        "customer_id": ("customers", 0),
        "order_status_id": ("order_statuses", None),
        "order_shipping_address_id": ("order_addresses", 0),
        "order_billing_address_id": ("order_addresses", 0),
    },
    "order_items": {"order_id": ("orders", None), "product_id": ("products", 0)},
    "order_payments": {"order_id": ("orders", None)},
    "order_shipments": {"order_id": ("orders", None)},
    "shipping_provider_services": {"shipping_provider_id": ("shipping_providers", None)},
}

# Extra hidden indexed columns (beyond created_at/updated_at and every *_id of the list below).
INDEXED: dict[str, tuple[str, ...]] = {
    "orders": ("ordered_at", "order_status_id", "customer_id", "order_number"),
    "products": (
        "item_number",
        "gtin",
        "manufacturer_id",
        "primary_category_id",
        "product_status_id",
        "item_name",
    ),
    "variant_inventory": ("item_number", "gtin", "product_id"),
    "product_variants": ("product_id", "variant_group_id"),
    "product_pricing": ("product_id", "variant_inventory_id"),
    "product_pictures": ("product_id",),
    "order_items": ("order_id", "product_id", "variant_inventory_id"),
    "order_payments": ("order_id", "customer_id"),
    "order_shipments": ("order_id", "shipment_name"),
    "order_addresses": ("customer_id",),
    "categories": ("parent_category_id", "name"),
    "customers": ("email",),
    "shipping_provider_services": ("shipping_provider_id", "identifier"),
    "custom_shipping_methods": ("name",),
    "variant_groups": ("name",),
    "manufacturers": ("name",),
}


@dataclass(frozen=True)
class Nested:
    """A nested collection of a resource.

    ``kind`` is child (rows of ``resource`` whose ``fk`` is the parent id), shipment_items,
    vi_variants, product_categories or empty.
    """

    kind: str
    resource: str = ""
    fk: str = ""


NESTED: dict[str, dict[str, Nested]] = {
    "products": {
        "variants": Nested("child", "product_variants", "product_id"),
        "variant_inventory": Nested("child", "variant_inventory", "product_id"),
        "pictures": Nested("child", "product_pictures", "product_id"),
        "categories": Nested("product_categories"),
        "pricing": Nested("child", "product_pricing", "product_id"),
        "attributes": Nested("empty"),
        "custom_fields": Nested("empty"),
        "personalizations": Nested("empty"),
        "related": Nested("empty"),
        "child_products": Nested("empty"),
        "shipping_rate_adjustments": Nested("empty"),
        "reviews": Nested("empty"),
    },
    "orders": {
        "items": Nested("child", "order_items", "order_id"),
        "payments": Nested("child", "order_payments", "order_id"),
        "shipments": Nested("child", "order_shipments", "order_id"),
        "custom_fields": Nested("empty"),
    },
    "order_shipments": {"items": Nested("shipment_items")},
    "variant_inventory": {
        "pricing": Nested("child", "product_pricing", "variant_inventory_id"),
        "variants": Nested("vi_variants"),
    },
    "variant_groups": {"variants": Nested("child", "product_variants", "variant_group_id")},
    "categories": {
        "products": Nested("child", "products", "primary_category_id"),
        "custom_fields": Nested("empty"),
    },
    "shipping_providers": {
        "services": Nested("child", "shipping_provider_services", "shipping_provider_id")
    },
    "order_payments": {"fields": Nested("empty")},
}


@dataclass
class Resource:
    """One root collection of the API."""

    name: str
    fields: list[str]  # record fields in spec order (nested collections excluded)
    types: dict[str, str]  # field -> integer|number|boolean|string|array|object
    datetimes: set[str]
    indexed: dict[str, str]  # field -> int|num|text|dt  (hidden columns)
    nested: dict[str, Nested]
    null_nested: set[str]  # nested names the spec declares as fields: null when not expanded
    required: tuple[str, ...]
    fks: dict[str, tuple[str, int | None]]
    int_flags: set[str]
    defaults: dict[str, Any] = field(default_factory=dict)

    def default_doc(self) -> dict[str, Any]:
        """A record with every field at its default, in spec order."""
        return dict(self.defaults)


def _norm_type(spec: dict[str, Any]) -> str:
    t = spec.get("type", "string")
    if isinstance(t, list):
        t = "number" if "number" in t else next((x for x in t if x != "null"), "string")
    if t not in ("integer", "number", "boolean", "string", "array", "object"):
        t = "string"
    return t


@cache
def load_spec() -> dict[str, Any]:
    """The vendored OpenAPI document (parsed once)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def _spec_required() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for path, ops in load_spec().get("paths", {}).items():
        post = ops.get("post") if isinstance(ops, dict) else None
        if not post:
            continue
        try:
            schema = post["requestBody"]["content"]["application/json"]["schema"]
        except (KeyError, TypeError):
            continue
        if schema.get("required"):
            out[path.strip("/")] = tuple(schema["required"])
    return out


def _build(name: str, props: dict[str, Any], required: tuple[str, ...]) -> Resource:
    nested = NESTED.get(name, {})
    fixes = TYPE_FIXES.get(name, {})
    flags = INT_FLAGS.get(name, set())
    fields, types, dts = [], {}, set()
    null_nested = set()
    for fname, fspec in props.items():
        if fname in nested:
            null_nested.add(fname)
            continue
        t = fixes.get(fname) or _norm_type(fspec or {})
        fields.append(fname)
        types[fname] = t
        if t == "string" and (fname.endswith(("_at", "_date")) or fname == "expires_at"):
            dts.add(fname)
    indexed: dict[str, str] = {}
    for fname in ("created_at", "updated_at", *INDEXED.get(name, ())):
        if fname not in types:
            continue
        t = types[fname]
        indexed[fname] = (
            "dt"
            if fname in dts
            else "int"
            if t == "integer"
            else "num"
            if t == "number"
            else "text"
        )
    defaults: dict[str, Any] = {}
    for fname in fields:
        t = types[fname]
        if fname in flags:
            defaults[fname] = 0
        elif t == "boolean":
            defaults[fname] = False
        elif t == "array" and fname != "personalizations":
            defaults[fname] = []
        else:
            defaults[fname] = None
    return Resource(
        name=name,
        fields=fields,
        types=types,
        datetimes=dts,
        indexed=indexed,
        nested=nested,
        null_nested=null_nested,
        required=required,
        fks=FOREIGN_KEYS.get(name, {}),
        int_flags=flags,
        defaults=defaults,
    )


@cache
def catalogue() -> dict[str, Resource]:
    """Every served resource by name."""
    schemas = load_spec()["components"]["schemas"]
    req = _spec_required()
    out = {}
    for name, schema in schemas.items():
        if name in _NOT_RESOURCES or not isinstance(schema, dict):
            continue
        props = schema.get("properties") or {}
        if "id" not in props:
            continue
        required = REQUIRED_OVERRIDES.get(name, req.get(name, ()))
        out[name] = _build(name, props, tuple(required))
    return out


def get(name: str) -> Resource:
    """The resource called ``name`` (KeyError when unknown)."""
    return catalogue()[name]


def list_key(name: str, overrides: dict[str, str] | None = None) -> str:
    """The wrapper key of ``name``'s list responses."""
    if overrides and name in overrides:
        return overrides[name]
    return DEFAULT_LIST_KEYS.get(name, name)

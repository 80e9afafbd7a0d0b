"""Corrected overlay of the official Cart.com OpenAPI file, for conformance tests.

The vendored ``spec/acapi.yaml`` stays byte-for-byte official. :func:`corrected_spec` derives
a patched copy in code, one small named function per fix (docs/api.md §9, §10, §13). The result
encodes the REAL API (docs and field evidence outrank the spec), never the sandbox's choices.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from cartcom_sandbox.resources import SPEC_PATH  # the sandbox's vendored, unchanged acapi.yaml
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:acapi"
API_PREFIX = "/api/v1"
_BODY = "requestBody/content/application~1json/schema"

Spec = dict[str, Any]
Schema = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@functools.cache
def _raw_spec() -> Spec:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader


def load_spec() -> Spec:
    """Return the vendored official spec, verbatim (a fresh copy)."""
    return copy.deepcopy(_raw_spec())


def corrected_spec() -> Spec:
    """Return a deep copy of the spec with every overlay fix applied (a fresh copy)."""
    return copy.deepcopy(_corrected())


@functools.cache
def _corrected() -> Spec:
    spec = load_spec()
    for fix in FIXES:
        fix(spec)
    return spec


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def escape_pointer(token: str) -> str:
    """Escape one JSON-pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


def _schemas(spec: Spec) -> dict[str, Schema]:
    return spec["components"]["schemas"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(op: dict[str, Any]) -> Schema | None:
    return op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


def _nullable(schema: Schema) -> Schema:
    """Return ``schema`` widened to also accept null (in place when it has a ``type``)."""
    t = schema.get("type")
    if isinstance(t, str):
        if t != "null":
            schema["type"] = [t, "null"]
        return schema
    if isinstance(t, list):
        if "null" not in t:
            t.append("null")
        return schema
    if "$ref" in schema:
        ref = schema.pop("$ref")
        schema["anyOf"] = [{"$ref": ref}, {"type": "null"}]
        return schema
    if "anyOf" in schema:
        if {"type": "null"} not in schema["anyOf"]:
            schema["anyOf"].append({"type": "null"})
        return schema
    return schema  # untyped ({}): already accepts null


def _walk_schemas(node: Any) -> Iterable[Schema]:
    """Yield every dict reachable from ``node`` that looks like a schema with properties/items."""
    if isinstance(node, dict):
        t = node.get("type")
        if isinstance(node.get("properties"), dict) or (
            isinstance(node.get("items"), dict) and (t == "array" or isinstance(t, list))
        ):
            yield node
        for key, value in node.items():
            if key in ("examples", "x-examples", "example"):
                continue
            yield from _walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_schemas(value)


def _operations(spec: Spec) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "delete", "patch") and isinstance(op, dict):
                yield path, method, op


def _set_prop(schema: Schema, name: str, prop: Schema) -> None:
    schema.setdefault("properties", {})[name] = prop


def _widen(prop: Schema, *types: str) -> None:
    """Replace a property's type by ``types`` (keeping a ``null`` already there)."""
    old = prop.get("type")
    had_null = old == "null" or (isinstance(old, list) and "null" in old)
    new = list(types) + (["null"] if had_null and "null" not in types else [])
    prop["type"] = new[0] if len(new) == 1 else new


# --------------------------------------------------------------------------------------------
# The resources this project uses: path -> component schema, list keys, bodies, nesting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceInfo:
    """Where a REST resource's schemas live in the corrected spec."""

    name: str
    schema: str
    list_keys: tuple[str, ...] = ()
    nested: dict[str, str] = field(default_factory=dict)
    writable: bool = True

    @property
    def path(self) -> str:
        """The collection path under /api/v1."""
        return f"/{self.name}"

    @property
    def list_schema(self) -> str:
        """Component name of the list wrapper."""
        return f"{self.name}_list"

    @property
    def keys(self) -> tuple[str, ...]:
        """Accepted collection keys; the first one is what the real API sends (§13)."""
        return self.list_keys or (self.name,)

    @property
    def post_body(self) -> str | None:
        """JSON pointer of the POST request body schema."""
        if not self.writable:
            return None
        return f"#/paths/{escape_pointer(self.path)}/post/{_BODY}"

    @property
    def put_body(self) -> str | None:
        """JSON pointer of the PUT request body schema (None when the spec has no PUT)."""
        if "put" not in _raw_spec()["paths"].get(f"{self.path}/{{id}}", {}):
            return None
        item = escape_pointer(f"{self.path}/{{id}}")
        return f"#/paths/{item}/put/{_BODY}"

    def nested_list_schema(self, nested: str) -> str:
        """Component name of a nested list wrapper (``GET /{res}/{id}/{nested}``)."""
        return f"{self.name}_{nested}_list"


# Nested collections (DOC docs/resource_list.md, docs/api.md §1.4, §2.2, §5, §6):
# name -> item schema.
_PRODUCT_NESTED = {
    "variants": "product_nested_variant",
    "personalizations": "nested_object",
    "related": "nested_object",
    "categories": "product_category_ref",
    "pricing": "product_pricing",
    "attributes": "product_attribute",
    "variant_inventory": "variant_inventory",
    "pictures": "product_pictures",
    "child_products": "products",
    "shipping_rate_adjustments": "shipping_rate_adjustments",
    "reviews": "product_reviews",
    "custom_fields": "custom_field_pair",
}

# The resources this project uses, with what the docs and field evidence say about them.
_KNOWN: tuple[ResourceInfo, ...] = (
    ResourceInfo("products", "products", nested=_PRODUCT_NESTED),
    ResourceInfo(
        "product_variants", "product_variants", list_keys=("variants", "product_variants")
    ),
    ResourceInfo(
        "variant_inventory",
        "variant_inventory",
        nested={"pricing": "product_pricing", "variants": "variant_inventory_variant"},
    ),
    ResourceInfo("variant_groups", "variant_groups", nested={"variants": "product_variants"}),
    ResourceInfo("product_pricing", "product_pricing"),
    ResourceInfo(
        "product_pictures", "product_pictures", list_keys=("pictures", "product_pictures")
    ),
    ResourceInfo("product_statuses", "product_statuses"),
    ResourceInfo(
        "categories",
        "categories",
        nested={"products": "products", "custom_fields": "custom_field_pair"},
    ),
    ResourceInfo("manufacturers", "manufacturers"),
    ResourceInfo(
        "orders",
        "orders",
        nested={
            "items": "order_items",
            "payments": "order_payments",
            "shipments": "order_shipments",
            "custom_fields": "custom_field_pair",
        },
    ),
    ResourceInfo("order_items", "order_items", list_keys=("items", "order_items")),
    ResourceInfo(
        "order_shipments",
        "order_shipments",
        list_keys=("shipments", "order_shipments"),
        nested={"items": "shipment_item"},
    ),
    ResourceInfo("order_statuses", "order_statuses"),
    ResourceInfo("order_addresses", "order_addresses", list_keys=("addresses", "order_addresses")),
    ResourceInfo(
        "order_payments",
        "order_payments",
        list_keys=("payments", "order_payments"),
        nested={"fields": "nested_object"},
    ),
    ResourceInfo(
        "shipping_providers",
        "shipping_providers",
        nested={"services": "shipping_provider_services"},
    ),
    ResourceInfo(
        "shipping_provider_services",
        "shipping_provider_services",
        list_keys=("services", "shipping_provider_services"),
    ),
    ResourceInfo("custom_shipping_methods", "custom_shipping_methods"),
    ResourceInfo("customers", "customers"),
    ResourceInfo("stores", "stores"),
)


# List keys public clients read for collections the project does not use (docs/api.md §1.2:
# saschabratton/sparkpay lib/resources.js), each accepted next to the spec's name.
_FIELD_LIST_KEYS = {
    "blog_posts": "posts",
    "custom_field_values": "values",
    "gift_certificate_transactions": "transactions",
    "price_calculators": "price_calculation",
}


def _build_resources() -> dict[str, ResourceInfo]:
    """The known resources, then every other spec collection ``/{name}`` with an id schema."""
    raw = _raw_spec()
    paths, schemas = raw["paths"], raw["components"]["schemas"]
    out: dict[str, ResourceInfo] = {}
    known = {r.name: r for r in _KNOWN}
    for name, schema in schemas.items():
        if name not in known and (
            f"/{name}" not in paths or "id" not in (schema.get("properties") or {})
        ):
            continue
        keys = (_FIELD_LIST_KEYS[name], name) if name in _FIELD_LIST_KEYS else ()
        info = known.get(name, ResourceInfo(name, name, list_keys=keys))
        writable = "post" in paths.get(f"/{name}", {})
        out[name] = ResourceInfo(info.name, info.schema, info.list_keys, info.nested, writable)
    return out


RESOURCES: dict[str, ResourceInfo] = _build_resources()

# Public mapping: API path or resource name -> schemas (component names and body pointers).
RESOURCE_SCHEMAS: dict[str, dict[str, Any]] = {}
for _r in RESOURCES.values():
    _entry = {
        "resource": _r.name,
        "path": _r.path,
        "schema": _r.schema,
        "list_schema": _r.list_schema,
        "list_keys": _r.keys,
        "post_body": _r.post_body,
        "put_body": _r.put_body,
        "nested": dict(_r.nested),
    }
    RESOURCE_SCHEMAS[_r.name] = _entry
    RESOURCE_SCHEMAS[_r.path] = _entry
del _r, _entry


# --------------------------------------------------------------------------------------------
# Fix 1: the 7 spots that make the file invalid (§10)
# --------------------------------------------------------------------------------------------


def fix_guid_types(spec: Spec) -> None:
    """``type: guid`` is no JSON Schema type: make it ``string`` + ``format: uuid`` (2 spots)."""
    for schema in _walk_schemas(spec):
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict) and prop.get("type") == "guid":
                prop["type"] = "string"
                prop["format"] = "uuid"


def fix_negative_min_items(spec: Spec) -> None:
    """Drop ``minItems: -4`` (POST /variant_inventory response) and any other negative one."""
    for schema in _walk_schemas(spec):
        if isinstance(schema.get("minItems"), int) and schema["minItems"] < 0:
            del schema["minItems"]


def fix_map_examples(spec: Spec) -> None:
    """Turn OpenAPI-style ``examples`` maps inside schemas into 2020-12 arrays (4 spots)."""
    for schema in _walk_schemas(spec):
        ex = schema.get("examples")
        if isinstance(ex, dict):
            schema["examples"] = [
                v.get("value", v) if isinstance(v, dict) else v for v in ex.values()
            ]


# --------------------------------------------------------------------------------------------
# Fix 2: types the real API contradicts (§9 items 10-16)
# --------------------------------------------------------------------------------------------

# Money, weights and quantities typed integer while real values are decimals (§9.11).
MONEY_AND_QUANTITY = {
    "orders": (
        "subtotal",
        "shipping_total",
        "discount_total",
        "cost_total",
        "handling_total",
        "additional_fees",
        "discounted_shipping_total",
    ),
    "order_items": ("price", "cost", "weight", "quantity"),
    "product_variants": ("price_adjustment",),
    "product_nested_variant": ("price_adjustment",),
}

# Product flags stored as 0/1 integers (§2, §9.13).
PRODUCT_INT_FLAGS = (
    "is_spotlight_item",
    "is_non_taxable",
    "is_shipped_individually",
    "is_hidden",
    "e_product_allow_multiple_deliveries",
    "call_for_shipping",
    "call_for_pricing",
)


def fix_money_and_quantity(spec: Spec) -> None:
    """Widen integer money/weight/quantity fields to ``number`` (components and bodies)."""
    schemas = _schemas(spec)
    targets = [(schemas[name], fields) for name, fields in MONEY_AND_QUANTITY.items()]
    for path, name in (
        ("/orders", "orders"),
        ("/order_items", "order_items"),
        ("/product_variants", "product_variants"),
    ):
        body = _json_body(spec["paths"][path]["post"])
        if body:
            targets.append((body, MONEY_AND_QUANTITY[name]))
    for schema, fields in targets:
        for f in fields:
            prop = schema.get("properties", {}).get(f)
            if prop is not None:
                _widen(prop, "number")


def fix_postal_code(spec: Spec) -> None:
    """``postal_code`` is a string everywhere (ZIP+4, foreign codes); the spec says integer once."""
    for schema in _walk_schemas(spec):
        prop = schema.get("properties", {}).get("postal_code")
        if isinstance(prop, dict) and prop.get("type") != "string":
            _widen(prop, "string")


def fix_product_flags(spec: Spec) -> None:
    """Products' 0/1 integer flags: accept integer 0..1 or boolean (component and POST body)."""
    targets = [_schemas(spec)["products"], _json_body(spec["paths"]["/products"]["post"])]
    for schema in targets:
        for f in PRODUCT_INT_FLAGS:
            prop = schema["properties"].get(f)
            if prop is not None:
                _widen(prop, "integer", "boolean")
                prop["minimum"] = 0
                prop["maximum"] = 1


def fix_product_dimensions(spec: Spec) -> None:
    """Products' height/length/width are strings (known issue, §9.14); keep them so."""
    targets = [_schemas(spec)["products"], _json_body(spec["paths"]["/products"]["post"])]
    for schema in targets:
        for f in ("height", "length", "width"):
            schema["properties"][f] = {"type": "string"}


def fix_provider_base_shipping_cost(spec: Spec) -> None:
    """``provider_base_shipping_cost``: a string in the spec, a number like its siblings."""
    targets = [
        _schemas(spec)["order_shipments"],
        _json_body(spec["paths"]["/order_shipments"]["post"]),
    ]
    for schema in targets:
        _widen(schema["properties"]["provider_base_shipping_cost"], "string", "number")


def fix_variant_inventory_weight_type(spec: Spec) -> None:
    """POST /variant_inventory ``variants[].weight_type`` is a string ("", "+"), not a number."""
    body = _json_body(spec["paths"]["/variant_inventory"]["post"])
    body["properties"]["variants"]["items"]["properties"]["weight_type"] = {"type": "string"}


def fix_null_only_types(spec: Spec) -> None:
    """``type: 'null'`` alone (customers PUT ``affiliate_id``, ``last_visit_at``) is a slip."""
    real = {"affiliate_id": "integer", "last_visit_at": "string"}
    for schema in _walk_schemas(spec):
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict) and prop.get("type") == "null" and name in real:
                prop["type"] = real[name]


def fix_empty_string_min_length(spec: Spec) -> None:
    """Response schemas: drop generated ``minLength: 1`` (dates and SKUs can come back as "")."""
    for schema in _walk_schemas(_schemas(spec)):
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict) and prop.get("minLength") == 1:
                del prop["minLength"]


def fix_list_total_count(spec: Spec) -> None:
    """``total_count`` is an integer in every list (spec: string on product_pricing, cart_items)."""
    for _path, method, op in _operations(spec):
        if method != "get":
            continue
        schema = op.get("responses", {}).get("200", {}).get("content", {})
        schema = schema.get("application/json", {}).get("schema", {})
        tc = schema.get("properties", {}).get("total_count")
        if tc is not None:
            schema["properties"]["total_count"] = {"type": "integer", "minimum": 0}


# --------------------------------------------------------------------------------------------
# Fix 3: missing fields and nested collections
# --------------------------------------------------------------------------------------------


def add_helper_schemas(spec: Spec) -> None:
    """Add small schemas the docs describe but the spec lacks (nested shapes, envelope, ...)."""
    s = _schemas(spec)
    s["shipment_item"] = {
        "description": "A line of a shipment (GET /order_shipments/{id}/items). Note item_nr.",
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "product_id": {"type": "integer"},
            "item_name": {"type": "string"},
            "item_nr": {"type": "string"},
            "quantity_shipped": {"type": "number"},
        },
    }
    s["shipment_item_request"] = {
        "description": "A shipment line in POST /order_shipments: the ORDER ITEM id + quantity.",
        "type": "object",
        "required": ["id", "quantity_shipped"],
        "properties": {"id": {"type": "integer"}, "quantity_shipped": {"type": "number"}},
    }
    s["custom_field_pair"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
    }
    s["product_category_ref"] = {
        "description": "A product's nested category: minimal {id, is_primary, name}.",
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "is_primary": {"type": "boolean"},
            "name": {"type": "string"},
        },
    }
    s["product_attribute"] = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "attribute_group_id": {"type": "integer"},
            "name": {"type": "string"},
            "value": {"type": "string"},
        },
    }
    s["inventory_settings"] = {
        "type": "object",
        "properties": {
            "track_inventory": {"type": "boolean"},
            "remove_from_inventory_when": {"type": "string", "enum": ["Ordered", "Shipped"]},
            "out_of_stock_product_status_id": {"type": "integer"},
            "in_stock_product_status_id": {"type": "integer"},
            "back_order_product_status_id": {"type": "integer"},
            "discontinued_product_status_id": {"type": "integer"},
            "product_hide_no_inventory": {"type": "boolean"},
        },
    }
    s["nested_object"] = {
        "description": "A nested row whose shape is undocumented.",
        "type": "object",
    }
    s["variant_inventory_variant"] = {
        "description": "A product_variants row as nested in variant_inventory.",
        "allOf": [_ref("product_variants")],
        "type": "object",
        "properties": {"variant_inventory_id": {"type": "integer"}},
    }


def add_doc_only_fields(spec: Spec) -> None:
    """Fields the prose docs show but the spec lacks (§9.7)."""
    s = _schemas(spec)
    _set_prop(s["products"], "supplier_id", {"type": "integer"})
    _set_prop(
        s["orders"],
        "shipping_selections",
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "classification_code": {"type": "string"},
                    "shipping_provider": {"type": "string"},
                    "shipping_method": {"type": "string"},
                },
            },
        },
    )
    _set_prop(s["order_payments"], "store_method_payment_id", {"type": "integer"})
    _set_prop(s["variant_inventory"], "description", {"type": "string"})


def add_shipment_items(spec: Spec) -> None:
    """order_shipments: ``items`` on the resource (read) and on POST/PUT bodies (write, §6)."""
    _set_prop(
        _schemas(spec)["order_shipments"],
        "items",
        {"type": "array", "items": _ref("shipment_item")},
    )
    body = _json_body(spec["paths"]["/order_shipments"]["post"])
    _set_prop(body, "id", {"type": "integer"})
    _set_prop(body, "items", {"type": "array", "items": _ref("shipment_item_request")})


def add_nested_collections(spec: Spec) -> None:
    """Expandable nested collections as ``array|null`` of the right component (§1.4)."""
    s = _schemas(spec)
    for res in RESOURCES.values():
        for nested, item in res.nested.items():
            if nested == "items" and res.name == "order_shipments":
                continue  # add_shipment_items
            _set_prop(s[res.schema], nested, {"type": "array", "items": _ref(item)})


def add_upsert_id_to_post_bodies(spec: Spec) -> None:
    """POST creates or updates: with an existing ``id`` the body is a partial update (§1.7).

    So ``required`` binds only creates: it moves under ``if: {not: {required: [id]}}``.
    """
    for res in RESOURCES.values():
        op = spec["paths"].get(res.path, {}).get("post")
        body = _json_body(op) if op else None
        if body is None or "properties" not in body:
            continue
        body["properties"].setdefault("id", {"type": "integer"})
        required = body.pop("required", None)
        if required:
            body["if"] = {"not": {"required": ["id"]}}
            body["then"] = {"required": required}


def drop_bogus_required(spec: Spec) -> None:
    """Drop required fields that are authoring errors (§2.1, §9.4, §9.5, §9.10)."""
    bogus = {
        ("/products", "post"): {"long_description_tab_name_5", "price"},
        ("/shipping_rate_adjustments", "post"): {"username"},
    }
    for (path, method), names in bogus.items():
        body = _json_body(spec["paths"][path][method])
        body["required"] = [r for r in body.get("required", []) if r not in names]
        if not body["required"]:
            del body["required"]
    get_inv = spec["paths"]["/inventory"]["get"]
    get_inv.pop("requestBody", None)  # a GET with a copy of the response as body
    for param in get_inv.get("parameters", []):
        param.pop("required", None)  # any ONE of five identifiers will do (DOC)


def point_write_responses_at_components(spec: Spec) -> None:
    """POST/PUT answer the resource itself (POST /variant_inventory's was inline)."""
    for res in RESOURCES.values():
        for path, method in ((res.path, "post"), (f"{res.path}/{{id}}", "put")):
            op = spec["paths"].get(path, {}).get(method)
            if op is None:
                continue
            op["responses"]["200"] = {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(res.schema)}},
            }


def make_properties_nullable(spec: Spec) -> None:
    """Every property but ``id`` may be null (§9.10): components and inline bodies."""
    for schema in _walk_schemas(spec):
        for name, prop in schema.get("properties", {}).items():
            if name != "id" and isinstance(prop, dict):
                _nullable(prop)


# --------------------------------------------------------------------------------------------
# Fix 4: list wrappers, status codes, error envelope, doc-only paths
# --------------------------------------------------------------------------------------------

_PAGE_LINK = {"type": ["string", "null"], "format": "uri"}


def _wrapper(keys: tuple[str, ...], item: str) -> Schema:
    props: Schema = {
        "total_count": {"type": "integer", "minimum": 0},
        "next_page": dict(_PAGE_LINK),
        "previous_page": dict(_PAGE_LINK),
    }
    for key in keys:
        props[key] = {"type": "array", "items": _ref(item)}
    wrapper: Schema = {
        "type": "object",
        "required": ["total_count"],
        "properties": props,
        "additionalProperties": False,
    }
    if len(keys) == 1:
        wrapper["required"].append(keys[0])
    else:
        wrapper["oneOf"] = [{"required": [k]} for k in keys]
    return wrapper


def add_list_wrappers(spec: Spec) -> None:
    """``<res>_list``: total_count, next_page, previous_page, the real key(s) (§1.2, §13)."""
    s = _schemas(spec)
    for res in RESOURCES.values():
        s[res.list_schema] = _wrapper(res.keys, res.schema)
        for nested, item in res.nested.items():
            s[res.nested_list_schema(nested)] = _wrapper((nested,), item)
        get = spec["paths"].get(res.path, {}).get("get")
        if get is not None:
            get["responses"]["200"] = {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(res.list_schema)}},
            }


_ERRORS = {
    "400": "Bad Request",
    "401": "Unauthorized",
    "404": "Not Found",
    "409": "Conflict",
    "414": "URI Too Long",
    "429": "Too Many Requests",
    "500": "Internal Server Error",
}


def _error_response(desc: str) -> dict[str, Any]:
    return {
        "description": desc,
        "content": {"application/json": {"schema": _ref("error_envelope")}},
    }


def add_status_codes(spec: Spec) -> None:
    """201 on create, 204 on DELETE, and the error envelope on 400/401/404/409/414/429/500."""
    responses = spec["components"]["responses"]
    for code, desc in _ERRORS.items():
        responses[code] = _error_response(desc)
    for _path, method, op in _operations(spec):
        rs = op.setdefault("responses", {})
        if method == "post" and "200" in rs and "201" not in rs:
            rs["201"] = copy.deepcopy(rs["200"])
            rs["201"]["description"] = "Created"
        if method == "delete":
            rs.pop("200", None)
            rs["204"] = {"description": "No Content"}
        for code in _ERRORS:
            rs[code] = {"$ref": f"#/components/responses/{code}"}


def _op(
    op_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    body: Schema | None = None,
    params: list[dict[str, Any]] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["Doc-only"],
        "responses": dict(responses),
    }
    if body is not None:
        op["requestBody"] = {"content": {content_type: {"schema": body}}}
    if params:
        op["parameters"] = params
    for code in _ERRORS:
        op["responses"][code] = {"$ref": f"#/components/responses/{code}"}
    return op


def _ok(schema_name: str, code: str = "200") -> dict[str, Any]:
    return {
        code: {"description": "OK", "content": {"application/json": {"schema": _ref(schema_name)}}}
    }


_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_READ_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string"}} for n in ("fields", "expand")
]


def add_operation_schemas(spec: Spec) -> None:
    """Error envelope and the bodies of doc-only operations (strict: added after nullability)."""
    s = _schemas(spec)
    s["error_envelope"] = {
        "description": "Error body (DOC): {status_code, message, details}.",
        "type": "object",
        "required": ["status_code", "message", "details"],
        "properties": {
            "status_code": {"type": "integer", "minimum": 400, "maximum": 599},
            "message": {"type": "string"},
            "details": {"type": ["string", "null"]},
        },
    }
    ident = {
        "product_id": {"type": "integer"},
        "variant_inventory_id": {"type": "integer"},
        "item_number": {"type": "string"},
        "gtin": {"type": "string"},
        "item_name": {"type": "string"},
    }
    s["inventory_change_request"] = {
        "description": "POST /inventory/{add,remove,set}: one identifier plus quantity.",
        "type": "object",
        "required": ["quantity"],
        "properties": {**ident, "quantity": {"type": "number"}},
        "anyOf": [{"required": [k]} for k in ident],
    }
    s["order_status_request"] = {
        "type": "object",
        "required": ["order_status_id"],
        "properties": {"order_status_id": {"type": "integer"}},
    }
    s["import_many_request"] = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["product"],
            "properties": {
                "lookup_by_sku": {"type": "boolean"},
                "product": _ref("products"),
                "category": _ref("categories"),
                "manufacturer": _ref("manufacturers"),
            },
        },
    }
    s["import_many_response"] = {
        "type": "object",
        "required": ["total_errors", "results"],
        "properties": {
            "total_errors": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "line_item": {"type": "integer"},
                        "status_code": {"type": "integer"},
                        "entity_id": {"type": ["integer", "null"]},
                    },
                },
            },
        },
    }


def add_doc_only_paths(spec: Spec) -> None:
    """Paths documented in prose only (§1.4, §3, §4, §5, §9.1) that this project uses."""
    paths = spec["paths"]
    for res in RESOURCES.values():
        item_path = f"{res.path}/{{id}}"
        item = paths.setdefault(item_path, {"parameters": [dict(_ID_PARAM)]})
        item.setdefault("parameters", [dict(_ID_PARAM)])
        item.setdefault(
            "get",
            _op(
                f"get-{res.name}-id",
                f"Get one {res.name}",
                _ok(res.schema),
                params=list(_READ_PARAMS),
            ),
        )
        paths[f"{item_path}/filled"] = {
            "parameters": [dict(_ID_PARAM)],
            "get": _op(
                f"get-{res.name}-id-filled", "With every nested collection filled", _ok(res.schema)
            ),
        }
        for nested in res.nested:
            paths[f"{item_path}/{nested}"] = {
                "parameters": [dict(_ID_PARAM)],
                "get": _op(
                    f"get-{res.name}-id-{nested}",
                    f"Nested {nested}",
                    _ok(res.nested_list_schema(nested)),
                ),
            }
        paths[f"{res.path}/select_many"] = {
            "get": _op(
                f"get-{res.name}-select_many",
                "Several by id",
                _ok(res.list_schema),
                params=[
                    {"name": "ids", "in": "query", "required": True, "schema": {"type": "string"}},
                    *_READ_PARAMS,
                ],
            ),
        }
    paths["/orders/{id}/status"] = {
        "parameters": [dict(_ID_PARAM)],
        "put": _op(
            "put-orders-id-status",
            "Change status, firing events",
            _ok("orders"),
            body=_ref("order_status_request"),
        ),
    }
    for verb in ("add", "remove", "set"):
        paths[f"/inventory/{verb}"] = {
            "post": _op(
                f"post-inventory-{verb}",
                f"Inventory {verb}",
                _ok("inventory"),
                body=_ref("inventory_change_request"),
            ),
        }
    paths["/inventory/settings"] = {
        "get": _op("get-inventory-settings", "Inventory settings", _ok("inventory_settings")),
        "put": _op(
            "put-inventory-settings",
            "Set inventory settings",
            _ok("inventory_settings"),
            body=_ref("inventory_settings"),
        ),
    }
    paths["/products/importMany"] = {
        "post": _op(
            "post-products-importMany",
            "Bulk import",
            _ok("import_many_response"),
            body=_ref("import_many_request"),
        ),
    }
    paths["/upload"] = {
        "post": _op(
            "post-upload",
            "Upload a file",
            {"204": {"description": "No Content"}},
            body={"type": "object"},
            content_type="multipart/form-data",
        ),
    }
    paths["/categories/rebuild_tree"] = {
        "post": _op(
            "post-categories-rebuild_tree",
            "Rebuild the category tree (async)",
            {"204": {"description": "No Content"}},
        ),
    }


def point_error_responses_at_envelope(spec: Spec) -> None:
    """The shared 404/500 responses use the one error envelope (status_code is an integer)."""
    for code in ("404", "500"):
        spec["components"]["responses"][code] = _error_response(_ERRORS[code])


FIXES: tuple[Callable[[Spec], None], ...] = (
    # validity (the 7 spots)
    fix_guid_types,
    fix_negative_min_items,
    fix_map_examples,
    # types
    fix_money_and_quantity,
    fix_postal_code,
    fix_product_flags,
    fix_product_dimensions,
    fix_provider_base_shipping_cost,
    fix_variant_inventory_weight_type,
    fix_null_only_types,
    fix_empty_string_min_length,
    fix_list_total_count,
    # fields and shapes
    add_helper_schemas,
    add_doc_only_fields,
    add_shipment_items,
    add_nested_collections,
    drop_bogus_required,
    add_upsert_id_to_post_bodies,
    make_properties_nullable,
    point_write_responses_at_components,
    add_list_wrappers,
    add_operation_schemas,
    # status codes and paths
    add_status_codes,
    add_doc_only_paths,
    point_error_responses_at_envelope,
)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme in ("http", "https") and parts.netloc)


FORMAT_CHECKER = FormatChecker()
FORMAT_CHECKER.checks("uri")(_is_uri)


# The raw spec's ``type: guid`` is no JSON type; nothing can satisfy it (instead of a crash).
_RawValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("guid", lambda _checker, _i: False),
)


@functools.cache
def _registry(corrected: bool) -> Registry:
    doc = _corrected() if corrected else _raw_spec()
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def pointer_for(schema_name_or_pointer: str) -> str:
    """``"orders"`` -> ``"#/components/schemas/orders"``; pointers pass through."""
    if schema_name_or_pointer.startswith("#"):
        return schema_name_or_pointer
    if schema_name_or_pointer.startswith("/"):
        return f"#{schema_name_or_pointer}"
    return f"#/components/schemas/{schema_name_or_pointer}"


@functools.cache
def validator_for(schema_name_or_pointer: str, *, raw: bool = False) -> Draft202012Validator:
    """A Draft 2020-12 validator for a component name or a JSON pointer into the spec.

    ``raw=True`` validates against the UNcorrected official spec (to show why the overlay exists).
    """
    ref = {"$ref": f"{SPEC_URI}{pointer_for(schema_name_or_pointer)}"}
    cls = _RawValidator if raw else Draft202012Validator
    return cls(ref, registry=_registry(not raw), format_checker=FORMAT_CHECKER)


def _where(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaf_errors(error: ValidationError) -> Iterable[ValidationError]:
    if error.context:
        for sub in error.context:
            yield from _leaf_errors(sub)
    else:
        yield error


def validation_errors(
    schema_name_or_pointer: str, instance: Any, *, raw: bool = False
) -> list[str]:
    """Human-readable errors, each prefixed by the JSON path of the failing field."""
    validator = validator_for(schema_name_or_pointer, raw=raw)
    lines = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        where = _where(err)
        detail = err.message
        if err.validator in ("anyOf", "oneOf") and err.context:
            subs = sorted({f"{_where(s)}: {s.message}" for s in _leaf_errors(err)})
            detail = f"{err.message[:200]} [{'; '.join(subs)[:600]}]"
        lines.append(f"{where}: {detail[:800]}")
    return lines


def invalid_spots(spec: Spec) -> list[str]:
    """JSON pointers of schemas in ``spec`` that are not valid Draft 2020-12 schemas."""
    spots = []
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)

    def visit(node: Any, ptr: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                p = f"{ptr}/{escape_pointer(str(key))}"
                if key == "schema" and isinstance(value, dict):
                    check(value, p)
                elif key not in ("examples", "x-examples", "example"):
                    visit(value, p)

    def check(schema: Schema, ptr: str) -> None:
        for err in meta.iter_errors(schema):
            sub = "".join(f"/{escape_pointer(str(x))}" for x in err.absolute_path)
            spots.append(ptr + sub)

    for name, schema in spec["components"]["schemas"].items():
        check(schema, f"#/components/schemas/{escape_pointer(name)}")
    visit(spec["paths"], "#/paths")
    visit(spec["components"].get("responses", {}), "#/components/responses")
    return sorted(set(spots))


# --------------------------------------------------------------------------------------------
# Matching live traffic to operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of the corrected spec, as matched from a request."""

    template: str
    method: str
    op: dict[str, Any]

    @property
    def pointer(self) -> str:
        """JSON pointer to the operation object."""
        return f"#/paths/{escape_pointer(self.template)}/{self.method}"

    def response_pointer(self, status: int) -> str | None:
        """Pointer of the JSON schema for ``status`` (None when the status carries no body).

        Raises ``KeyError`` when the status is not documented for this operation.
        """
        rs = self.op["responses"]
        code = str(status)
        if code not in rs:
            raise KeyError(
                f"{self.method.upper()} {self.template}: status {status} is not "
                f"documented (documented: {sorted(rs)})"
            )
        resp = rs[code]
        if "$ref" in resp:
            name = resp["$ref"].rsplit("/", 1)[1]
            resp = _corrected()["components"]["responses"][name]
            if "content" not in resp:
                return None
            return f"#/components/responses/{name}/content/application~1json/schema"
        if "application/json" not in resp.get("content", {}):
            return None
        return f"{self.pointer}/responses/{code}/content/application~1json/schema"

    def request_pointer(self) -> str | None:
        """Pointer of the JSON request body schema, if the operation has one."""
        if _json_body(self.op) is None:
            return None
        return f"{self.pointer}/requestBody/content/application~1json/schema"


@functools.cache
def _matchers() -> list[tuple[re.Pattern[str], str]]:
    templates = list(_corrected()["paths"])
    # Concrete segments before templated ones (select_many before {id}).
    templates.sort(key=lambda t: (t.count("{"), -len(t)))
    out = []
    for t in templates:
        rx = re.escape(t)
        rx = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", rx)
        out.append((re.compile(f"^{rx}$"), t))
    return out


def match_operation(method: str, path: str) -> Operation:
    """Find the corrected-spec operation for ``method`` on a request path.

    Accepts full URLs, the ``/api/v1`` prefix and the ``.json`` suffix. Raises ``LookupError``.
    """
    path = urlsplit(path).path
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    path = path.removesuffix(".json").rstrip("/") or "/"
    spec = _corrected()
    for rx, template in _matchers():
        if rx.match(path) and method.lower() in spec["paths"][template]:
            return Operation(template, method.lower(), spec["paths"][template][method.lower()])
    raise LookupError(f"no operation {method.upper()} {path} in the corrected spec")

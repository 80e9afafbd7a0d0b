"""Live traffic conformance: every sandbox response and accepted request vs the corrected spec.

A seeded sandbox runs over HTTP; each response is validated against the corrected schema of the
operation it answers (list wrapper + items, resource, nested list, envelope). Every request body
the sandbox accepted (call log, status < 300) is validated against the operation's request schema.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_testing import conformance as C  # noqa: N812


def _load_helpers() -> Any:
    name = "_cartcom_conformance_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_conformance_helpers.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


H = _load_helpers()

# Resources the tap/target use; the rest of the spec's collections are still listed and checked.
CORE = (
    "products",
    "product_variants",
    "variant_inventory",
    "variant_groups",
    "product_pricing",
    "product_pictures",
    "product_statuses",
    "categories",
    "manufacturers",
    "orders",
    "order_items",
    "order_shipments",
    "order_statuses",
    "order_addresses",
    "order_payments",
    "shipping_providers",
    "shipping_provider_services",
    "custom_shipping_methods",
    "customers",
    "stores",
)


@pytest.fixture(scope="module")
def live() -> Iterator[Any]:
    """One seeded sandbox for the module."""
    with H.running_sandbox(products=12, orders=40, seed=11) as sandbox:
        yield sandbox


def _rows(live: Any, resource: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a list answer, under whichever key the documented dialects allow."""
    body = live.ok("GET", f"/{resource}", params=params, status=200)
    key = C.RESOURCE_SCHEMAS[resource]["list_keys"]
    return next(body[k] for k in key if k in body)


def _first(live: Any, resource: str, **params: Any) -> dict[str, Any]:
    rows = _rows(live, resource, count=1, **params)
    assert rows, f"the seeded store has no {resource} matching {params}"
    return rows[0]


# ------------------------------------------------------------------------------------ reads


def test_every_list_endpoint_conforms(live: Any) -> None:
    """GET /{res} (and page 2 through next_page) for every collection of the spec."""
    seen = 0
    for name in C.RESOURCES:
        res = live.call("GET", f"/{name}", params={"count": 3})
        if res.status == 404 and name not in CORE:
            continue  # a collection the sandbox does not serve
        assert res.status == 200, res.url
        seen += 1
        nxt = res.body.get("next_page") if isinstance(res.body, dict) else None
        if nxt:
            page2 = live.session.get(nxt, timeout=30)
            assert page2.status_code == 200, nxt
            live.call(
                "GET",
                nxt.split("/api/v1", 1)[1].split("?")[0],
                params=dict(p.split("=", 1) for p in nxt.split("?", 1)[1].split("&")),
            )
    assert seen >= len(CORE)
    live.assert_clean()


def test_expanded_lists_conform(live: Any) -> None:
    """?expand= with every nested collection fills arrays of the right component schemas."""
    for name, info in C.RESOURCES.items():
        if not info.nested or name not in CORE:
            continue
        live.ok("GET", f"/{name}", params={"count": 5, "expand": ",".join(info.nested)}, status=200)
    live.assert_clean()


def test_reads_by_id_filled_nested_and_select_many(live: Any) -> None:
    """GET /{res}/{id}, /{id}/filled, every /{id}/{nested}, and /select_many, per resource."""
    shipment = _first(live, "order_shipments")
    vi = _first(live, "variant_inventory")
    parents = {
        "orders": shipment["order_id"],
        "products": vi["product_id"],
        "order_shipments": shipment["id"],
        "variant_inventory": vi["id"],
    }
    for name in CORE:
        info = C.RESOURCES[name]
        key = info.keys
        body = live.ok("GET", f"/{name}", params={"count": 2}, status=200)
        rows = next(body[k] for k in key if k in body)
        if not rows:
            continue
        id_ = parents.get(name, rows[0]["id"])
        live.ok("GET", f"/{name}/{id_}", status=200)
        live.ok("GET", f"/{name}/{id_}", params={"fields": "id,updated_at"}, status=200)
        live.ok("GET", f"/{name}/{id_}/filled", status=200)
        for nested in info.nested:
            live.ok("GET", f"/{name}/{id_}/{nested}", status=200)
        ids = ",".join(str(r["id"]) for r in rows)
        live.ok("GET", f"/{name}/select_many", params={"ids": ids}, status=200)
    live.ok("GET", "/inventory", params={"item_number": vi["item_number"]}, status=200)
    live.ok("GET", "/inventory/settings", status=200)
    live.assert_clean()


# ------------------------------------------------------------------------------------ writes


@pytest.fixture(scope="module")
def writes(live: Any) -> dict[str, Any]:
    """A realistic target session: publish a sized T-shirt, sync stock/price, ship an order."""
    status_id = _first(live, "product_statuses")["id"]
    category = live.ok(
        "POST",
        "/categories",
        body={"name": "Conformance Tees", "parent_category_id": 0},
        status=201,
    )
    live.ok("PUT", f"/categories/{category['id']}", body={"short_description": "Tees"}, status=200)
    live.call("POST", "/categories/rebuild_tree")
    brand = live.ok("POST", "/manufacturers", body={"name": "Conformance Co"}, status=201)
    group = live.ok(
        "POST",
        "/variant_groups",
        body={"name": "Conf Size", "display_type": "DropDown"},
        status=201,
    )
    product = live.ok(
        "POST",
        "/products",
        status=201,
        body={
            "item_name": "Conformance Tee",
            "item_number": "CONF-TEE",
            "price": 19.99,
            "cost": 7.25,
            "product_status_id": status_id,
            "primary_category_id": category["id"],
            "manufacturer_id": brand["id"],
            "use_variant_inventory": True,
            "is_hidden": 1,
            "gtin": "000000000017",
            "weight": 0.4,
            "height": "1",
            "short_description": "<p>Tee</p>",
        },
    )
    pid = product["id"]
    upsert = live.ok("POST", "/products", body={"id": pid, "retail": 24.5}, status=200)
    live.ok("PUT", f"/products/{pid}", body={"price": 17.5, "is_hidden": 0}, status=200)
    vis = []
    for i, size in enumerate(("S", "M", "L")):
        variant = live.ok(
            "POST",
            "/product_variants",
            status=201,
            body={
                "product_id": pid,
                "variant_group_id": group["id"],
                "description": size,
                "item_number_extension": f"-{size}",
                "sort_order": i,
                "price_adjustment": 1.5 * i,
                "price_adjustment_type": "+ dollars",
            },
        )
        vi = live.ok(
            "POST",
            "/variant_inventory",
            status=201,
            body={
                "product_id": pid,
                "item_number": f"CONF-TEE-{size}",
                "inventory": 10 + i,
                "gtin": f"00000000002{i}",
                "product_status_id": status_id,
                "variants": [
                    {"id": variant["id"], "product_id": pid, "variant_group_id": group["id"]}
                ],
            },
        )
        vis.append(vi)
        live.ok(
            "PUT", f"/product_variants/{variant['id']}", body={"price_adjustment": 2.25}, status=200
        )
    pricing = live.ok(
        "POST",
        "/product_pricing",
        status=201,
        body={
            "product_id": pid,
            "variant_inventory_id": vis[0]["id"],
            "price": 18.75,
            "cost": 7.0,
            "starting_quantity": 1,
            "store_id": None,
            "customer_type_id": None,
        },
    )
    live.ok("PUT", f"/product_pricing/{pricing['id']}", body={"price": 18.5}, status=200)
    picture = live.ok(
        "POST",
        "/product_pictures",
        status=201,
        body={"product_id": pid, "image_file": "/shared/images/conf-tee.jpg", "is_primary": True},
    )
    live.ok("PUT", f"/product_pictures/{picture['id']}", body={"alt": "Tee"}, status=200)
    live.ok("PUT", f"/variant_inventory/{vis[1]['id']}", body={"inventory": 4}, status=200)
    live.ok("PUT", f"/variant_groups/{group['id']}", body={"sort_order": 3}, status=200)
    live.ok("PUT", f"/manufacturers/{brand['id']}", body={"brand_code": "CC"}, status=200)
    live.ok(
        "POST",
        "/inventory/set",
        body={"variant_inventory_id": vis[2]["id"], "quantity": 7},
        status=200,
    )
    live.ok("POST", "/inventory/add", body={"item_number": "CONF-TEE-S", "quantity": 2}, status=200)
    live.ok("POST", "/inventory/remove", body={"gtin": "000000000021", "quantity": 1}, status=200)
    live.ok("POST", "/inventory/set", body={"product_id": pid, "quantity": 30}, status=200)
    live.ok("PUT", "/inventory/settings", body={"track_inventory": True}, status=200)
    live.ok(
        "POST",
        "/upload",
        status=204,
        files={
            "meta": (
                "meta.json",
                b'{"destination": "/shared/images/conf.jpg", "overwrite": true}',
                "application/json",
            ),
            "file": ("conf.jpg", b"\xff\xd8\xff\xe0fakejpeg", "image/jpeg"),
        },
    )

    # Ship the lines of an order that has no shipment yet, then mark it shipped.
    items = _rows(live, "order_items", count=200)
    shipped = {s["order_id"] for s in _rows(live, "order_shipments", count=1000)}
    line = next(i for i in items if i["order_id"] not in shipped)
    order_id = line["order_id"]
    lines = [i for i in items if i["order_id"] == order_id]
    service = _first(live, "shipping_provider_services")
    ship_body = {
        "order_id": order_id,
        "shipped_at": "2026-09-01T10:00:00-05:00",
        "tracking_numbers": "1Z999AA10123456784",
        "tracking_url": "https://ups.example/t",
        "shipping_method": service["name"],
        "shipping_method_id": service["id"],
        "shipping_method_type": "provider",
        "shipping_provider_name": "UPS",
        "number_of_packages": 1,
        "shipment_name": "conf-1",
        "email_sent": False,
        "items": [{"id": i["id"], "quantity_shipped": int(i["quantity"])} for i in lines],
    }
    created = live.ok("POST", "/order_shipments", body=ship_body, status=201)
    again = live.ok(
        "POST", "/order_shipments", body={**ship_body, "tracking_numbers": "1Z2"}, status=200
    )
    live.ok("PUT", f"/order_shipments/{created['id']}", body={"private_comment": "ok"}, status=200)
    statuses = live.ok("GET", "/order_statuses", params={"is_shipped": "true"}, status=200)[
        "order_statuses"
    ]
    before = live.ok("GET", f"/orders/{order_id}", status=200)
    order = live.ok(
        "PUT", f"/orders/{order_id}/status", body={"order_status_id": statuses[0]["id"]}, status=200
    )
    live.ok("PUT", f"/orders/{order_id}", body={"admin_comments": "conformance"}, status=200)

    # Overwrite: remove what disappeared.
    live.call("DELETE", f"/product_pricing/{pricing['id']}")
    live.call("DELETE", f"/product_pictures/{picture['id']}")
    return {
        "product": product,
        "upsert": upsert,
        "shipment": created,
        "again": again,
        "order": order,
        "before": before,
        "status_id": statuses[0]["id"],
        "lines": lines,
    }


def test_write_responses_conform(live: Any, writes: dict[str, Any]) -> None:
    """201 on create, 200 on upsert/PUT, 204 on DELETE/upload/rebuild, all schema-valid."""
    covered = live.covered()
    assert ("POST", "/categories/rebuild_tree", 204) in covered
    assert ("DELETE", "/product_pricing/{id}", 204) in covered
    assert ("POST", "/upload", 204) in covered
    assert ("POST", "/products", 201) in covered
    assert ("POST", "/products", 200) in covered
    assert writes["again"]["id"] == writes["shipment"]["id"]  # upsert by shipment_name
    assert {i["id"] for i in writes["again"]["items"]} == {i["id"] for i in writes["lines"]}
    assert writes["order"]["order_status_id"] == writes["status_id"]
    if writes["before"]["order_status_id"] != writes["status_id"]:  # history moves (§11)
        assert writes["order"]["previous_order_status_id"] == writes["before"]["order_status_id"]
        assert (
            writes["order"]["order_status_last_changed_at"]
            != writes["before"]["order_status_last_changed_at"]
        )
    live.assert_clean()


def test_accepted_request_bodies_conform(live: Any, writes: dict[str, Any]) -> None:
    """Every JSON body the sandbox accepted (call log, status < 300) fits the request schema."""
    checked, bad = H.request_body_failures(live.calls)
    assert checked >= 30
    assert not bad, f"{len(bad)} accepted request bodies do not conform:\n" + "\n".join(bad)
    templates = {
        C.match_operation(r.method, r.path).template
        for r in live.calls
        if r.status < 300 and r.request_json is not None
    }
    for needed in (
        "/products",
        "/products/{id}",
        "/product_variants",
        "/variant_inventory",
        "/product_pricing",
        "/product_pictures",
        "/categories",
        "/manufacturers",
        "/variant_groups",
        "/order_shipments",
        "/orders/{id}/status",
        "/inventory/set",
    ):
        assert needed in templates, needed


def test_request_schemas_reject_what_the_sandbox_rejects(live: Any) -> None:
    """The request schemas have teeth: bodies the sandbox refuses fail them too."""
    bodies = {
        "/product_variants": {"description": "no product"},  # product_id, variant_group_id
        "/order_shipments": {"order_id": 1, "items": [{"id": "x"}]},
        "/variant_inventory": {"product_id": 1},  # variants required
    }
    for path, body in bodies.items():
        res = live.call("POST", path, body=body)
        assert res.status in (400, 404, 409), res.url
        pointer = C.match_operation("POST", path).request_pointer()
        assert C.validation_errors(pointer, body), path
    live.assert_clean()


# ------------------------------------------------------------------------------------ errors


def test_error_envelopes_conform(live: Any) -> None:
    """401, 404 (id, page), 400 (select_many, missing fields), 409, 414: the envelope, always."""
    product = _first(live, "products")
    cases = [
        ("GET", "/products", {"params": {"count": 1}, "auth": False}, 401),
        ("GET", "/products/999999999", {}, 404),
        ("GET", "/orders/999999999/items", {}, 404),
        ("GET", "/products", {"params": {"page": 99999}}, 404),
        ("GET", "/products/select_many", {}, 400),
        ("POST", "/products", {"body": {"item_name": "No status"}}, 400),
        ("PUT", f"/products/{product['id']}", {"body": {"product_status_id": 987654}}, 409),
        ("PUT", "/orders/999999999/status", {"body": {"order_status_id": 1}}, 404),
        ("POST", "/inventory/set", {"body": {"quantity": 1}}, 400),
        ("GET", "/products", {"params": {"item_name": "x" * 2100}}, 414),
        ("DELETE", "/product_pictures/999999999", {}, 404),
        ("PUT", "/order_shipments/999999999", {"body": {"private_comment": "x"}}, 404),
    ]
    for method, path, kwargs, status in cases:
        res = live.call(method, path, **kwargs)
        assert res.status == status, f"{res.url}: wanted {status}, body {res.body!r}"[:400]
        assert (res.pointer or "").startswith("#/components/responses/"), res.url
    live.assert_clean()


def test_rate_limit_envelope_conforms() -> None:
    """429 carries the envelope too (a small store, 2 calls per window)."""
    config = SandboxConfig(rate_calls=2, rate_window=60.0)
    with H.running_sandbox(products=2, orders=2, seed=3, config=config) as small:
        statuses = [small.call("GET", "/product_statuses").status for _ in range(4)]
        assert statuses[-1] == 429, statuses
        small.assert_clean()


# ------------------------------------------------------------------------------ list keys


def test_list_keys_both_settings(live: Any) -> None:
    """Default keys follow the field evidence; the spec's names (configurable) validate too."""
    defaults = {
        "order_items": "items",
        "order_payments": "payments",
        "order_shipments": "shipments",
        "order_addresses": "addresses",
        "product_variants": "variants",
        "product_pictures": "pictures",
        "shipping_provider_services": "services",
        "blog_posts": "posts",
        "custom_field_values": "values",
        "gift_certificate_transactions": "transactions",
        "price_calculators": "price_calculation",
    }
    for name, key in defaults.items():
        assert key in live.ok("GET", f"/{name}", params={"count": 1}, status=200), name
    live.server.config.list_keys = {n: n for n in defaults}
    try:
        for name in defaults:
            assert name in live.ok("GET", f"/{name}", params={"count": 1}, status=200), name
    finally:
        live.server.config.list_keys = {}
    live.assert_clean()


# ---------------------------------------------------------- fidelity beyond the schemas


def test_product_flags_are_integers_and_page_links_are_omitted(live: Any) -> None:
    """The real API sends 0/1 integers for the product flags and omits absent page links."""
    body = live.ok("GET", "/products", params={"count": 100}, status=200)
    for p in body["products"]:
        for flag in C.PRODUCT_INT_FLAGS:
            value = p.get(flag)
            assert type(value) is int, (p["id"], flag, value)
            assert value in (0, 1), (p["id"], flag, value)
    assert "previous_page" not in body
    page2 = live.ok("GET", "/products", params={"count": 5, "page": 2}, status=200)
    assert page2["previous_page"].endswith("page=1")
    last = live.ok(
        "GET",
        "/products",
        params={"count": 100, "page": 1, "item_number": "no-such-sku"},
        status=(200, 404),
    )
    if isinstance(last, dict) and "total_count" in last:
        assert "next_page" not in last
        assert "previous_page" not in last


def test_shipment_lines_use_item_nr(live: Any, writes: dict[str, Any]) -> None:
    """Shipment lines are {id, product_id, item_name, item_nr, quantity_shipped} (§6)."""
    sid = writes["shipment"]["id"]
    lines = live.ok("GET", f"/order_shipments/{sid}/items", status=200)["items"]
    assert lines
    for line in lines:
        assert set(line) >= {"id", "product_id", "item_name", "item_nr", "quantity_shipped"}
        assert "item_number" not in line
    live.assert_clean()


def _declared(schemas: dict[str, Any], name: str) -> set[str]:
    schema = schemas[name]
    out = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        out |= _declared(schemas, part["$ref"].rsplit("/", 1)[1])
    return out


def test_no_undeclared_fields(live: Any) -> None:
    """Resources and their expanded rows carry only declared fields (no invented keys)."""
    schemas = C.corrected_spec()["components"]["schemas"]
    extra: dict[str, set[str]] = {}
    for name in CORE:
        info = C.RESOURCES[name]
        params = {"count": 20}
        if info.nested:
            params["expand"] = ",".join(info.nested)
        body = live.ok("GET", f"/{name}", params=params, status=200)
        for row in next(body[k] for k in info.keys if k in body):
            if set(row) - _declared(schemas, info.schema):
                extra.setdefault(name, set()).update(set(row) - _declared(schemas, info.schema))
            for nested, item in info.nested.items():
                for sub in row.get(nested) or []:
                    unknown = set(sub) - _declared(schemas, item)
                    if unknown:
                        extra.setdefault(f"{name}.{nested}", set()).update(unknown)
    assert not extra, f"fields outside the corrected schemas: {extra}"


def test_timestamps_are_iso_8601_with_offset(live: Any) -> None:
    """Datetimes are "", null, or ISO 8601 with an offset (§1.6; paid_at may lack it)."""
    bad = []
    for name in (
        "orders",
        "order_items",
        "order_shipments",
        "products",
        "variant_inventory",
        "order_payments",
        "categories",
    ):
        info = C.RESOURCES[name]
        body = live.ok("GET", f"/{name}", params={"count": 50}, status=200)
        for row in next(body[k] for k in info.keys if k in body):
            for key, value in row.items():
                if not key.endswith("_at") or value in (None, ""):
                    continue
                try:
                    parsed = datetime.fromisoformat(value)
                except (TypeError, ValueError):
                    bad.append(f"{name}[{row['id']}].{key}={value!r}")
                    continue
                if parsed.tzinfo is None and key != "paid_at":  # §1.6: paid_at may lack one
                    bad.append(f"{name}[{row['id']}].{key}={value!r} has no offset")
    assert not bad, bad[:20]

"""Writes over HTTP: POST create/upsert, PUT, DELETE, validation, and the special routes."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from cartcom_sandbox import clock
from cartcom_sandbox.config import SandboxConfig
from cartcom_store_probe.rows import list_key_of


def _seed(store) -> None:
    store.bulk_insert("product_statuses", [{"id": 1, "name": "In Stock"}])
    store.bulk_insert(
        "order_statuses",
        [
            {"id": 1, "name": "Pending", "is_open": True},
            {"id": 2, "name": "Shipped", "is_shipped": True},
        ],
    )
    store.bulk_insert(
        "categories",
        [
            {"id": 1, "name": "Clothes", "parent_category_id": 0},
            {"id": 2, "name": "Shirts", "parent_category_id": 1},
            {"id": 3, "name": "Tees", "parent_category_id": 2},
        ],
    )
    store.bulk_insert("variant_groups", [{"id": 1, "name": "Size"}])
    store.bulk_insert(
        "products",
        [
            {
                "id": 1,
                "item_number": "TEE",
                "item_name": "Tee",
                "product_status_id": 1,
                "primary_category_id": 1,
                "price": 10.0,
                "quantity_on_hand": 5,
                "gtin": "012345678905",
                "created_at": "2024-01-01T10:00:00-06:00",
                "updated_at": "2024-01-01T10:00:00-06:00",
            },
            {
                "id": 2,
                "item_number": "DUP",
                "item_name": "Dup",
                "product_status_id": 1,
                "primary_category_id": 1,
            },
        ],
    )
    store.bulk_insert(
        "product_variants", [{"id": 1, "product_id": 1, "variant_group_id": 1, "description": "S"}]
    )
    store.bulk_insert(
        "variant_inventory",
        [
            {
                "id": 1,
                "product_id": 1,
                "item_number": "TEE-S",
                "gtin": "012345678912",
                "inventory": 7,
                "variants": [{"id": 1, "product_id": 1, "variant_group_id": 1}],
            },
            {
                "id": 2,
                "product_id": 1,
                "item_number": "DUP",
                "inventory": 1,
                "variants": [{"id": 1, "product_id": 1, "variant_group_id": 1}],
            },
        ],
    )
    store.bulk_insert(
        "orders",
        [
            {
                "id": 100001,
                "order_status_id": 1,
                "customer_id": 0,
                "updated_at": "2024-05-01T10:00:00-05:00",
                "created_at": "2024-05-01T10:00:00-05:00",
            },
            {"id": 100002, "order_status_id": 1, "customer_id": 0},
        ],
    )
    store.bulk_insert(
        "order_items",
        [
            {
                "id": 11,
                "order_id": 100001,
                "product_id": 1,
                "item_number": "TEE",
                "item_name": "Tee",
                "quantity": 2,
            },
            {
                "id": 12,
                "order_id": 100001,
                "product_id": 1,
                "item_number": "TEE-S",
                "item_name": "Tee S",
                "quantity": 1,
            },
            {"id": 21, "order_id": 100002, "product_id": 1, "item_number": "TEE", "quantity": 1},
        ],
    )


@pytest.fixture
def http(sandbox):
    """A session with the token; call(method, path, json=...) -> Response."""
    _seed(sandbox.store)
    session = requests.Session()
    session.headers["X-AC-Auth-Token"] = sandbox.token

    def call(method: str, path: str, **kwargs):
        return session.request(method, sandbox.base_url + path, timeout=10, **kwargs)

    call.server = sandbox
    return call


def _envelope(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status_code"] == status
    assert body["message"]
    assert body["details"]
    return body


# ---------------------------------------------------------------- generic CRUD
def test_post_creates_201_with_full_resource(http):
    resp = http(
        "POST",
        "/products",
        json={
            "item_name": "Cap",
            "item_number": "CAP",
            "product_status_id": 1,
            "primary_category_id": 1,
            "price": 9.99,
            "is_hidden": 1,
        },
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["id"] == 3
    assert body["price"] == 9.99
    assert body["is_hidden"] == 1
    assert body["is_spotlight_item"] == 0
    assert body["is_discontinued"] is False
    assert clock.to_ticks(body["created_at"]) is not None
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"][-6:] in ("-05:00", "-06:00")  # store-local (America/Chicago)
    assert http("GET", "/products/3").json()["item_number"] == "CAP"


def test_post_with_existing_id_updates_200(http):
    resp = http("POST", "/products", json={"id": 1, "price": 12.5})
    assert resp.status_code == 200
    body = resp.json()
    assert body["price"] == 12.5
    assert body["item_name"] == "Tee"
    assert clock.to_ticks(body["updated_at"]) > clock.to_ticks("2024-01-01T10:00:00-06:00")
    assert body["created_at"] == "2024-01-01T10:00:00-06:00"


def test_post_with_unknown_id_is_404(http):
    _envelope(http("POST", "/products", json={"id": 999, "price": 1.0}), 404)


def test_put_partial_update_and_404(http):
    resp = http("PUT", "/products/1", json={"quantity_on_hand": 42})
    assert resp.status_code == 200
    body = resp.json()
    assert body["quantity_on_hand"] == 42
    assert body["price"] == 10.0
    assert len(body) == 144
    _envelope(http("PUT", "/products/999", json={"price": 1.0}), 404)


def test_updated_at_moves_on_every_write(http):
    first = http("PUT", "/products/1", json={"price": 1.0}).json()["updated_at"]
    time.sleep(0.01)
    second = http("PUT", "/products/1", json={"price": 2.0}).json()["updated_at"]
    assert clock.to_ticks(second) > clock.to_ticks(first)


def test_delete_204_then_404(http):
    resp = http("DELETE", "/variant_inventory/2")
    assert resp.status_code == 204
    assert resp.content == b""
    _envelope(http("GET", "/variant_inventory/2"), 404)
    _envelope(http("DELETE", "/variant_inventory/2"), 404)


def test_delete_product_removes_its_children(http):
    assert http("DELETE", "/products/1").status_code == 204
    assert http("GET", "/variant_inventory", params={"product_id": 1}).json()["total_count"] == 0
    assert http("GET", "/product_variants").json()["total_count"] == 0


def test_missing_required_field_is_400(http):
    body = _envelope(http("POST", "/products", json={"item_name": "No status"}), 400)
    assert "product_status_id" in body["details"]
    assert "primary_category_id" in body["details"]
    # the spec's bogus required fields are not required
    ok = http(
        "POST",
        "/products",
        json={"item_name": "x", "product_status_id": 1, "primary_category_id": 1},
    )
    assert ok.status_code == 201
    _envelope(http("POST", "/product_pictures", json={"product_id": 1}), 400)
    _envelope(http("POST", "/categories", json={"short_description": "x"}), 400)
    _envelope(http("POST", "/order_shipments", json={"shipment_name": "1"}), 400)


_P = {"item_name": "x", "product_status_id": 1, "primary_category_id": 1}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/products", {**_P, "primary_category_id": 77}, "primary_category_id"),
        ("/products", {**_P, "product_status_id": "1"}, "product_status_id"),
        ("/products", {**_P, "is_hidden": True}, "is_hidden"),  # 0/1 flags are integers
        ("/products", {**_P, "price": "9.99"}, "price"),
        ("/products", {**_P, "eta_date": "soon"}, "eta_date"),
        ("/product_variants", {"product_id": 404, "variant_group_id": 1}, "product_id"),
        ("/product_pricing", {"product_id": 1, "variant_inventory_id": 99}, "variant_inventory_id"),
        ("/variant_inventory", {"product_id": 1, "variants": [{"id": 99}]}, "variants"),
    ],
)
def test_invalid_value_is_409_naming_the_field(http, path, body, field):
    details = _envelope(http("POST", path, json=body), 409)["details"]
    assert field in details


def test_invalid_json_is_400(http):
    resp = http("POST", "/products", data="{nope", headers={"Content-Type": "application/json"})
    _envelope(resp, 400)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "POST",
            "/categories",
            {"data": '{"name": "A"}', "headers": {"Content-Type": "text/plain"}},
        ),
        ("POST", "/categories", {"data": {"name": "A"}}),  # form-encoded
        ("POST", "/categories", {"data": b'{"name": "A"}'}),  # no Content-Type at all
        ("POST", "/categories", {"files": [("json", (None, '{"name": "A"}', "application/json"))]}),
        (
            "PUT",
            "/categories/1",
            {"data": '{"name": "A"}', "headers": {"Content-Type": "application/xml"}},
        ),
        ("POST", "/inventory/set", {"data": "product_id=1&quantity=3"}),
    ],
)
def test_non_json_body_is_400(http, method, path, kwargs):
    body = _envelope(http(method, path, **kwargs), 400)
    assert "JSON" in body["details"]
    assert http("GET", "/categories/1").json()["name"] == "Clothes"
    assert http("GET", "/categories").json()["total_count"] == 3
    assert http("GET", "/products/1").json()["quantity_on_hand"] == 5


@pytest.mark.parametrize(
    "path", ["/categories", "/categories/rebuild_tree", "/orders/100001", "/inventory/settings"]
)
def test_malformed_json_is_400_on_every_write_route(http, path):
    method = "PUT" if path in ("/orders/100001", "/inventory/settings") else "POST"
    resp = http(
        method,
        path,
        data=b'{"name": "A",}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert "not valid JSON" in _envelope(resp, 400)["details"]
    assert http("GET", "/categories/3").json()["lookup_path"] is None  # no rebuild happened


def test_json_content_type_with_charset_is_accepted(http):
    resp = http(
        "POST",
        "/categories",
        data='{"name": "Caf\u00e9"}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert resp.status_code == 201
    assert resp.json()["name"] == "Caf\u00e9"


def test_written_datetimes_come_back_store_local(http):
    body = http("PUT", "/products/1", json={"eta_date": "2024-07-01T12:00:00Z"}).json()
    assert body["eta_date"] == "2024-07-01T07:00:00-05:00"


def test_variant_inventory_create_with_variants(http):
    resp = http(
        "POST",
        "/variant_inventory",
        json={
            "product_id": 1,
            "item_number": "TEE-M",
            "inventory": 3,
            "variants": [{"id": 1, "product_id": 1, "variant_group_id": 1}],
        },
    )
    assert resp.status_code == 201
    vid = resp.json()["id"]
    got = http("GET", f"/variant_inventory/{vid}", params={"expand": "variants"}).json()
    assert got["variants"][0]["id"] == 1
    assert got["variants"][0]["variant_inventory_id"] == vid
    _envelope(http("POST", "/variant_inventory", json={"product_id": 1}), 400)


# ----------------------------------------------------------------- order status
def test_order_status_route_moves_history_fields(http):
    before = http("GET", "/orders/100001").json()
    resp = http("PUT", "/orders/100001/status", json={"order_status_id": 2})
    assert resp.status_code == 200
    order = resp.json()
    assert order["id"] == 100001
    assert order["order_status_id"] == 2
    assert order["previous_order_status_id"] == 1
    assert order["order_status_last_changed_at"] == order["updated_at"]
    assert clock.to_ticks(order["updated_at"]) > clock.to_ticks(before["updated_at"])
    assert http("GET", "/orders", params={"order_status_id": 2}).json()["total_count"] == 1


def test_order_status_route_errors(http):
    _envelope(http("PUT", "/orders/100001/status", json={"order_status_id": 9}), 409)
    _envelope(http("PUT", "/orders/100001/status", json={}), 400)
    _envelope(http("PUT", "/orders/999/status", json={"order_status_id": 2}), 404)


# -------------------------------------------------------------------- shipments
def test_shipment_upsert_by_shipment_name(http):
    body = {
        "order_id": 100001,
        "shipment_name": "A1",
        "tracking_numbers": "1Z1",
        "shipping_provider_name": "UPS",
        "items": [{"id": 11, "quantity_shipped": 2}],
    }
    first = http("POST", "/order_shipments", json=body)
    assert first.status_code == 201
    sid = first.json()["id"]
    again = http(
        "POST",
        "/order_shipments",
        json={**body, "tracking_numbers": "1Z2", "items": [{"id": 12, "quantity_shipped": 1}]},
    )
    assert again.status_code == 200
    assert again.json()["id"] == sid
    assert again.json()["tracking_numbers"] == "1Z2"
    items = http("GET", f"/order_shipments/{sid}/items").json()["items"]
    assert items == [
        {"id": 11, "product_id": 1, "item_name": "Tee", "item_nr": "TEE", "quantity_shipped": 2},
        {
            "id": 12,
            "product_id": 1,
            "item_name": "Tee S",
            "item_nr": "TEE-S",
            "quantity_shipped": 1,
        },
    ]
    other = http(
        "POST",
        "/order_shipments",
        json={
            "order_id": 100002,
            "shipment_name": "A1",
            "items": [{"id": 21, "quantity_shipped": 1}],
        },
    )
    assert other.status_code == 201
    assert other.json()["id"] != sid
    named = http("GET", "/order_shipments", params={"shipment_name": "A1"}).json()
    assert named["total_count"] == 2


def test_shipment_upsert_by_id_and_unknown_id(http):
    sid = http("POST", "/order_shipments", json={"order_id": 100001}).json()["id"]
    resp = http("POST", "/order_shipments", json={"id": sid, "tracking_url": "https://t"})
    assert resp.status_code == 200
    assert resp.json()["tracking_url"] == "https://t"
    _envelope(http("POST", "/order_shipments", json={"id": 999, "order_id": 100001}), 404)


def test_shipment_item_from_another_order_is_409(http):
    body = {"order_id": 100001, "shipment_name": "B", "items": [{"id": 21, "quantity_shipped": 1}]}
    assert "items" in _envelope(http("POST", "/order_shipments", json=body), 409)["details"]
    negative = {"order_id": 100001, "items": [{"id": 11, "quantity_shipped": -1}]}
    _envelope(http("POST", "/order_shipments", json=negative), 409)
    assert http("GET", "/order_shipments").json()["total_count"] == 0


def test_order_expand_shipments_carries_items(http):
    http(
        "POST",
        "/order_shipments",
        json={
            "order_id": 100001,
            "shipment_name": "1",
            "items": [{"id": 11, "quantity_shipped": 1}],
        },
    )
    order = http("GET", "/orders/100001", params={"expand": "shipments"}).json()
    assert order["shipments"][0]["items"][0]["item_nr"] == "TEE"


def _shipped_order(http) -> None:
    made = http(
        "POST",
        "/order_shipments",
        json={
            "order_id": 100001,
            "shipment_name": "1",
            "items": [{"id": 11, "quantity_shipped": 1}],
        },
    )
    assert made.status_code == 201


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(shipment_items_in_order_expand=False)])
def test_order_shipments_can_come_without_items(http):
    _shipped_order(http)
    listed = http("GET", "/orders", params={"expand": "shipments", "id": 100001}).json()
    one = http("GET", "/orders/100001", params={"expand": "shipments"}).json()
    nested = http("GET", "/orders/100001/shipments").json()["shipments"]
    filled = http("GET", "/orders/100001/filled").json()
    for shipments in (
        listed["orders"][0]["shipments"],
        one["shipments"],
        nested,
        filled["shipments"],
    ):
        assert len(shipments) == 1
        assert shipments[0]["shipment_name"] == "1"
        assert "items" not in shipments[0]
    # The shipment's own routes still give its lines.
    direct = http("GET", "/order_shipments", params={"expand": "items"}).json()
    listed_shipments = direct[list_key_of(direct)]
    assert listed_shipments[0]["items"][0]["id"] == 11
    sid = listed_shipments[0]["id"]
    assert http("GET", f"/order_shipments/{sid}/items").json()["items"][0]["id"] == 11


def test_order_shipments_carry_items_by_default(http):
    _shipped_order(http)
    nested = http("GET", "/orders/100001/shipments").json()["shipments"]
    filled = http("GET", "/orders/100001/filled").json()["shipments"]
    assert nested[0]["items"][0]["quantity_shipped"] == 1
    assert filled[0]["items"][0]["quantity_shipped"] == 1


# -------------------------------------------------------------------- inventory
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"product_id": 1}, {"product_id": 1, "variant_inventory_id": None, "quantity": 5}),
        ({"variant_inventory_id": 1}, {"product_id": 1, "variant_inventory_id": 1, "quantity": 7}),
        ({"item_number": "TEE-S"}, {"variant_inventory_id": 1, "item_name": "Tee", "quantity": 7}),
        ({"gtin": "012345678905"}, {"product_id": 1, "item_number": "TEE", "quantity": 5}),
        ({"item_name": "Tee"}, {"product_id": 1, "gtin": "012345678905", "quantity": 5}),
    ],
)
def test_inventory_get_by_each_identifier(http, params, expected):
    resp = http("GET", "/inventory", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {
        "product_id",
        "variant_inventory_id",
        "item_number",
        "item_name",
        "gtin",
        "quantity",
    }
    assert expected.items() <= body.items()


def test_inventory_identifier_count_errors(http):
    _envelope(http("GET", "/inventory"), 400)
    _envelope(http("GET", "/inventory", params={"product_id": 1, "gtin": "x"}), 400)
    _envelope(http("GET", "/inventory", params={"item_number": "NOPE"}), 404)
    _envelope(http("GET", "/inventory", params={"item_number": "DUP"}), 409)  # ambiguous


def test_inventory_set_add_remove(http):
    r = http("POST", "/inventory/set", json={"variant_inventory_id": 1, "quantity": 10})
    assert r.status_code == 200
    assert r.json()["quantity"] == 10
    assert (
        http("POST", "/inventory/add", json={"item_number": "TEE-S", "quantity": 5}).json()[
            "quantity"
        ]
        == 15
    )
    assert (
        http("POST", "/inventory/remove", json={"variant_inventory_id": 1, "quantity": 3}).json()[
            "quantity"
        ]
        == 12
    )
    assert http("GET", "/variant_inventory/1").json()["inventory"] == 12
    assert (
        http("POST", "/inventory/set", json={"product_id": 1, "quantity": 0}).json()["quantity"]
        == 0
    )
    assert http("GET", "/products/1").json()["quantity_on_hand"] == 0
    _envelope(http("POST", "/inventory/set", json={"product_id": 1}), 400)
    _envelope(http("POST", "/inventory/set", json={"product_id": 1, "quantity": -1}), 409)


# --------------------------------------------------------- upload, rebuild_tree
def test_upload_multipart_204_then_picture_references_it(http):
    files = [
        (
            "json",
            (
                None,
                json.dumps({"destination": "/shared/images/x.jpg", "overwrite": True}),
                "application/json",
            ),
        ),
        ("file", ("x.jpg", b"\xff\xd8\xffJPEG", "image/jpeg")),
    ]
    resp = http("POST", "/upload", files=files)
    assert resp.status_code == 204
    assert resp.content == b""
    assert http.server.store.get_upload("/shared/images/x.jpg")[0] == b"\xff\xd8\xffJPEG"
    pic = http(
        "POST",
        "/product_pictures",
        json={"product_id": 1, "is_primary": True, "image_file": "/shared/images/x.jpg"},
    )
    assert pic.status_code == 201
    no_overwrite = [
        ("json", (None, json.dumps({"destination": "/shared/images/x.jpg"}), "application/json")),
        files[1],
    ]
    _envelope(http("POST", "/upload", files=no_overwrite), 409)


def test_upload_base64_part(http):
    boundary = "XyZ"
    payload = base64.b64encode(b"PNGDATA").decode()
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n'
        "Content-Type: application/json\r\n\r\n"
        '{"destination": "/images/p.png", "overwrite": true}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
        "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{payload}\r\n--{boundary}--\r\n"
    )
    resp = http(
        "POST",
        "/upload",
        data=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status_code == 204
    assert http.server.store.get_upload("/images/p.png") == (b"PNGDATA", "image/png")


def test_upload_without_destination_is_400(http):
    files = [("file", ("x.jpg", b"abc", "image/jpeg"))]
    _envelope(http("POST", "/upload", files=files), 400)


def test_picture_with_external_url(http):
    resp = http(
        "POST",
        "/product_pictures",
        json={
            "product_id": 1,
            "image_file": "https://cdn.example.com/a.jpg",
            "download_external_image": True,
        },
    )
    assert resp.status_code == 201
    assert resp.json()["download_external_image"] is True


def test_external_image_is_kept_by_default(http):
    resp = http(
        "POST",
        "/product_pictures",
        json={
            "product_id": 1,
            "image_file": "https://cdn.example.com/p/a.jpg?v=2",
            "download_external_image": True,
        },
    )
    assert resp.json()["image_file"] == "https://cdn.example.com/p/a.jpg?v=2"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(external_images="rewrite")])
def test_external_image_rewritten_to_a_local_path_when_downloaded(http):
    made = http(
        "POST",
        "/product_pictures",
        json={
            "product_id": 1,
            "image_file": "https://cdn.example.com/p/a%20b.jpg?v=2",
            "download_external_image": True,
        },
    )
    assert made.status_code == 201
    assert made.json()["image_file"] == "/shared/images/a b.jpg"
    pid = made.json()["id"]
    assert http("GET", f"/product_pictures/{pid}").json()["image_file"] == "/shared/images/a b.jpg"
    kept = http(
        "POST",
        "/product_pictures",
        json={"product_id": 1, "image_file": "http://cdn.example.com/c.png"},
    )
    assert kept.json()["image_file"] == "http://cdn.example.com/c.png"  # not downloaded
    local = http(
        "POST",
        "/product_pictures",
        json={"product_id": 1, "image_file": "/images/d.png", "download_external_image": True},
    )
    assert local.json()["image_file"] == "/images/d.png"
    # PUT: the stored download flag applies to a new absolute URL.
    moved = http(
        "PUT", f"/product_pictures/{pid}", json={"image_file": "HTTPS://other.example.com/e.webp"}
    )
    assert moved.json()["image_file"] == "/shared/images/e.webp"
    off = http(
        "PUT",
        f"/product_pictures/{kept.json()['id']}",
        json={"image_file": "https://cdn.example.com/f.png", "download_external_image": True},
    )
    assert off.json()["image_file"] == "/shared/images/f.png"


def test_rebuild_tree_recomputes_lookup_path(http):
    assert http("GET", "/categories/3").json()["lookup_path"] is None
    resp = http("POST", "/categories/rebuild_tree")
    assert resp.status_code == 204
    assert http("GET", "/categories/3").json()["lookup_path"] == "Clothes > Shirts > Tees"
    http("PUT", "/categories/2", json={"name": "Tops"})
    http("POST", "/categories/rebuild_tree")
    assert (
        http("GET", "/categories", params={"lookup_path": "Clothes > Tops > Tees"}).json()[
            "total_count"
        ]
        == 1
    )


def test_method_not_allowed_is_405_envelope(http):
    _envelope(http("PATCH", "/products/1", json={}), 405)


def test_import_many_creates_updates_by_sku_and_reports_errors(http):
    lines = [
        {"lookup_by_sku": True, "product": {"item_number": "TEE", "price": 15.0}},
        {
            "look_by_sku": True,
            "product": {"item_number": "NEW", "item_name": "New", "product_status_id": 1},
            "category": {"name": "Imported"},
            "manufacturer": {"name": "Brand"},
        },
        {"product": {"item_name": "Broken", "product_status_id": 1}},
    ]
    resp = http("POST", "/products/importMany", json=lines)
    assert resp.status_code == 200
    body = resp.json()
    assert body["total_errors"] == 1
    assert [(r["line_item"], r["status_code"]) for r in body["results"]] == [
        (1, 200),
        (2, 201),
        (3, 400),
    ]
    assert body["results"][0]["entity_id"] == 1
    assert http("GET", "/products/1").json()["price"] == 15.0
    made = http("GET", f"/products/{body['results'][1]['entity_id']}").json()
    category = http("GET", f"/categories/{made['primary_category_id']}").json()
    assert category["name"] == "Imported"
    assert http("GET", f"/manufacturers/{made['manufacturer_id']}").json()["name"] == "Brand"
    _envelope(http("POST", "/products/importMany", json={"lines": lines}), 400)

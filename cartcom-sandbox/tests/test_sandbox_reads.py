"""Reads over HTTP: paging, sort, fields/expand, every filter operator, select_many, nesting."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cartcom_sandbox.config import SandboxConfig
from cartcom_store_probe.rows import list_key_of

# Orders around the US DST switch (2024-03-10 08:00 UTC): local offsets -06:00 then -05:00.
ORDER_TIMES = [
    "2024-03-09T22:00:00-06:00",  # 04:00Z on the 10th
    "2024-03-10T01:30:00.5-06:00",  # 07:30:00.5Z
    "2024-03-10T03:15:00.1234567-05:00",  # 08:15Z (after the switch)
    "2024-03-10T10:00:00-05:00",  # 15:00Z
    "2024-03-11T09:00:00.97-05:00",  # 14:00Z on the 11th
    "",  # a "" date
]


def _seed(store) -> None:
    store.bulk_insert(
        "product_statuses", [{"id": 1, "name": "In Stock"}, {"id": 2, "name": "Out of Stock"}]
    )
    store.bulk_insert(
        "order_statuses",
        [
            {"id": 1, "name": "Pending", "is_open": True},
            {"id": 2, "name": "Shipped", "is_shipped": True},
        ],
    )
    store.bulk_insert(
        "categories",
        [{"id": 1, "name": "Clothes"}, {"id": 2, "name": "Shoes", "parent_category_id": 1}],
    )
    store.bulk_insert("variant_groups", [{"id": 1, "name": "Size"}])
    store.bulk_insert(
        "products",
        [
            {
                "id": i,
                "item_number": f"SKU-{i}",
                "item_name": name,
                "price": price,
                "gtin": f"00000000000{i}",
                "product_status_id": 1,
                "primary_category_id": 1 + i % 2,
                "is_hidden": 1 if i == 3 else 0,
                "use_variant_inventory": i == 1,
                "quantity_on_hand": 10 * i,
                "height": "1.5",
                "created_at": f"2024-01-0{i}T10:00:00-06:00",
                "updated_at": f"2024-01-0{i}T10:00:00-06:00",
            }
            for i, name, price in [
                (1, "Tee Shirt", 10.5),
                (2, "Blue Shoe", 30.0),
                (3, "Red Shoe", 30.0),
                (4, "Hat", 5.25),
                (5, "tee towel", 7.0),
            ]
        ],
    )
    store.bulk_insert(
        "product_variants",
        [
            {"id": 1, "product_id": 1, "variant_group_id": 1, "description": "S"},
            {"id": 2, "product_id": 1, "variant_group_id": 1, "description": "M"},
        ],
    )
    store.bulk_insert(
        "variant_inventory",
        [
            {
                "id": 1,
                "product_id": 1,
                "item_number": "SKU-1-S",
                "inventory": 3,
                "variants": [{"id": 1, "product_id": 1, "variant_group_id": 1}],
            },
            {
                "id": 2,
                "product_id": 1,
                "item_number": "SKU-1-M",
                "inventory": 4,
                "variants": [{"id": 2, "product_id": 1, "variant_group_id": 1}],
            },
        ],
    )
    store.bulk_insert(
        "product_pricing",
        [
            {
                "id": 1,
                "product_id": 1,
                "variant_inventory_id": 1,
                "price": 11.0,
                "starting_quantity": 1,
            }
        ],
    )
    store.bulk_insert(
        "product_pictures", [{"id": 1, "product_id": 1, "image_file": "/shared/images/tee.jpg"}]
    )
    store.bulk_insert(
        "orders",
        [
            {
                "id": 100001 + i,
                "customer_id": 1,
                "order_status_id": 1 + i % 2,
                "grand_total": 10.5,
                "updated_at": t,
                "created_at": t,
                "ordered_at": t,
            }
            for i, t in enumerate(ORDER_TIMES)
        ],
    )
    store.bulk_insert(
        "order_items",
        [
            {
                "id": 1 + 2 * i + k,
                "order_id": 100001 + i,
                "product_id": 1 + k,
                "item_number": f"SKU-{1 + k}",
                "item_name": "x",
                "quantity": 2,
                "price": 10.5,
            }
            for i in range(len(ORDER_TIMES))
            for k in range(2)
        ],
    )
    store.bulk_insert(
        "order_shipments",
        [
            {
                "id": 1,
                "order_id": 100001,
                "shipment_name": "1",
                "provider_base_shipping_cost": "4.1",
                "items": [{"id": 1, "quantity_shipped": 2}],
            },
        ],
    )


@pytest.fixture
def api(sandbox):
    """A requests session on the seeded sandbox; get(path, **params) -> Response."""
    _seed(sandbox.store)
    session = requests.Session()
    session.headers["X-AC-Auth-Token"] = sandbox.token

    def get(path: str, **params):
        return session.get(sandbox.base_url + path, params=params, timeout=10)

    get.session = session
    get.server = sandbox
    return get


def ids(resp, key: str = "orders") -> list[int]:
    assert resp.status_code == 200, resp.text
    return [r["id"] for r in resp.json()[key]]


# ------------------------------------------------------------------------- paging
def test_list_wrapper_and_default_count(api):
    body = api("/orders").json()
    assert body["total_count"] == 6
    assert "next_page" not in body
    assert "previous_page" not in body
    assert [o["id"] for o in body["orders"]] == list(range(100001, 100007))


def test_next_previous_omitted_at_the_ends_and_keep_params(api):
    first = api("/orders", count=2, sort="-id", customer_id=1).json()
    assert "previous_page" not in first
    nxt = urlsplit(first["next_page"])
    assert nxt.scheme == "http"
    assert nxt.path == "/api/v1/orders"
    assert parse_qs(nxt.query) == {
        "count": ["2"],
        "sort": ["-id"],
        "customer_id": ["1"],
        "page": ["2"],
    }
    middle = api.session.get(first["next_page"], timeout=10).json()
    assert [o["id"] for o in middle["orders"]] == [100004, 100003]
    assert parse_qs(urlsplit(middle["previous_page"]).query)["page"] == ["1"]
    last = api("/orders", count=2, page=3).json()
    assert "next_page" not in last
    assert "previous_page" in last
    assert len(last["orders"]) == 2


def test_page_past_last_is_404_envelope(api):
    resp = api("/orders", count=2, page=4)
    assert resp.status_code == 404
    assert resp.json()["status_code"] == 404
    assert resp.json()["message"] == "Not Found"


def test_empty_first_page_is_200_with_empty_list(api):
    resp = api("/orders", customer_id=999)
    assert resp.status_code == 200
    assert resp.json() == {"total_count": 0, "orders": []}


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(empty_page_status=404)])
def test_empty_first_page_can_be_404(api):
    assert api("/orders", customer_id=999).status_code == 404


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(max_count=4)])
def test_count_above_max_is_capped_silently(api):
    body = api("/orders", count=50).json()
    assert len(body["orders"]) == 4
    assert "next_page" in body


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(max_count=4, count_over_max="error")])
def test_count_above_max_can_be_400(api):
    assert api("/orders", count=50).status_code == 400


def test_bad_page_or_count_is_400(api):
    assert api("/orders", page=0).status_code == 400
    assert api("/orders", count="x").status_code == 400


# ------------------------------------------------------------------- sort, fields
def test_sort_multi_field_and_descending(api):
    body = api("/products", sort="-price,item_name", fields="id,price,item_name").json()
    assert [p["id"] for p in body["products"]] == [2, 3, 1, 5, 4]
    assert ids(api("/products", sort="price,-id"), "products") == [4, 5, 1, 3, 2]


def test_sort_on_datetime_uses_utc_across_dst(api):
    # Lexical order of the local strings differs from time order; UTC order is expected.
    got = ids(api("/orders", sort="updated_at,id"))
    assert got == [100006, 100001, 100002, 100003, 100004, 100005]


def test_sort_unknown_field_is_400(api):
    assert api("/products", sort="nope").status_code == 400


def test_fields_projection(api):
    body = api("/products", fields="id,item_number", count=1).json()
    assert body["products"] == [{"id": 1, "item_number": "SKU-1"}]


def test_fields_naming_nested_expands_it(api):
    prod = api("/products/1", fields="id,variants").json()
    assert set(prod) == {"id", "variants"}
    assert [v["description"] for v in prod["variants"]] == ["S", "M"]


def test_expand_products_nested_collections(api):
    prod = api(
        "/products",
        expand="variants,variant_inventory,pictures,categories,pricing,attributes,custom_fields",
    ).json()["products"][0]
    assert [v["id"] for v in prod["variants"]] == [1, 2]
    assert [v["item_number"] for v in prod["variant_inventory"]] == ["SKU-1-S", "SKU-1-M"]
    assert prod["pictures"][0]["image_file"] == "/shared/images/tee.jpg"
    assert prod["categories"] == [{"id": 2, "is_primary": True, "name": "Shoes"}]
    assert prod["pricing"][0]["price"] == 11.0
    assert prod["attributes"] == []
    assert prod["custom_fields"] == []


def test_unexpanded_nested_is_null_or_absent(api):
    prod = api("/products/1").json()
    assert prod["variants"] is None  # declared in the spec's products schema
    assert "pictures" not in prod
    order = api("/orders/100001").json()
    assert "items" not in order


def test_expand_orders_items_payments_shipments_with_items(api):
    order = api("/orders", expand="items,payments,shipments", count=1).json()["orders"][0]
    assert [i["id"] for i in order["items"]] == [1, 2]
    assert order["payments"] == []
    ship = order["shipments"][0]
    assert ship["items"] == [
        {"id": 1, "product_id": 1, "item_name": "x", "item_nr": "SKU-1", "quantity_shipped": 2}
    ]


def test_real_shapes_and_types(api):
    prod = api("/products/3").json()
    assert prod["is_hidden"] == 1
    assert prod["is_spotlight_item"] == 0
    assert prod["height"] == "1.5"
    assert prod["use_variant_inventory"] is False
    assert prod["price"] == 30.0
    assert prod["created_at"] == "2024-01-03T10:00:00-06:00"
    assert api("/orders/100006").json()["updated_at"] == ""
    ship = api("/order_shipments/1").json()
    assert ship["provider_base_shipping_cost"] == "4.1"
    # every field of the spec's component schema is present
    assert len(prod) == 144


# ---------------------------------------------------------------------- filtering
def test_filter_eq_default_and_explicit(api):
    assert ids(api("/products", item_number="SKU-2"), "products") == [2]
    assert ids(api("/products", item_number="eq:sku-2"), "products") == [2]  # case-insensitive


def test_filter_not(api):
    assert ids(api("/products", price="not:30"), "products") == [1, 4, 5]


def test_filter_like_and_startwith(api):
    assert ids(api("/products", item_name="like:shoe"), "products") == [2, 3]
    assert ids(api("/products", item_name="startwith:tee"), "products") == [1, 5]
    assert ids(api("/products", item_name="like:%"), "products") == []  # % is literal


def test_filter_gt_gte_lt_lte(api):
    assert ids(api("/products", price="gt:10.5"), "products") == [2, 3]
    assert ids(api("/products", price="gte:10.5"), "products") == [1, 2, 3]
    assert ids(api("/products", price="lt:7"), "products") == [4]
    assert ids(api("/products", price="lte:7"), "products") == [4, 5]


def test_filter_and_within_one_value(api):
    assert ids(api("/products", price="gt:5.25 AND lte:10.5"), "products") == [1, 5]
    url = api.server.base_url + "/products?price=gt:5.25+AND+lte:10.5"
    assert ids(api.session.get(url, timeout=10), "products") == [1, 5]


def test_filter_or_within_one_value_raw_plus(api):
    url = api.server.base_url + "/products?id=1+OR+4+OR+eq:5"
    assert ids(api.session.get(url, timeout=10), "products") == [1, 4, 5]


def test_filter_leading_or_plus(api):
    # id=2 OR price<6 (the leading OR+ ORs this field with the others)
    url = api.server.base_url + "/products?id=2&price=OR+lt:6"
    assert ids(api.session.get(url, timeout=10), "products") == [2, 4]


def test_filter_and_binds_tighter_than_or(api):
    # price=gt:20 AND is_hidden=1 OR item_number=SKU-4  ->  (2|3 and hidden) or 4 -> [3, 4]
    url = api.server.base_url + "/products?price=gt:20&is_hidden=1&item_number=OR+SKU-4"
    assert ids(api.session.get(url, timeout=10), "products") == [3, 4]


def test_filter_booleans_and_int_flags(api):
    assert ids(api("/products", use_variant_inventory="true"), "products") == [1]
    assert ids(api("/products", is_hidden="1"), "products") == [3]
    assert ids(api("/order_statuses", is_shipped="false"), "order_statuses") == [1]


def test_filter_datetime_with_z(api):
    got = ids(api("/orders", updated_at="gte:2024-03-10T07:30:00.5Z AND lt:2024-03-10T15:00:00Z"))
    assert got == [100002, 100003]


def test_filter_datetime_with_encoded_plus_offset(api):
    url = api.server.base_url + "/orders?updated_at=gt:2024-03-10T10:00:00%2B02:00"  # 08:00Z
    assert ids(api.session.get(url, timeout=10)) == [100003, 100004, 100005]


def test_filter_datetime_across_dst_offsets(api):
    # 02:00-06:00 is 08:00Z, the same instant as 03:00-05:00: compared in UTC, not as text.
    a = ids(api("/orders", updated_at="gte:2024-03-10T02:00:00-06:00"))
    b = ids(api("/orders", updated_at="gte:2024-03-10T03:00:00-05:00"))
    assert a == b == [100003, 100004, 100005]
    assert ids(api("/orders", created_at="lt:2024-03-10T03:15:00.1234568-05:00")) == [
        100001,
        100002,
        100003,
    ]  # 7 fractional digits are exact


def test_filter_datetime_with_plus_decoded_as_space_is_400(api):
    url = api.server.base_url + "/orders?updated_at=gt:2024-03-10T10:00:00+02:00"
    resp = api.session.get(url, timeout=10)
    assert resp.status_code == 400
    assert "%2B" in resp.json()["details"]


def test_filter_bad_value_is_400(api):
    assert api("/orders", customer_id="abc").status_code == 400


def test_unknown_params_are_ignored(api):
    assert len(ids(api("/orders", nonsense="1"))) == 6


# --------------------------------------------------------------- other read forms
def test_get_by_id_and_404(api):
    assert api("/products/2").json()["item_number"] == "SKU-2"
    resp = api("/products/999")
    assert resp.status_code == 404
    assert resp.json()["status_code"] == 404


def test_json_suffix_accepted_everywhere(api):
    assert ids(api("/products.json", item_number="SKU-2"), "products") == [2]
    assert api("/products/2.json").json()["id"] == 2
    assert api("/products/1/variants.json").json()["total_count"] == 2
    assert api("/products/select_many.json", ids="1").json()["total_count"] == 1


def test_select_many(api):
    body = api("/products/select_many", ids="4,2,99", sort="-id").json()
    assert body["total_count"] == 2
    assert [p["id"] for p in body["products"]] == [4, 2]


def test_select_many_without_ids_is_400(api):
    resp = api("/products/select_many")
    assert resp.status_code == 400
    assert "requires one or more resource IDs" in resp.json()["details"]


def test_nested_list_wrapped_with_sort_and_fields(api):
    body = api("/products/1/variants", sort="description", fields="id,description").json()
    assert body == {
        "total_count": 2,
        "variants": [{"id": 2, "description": "M"}, {"id": 1, "description": "S"}],
    }
    assert ids(api("/products/1/variants", sort="-id"), "variants") == [2, 1]
    assert api("/products/1/nope").status_code == 404


def test_nested_order_shipment_items_and_vi_variants(api):
    items = api("/order_shipments/1/items").json()["items"]
    assert items[0]["item_nr"] == "SKU-1"
    assert items[0]["quantity_shipped"] == 2
    variants = api("/variant_inventory/2/variants").json()["variants"]
    assert [(v["id"], v["variant_inventory_id"], v["description"]) for v in variants] == [
        (2, 2, "M")
    ]


def test_filled_fills_every_nested_and_only_fields(api):
    order = api("/orders/100001/filled").json()
    assert {"items", "payments", "shipments", "custom_fields"} <= set(order)
    slim = api("/orders/100001/filled", fields="id,items").json()
    assert set(slim) == {"id", "items"}
    assert len(slim["items"]) == 2


# Each resource's default list key and the public clients that read it (docs/api.md §1.2).
FIELD_LIST_KEYS = {
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
    "orders": "orders",
    "products": "products",
    "addresses": "addresses",
}


@pytest.mark.parametrize(("resource", "key"), FIELD_LIST_KEYS.items())
def test_list_keys_follow_field_evidence(api, resource, key):
    body = api(f"/{resource}").json()
    assert list_key_of(body) == key
    # select_many answers under the same key (Americommerce4Net reads it so, docs/api.md §1.2)
    assert list_key_of(api(f"/{resource}/select_many", ids="1").json()) == key


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(list_keys={"order_shipments": "order_shipments"})]
)
def test_list_key_is_configurable(api):
    body = api("/order_shipments").json()
    assert "order_shipments" in body
    assert "shipments" not in body


def test_order_items_filter_by_order_id(api):
    assert ids(api("/order_items", order_id=100002), "items") == [3, 4]


def test_count_defaults_to_100(sandbox):
    sandbox.store.bulk_insert("manufacturers", [{"id": i, "name": f"M{i}"} for i in range(1, 151)])
    body = requests.get(
        sandbox.base_url + "/manufacturers", timeout=10, headers={"X-AC-Auth-Token": sandbox.token}
    ).json()
    assert body["total_count"] == 150
    assert len(body["manufacturers"]) == 100
    assert parse_qs(urlsplit(body["next_page"]).query) == {"page": ["2"]}


def test_fields_with_expand_keeps_the_expanded_collection(api):
    order = api("/orders/100001", fields="id,grand_total", expand="items").json()
    assert set(order) == {"id", "grand_total", "items"}
    assert [i["id"] for i in order["items"]] == [1, 2]

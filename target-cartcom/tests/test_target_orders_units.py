"""Unit tests of the order streams' pieces.

Carrier map, statuses, URL chunking, record parsing, and the read path when Cart.com's nested
shipments come without their lines (requests-mock).
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from importlib import resources

import pytest
from cartcom_testing.wire import mock_transport
from target_cartcom._client import CartcomSession, ConfigurationError, ConnectionSettings
from target_cartcom.orders.carriers import CarrierResolver, UnmappedCarrierError, build_carrier_map
from target_cartcom.orders.common import RecordError, without_date_formats
from target_cartcom.orders.reads import OrderReader, chunks_for_url
from target_cartcom.orders.shipment_request import parse_record
from target_cartcom.orders.statuses import StatusBook, UnknownStatusError
from target_cartcom.outcomes import whole_number
from target_cartcom.target import TargetCartcom

BASE = "https://shop.example.com/api/v1"


@pytest.fixture
def wire(monkeypatch):
    """Scripted answers under the pacing adapter (pacing runs, as against a real store)."""
    return mock_transport(monkeypatch)


PROVIDERS = [
    {
        "id": 1,
        "name": "UPS",
        "provider_code": "UPS",
        "services": [
            {"id": 11, "identifier": "UPS_GROUND", "name": "UPS Ground", "is_enabled": True},
            {
                "id": 12,
                "identifier": "UPS_2ND_DAY_AIR",
                "name": "UPS 2nd Day Air",
                "is_enabled": True,
            },
        ],
    },
    {
        "id": 2,
        "name": "FedEx",
        "provider_code": "FEDEX",
        "services": [
            {"id": 21, "identifier": "FEDEX_2_DAY", "name": "FedEx 2Day", "is_enabled": True}
        ],
    },
    {"id": 3, "name": "OnTrac", "provider_code": "ONTRAC", "services": []},
]
CUSTOM = [{"id": 7, "name": "Local Delivery"}, {"id": 8, "name": "Freight"}]
STATUSES = [
    {"id": 1, "name": "Pending", "is_open": True},
    {"id": 2, "name": "Processing", "is_open": True},
    {"id": 3, "name": "Partially Shipped", "is_partially_shipped": True},
    {"id": 4, "name": "Shipped", "is_shipped": True},
    {"id": 5, "name": "Completed"},
]


def resolver(overrides=None, unmapped="fail"):
    """A resolver over the fixed store lists, counting reads."""
    reads = {"providers": 0, "custom": 0}

    def providers():
        reads["providers"] += 1
        return PROVIDERS

    def custom():
        reads["custom"] += 1
        return CUSTOM

    return CarrierResolver(overrides, providers, custom, unmapped=unmapped), reads


@pytest.mark.parametrize(
    ("carrier", "service", "expected"),
    [
        ("UPS", "Ground", ("UPS", "UPS Ground", 11, "provider")),
        ("united parcel service", "ups_2nd_day_air", ("UPS", "UPS 2nd Day Air", 12, "provider")),
        ("Federal Express", "2 Day", ("FedEx", "FedEx 2Day", 21, "provider")),
        ("FDX", "FedEx 2Day", ("FedEx", "FedEx 2Day", 21, "provider")),
        (
            "OnTrac",
            None,
            ("OnTrac", None, None, "provider"),
        ),  # the store's provider, not in the map
        ("Courier", None, ("Courier", "Local Delivery", 7, "custom")),
        ("Freight", None, ("Freight", "Freight", 8, "custom")),
        (None, "UPS_GROUND", ("UPS", "UPS Ground", 11, "provider")),
        (None, None, ("UPS", "UPS 2nd Day Air", 12, "provider")),  # the order's own choice
    ],
)
def test_target_orders_carrier_resolution(carrier, service, expected):
    """Carriers and services resolve through aliases, the store's names, and the order."""
    found, _ = resolver()
    method = found.resolve(
        carrier, service, {"selected_shipping_provider_service": "UPS_2ND_DAY_AIR"}
    )
    assert (
        method.shipping_provider_name,
        method.shipping_method,
        method.shipping_method_id,
        method.shipping_method_type,
    ) == expected


def test_target_orders_custom_methods_read_only_when_needed():
    """Custom shipping methods are never read when a provider service matches."""
    found, reads = resolver()
    for _ in range(3):
        found.resolve("UPS", "Ground", {})
    assert reads["custom"] == 0  # custom methods are never asked for when a provider matches


def test_target_orders_carrier_map_overrides():
    """A merchant's map wins over the defaults; null removes a default; bad entries fail."""
    found, _ = resolver(
        {
            "UPS": {"provider": "UPS", "services": {"Economy": "UPS_GROUND"}},
            "LaserShip": {"custom_method": "Local Delivery"},
            "DHL": None,
        }
    )
    assert found.resolve("ups", "economy", {}).shipping_method_id == 11
    assert found.resolve("LaserShip", None, {}).shipping_method_type == "custom"
    with pytest.raises(UnmappedCarrierError, match="unknown carrier 'DHL'"):
        found.resolve("DHL", None, {})
    assert "dhl" not in build_carrier_map({"DHL": None})
    with pytest.raises(ConfigurationError, match="exactly one of"):
        build_carrier_map({"X": {"provider": "UPS", "custom_method": "Freight"}})
    with pytest.raises(ConfigurationError, match="unknown keys"):
        build_carrier_map({"X": {"provder": "UPS"}})


def test_target_orders_unmapped_carrier_modes():
    """Unknown services fail by default, or pass as text when `unmapped_carrier` is text."""
    strict, _ = resolver()
    with pytest.raises(UnmappedCarrierError, match="unknown service 'Hovercraft'"):
        strict.resolve("UPS", "Hovercraft", {})
    with pytest.raises(UnmappedCarrierError, match="store lacks"):
        strict.resolve("USPS", "Priority", {})  # in the map, not in this store
    lenient, _ = resolver(unmapped="text")
    method = lenient.resolve("Pony Express", "Saddle", {})
    assert method.fields() == {
        "shipping_provider_name": "Pony Express",
        "shipping_method": "Saddle",
    }


def test_target_orders_statuses_by_flag_name_or_id():
    """Statuses resolve by name or id; shipped ones by flag or configured name."""
    book = StatusBook(STATUSES)
    assert book.resolve("partially shipped")["id"] == 3
    assert book.resolve("4")["name"] == "Shipped"
    assert book.resolve(2)["name"] == "Processing"
    with pytest.raises(UnknownStatusError, match="no order status 'Acknowledged'"):
        book.resolve("Acknowledged")
    assert book.by_flag_or_name(None, "is_shipped", "shipped_status")["id"] == 4
    assert book.by_flag_or_name("Completed", "is_shipped", "shipped_status")["id"] == 5
    with pytest.raises(ConfigurationError, match="`shipped_status`"):
        book.by_flag_or_name("Nope", "is_shipped", "shipped_status")
    with pytest.raises(ConfigurationError, match="no order status flagged is_shipped"):
        StatusBook(STATUSES[:2]).by_flag_or_name(None, "is_shipped", "shipped_status")


def test_target_orders_chunks_fit_the_url_cap():
    """Chunks hold at most 100 values and never pass the character cap."""
    values = [str(100_000 + i) for i in range(250)]
    assert [len(c) for c in chunks_for_url(values, 60, 1)] == [100, 100, 50]
    long = ["x" * 90 for _ in range(50)]
    chunks = list(chunks_for_url(long, 100, 4, max_chars=1000))
    assert all(100 + sum(map(len, c)) + 4 * (len(c) - 1) <= 1000 for c in chunks)
    assert sum(len(c) for c in chunks) == 50


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"order_id": 1}, "shipment_id", "needs `shipment_id`"),
        ({"shipment_id": "a"}, "order_id", "needs `order_id` or `order_number`"),
        ({"shipment_id": "a", "order_id": "12x"}, "order_id", "whole number"),
        ({"shipment_id": "a", "order_id": -3}, "order_id", "at least 1"),
        (
            {"shipment_id": "a", "order_id": 1, "shipped_at": "yesterday"},
            "shipped_at",
            "malformed date",
        ),
        ({"shipment_id": "a", "order_id": 1, "items": []}, "items", "non-empty list"),
        ({"shipment_id": "a", "order_id": 1, "items": [{"quantity": 1}]}, "items[0]", "`sku` or"),
        (
            {"shipment_id": "a", "order_id": 1, "items": [{"sku": "A", "quantity": 0}]},
            "items[0].quantity",
            "at least 1",
        ),
        (
            {"shipment_id": "a", "order_id": 1, "items": [{"order_item_id": 0, "quantity": 1}]},
            "items[0].order_item_id",
            "at least 1",
        ),
        (
            {"shipment_id": "a", "order_id": 1, "items": [{"sku": "A", "quantity": 1.5}]},
            "items[0].quantity",
            "whole number",
        ),
        (
            {"shipment_id": "a", "order_id": 1, "tracking_numbers": {"a": 1}},
            "tracking_numbers",
            "list",
        ),
    ],
)
def test_target_orders_parse_errors_name_the_field(record, field, message):
    """Malformed records fail with the field at fault."""
    with pytest.raises(RecordError, match=re.escape(message)) as info:
        parse_record(0, record)
    assert info.value.field == field


def test_target_orders_parse_normalises():
    """Tracking numbers are split, deduplicated; dates with offsets become UTC."""
    parsed = parse_record(
        0,
        {
            "shipment_id": " s1 ",
            "order_number": "A-1",
            "tracking_numbers": ["1Z1, 1Z2", "1Z1"],
            "shipped_at": "2024-05-02T10:00:00.1234567-05:00",
        },
    )
    assert parsed.name == "s1"
    assert parsed.order_number == "A-1"
    assert parsed.tracking == ["1Z1", "1Z2"]
    assert parsed.shipped_at.isoformat().startswith("2024-05-02T15:00:00.123456")


def test_target_orders_schema_dates_parsed_by_the_sink():
    """Date formats are dropped from incoming schemas so a bad date cannot stop the run."""
    schema = json.loads(
        (resources.files("target_cartcom") / "schemas" / "order_shipment.schema.json").read_text()
    )
    stripped = without_date_formats(schema)
    assert "format" not in stripped["properties"]["shipped_at"]
    assert schema["properties"]["shipped_at"]["format"] == "date-time"


def test_target_orders_reader_fills_missing_shipment_lines(wire):
    """Nested shipments without lines (as Cart.com's samples show) cost one batched read."""
    session = CartcomSession(ConnectionSettings(BASE, "tok", calls_per_window=1000))
    orders = {
        "total_count": 2,
        "orders": [
            {
                "id": 100,
                "shipments": [{"id": 5, "shipment_name": "a"}, {"id": 6, "shipment_name": "b"}],
            },
            {"id": 101, "shipments": []},
        ],
    }
    wire.register_uri("GET", f"{BASE}/orders/select_many", json=orders)
    ships = wire.register_uri(
        "GET",
        f"{BASE}/order_shipments/select_many",
        json={
            "total_count": 2,
            "order_shipments": [
                {"id": 5, "items": [{"id": 1, "quantity_shipped": 2}]},
                {"id": 6, "items": [{"id": 2, "quantity_shipped": 1}]},
            ],
        },
    )
    reader = OrderReader(session)
    found = reader.by_ids([101, 100])
    assert wire.request_history[0].url.endswith("ids=100,101&expand=items,shipments")
    assert reader.fill_shipment_items(found.values()) == 2
    assert ships.call_count == 1
    assert ships.last_request.url.endswith("ids=5,6&expand=items")
    assert found[100]["shipments"][1]["items"] == [{"id": 2, "quantity_shipped": 1}]
    assert reader.fill_shipment_items(found.values()) == 0  # already there: no call
    assert session.reads == wire.call_count == 2  # both reads went through the pacing adapter


def test_target_orders_overship_counts_unexpanded_shipments(wire, tmp_path):
    """Over-shipping is judged with the lines read for unexpanded shipments."""
    wire.register_uri(
        "GET",
        f"{BASE}/orders/select_many",
        json={
            "total_count": 1,
            "orders": [
                {
                    "id": 100,
                    "order_status_id": 2,
                    "items": [
                        {"id": 1, "quantity": 2, "item_number": "A", "item_number_full": "A"}
                    ],
                    "shipments": [{"id": 5, "shipment_name": "old"}],
                }
            ],
        },
    )
    wire.register_uri(
        "GET",
        f"{BASE}/order_shipments/select_many",
        json={
            "total_count": 1,
            "order_shipments": [{"id": 5, "items": [{"id": 1, "quantity_shipped": 2}]}],
        },
    )
    wire.register_uri(
        "GET", f"{BASE}/order_statuses", json={"total_count": 5, "order_statuses": STATUSES}
    )
    post = wire.register_uri("POST", f"{BASE}/order_shipments", status_code=201, json={"id": 9})
    results = tmp_path / "r.jsonl"
    schema = json.loads(
        (resources.files("target_cartcom") / "schemas" / "order_shipment.schema.json").read_text()
    )
    lines = [
        {"type": "SCHEMA", "stream": "order_shipments", "schema": schema, "key_properties": []},
        {
            "type": "RECORD",
            "stream": "order_shipments",
            "record": {
                "order_id": 100,
                "shipment_id": "new",
                "items": [{"sku": "a", "quantity": 1}],
            },
        },
    ]
    target = TargetCartcom(
        config={
            "api_url": BASE,
            "access_token": "tok",
            "calls_per_window": 1000,
            "results_path": str(results),
            "fail_on_record_errors": False,
        },
        parse_env_config=False,
    )
    target.listen(io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n"))
    result = json.loads(results.read_text().splitlines()[0])
    assert result["outcome"] == "failed"
    assert "which ordered 2; other shipments already ship 2" in result["error"]
    assert post.call_count == 0


@pytest.mark.parametrize("value", [2, 2.0, Decimal("2.0"), "2", " 2 ", "2.00"])
def test_whole_number_accepts_every_spelling_of_two(value):
    """JSON, Cart.com's decimals, the SDK's Decimals and CSV text all mean 2."""
    assert whole_number(value, "items[0].quantity", minimum=1) == 2


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (2.5, 0, "whole number"),
        ("abc", 0, "whole number"),
        ("", 0, "whole number"),
        (True, 0, "whole number"),
        (float("nan"), 0, "whole number"),
        ("Infinity", 0, "whole number"),
        (-1, 0, "not be negative"),
        ("-3", 0, "not be negative"),
        (0, 1, "at least 1"),
        ("1e400", 0, "too large"),
    ],
)
def test_whole_number_refuses_with_the_field(value, minimum, message):
    """What is not a whole number at or above ``minimum`` fails naming the field."""
    with pytest.raises(RecordError, match=message) as info:
        whole_number(value, "items[0].quantity", minimum=minimum)
    assert info.value.field == "items[0].quantity"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10**18 - 1, 10**18 - 1), (10**18, None), (-(10**18), None), (2**70, None), (7, 7)],
)
def test_whole_number_plain_integers_keep_the_limits(value, expected):
    """The fast path for plain JSON integers keeps the 18-digit cap and the sign rule."""
    if expected is None:
        with pytest.raises(RecordError):
            whole_number(value, "quantity")
    else:
        assert whole_number(value, "quantity") == expected

"""Orders and Get Orders semantics against requests-mock fixtures (fast, deterministic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import jsonschema
import pytest
import requests
from tap_test_support import TOKEN, base_config, run_tap

ORDER_FAMILY = ("orders", "order_items", "order_shipments", "order_payments", "order_addresses")


def _order_calls(fake):
    return [c for c in fake.calls if c.path == "/orders"]


def test_first_page_query_uses_cartcom_syntax(fake):
    """Window in UTC with Z, literal ``+AND+``, sort by key then id, expand, no-cache, token."""
    run = run_tap(base_config(), streams=ORDER_FAMILY)
    assert run["error"] is None
    first = _order_calls(fake)[0]
    query = dict(part.split("=", 1) for part in first.query.split("&"))
    assert query["sort"] == "created_at,id"
    assert query["expand"] == "items,shipments,payments"
    assert query["count"] == "50"
    gte, lt = query["created_at"].split("+AND+")
    assert gte == "gte:2024-01-01T00:00:00.000000Z"
    assert lt.startswith("lt:")
    assert lt.endswith("Z")
    assert "%2B" not in first.query
    assert "%3A" not in first.query
    assert first.headers["Cache-Control"] == "no-cache"
    assert first.headers["X-AC-Auth-Token"] == TOKEN
    assert TOKEN not in first.query


def test_pages_follow_next_page_and_children_need_no_call(fake):
    """120 orders at 50 a page: 3 order pages, one address read per page, nothing else."""
    run = run_tap(base_config(), streams=ORDER_FAMILY)
    records = run["records"]
    assert len(records["orders"]) == 120
    assert len({r["id"] for r in records["orders"]}) == 120
    assert sorted(fake.paths()) == ["/order_addresses/select_many"] * 3 + ["/orders"] * 3
    assert _order_calls(fake)[1].query.endswith("&page=2")
    expected_items = sum(len(o["_items"]) for o in fake.orders)
    assert len(records["order_items"]) == expected_items
    assert len(records["order_payments"]) == 120
    assert len(records["order_shipments"]) == sum(len(o["_shipments"]) for o in fake.orders)
    shipped = records["order_shipments"][0]
    assert shipped["items"][0]["item_nr"] == "SKU-0"
    assert len(records["order_addresses"]) == 240
    first = records["orders"][0]
    assert first["billing_address"]["id"] == first["order_billing_address_id"]
    assert first["shipping_address"]["id"] == first["order_shipping_address_id"]


def test_stale_next_page_ending_in_404_is_the_end(fake):
    """A next_page link past the last page answers 404: the end, not an error."""
    fake.stale_next = True
    run = run_tap(base_config(page_size=60), streams=("orders",))
    assert run["error"] is None
    assert len(run["records"]["orders"]) == 120
    statuses = [c.status for c in _order_calls(fake)]
    assert statuses == [200, 200, 404]


def test_status_names_resolved_once_and_ored(fake):
    """Names resolve through /order_statuses once; several ids go in one ``+OR+`` value."""
    for order in fake.orders[::3]:
        order["order_status_id"] = 2
    for order in fake.orders[1::3]:
        order["order_status_id"] = 3
    run = run_tap(base_config(order_status_names=["processing", "Shipped"]), streams=("orders",))
    assert run["error"] is None
    assert fake.paths().count("/order_statuses") == 1
    assert "order_status_id=2+OR+3" in _order_calls(fake)[0].query
    statuses = {r["order_status_id"] for r in run["records"]["orders"]}
    assert statuses == {2, 3}
    assert len(run["records"]["orders"]) == 80


def test_status_ids_and_unknown_name(fake):
    """``order_status_ids`` needs no lookup; an unknown name fails naming the setting."""
    run_tap(base_config(order_status_ids=[1]), streams=("orders",))
    assert "/order_statuses" not in fake.paths()
    assert "order_status_id=1&" in _order_calls(fake)[0].query + "&"
    bad = run_tap(base_config(order_status_names=["Nope"]), streams=("orders",))
    assert bad["error"] is not None
    assert "order_status_names" in str(bad["error"])


def test_orders_created_within_days_narrows_window(fake):
    """The import window's floor replaces an older start."""
    run = run_tap(base_config(orders_created_within_days=30), streams=("orders",))
    value = unquote(_order_calls(fake)[0].query.split("created_at=")[1].split("&")[0])
    floor = datetime.fromisoformat(value.split("+AND+")[0][4:].replace("Z", "+00:00"))
    assert timedelta(days=29.9) < datetime.now(UTC) - floor < timedelta(days=30.1)
    assert "orders" not in run["records"]  # all fixture orders are from 2024


def test_quirks_accepted_and_records_valid_against_own_schemas(fake):
    """Every quirk is accepted and every record validates against its SCHEMA.

    0/1 flags, string dimensions, "" and null dates, 0-7 fraction digits, int|float money,
    null nested collections and unknown fields.
    """
    fake.orders[5]["_items"] = []
    run = run_tap(base_config())
    assert run["error"] is None
    checker = jsonschema.FormatChecker()
    for stream, rows in run["records"].items():
        validator = jsonschema.Draft7Validator(run["schemas"][stream], format_checker=checker)
        for row in rows:
            errors = list(validator.iter_errors(row))
            assert not errors, (stream, row.get("id"), errors[0].message)
    orders = {r["id"]: r for r in run["records"]["orders"]}
    first, second = orders[100001], orders[100002]
    assert first["created_at"] == "2024-03-01T12:00:00.000000Z"  # 0 fraction digits, -06:00
    assert second["created_at"] == "2024-03-01T13:00:00.000000Z"
    assert orders[100008]["created_at"].endswith("Z")  # 7 fraction digits
    assert first["due_date"] is None
    assert first["order_status_last_changed_at"] is None
    assert first["exported_to_accounting_system"] == 0
    assert second["exported_to_accounting_system"] == 1
    assert first["subtotal"] == 30.75
    assert second["subtotal"] == 30
    assert first["brand_new_field"] == {"nested": 0}
    assert first["items"][0]["new_item_field"] == "x"
    assert run["records"]["order_items"][0]["new_item_field"] == "x"
    assert first["items"][0]["length"] == "4"
    product = next(p for p in run["records"]["products"] if p["id"] == 8)
    assert product["is_hidden"] == 1
    assert product["height"] == "2.5"
    assert product["ext_update_date"] is None
    assert product["mystery"] == [1, 2]
    assert next(p for p in run["records"]["products"] if p["id"] == 9)["pricing"] is None
    assert len(run["records"]["product_pricing"]) == 2
    assert run["records"]["variant_inventory"][0]["gtin"] == "012345678905"


def test_dst_offsets_normalise_to_one_utc_order(fake):
    """Orders across the DST change (-06:00 then -05:00) keep time order once normalised."""
    fake.orders.clear()
    fake.addresses.clear()
    fake.seed(10, datetime(2024, 3, 10, 5, tzinfo=UTC), timedelta(hours=1))
    run = run_tap(base_config(), streams=("orders",))
    stamps = [r["created_at"] for r in run["records"]["orders"]]
    assert stamps == sorted(stamps)
    assert run["state"]["bookmarks"]["orders"]["replication_key_value"] == stamps[-1]


def test_rerun_emits_nothing_new_and_state_is_bounded(fake):
    """A rerun over the lookback window emits only new orders; state keeps ids in the window."""
    config = base_config(lookback_days=2)
    first = run_tap(config, streams=("orders",))
    state = first["state"]
    bookmark = state["bookmarks"]["orders"]["replication_key_value"]
    assert bookmark == max(r["created_at"] for r in first["records"]["orders"])
    emitted = state["bookmarks"]["orders"]["emitted"]
    floor = (datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - timedelta(days=2))
    assert len(emitted) == 49  # 48 hourly orders in the 2-day window, plus its boundary
    assert min(emitted.values()) >= floor.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fake.calls.clear()
    second = run_tap(config, state=state, streams=("orders",))
    assert "orders" not in second["records"]
    assert _order_calls(fake)[0].query.split("created_at=")[1].startswith(
        f"gte:{floor.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
    )
    fake.seed(3, datetime(2024, 3, 10, tzinfo=UTC), timedelta(minutes=1))
    third = run_tap(config, state=second["state"], streams=("orders",))
    assert [r["id"] for r in third["records"]["orders"]] == [100121, 100122, 100123]


def test_pending_then_eligible_is_emitted_once(fake):
    """Created before the bookmark in a non-matching status, switched later: emitted once."""
    for order in fake.orders:
        order["order_status_id"] = 2  # Processing
    late = fake.orders[110]
    late["order_status_id"] = 1  # Pending: not selected
    config = base_config(order_status_names=["Processing"], lookback_days=3)
    first = run_tap(config, streams=("orders",))
    assert late["id"] not in {r["id"] for r in first["records"]["orders"]}
    bookmark = first["state"]["bookmarks"]["orders"]["replication_key_value"]
    assert bookmark > "2024-03-06T01:00:00"  # the pending order is older than the bookmark
    late["order_status_id"] = 2
    second = run_tap(config, state=first["state"], streams=("orders",))
    assert [r["id"] for r in second["records"]["orders"]] == [late["id"]]
    third = run_tap(config, state=second["state"], streams=("orders",))
    assert "orders" not in third["records"]


def test_updated_at_mode_reemits_changes(fake):
    """With replication_key updated_at, a changed order comes again; an unchanged one does not."""
    config = base_config(replication_key="updated_at", lookback_days=1)
    first = run_tap(config, streams=("orders",))
    assert "updated_at=gte:" in _order_calls(fake)[0].query
    assert "sort=updated_at,id" in _order_calls(fake)[0].query
    changed = fake.orders[-2]
    changed["updated_at"] = "2024-03-06T20:00:00.5-06:00"
    second = run_tap(config, state=first["state"], streams=("orders",))
    assert [r["id"] for r in second["records"]["orders"]] == [changed["id"]]
    assert second["records"]["orders"][0]["updated_at"] == "2024-03-07T02:00:00.500000Z"


def test_transient_faults_are_retried_and_lose_nothing(fake):
    """503, a dropped connection and a truncated body are retried; every order once."""
    fake.order_faults = {
        1: (503, {}, {"status_code": 503, "message": "Service Unavailable", "details": ""}),
        2: requests.exceptions.ConnectionError("connection dropped"),
        4: (200, {}, b'{"total_count": 120, "orders": [{"id": 1'),
    }
    run = run_tap(base_config(), streams=("orders",))
    assert run["error"] is None
    ids = [r["id"] for r in run["records"]["orders"]]
    assert sorted(ids) == [o["id"] for o in fake.orders]
    assert [c.status for c in _order_calls(fake)][:4] == [503, 0, 200, 200]


def test_unauthorized_names_setting_never_token(fake):
    """A 401 stops the run; the message names access_token, the token appears nowhere."""
    config = base_config(access_token="wrong-" + TOKEN)
    run = run_tap(config, streams=("orders",))
    assert run["error"] is not None
    text = str(run["error"])
    assert "access_token" in text
    assert "401" in text
    assert len(fake.calls) == 1  # not retried
    for blob in (text, run["stderr"], repr(run["error"]), "".join(map(str, run["messages"]))):
        assert TOKEN not in blob


@pytest.mark.parametrize("fmt", ["seconds", "http-date"])
def test_429_waits_retry_after(fake, fmt):
    """On a 429 the retry waits at least Retry-After, in seconds or as an HTTP-date."""
    from email.utils import format_datetime

    when = None
    if fmt == "seconds":
        header = "1"
    else:
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        header = format_datetime(when, usegmt=True)
    fake.order_faults = {1: (429, {"Retry-After": header},
                             {"status_code": 429, "message": "Too Many Requests", "details": ""})}
    run = run_tap(base_config(page_size=200), streams=("orders",))
    assert run["error"] is None
    calls = _order_calls(fake)
    assert [c.status for c in calls] == [429, 200]
    if when is None:
        assert calls[1].at - calls[0].at >= 1.0
    else:
        assert calls[1].wall >= when.timestamp()
    assert len(run["records"]["orders"]) == 120

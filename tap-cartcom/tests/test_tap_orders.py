"""Orders and Get Orders semantics against requests-mock fixtures (fast, deterministic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import jsonschema
import pytest
import requests
from tap_cartcom._client.quirks import to_utc
from tap_cartcom.emitted import EmittedOrders
from tap_test_support import CDT, CST, TOKEN, base_config, local_stamp, run_tap

ORDER_FAMILY = ("orders", "order_items", "order_shipments", "order_payments", "order_addresses")


def _order_calls(fake):
    """The window's order pages (not the read of the orders without a key value)."""
    return [c for c in fake.calls if c.path == "/orders" and "fields=" not in c.query]


def _keyless_calls(fake):
    """The reads of the orders without a key value (``fields=id,<key>``)."""
    return [c for c in fake.calls if c.path == "/orders" and "fields=id," in c.query]


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
    assert first.headers["User-Agent"].startswith("tap-cartcom/")
    assert TOKEN not in first.query


def test_pages_follow_next_page_and_children_need_no_call(fake):
    """120 orders at 50 a page: 3 order pages, one address read per page, one keyless read."""
    run = run_tap(base_config(), streams=ORDER_FAMILY)
    records = run["records"]
    assert len(records["orders"]) == 120
    assert len({r["id"] for r in records["orders"]}) == 120
    assert sorted(fake.paths()) == ["/order_addresses/select_many"] * 3 + ["/orders"] * 4
    assert len(_keyless_calls(fake)) == 1
    # The fake answers under the pacing adapter: every call it saw went through the budget.
    assert run["tap"].pacing.calls == {"GET": len(fake.calls)}
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
    # The keyless read ends at its first page: it holds a keyed order.
    assert [c.status for c in _keyless_calls(fake)] == [200]


def test_status_names_resolved_once_and_ored(fake):
    """Names resolve through /order_statuses once; each status is read on its own."""
    for order in fake.orders[::3]:
        order["order_status_id"] = 2
    for order in fake.orders[1::3]:
        order["order_status_id"] = 3
    run = run_tap(
        base_config(order_status_names=["processing", "Shipped"]),
        streams=("orders",),
        now=datetime(2024, 3, 6, 12, tzinfo=UTC),  # the fixture's orders are in the 30-day window
    )
    assert run["error"] is None
    assert fake.paths().count("/order_statuses") == 1
    # One read per status (no parentheses in Cart.com's filters: `a AND b OR c` would leak).
    assert [c.query.split("order_status_id=")[1] for c in _order_calls(fake)] == ["2", "3"]
    statuses = {r["order_status_id"] for r in run["records"]["orders"]}
    assert statuses == {2, 3}
    assert len(run["records"]["orders"]) == 80


def test_status_ids_and_unknown_name(fake):
    """``order_status_ids`` needs no lookup; an unknown name fails naming the setting."""
    run_tap(base_config(order_status_ids=[1]), streams=("orders",))
    assert "/order_statuses" not in fake.paths()
    assert "order_status_id=1&" in _order_calls(fake)[0].query + "&"
    bad = run_tap(base_config(order_status_names=["Nope"]), streams=("orders",), expect_error=True)
    assert "order_status_names" in str(bad["error"])


def test_the_keyless_read_lists_by_the_key_and_keeps_the_creation_floor(fake):
    """updated_at and orders_created_within_days: the keyless read and its creation floor.

    It sorts by updated_at, asks for ids and the key only, keeps the floor (its one filter).
    """
    fake.orders[7]["updated_at"] = None
    fake.orders[8]["updated_at"] = ""
    config = base_config(replication_key="updated_at", orders_created_within_days=30)
    run = run_tap(config, streams=("orders",), now=datetime(2024, 3, 6, 12, tzinfo=UTC))
    (keyless,) = _keyless_calls(fake)
    query = dict(part.split("=", 1) for part in keyless.query.split("&"))
    assert query == {
        "count": "1000",  # ids and keys only: the biggest page (the stream's pages hold 50)
        "sort": "updated_at,id",
        "fields": "id,updated_at",
        "created_at": "gte:2024-02-05T12:00:00.000000Z",
    }
    got = [r["id"] for r in run["records"]["orders"]]
    assert sorted(got) == [o["id"] for o in fake.orders]  # both keyless orders, once
    (batch,) = [c for c in fake.calls if c.path == "/orders/select_many"]
    assert f"ids={fake.orders[7]['id']},{fake.orders[8]['id']}" in batch.query


def test_orders_created_within_days_narrows_window(fake):
    """The import window's floor replaces an older start."""
    run = run_tap(base_config(orders_created_within_days=30), streams=("orders",))
    value = unquote(_order_calls(fake)[0].query.split("created_at=")[1].split("&")[0])
    floor = datetime.fromisoformat(value.split("+AND+")[0][4:].replace("Z", "+00:00"))
    assert timedelta(days=29.9) < datetime.now(UTC) - floor < timedelta(days=30.1)
    assert "orders" not in run["records"]  # all fixture orders are from 2024


def test_quirks_accepted_and_records_valid_against_own_schemas(fake):
    """Every quirk is accepted and every record validates against its SCHEMA.

    0/1 flags (as booleans), string dimensions (as numbers), "" and null dates, 0-7 fraction
    digits, int|float money,
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
    assert first["exported_to_accounting_system"] is False  # 0/1 flags are booleans
    assert second["exported_to_accounting_system"] is True
    assert first["subtotal"] == 30.75
    assert second["subtotal"] == 30
    assert first["brand_new_field"] == {"nested": 0}
    assert first["items"][0]["new_item_field"] == "x"
    assert run["records"]["order_items"][0]["new_item_field"] == "x"
    assert first["items"][0]["length"] == 4.0  # dimensions sent as text are numbers
    assert run["records"]["order_items"][0]["length"] == 4.0
    product = next(p for p in run["records"]["products"] if p["id"] == 8)
    assert product["is_hidden"] is True
    assert product["height"] == 2.5
    assert product["ext_update_date"] is None
    assert product["mystery"] == [1, 2]
    assert next(p for p in run["records"]["products"] if p["id"] == 9)["pricing"] is None
    assert len(run["records"]["product_pricing"]) == 2
    assert run["records"]["variant_inventory"][0]["gtin"] == "012345678905"


def _z(moment):
    """A UTC datetime as the tap writes it (sortable text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _marks(run):
    return run["state"]["bookmarks"]["orders"]


#: The fixture's newest order is 2024-03-06 11:00 UTC; the first run starts an hour later.
NOW = datetime(2024, 3, 6, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "switch", "before", "after"),
    [
        (datetime(2024, 3, 10, 6, tzinfo=UTC), datetime(2024, 3, 10, 8, tzinfo=UTC), CST, CDT),
        (datetime(2024, 11, 3, 5, tzinfo=UTC), datetime(2024, 11, 3, 7, tzinfo=UTC), CDT, CST),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_dst_offsets_normalise_to_one_utc_order(fake, start, switch, before, after):
    """Orders across a DST change (the offset switches mid-run) come in UTC time order.

    In the fall the local clock repeats 01:00-02:00, so sorting the local text would be wrong.
    """
    fake.orders.clear()
    fake.addresses.clear()
    moments = [start + i * timedelta(minutes=20) for i in range(10)]
    for i, moment in enumerate(moments):
        order = fake.add_order(moment)
        order["created_at"] = local_stamp(moment, i % 8, before if moment < switch else after)
    assert {o["created_at"][-6:] for o in fake.orders} == {
        local_stamp(start, 0, before)[-6:],
        local_stamp(start, 0, after)[-6:],
    }
    now = moments[-1] + timedelta(hours=1)
    run = run_tap(base_config(), streams=("orders",), now=now)
    assert run["error"] is None
    stamps = [r["created_at"] for r in run["records"]["orders"]]
    assert stamps == [_z(m) for m in moments]
    assert [r["id"] for r in run["records"]["orders"]] == [o["id"] for o in fake.orders]
    assert _marks(run)["replication_key_value"] == _z(now)  # the window's end
    assert _marks(run)["replication_key_value"] > stamps[-1]
    assert (
        _order_calls(fake)[0]
        .query.split("created_at=")[1]
        .split("&")[0]
        .endswith(f"+AND+lt:{_z(now)}")
    )


def test_rerun_emits_nothing_new_and_state_is_bounded(fake):
    """A rerun over the lookback window emits only new orders; state keeps ids in the window."""
    config = base_config(lookback_days=2)
    first = run_tap(config, streams=("orders",), now=NOW)
    assert len(first["records"]["orders"]) == 120
    marks = _marks(first)
    assert marks["replication_key_value"] == _z(NOW)
    assert marks["replication_key_value"] > max(r["created_at"] for r in first["records"]["orders"])
    floor = _z(NOW - timedelta(days=2))
    assert marks["emitted"] == {
        str(r["id"]): r["created_at"]
        for r in first["records"]["orders"]
        if r["created_at"] >= floor
    }
    assert len(marks["emitted"]) == 48  # the hourly orders of the next run's 2-day lookback

    fake.calls.clear()
    now2 = NOW + timedelta(hours=1)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert second["error"] is None
    assert "orders" not in second["records"]
    window = _order_calls(fake)[0].query.split("created_at=")[1].split("&")[0]
    assert window == f"gte:{floor}+AND+lt:{_z(now2)}"
    marks2 = _marks(second)
    assert marks2["replication_key_value"] == _z(now2)
    floor2 = _z(now2 - timedelta(days=2))
    assert marks2["emitted"] == {k: v for k, v in marks["emitted"].items() if v >= floor2}
    assert len(marks2["emitted"]) == 47

    # Three orders created since run 2, and one created before run 2's end but visible only
    # now (the lookback covers it): run 3 emits exactly these four, in time order.
    fake.seed(3, now2 + timedelta(minutes=10), timedelta(minutes=1))
    late = fake.add_order(now2 - timedelta(minutes=30))
    now3 = now2 + timedelta(hours=1)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3)
    assert [r["id"] for r in third["records"]["orders"]] == [late["id"], 100121, 100122, 100123]
    marks3 = _marks(third)
    assert marks3["replication_key_value"] == _z(now3)
    assert marks3["replication_key_value"] > max(
        r["created_at"] for r in third["records"]["orders"]
    )
    assert {"100121", "100122", "100123", str(late["id"])} <= set(marks3["emitted"])
    assert min(marks3["emitted"].values()) >= _z(now3 - timedelta(days=2))


def test_pending_then_eligible_is_emitted_once(fake):
    """Created before the bookmark in a non-matching status, switched later: emitted once."""
    for order in fake.orders:
        order["order_status_id"] = 2  # Processing
    late = fake.orders[110]  # created 2024-03-06 02:00 UTC
    late["order_status_id"] = 1  # Pending: not selected
    config = base_config(order_status_names=["Processing"], lookback_days=3)
    first = run_tap(config, streams=("orders",), now=NOW)
    assert len(first["records"]["orders"]) == 119
    assert late["id"] not in {r["id"] for r in first["records"]["orders"]}
    bookmark = _marks(first)["replication_key_value"]
    assert bookmark == _z(NOW)
    # The pending order is older than the bookmark, inside the next run's lookback.
    assert _z(NOW - timedelta(days=3)) <= "2024-03-06T02:00:00.000000Z" < bookmark
    # Every Processing order of the 30-day window is listed as emitted, as id ranges by day.
    emitted = EmittedOrders.from_state(_marks(first)["get_orders_emitted"])
    assert not emitted.has("2024-03-06T02:00:00.000000Z", late["id"])
    assert len(emitted) == 119

    late["order_status_id"] = 2
    now2 = NOW + timedelta(hours=1)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert [r["id"] for r in second["records"]["orders"]] == [late["id"]]
    assert _marks(second)["replication_key_value"] == _z(now2)
    emitted = EmittedOrders.from_state(_marks(second)["get_orders_emitted"])
    assert emitted.has("2024-03-06T02:00:00.000000Z", late["id"])
    assert len(emitted) == 120

    now3 = now2 + timedelta(hours=1)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3)
    assert third["error"] is None
    assert "orders" not in third["records"]
    assert _marks(third)["replication_key_value"] == _z(now3)


def test_updated_at_mode_reemits_changes(fake):
    """With replication_key updated_at, a changed order comes again; an unchanged one does not."""
    config = base_config(replication_key="updated_at", lookback_days=1)
    first = run_tap(config, streams=("orders",), now=NOW)
    assert len(first["records"]["orders"]) == 120
    assert "updated_at=gte:" in _order_calls(fake)[0].query
    assert "sort=updated_at,id" in _order_calls(fake)[0].query
    assert _marks(first)["replication_key"] == "updated_at"
    assert _marks(first)["replication_key_value"] == _z(NOW)
    changed = fake.orders[-2]
    changed["updated_at"] = "2024-03-06T20:00:00.5-06:00"  # changed between the two runs
    fake.calls.clear()
    now2 = datetime(2024, 3, 7, 3, tzinfo=UTC)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    window = _order_calls(fake)[0].query.split("updated_at=")[1].split("&")[0]
    assert window == f"gte:{_z(NOW - timedelta(days=1))}+AND+lt:{_z(now2)}"
    assert [r["id"] for r in second["records"]["orders"]] == [changed["id"]]
    assert second["records"]["orders"][0]["updated_at"] == "2024-03-07T02:00:00.500000Z"
    assert _marks(second)["replication_key_value"] == _z(now2)
    assert _marks(second)["emitted"][str(changed["id"])] == "2024-03-07T02:00:00.500000Z"


def test_bookmark_moves_on_without_new_orders_but_not_after_an_interrupted_read(fake):
    """A complete read moves the bookmark to its window end; an interrupted one leaves it put.

    One page at a time: the fault is scripted for the 4th /orders call, which is page 4 only when
    pages are not read ahead (pages in flight are test_tap_in_flight.py's).
    """
    config = base_config(lookback_days=2, page_size=10, max_in_flight=1)
    first = run_tap(config, streams=("orders",), now=NOW)
    assert _marks(first)["replication_key_value"] == _z(NOW)

    now2 = NOW + timedelta(days=1)  # a day later, no new order
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert second["error"] is None
    assert "orders" not in second["records"]
    assert _marks(second)["replication_key_value"] == _z(now2)
    floor2 = _z(now2 - timedelta(days=2))
    assert len(_marks(second)["emitted"]) == 24  # the last day's orders: 2 days before now2
    assert min(_marks(second)["emitted"].values()) >= floor2

    fake.seed(25, now2 + timedelta(minutes=5), timedelta(minutes=10))
    new_ids = [o["id"] for o in fake.orders[120:]]
    fake.calls.clear()
    # Window [now2 - 2 days, now3): 24 known + 25 new orders in 5 pages; page 4 fails for good.
    fake.order_faults = {
        4: (
            400,
            {},
            {"status_code": 400, "message": "Bad Request", "details": "fault injected mid-stream"},
        )
    }
    now3 = now2 + timedelta(days=1)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3, expect_error=True)
    got3 = [r["id"] for r in third["records"].get("orders", [])]
    assert got3 == new_ids[:6]  # pages 1-3: 24 known (skipped), then 6 new before the fault
    # No STATE of the interrupted run moves the bookmark (not to now3, not to a new order's).
    assert third["states"]
    assert {s["bookmarks"]["orders"]["replication_key_value"] for s in third["states"]} == {
        _z(now2)
    }
    # It saved the position it reached: the last order of page 3, the 6th new one.
    sixth = fake.orders[120 + 5]
    assert third["state"]["bookmarks"]["orders"]["resume"] == {
        "replication_key": "created_at",
        "after": [to_utc(sixth["created_at"]), sixth["id"]],
    }

    fake.order_faults = {}
    now4 = now3 + timedelta(hours=1)
    fake.calls.clear()
    fourth = run_tap(config, state=third["state"], streams=("orders",), now=now4)
    assert fourth["error"] is None
    # The rerun resumes after the position: the 19 new orders not sent yet, none twice.
    assert [r["id"] for r in fourth["records"]["orders"]] == new_ids[6:]
    assert f"created_at=gte:{to_utc(sixth['created_at'])}" in fake.calls[0].query
    assert _marks(fourth)["replication_key_value"] == _z(now4)
    assert "resume" not in fourth["state"]["bookmarks"]["orders"]
    assert set(_marks(fourth)["emitted"]) == {str(i) for i in new_ids}


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
    run = run_tap(config, streams=("orders",), expect_error=True)
    text = str(run["error"])
    assert "access_token" in text
    assert "401" in text
    assert len(fake.calls) == 1  # not retried
    for blob in (text, run["stderr"], repr(run["error"]), "".join(map(str, run["messages"]))):
        assert TOKEN not in blob


def _orders_stream(**extra):
    from tap_cartcom.tap import TapCartcom

    return TapCartcom(config=base_config(**extra), parse_env_config=False).streams["orders"]


def test_select_many_chunks_fit_2048_chars():
    """Six-digit ids split into the fewest URLs of at most 2,048 characters (path and query)."""
    from tap_cartcom._client.query import query_string

    stream = _orders_stream()
    ids = list(range(100001, 100001 + 600 * 37, 37))  # 600 scattered six-digit ids
    chunks = stream.select_many_chunks(ids)
    assert [i for chunk in chunks for i in chunk] == ids
    for chunk in chunks:
        query = query_string([("count", len(ids)), ("ids", ",".join(map(str, chunk)))])
        assert len(f"/api/v1/order_addresses/select_many?{query}") <= 2048
    assert len(chunks) == 3  # 600 x 7 characters need 3 URLs, no more
    assert stream.address_plan(ids) == ("select_many", 3)
    dense = list(range(900001, 900501))
    assert stream.address_plan(dense) == ("range", 1)


def test_dense_address_ids_read_by_range_sparse_by_select_many(fake):
    """A page's addresses come in the fewest calls: one id-range read, or URL-sized batches."""
    fake.seed(130, datetime(2024, 3, 7, tzinfo=UTC), timedelta(hours=1))
    run = run_tap(base_config(page_size=250), streams=("orders", "order_addresses"))
    assert run["error"] is None
    paths = fake.paths()
    assert len(_order_calls(fake)) == 1
    assert len(_keyless_calls(fake)) == 1
    assert paths.count("/order_addresses") == 1  # 500 dense ids: one range read, not 2 batches
    assert "/order_addresses/select_many" not in paths
    ranged = next(c for c in fake.calls if c.path == "/order_addresses")
    assert "id=gte:5000+AND+lte:5499" in ranged.query
    assert len(run["records"]["order_addresses"]) == 500

    for address_id in list(fake.addresses):  # make them sparse six-digit ids
        address = fake.addresses.pop(address_id)
        address["id"] = 900000 + 37 * (address_id - 5000)
        fake.addresses[address["id"]] = address
    for order in fake.orders:
        for key in ("order_billing_address_id", "order_shipping_address_id"):
            order[key] = 900000 + 37 * (order[key] - 5000)
    fake.calls.clear()
    run = run_tap(base_config(page_size=250), streams=("orders",))
    batches = [c for c in fake.calls if c.path == "/order_addresses/select_many"]
    assert len(batches) == 2  # 500 scattered six-digit ids, 7 characters each: 2 URLs
    assert all(len(f"/api/v1/order_addresses/select_many?{c.query}") <= 2048 for c in batches)
    assert all(r["billing_address"] and r["shipping_address"] for r in run["records"]["orders"])


def _catalog_without(*fields):
    """The discovered catalog with only the orders stream selected, ``fields`` deselected."""
    from tap_cartcom.tap import TapCartcom

    catalog = TapCartcom(config=base_config(), parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            crumb = tuple(meta["breadcrumb"])
            if not crumb:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "orders"
            elif entry["tap_stream_id"] == "orders" and crumb[-1] in fields:
                meta["metadata"]["selected"] = False
    return catalog


def test_orders_without_address_fields_cost_the_order_pages_only(fake):
    """120 orders at 50 a page, address fields deselected: 3 pages and the keyless read."""
    catalog = _catalog_without("billing_address", "shipping_address")
    run = run_tap(base_config(), catalog=catalog)
    assert run["error"] is None
    assert fake.paths() == ["/orders"] * 4
    assert len(_keyless_calls(fake)) == 1
    orders = run["records"]["orders"]
    assert len(orders) == 120
    assert not any("billing_address" in o or "shipping_address" in o for o in orders)


@pytest.mark.parametrize("kept", ["billing_address", "shipping_address"])
def test_one_address_field_selected_reads_the_addresses(fake, kept):
    """Either address field of orders is enough to read the page's addresses (one per page)."""
    dropped = ({"billing_address", "shipping_address"} - {kept}).pop()
    run = run_tap(base_config(), catalog=_catalog_without(dropped))
    assert run["error"] is None
    assert sorted(fake.paths()) == ["/order_addresses/select_many"] * 3 + ["/orders"] * 4
    first = run["records"]["orders"][0]
    assert first[kept]["id"] > 0
    assert dropped not in first


def test_order_addresses_stream_reads_addresses_without_the_fields(fake):
    """order_addresses selected, orders' address fields not: still one address read per page."""
    catalog = _catalog_without("billing_address", "shipping_address")
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "order_addresses":
            for meta in entry["metadata"]:
                if not meta["breadcrumb"]:
                    meta["metadata"]["selected"] = True
    run = run_tap(base_config(), catalog=catalog)
    assert run["error"] is None
    assert sorted(fake.paths()) == ["/order_addresses/select_many"] * 3 + ["/orders"] * 4
    assert len(run["records"]["order_addresses"]) == 240
    assert "billing_address" not in run["records"]["orders"][0]

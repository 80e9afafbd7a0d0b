"""The tap against the live sandbox over HTTP: incremental, Get Orders, faults, pacing, calls."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import requests
import tap_cartcom.http as tap_http
from cartcom_sandbox.clock import normalise_input
from cartcom_testing.runs import longest_gap, run_tap, utc_datetime
from tap_cartcom._client.quirks import to_utc

ORDER_FAMILY = ("orders", "order_items", "order_shipments", "order_payments", "order_addresses")


def sandbox_config(server, **extra):
    """Config for a sandbox; pacing generous unless a test narrows it."""
    config = {
        "access_token": server.token,
        "api_url": server.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "start_date": "2024-01-01T00:00:00Z",
        "page_size": 100,
    }
    config.update(extra)
    return config


def api_calls(server, prefix="/api/v1/"):
    """Calls the tap made (admin routes are not logged)."""
    return [c for c in server.calls if c.path.startswith(prefix)]


def get_json(server, path, **params):
    """A direct read from the sandbox (test set-up, not the tap)."""
    response = requests.get(
        f"{server.base_url}{path}",
        params=params,
        headers={"X-AC-Auth-Token": server.token},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def all_order_ids(server):
    """Every order id in the store."""
    return {row[0] for row in server.store.execute("SELECT id FROM r_orders")}


def _z(moment):
    """A UTC datetime as the tap writes it (sortable text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _minus_days(stamp, days):
    return _z(datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(days=days))


def _after_newest_order(server):
    """A run start one hour after the newest seeded order (whole seconds), as on a live store."""
    newest_first = get_json(server, "/orders", count=1, sort="-created_at", fields="created_at")
    newest = utc_datetime(newest_first["orders"][0]["created_at"])
    return (newest + timedelta(hours=1)).replace(microsecond=0)


def _add_order(server, template, created):
    """Insert a copy of ``template`` created (and visible) at ``created``, store-local."""
    stamp = normalise_input(_z(created), server.store.timezone)
    doc = {k: v for k, v in template.items() if k not in ("id", "created_at", "updated_at")}
    return server.store.insert("orders", {**doc, "created_at": stamp, "updated_at": stamp})["id"]


def test_incremental_two_runs_with_orders_added(seeded_sandbox):
    """Run 2 emits every order added since run 1 and nothing from before its lookback window."""
    server = seeded_sandbox
    config = sandbox_config(server, lookback_days=2)
    now1 = _after_newest_order(server)
    first = run_tap(config, streams=("orders",), now=now1)
    assert first["error"] is None
    ids = [r["id"] for r in first["records"]["orders"]]
    assert sorted(ids) == sorted(all_order_ids(server))
    state1 = first["state"]["bookmarks"]["orders"]
    assert set(state1) == {"replication_key", "replication_key_value", "emitted"}
    assert state1["replication_key_value"] == _z(now1)  # the window's end
    assert state1["replication_key_value"] > max(
        r["created_at"] for r in first["records"]["orders"]
    )
    floor1 = _z(now1 - timedelta(days=2))
    assert state1["emitted"] == {
        str(r["id"]): r["created_at"]
        for r in first["records"]["orders"]
        if r["created_at"] >= floor1
    }
    assert state1["emitted"], "the seed should have orders in the last 2 days before now1"

    # Between the runs: five orders created after run 1, one created before run 1's end but
    # visible only now (inside the lookback), one created 3 days before run 1's end (outside it).
    template = server.store.get("orders", ids[0])
    added = [_add_order(server, template, now1 + timedelta(hours=1, minutes=k)) for k in range(5)]
    late = _add_order(server, template, now1 - timedelta(days=1))
    too_old = _add_order(server, template, now1 - timedelta(days=3))

    server.calls.clear()
    now2 = now1 + timedelta(days=1)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert second["error"] is None
    got = [r["id"] for r in second["records"]["orders"]]
    assert got == [late, *added]  # in created_at order; nothing seeded comes again
    assert too_old not in got  # the trade-off: visible later than the lookback covers
    query = next(c.query for c in server.calls if c.path == "/api/v1/orders")
    assert f"created_at=gte:{floor1}+AND+lt:{_z(now2)}" in query
    state2 = second["state"]["bookmarks"]["orders"]
    assert state2["replication_key_value"] == _z(now2)
    assert state2["replication_key_value"] > max(
        r["created_at"] for r in second["records"]["orders"]
    )
    floor2 = _minus_days(state2["replication_key_value"], 2)
    kept = {k: v for k, v in state1["emitted"].items() if v >= floor2}
    assert state2["emitted"] == kept | {
        str(r["id"]): r["created_at"] for r in second["records"]["orders"]
    }
    assert len(kept) < len(state1["emitted"])  # ids older than the next window were dropped


def test_pending_then_eligible_on_sandbox(seeded_sandbox):
    """An older order switched into a selected status is emitted once, then never again."""
    server = seeded_sandbox
    statuses = seeded_sandbox.order_status_ids
    processing = statuses["Processing"]
    # A window covering the whole seeded history (the default is the last 30 days).
    config = sandbox_config(
        server, order_status_names=["Processing"], orders_created_within_days=3650
    )
    now1 = _after_newest_order(server)
    first = run_tap(config, streams=("orders",), now=now1)
    assert first["error"] is None
    emitted = {r["id"] for r in first["records"]["orders"]}
    assert emitted == set(seeded_sandbox.processing_order_ids)
    bookmark = first["state"]["bookmarks"]["orders"]["replication_key_value"]
    assert bookmark == _z(now1)
    # An order created before the bookmark (within the lookback), in another status.
    # The newest 100 (a page any store gives) reach back well over 5 days.
    window = get_json(server, "/orders", count=100, sort="-created_at,-id")
    candidates = [
        o
        for o in window["orders"]
        if o["order_status_id"] != processing
        and o["id"] not in emitted
        and _minus_days(bookmark, 5) <= to_utc(o["created_at"]) < bookmark
    ]
    assert candidates, "the seed should have a non-Processing order near the bookmark"
    pending = candidates[0]  # the newest
    response = requests.put(
        f"{server.base_url}/orders/{pending['id']}/status",
        json={"order_status_id": processing},
        headers={"X-AC-Auth-Token": server.token},
        timeout=10,
    )
    assert response.status_code == 200
    server.calls.clear()
    now2 = now1 + timedelta(hours=1)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert [r["id"] for r in second["records"]["orders"]] == [pending["id"]]
    assert any(f"order_status_id={processing}" in c.query for c in server.calls)
    assert second["state"]["bookmarks"]["orders"]["replication_key_value"] == _z(now2)
    now3 = now2 + timedelta(hours=1)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3)
    assert third["error"] is None
    assert "orders" not in third["records"]
    assert third["state"]["bookmarks"]["orders"]["replication_key_value"] == _z(now3)


def test_interrupted_run_loses_no_order(seeded_sandbox, monkeypatch):
    """A dropped connection then 503s until retries run out: run 1 fails, run 2 completes it."""
    monkeypatch.setattr(tap_http, "retry_wait_seconds", lambda response, attempt: 0.01)
    server = seeded_sandbox
    config = sandbox_config(server, page_size=100)
    server.faults.script(
        [
            {"kind": "drop", "path": "/orders", "after": 1},
            {"kind": "status", "status": 503, "path": "/orders", "times": 20},
        ]
    )
    first = run_tap(config, streams=ORDER_FAMILY, expect_error=True)
    got_first = {r["id"] for r in first["records"].get("orders", [])}
    assert 0 < len(got_first) < len(all_order_ids(server))
    server.faults.clear()
    second = run_tap(config, state=first["state"], streams=ORDER_FAMILY)
    assert second["error"] is None
    got_second = {r["id"] for r in second["records"]["orders"]}
    assert got_first | got_second == all_order_ids(server)
    items = {r["id"] for r in first["records"].get("order_items", [])} | {
        r["id"] for r in second["records"]["order_items"]
    }
    assert len(items) == server.store.count("order_items")


def test_pacing_five_calls_per_second_window(seeded_sandbox):
    """At 5 calls per 1-s window: zero 429s, and never more than 5 calls in any 1-s span."""
    server = seeded_sandbox
    server.ratelimit.configure(calls=5, window=1.0)
    config = sandbox_config(server, calls_per_window=5, window_seconds=1, page_size=40)
    run = run_tap(config, streams=ORDER_FAMILY)
    assert run["error"] is None
    assert len(run["records"]["orders"]) == len(all_order_ids(server))
    calls = api_calls(server)
    # Per page of 40 orders: the page, then its addresses in one select_many; then the one
    # read of the orders without a created_at (none here).
    assert len(calls) == 2 * math.ceil(len(all_order_ids(server)) / 40) + 1
    assert all(c.status != 429 for c in calls)
    stamps = sorted(c.ts for c in calls)
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 1.0) <= 5
    # ... and no wait longer than one window (plus scheduling slack) between two calls.
    assert longest_gap(stamps) <= 1.0 + 0.5


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fmt", ["seconds", "http-date"])
def test_429_retry_waits_retry_after(seeded_sandbox, fmt):
    """Another client used the window up: the tap's retry comes no sooner than Retry-After."""
    server = seeded_sandbox
    server.ratelimit.configure(calls=3, window=2.0, retry_after_format=fmt)
    for _ in range(3):
        get_json(server, "/stores")
    window_start = server.calls[0].ts
    config = sandbox_config(server, calls_per_window=50, window_seconds=2, page_size=150)
    run = run_tap(config, streams=("orders",))
    assert run["error"] is None
    tap_calls = [c for c in server.calls if c.path == "/api/v1/orders"]
    limited = [i for i, c in enumerate(tap_calls) if c.status == 429]
    assert limited, "the first tap call should meet the exhausted window"
    for i in limited:
        hit = tap_calls[i]
        retry = tap_calls[i + 1]
        wait = window_start + 2.0 - hit.ts
        # No sooner than Retry-After, and at most a scheduling slack later (an upper bound).
        if fmt == "seconds":
            retry_after = max(1, math.ceil(wait))
            assert retry_after - 0.01 <= retry.ts - hit.ts <= retry_after + 1.5
        else:
            when = math.ceil(hit.ts + wait)
            assert when - 0.01 <= retry.ts <= when + 1.5
    assert len(run["records"]["orders"]) == len(all_order_ids(server))


def test_calls_bound_for_orders_with_children_and_addresses(seeded_sandbox):
    """N orders with items, shipments, payments and addresses: exactly 2*ceil(N/page) calls."""
    server = seeded_sandbox
    n = len(all_order_ids(server))
    for page in (100, 250):
        server.calls.clear()
        run = run_tap(sandbox_config(server, page_size=page), streams=ORDER_FAMILY)
        assert run["error"] is None
        assert len(run["records"]["orders"]) == n
        assert run["records"]["order_items"]
        assert run["records"]["order_addresses"]
        # Per page of orders: the page (children come expanded, no call), then its addresses
        # in one select_many (the seeded addresses have short ids: one URL holds a page's);
        # last, one read of the orders without a created_at (none here: one page).
        calls = api_calls(server)
        rows_per_page = min(page, server.config.max_count)  # a store may cap count lower
        assert [c.path for c in calls] == [
            "/api/v1/orders",
            "/api/v1/order_addresses/select_many",
        ] * math.ceil(n / rows_per_page) + ["/api/v1/orders"]
        assert "fields=id,created_at" in calls[-1].query
        for record in run["records"]["orders"]:
            assert record["billing_address"] is None or (
                record["billing_address"]["id"] == record["order_billing_address_id"]
            )


def test_records_valid_and_token_never_in_output(seeded_sandbox):
    """Every sandbox record validates against the tap's schemas; the token is never written."""
    server = seeded_sandbox
    run = run_tap(sandbox_config(server, start_date="2000-01-01T00:00:00Z"))
    assert run["error"] is None
    checker = jsonschema.FormatChecker()
    for stream, rows in run["records"].items():
        validator = jsonschema.Draft7Validator(run["schemas"][stream], format_checker=checker)
        for row in rows:
            error = next(iter(validator.iter_errors(row)), None)
            assert error is None, (stream, row.get("id"), error.message)
    assert len(run["records"]) == 16  # every stream has records in the seeded store
    blob = run["stderr"] + "".join(str(m) for m in run["messages"])
    assert server.token not in blob


def test_status_names_read_one_status_at_a_time(seeded_sandbox):
    """Two status names: one read per status (an ``a+OR+b`` value would OR past the window)."""
    server = seeded_sandbox
    names = ["Processing", "Shipped"]
    config = sandbox_config(server, order_status_names=names, orders_created_within_days=3650)
    run = run_tap(config, streams=("orders",))
    assert run["error"] is None
    expected = {i for n in names for i in seeded_sandbox.order_ids(n)}
    assert {r["id"] for r in run["records"]["orders"]} == expected
    ids = sorted(seeded_sandbox.order_status_ids[n] for n in names)
    queries = [c.query for c in server.calls if c.path == "/api/v1/orders"]
    for status_id in ids:
        assert any(f"order_status_id={status_id}&" in q + "&" for q in queries)
    assert not any("+OR+" in q for q in queries)


def test_run_tap_raises_the_tap_error_unless_the_test_expects_one(sandbox):
    """The shared runner never swallows a failed run, and an expected failure must happen."""
    wrong = sandbox_config(sandbox, access_token="not-" + sandbox.token)
    with pytest.raises(Exception, match="access_token") as raised:
        run_tap(wrong, streams=("orders",))
    assert "401" in str(raised.value)
    expected = run_tap(wrong, streams=("orders",), expect_error=True)
    assert "access_token" in str(expected["error"])
    with pytest.raises(AssertionError, match="expected to fail"):
        run_tap(sandbox_config(sandbox), streams=("order_statuses",), expect_error=True)


@pytest.mark.parametrize("empty_page_status", [200, 404])
def test_an_empty_list_reads_as_empty_whether_the_store_answers_200_or_404(empty_page_status):
    """Page 1 of an empty table: 200 with [] or 404 (INF, both readings served) ends the read."""
    from cartcom_sandbox.config import SandboxConfig
    from cartcom_sandbox.server import SandboxServer

    server = SandboxServer(
        ":memory:",
        tokens=["empty-store-token"],
        config=SandboxConfig(empty_page_status=empty_page_status),
    )
    server.start()
    try:
        start = len(server.calls)
        run = run_tap(sandbox_config(server), streams=("order_statuses", "manufacturers"))
        calls = server.calls.snapshot()[start:]
    finally:
        server.stop()
    assert run["records"].get("order_statuses", []) == []
    assert run["records"].get("manufacturers", []) == []
    statuses = sorted((c.path.rsplit("/", 1)[-1], c.status) for c in calls)
    assert statuses == [("manufacturers", empty_page_status), ("order_statuses", empty_page_status)]

"""Hostile data on the sandbox: unparseable datetimes, hostile `next_page` links."""

from __future__ import annotations

import logging

import pytest
import tap_cartcom.normalise as tap_normalise
from cartcom_sandbox import app as sandbox_app
from tap_cartcom._client.urls import UnsafeURLError
from tap_test_support import run_tap


def _config(server):
    return {
        "access_token": server.token,
        "api_url": server.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "start_date": "2024-01-01T00:00:00Z",
        "page_size": 100,
    }


def test_unparseable_datetimes_are_logged_with_field_and_record(sandbox, caplog):
    """The record goes through with nulls; a warning per bad value names stream, id and field."""
    good = sandbox.store.insert("orders", {"order_number": "GOOD-1"})["id"]
    bad = sandbox.store.insert(
        "orders", {"order_number": "BAD-1", "due_date": "31/02/2024 25:00", "expires_at": "soon"}
    )["id"]
    sandbox.store.insert(
        "order_items", {"order_id": bad, "item_number": "A-1", "updated_at": "yesterday-ish"}
    )
    with caplog.at_level(logging.WARNING, logger="tap-cartcom"):
        result = run_tap(_config(sandbox), streams=("orders", "order_items"))
    assert result["error"] is None
    orders = {r["id"]: r for r in result["records"]["orders"]}
    assert set(orders) == {good, bad}
    assert orders[bad]["due_date"] is None
    assert orders[bad]["expires_at"] is None
    assert orders[bad]["created_at"] is not None
    items = result["records"]["order_items"]
    assert [i["updated_at"] for i in items if i["order_id"] == bad] == [None]
    warnings = [r.getMessage() for r in caplog.records if "Unparseable datetime" in r.getMessage()]
    assert sorted(warnings) == sorted(
        [
            f"Unparseable datetime in orders record id={bad}, field `due_date`: "
            "'31/02/2024 25:00'; emitted as null",
            f"Unparseable datetime in orders record id={bad}, field `expires_at`: "
            "'soon'; emitted as null",
            f"Unparseable datetime in orders record id={bad}, field `items[0].updated_at`: "
            "'yesterday-ish'; emitted as null",
        ]
    )
    assert sandbox.token not in caplog.text


def test_normalise_names_nested_fields_and_truncates_long_values(caplog):
    """Paths name list positions and nested objects; a long value is cut in the log line."""
    plan = tap_normalise.normalise_plan(
        {
            "properties": {
                "created_at": {"type": ["string", "null"], "format": "date-time"},
                "shipments": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "shipped_at": {"type": ["string", "null"], "format": "date-time"}
                        },
                    },
                },
            }
        },
        "order_shipments",
    )
    record = {
        "id": 9,
        "created_at": "2024-05-01T10:00:00-05:00",
        "shipments": [{"shipped_at": ""}, {"shipped_at": "x" * 500}],
    }
    with caplog.at_level(logging.WARNING, logger="tap-cartcom"):
        tap_normalise.normalise(record, plan)
    assert record["created_at"] == "2024-05-01T15:00:00.000000Z"
    assert record["shipments"] == [{"shipped_at": None}, {"shipped_at": None}]
    (message,) = [r.getMessage() for r in caplog.records]
    assert "order_shipments record id=9, field `shipments[1].shipped_at`" in message
    assert len(message) < 200


@pytest.mark.parametrize(
    "link", ["@127.0.0.1:{port}/api/v1/orders?{query}", "//127.0.0.1:{port}/api/v1/orders?{query}"]
)
def test_hostile_next_page_stops_the_tap_without_a_call_elsewhere(sandbox, monkeypatch, link):
    """A relative `next_page` that would leave the store fails the run; the window stays open."""
    for number in range(3):
        sandbox.store.insert("orders", {"order_number": f"N-{number}"})

    def hostile(request, page):
        query = request.environ.get("QUERY_STRING", "") + f"&page={page}"
        return link.format(port=sandbox.port + 1, query=query)

    monkeypatch.setattr(sandbox_app, "_page_url", hostile)
    result = run_tap({**_config(sandbox), "page_size": 1}, streams=("orders",), expect_error=True)
    assert isinstance(result["error"], UnsafeURLError)
    assert "`next_page`" in str(result["error"])
    assert [c.path for c in sandbox.calls] == ["/api/v1/orders"]
    bookmark = (result["state"] or {}).get("bookmarks", {}).get("orders", {})
    assert "replication_key_value" not in bookmark

"""Stale acknowledgements on the sandbox: a record whose order changed status since it was read.

An ``order_acknowledgements`` record may carry ``order_status_last_changed_at`` as its source
read it. When the store's stamp is later, the record is ``skipped`` and nothing is written; the
stamp comes with the status read the batch makes anyway, so the check costs no call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from cartcom_testing.runs import run_orders
from target_cartcom._client.quirks import parse_datetime, to_utc

STREAM = "order_acknowledgements"
STAMP = "order_status_last_changed_at"
ACK = "Shipped"  # the status the records set (any status the seeded store has)


def run(sandbox: Any, tmp_path: Path, records: list[dict[str, Any]], **config: Any):
    """Run the target on acknowledgements; return (result lines, summary, the calls made)."""
    return run_orders(sandbox, tmp_path, STREAM, records, **config)


def kinds(calls: list[Any]) -> list[str]:
    """``METHOD path`` of each call."""
    return [f"{c.method} {c.path.removeprefix('/api/v1/')}" for c in calls]


def put_status(sandbox: Any, order_id: int, status_id: int) -> None:
    """What a merchant does in the admin console: one status change, the stamp moves."""
    response = requests.put(
        f"{sandbox.base_url}/orders/{order_id}/status",
        json={"order_status_id": status_id},
        headers=sandbox.headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text


def stamp(sandbox: Any, order_id: int) -> str:
    """The order's status stamp as the tap emits it (UTC, microseconds)."""
    return to_utc(sandbox.store.get("orders", order_id)[STAMP])


def test_stale_records_are_skipped_fresh_ones_applied_and_a_replay_writes_nothing(
    seeded_sandbox, tmp_path
):
    """Moved back to Processing after the read: skipped; unmoved or unstamped: acknowledged."""
    st = seeded_sandbox.order_status_ids
    ids = seeded_sandbox.processing_order_ids
    # A store stamp with a fraction, to show a whole-seconds record is compared at its precision.
    fraction = next(
        i for i in ids if parse_datetime(seeded_sandbox.store.get("orders", i)[STAMP]).microsecond
    )
    fresh, stale, unstamped, null_stamp, local, seconds = [
        *[i for i in ids if i != fraction][:5],
        fraction,
    ]
    read = {oid: stamp(seeded_sandbox, oid) for oid in ids}
    raw_local = seeded_sandbox.store.get("orders", local)[STAMP]  # Cart.com's own format
    assert not raw_local.endswith("Z")
    # After the read: three orders go Pending and back to Processing (the merchant's undo).
    for oid in (stale, unstamped, null_stamp):
        put_status(seeded_sandbox, oid, st["Pending"])
        put_status(seeded_sandbox, oid, st["Processing"])
    moved_at = {oid: seeded_sandbox.store.get("orders", oid)[STAMP] for oid in (stale, fresh)}
    assert to_utc(moved_at[stale]) > read[stale]

    base = {"status": ACK, "from_status": "Processing"}
    records = [
        {"order_id": fresh, **base, STAMP: read[fresh]},
        {"order_id": stale, **base, STAMP: read[stale]},
        {"order_id": unstamped, **base},  # no stamp: today's behaviour, acknowledged
        {"order_id": null_stamp, **base, STAMP: None},
        {"order_id": local, **base, STAMP: raw_local},
        {"order_id": seconds, **base, STAMP: read[seconds][:19] + "Z"},
    ]
    results, summary, calls = run(seeded_sandbox, tmp_path, records)

    assert [r["outcome"] for r in results] == [
        "updated",
        "skipped",
        "updated",
        "updated",
        "updated",
        "updated",
    ]
    skipped = results[1]
    assert skipped["field"] == STAMP
    assert skipped["error"].startswith("stale record: the order's status was changed at")
    assert read[stale] in skipped["error"]
    assert skipped["ids"] == {"order_id": stale}
    assert "planned_calls" not in skipped
    # Exactly the calls without the check: one status read, one order read, one PUT per update.
    assert kinds([c for c in calls if c.method == "GET"]) == [
        "GET order_statuses",
        "GET orders/select_many",
    ]
    assert sorted(kinds([c for c in calls if c.method != "GET"])) == sorted(
        f"PUT orders/{oid}/status" for oid in (fresh, unstamped, null_stamp, local, seconds)
    )
    assert seeded_sandbox.store.get("orders", stale)["order_status_id"] == st["Processing"]
    assert seeded_sandbox.store.get("orders", stale)[STAMP] == moved_at[stale]
    for oid in (fresh, unstamped, null_stamp, local, seconds):
        assert seeded_sandbox.store.get("orders", oid)["order_status_id"] == st[ACK]
    assert summary["outcomes"][STREAM] == {"updated": 5, "skipped": 1}

    # The replay (a pipeline re-reading everything it ever imported): only the reads.
    results, summary, calls = run(seeded_sandbox, tmp_path, records)
    assert [r["outcome"] for r in results] == ["unchanged", "skipped", *["unchanged"] * 4]
    assert kinds(calls) == ["GET order_statuses", "GET orders/select_many"]
    assert seeded_sandbox.store.get("orders", stale)["order_status_id"] == st["Processing"]


def test_stamp_later_than_the_store_or_store_without_stamp_is_applied(seeded_sandbox, tmp_path):
    """Only a later store stamp makes a record stale (none gives no verdict); from_status holds."""
    st = seeded_sandbox.order_status_ids
    later, no_store_stamp = seeded_sandbox.processing_order_ids[:2]
    pending = seeded_sandbox.order_ids("Pending")[0]
    seeded_sandbox.store.update("orders", no_store_stamp, {STAMP: None})
    records = [
        {"order_id": later, "status": ACK, STAMP: "2099-01-01T00:00:00Z"},
        {"order_id": no_store_stamp, "status": ACK, STAMP: "2000-01-01T00:00:00Z"},
        # Fresh, but not in from_status: the guard still holds, and says why.
        {
            "order_id": pending,
            "status": ACK,
            "from_status": "Processing",
            STAMP: "2099-01-01T00:00:00Z",
        },
    ]
    results, _summary, calls = run(seeded_sandbox, tmp_path, records)
    assert [r["outcome"] for r in results] == ["updated", "updated", "skipped"]
    assert results[2]["field"] == "from_status"
    assert results[2]["error"].startswith("the order is 'Pending', not one of the record's")
    assert seeded_sandbox.store.get("orders", pending)["order_status_id"] == st["Pending"]
    assert len([c for c in calls if c.method == "PUT"]) == 2
    for oid in (later, no_store_stamp):
        assert seeded_sandbox.store.get("orders", oid)["order_status_id"] == st[ACK]


def test_malformed_stamp_fails_its_record_only(seeded_sandbox, tmp_path):
    """A stamp that is not a date-time (or has no time of day) fails naming the field."""
    ids = seeded_sandbox.processing_order_ids[:3]
    records = [
        {"order_id": ids[0], "status": ACK, STAMP: "yesterday"},
        {"order_id": ids[1], "status": ACK, STAMP: "2024-05-01"},
        {"order_id": ids[2], "status": ACK, STAMP: stamp(seeded_sandbox, ids[2])},
    ]
    results, _summary, calls = run(seeded_sandbox, tmp_path, records)
    assert [r["outcome"] for r in results] == ["failed", "failed", "updated"]
    assert [r.get("field") for r in results[:2]] == [STAMP, STAMP]
    assert "time of day" in results[1]["error"]
    assert kinds([c for c in calls if c.method == "PUT"]) == [f"PUT orders/{ids[2]}/status"]


def test_dry_run_judges_a_second_record_of_the_order_as_a_real_run(seeded_sandbox, tmp_path):
    """Two records of one order read at one stamp: the second is stale in a dry run too."""
    oid = seeded_sandbox.processing_order_ids[0]
    read = stamp(seeded_sandbox, oid)
    records = [
        {"order_id": oid, "status": ACK, STAMP: read},
        {"order_id": oid, "status": "Completed", STAMP: read},
    ]
    for dry_run in (True, False):
        results, _summary, _calls = run(seeded_sandbox, tmp_path, records, dry_run=dry_run)
        assert [r["outcome"] for r in results] == ["updated", "skipped"], dry_run
        assert results[1]["field"] == STAMP

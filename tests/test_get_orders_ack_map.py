"""get-orders' acknowledgement step (meltano.yml `target-cartcom-ack`), without Meltano.

The map turns each `orders` record into an `order_acknowledgements` record carrying the order's
status stamp as the tap read it, or its `created_at` when the store had none. The target then
skips an order whose status changed after its import, whatever replays it. Paired with
`imported-orders` (tap-cartcom-import-log), an acknowledgement that failed for a cause a later
run may not meet is read and tried again by the next run.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import requests
import yaml
from cartcom_client.quirks import to_utc
from tap_cartcom.import_log import TapImportLog
from target_cartcom.target import TargetCartcom

ROOT = Path(__file__).resolve().parent.parent
STAMP = "order_status_last_changed_at"
# How tap-jsonl (`imported-orders`) types the fields the map reads.
ORDERS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "created_at": {"type": ["null", "string"], "format": "date-time"},
        STAMP: {"type": ["null", "string"], "format": "date-time"},
    },
}


def ack_config() -> dict[str, Any]:
    """`target-cartcom-ack`'s config as meltano.yml defines it."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-cartcom-ack")
    return plugin["config"]


def test_ack_map_skips_orders_moved_back_after_import(seeded_sandbox, tmp_path: Path) -> None:
    """Replayed imports: the unmoved order is acknowledged, those moved back are skipped."""
    base, headers = seeded_sandbox.base_url, seeded_sandbox.headers
    config = ack_config()
    status = config["stream_maps"]["orders"]["status"].removeprefix("str('").removesuffix("')")
    created = requests.post(
        f"{base}/order_statuses",
        json={"name": status, "is_open": True},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    processing = seeded_sandbox.order_status_ids["Processing"]
    fresh, moved, never_stamped = seeded_sandbox.processing_order_ids[:3]
    seeded_sandbox.store.update("orders", never_stamped, {STAMP: None})

    def imported(order_id: int) -> dict[str, Any]:
        """The order as the tap wrote it to orders.jsonl (UTC stamps, "" as null)."""
        doc = seeded_sandbox.store.get("orders", order_id)
        return {"id": order_id, "created_at": to_utc(doc["created_at"]), STAMP: to_utc(doc[STAMP])}

    lines = [imported(oid) for oid in (fresh, moved, never_stamped)]
    assert lines[2][STAMP] is None
    # After the import: two orders go Pending and back to Processing (the stamp moves).
    for oid in (moved, never_stamped):
        for sid in (seeded_sandbox.order_status_ids["Pending"], processing):
            answer = requests.put(
                f"{base}/orders/{oid}/status",
                json={"order_status_id": sid},
                headers=headers,
                timeout=30,
            )
            assert answer.status_code == 200, answer.text

    results = tmp_path / "ack.jsonl"
    target = TargetCartcom(
        config={
            "api_url": base,
            "access_token": seeded_sandbox.token,
            "calls_per_window": 100_000,
            "fail_on_record_errors": False,
            **config,
            "results_path": str(results),
        },
        parse_env_config=False,
    )
    messages = [
        {"type": "SCHEMA", "stream": "orders", "schema": ORDERS_SCHEMA, "key_properties": ["id"]}
    ]
    messages += [{"type": "RECORD", "stream": "orders", "record": line} for line in lines]
    before = len(seeded_sandbox.calls)
    target.listen(io.StringIO("\n".join(json.dumps(m) for m in messages) + "\n"))
    calls = seeded_sandbox.calls.snapshot()[before:]

    rows = [json.loads(x) for x in results.read_text().splitlines()][:-1]
    assert [(r["stream"], r["key"], r["outcome"]) for r in rows] == [
        ("order_acknowledgements", str(fresh), "updated"),
        ("order_acknowledgements", str(moved), "skipped"),
        ("order_acknowledgements", str(never_stamped), "skipped"),
    ]
    assert {r.get("field") for r in rows[1:]} == {STAMP}
    assert [c.path for c in calls if c.method == "PUT"] == [f"/api/v1/orders/{fresh}/status"]
    for oid in (moved, never_stamped):
        assert seeded_sandbox.store.get("orders", oid)["order_status_id"] == processing


def run_pair(
    seeded_sandbox: Any, log: Path, state: dict | None, results: Path
) -> tuple[dict | None, list[dict[str, Any]]]:
    """`imported-orders target-cartcom-ack` in-process: the target's last state, and results.

    No state (None) means the target confirmed none: Meltano keeps the one it had.
    """
    tap_out = io.StringIO()
    with redirect_stdout(tap_out):
        TapImportLog(config={"path": str(log)}, state=state, parse_env_config=False).sync_all()
    target = TargetCartcom(
        config={
            "api_url": seeded_sandbox.base_url,
            "access_token": seeded_sandbox.token,
            "calls_per_window": 100_000,
            "fail_on_record_errors": False,
            **ack_config(),
            "results_path": str(results),
        },
        parse_env_config=False,
    )
    target_out = io.StringIO()
    with redirect_stdout(target_out):
        target.listen(io.StringIO(tap_out.getvalue()))
    states = [json.loads(line) for line in target_out.getvalue().splitlines() if line.strip()]
    rows = [json.loads(x) for x in results.read_text().splitlines()][:-1]
    return (states[-1] if states else None), rows


def test_an_acknowledgement_that_failed_for_a_setting_is_tried_again(
    seeded_sandbox, tmp_path: Path
) -> None:
    """A status the store lacks: no position confirmed, so the next run acknowledges them.

    A line whose order the store does not have fails for good: the position moves past it.
    """
    base, headers = seeded_sandbox.base_url, seeded_sandbox.headers
    first, second = seeded_sandbox.processing_order_ids[:2]
    log = tmp_path / "orders.jsonl"
    results = tmp_path / "ack.jsonl"

    def imported(order_id: int) -> str:
        doc = seeded_sandbox.store.get("orders", order_id)
        line = {"id": order_id, "created_at": to_utc(doc["created_at"]), STAMP: to_utc(doc[STAMP])}
        return json.dumps(line) + "\n"

    log.write_text(imported(first) + imported(second))
    state, rows = run_pair(seeded_sandbox, log, None, results)
    assert state is None
    assert [(r["key"], r["outcome"], r["field"], r.get("retry")) for r in rows] == [
        (str(first), "failed", "status", True),
        (str(second), "failed", "status", True),
    ]

    status = ack_config()["stream_maps"]["orders"]["status"].removeprefix("str('")
    created = requests.post(
        f"{base}/order_statuses",
        json={"name": status.removesuffix("')"), "is_open": True},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    state, rows = run_pair(seeded_sandbox, log, None, results)
    assert [(r["key"], r["outcome"]) for r in rows] == [
        (str(first), "updated"),
        (str(second), "updated"),
    ]
    for order_id in (first, second):
        assert (
            seeded_sandbox.store.get("orders", order_id)["order_status_id"] == created.json()["id"]
        )
    assert state is not None

    with log.open("a") as fh:
        fh.write(
            json.dumps({"id": 999_999_999, "created_at": "2026-05-01T10:00:00.000000Z"}) + "\n"
        )
    after, rows = run_pair(seeded_sandbox, log, state, results)
    assert [(r["key"], r["outcome"], r.get("retry")) for r in rows] == [
        ("999999999", "failed", None)
    ]
    assert after is not None
    assert run_pair(seeded_sandbox, log, after, results)[1] == []

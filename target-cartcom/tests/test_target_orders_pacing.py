"""The order streams under a tight call limit on the sandbox: paced, never answered 429."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from cartcom_testing.runs import longest_gap
from target_cartcom.target import TargetCartcom

SCHEMAS = resources.files("target_cartcom") / "schemas"
SCHEMA_FILES = {
    "order_shipments": "order_shipment",
    "order_acknowledgements": "order_acknowledgement",
}
CALLS, WINDOW = 5, 1.0


def singer_text(batches: dict[str, list[dict[str, Any]]]) -> str:
    """A Singer input: for each stream its SCHEMA, then one RECORD per record."""
    lines: list[dict[str, Any]] = []
    for stream, records in batches.items():
        schema = json.loads((SCHEMAS / f"{SCHEMA_FILES[stream]}.schema.json").read_text())
        lines.append({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": []})
        lines += [{"type": "RECORD", "stream": stream, "record": r} for r in records]
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def run_paced(sb: Any, tmp_path: Path, batches: dict[str, list[dict[str, Any]]]):
    """Run the target in-process at CALLS per WINDOW; return (results, summary, its calls)."""
    results = tmp_path / "results.jsonl"
    config = {
        "api_url": sb.base_url,
        "access_token": sb.token,
        "calls_per_window": CALLS,
        "window_seconds": WINDOW,
        "results_path": str(results),
        "fail_on_record_errors": False,
    }
    before = len(sb.calls)
    TargetCartcom(config=config, parse_env_config=False).listen(io.StringIO(singer_text(batches)))
    calls = sb.calls.snapshot()[before:]
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    return [x for x in lines if x.get("type") != "summary"], lines[-1], calls


def busiest_span(stamps: list[float], span: float = WINDOW) -> int:
    """The most calls whose arrival times fall in one half-open span ``[t, t + span)``."""
    ordered = sorted(stamps)
    return max(
        (sum(1 for s in ordered[i:] if s < t + span) for i, t in enumerate(ordered)), default=0
    )


def test_busiest_span_counts_calls_inside_one_second():
    """The span helper itself: it must be able to report more than the limit."""
    assert busiest_span([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]) == 6
    assert busiest_span([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]) == 5
    assert busiest_span([]) == 0


def test_unpaced_burst_is_answered_429_at_five_calls_per_second(seeded_sandbox):
    """Control: a client that ignores pacing meets 429 from this sandbox set-up."""
    sb = seeded_sandbox
    sb.ratelimit.configure(calls=CALLS, window=WINDOW)
    before = len(sb.calls)
    with requests.Session() as http:
        burst = [
            http.get(f"{sb.base_url}/order_statuses", headers=sb.headers, timeout=5)
            for _ in range(CALLS + 1)
        ]
    statuses = [r.status_code for r in burst]
    assert 429 in statuses
    limited = next(r for r in burst if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    logged = sb.calls.snapshot()[before:]
    assert [c.status for c in logged] == statuses
    assert busiest_span([c.ts for c in logged]) > CALLS


def test_shipments_and_acknowledgements_paced_without_429(seeded_sandbox, tmp_path):
    """10 shipments and 5 acknowledgements at 5 calls per 1-s window: no 429, no burst."""
    sb = seeded_sandbox
    st = sb.order_status_ids
    ship_ids = sb.processing_order_ids[:10]
    ack_ids = sb.order_ids("Pending")[:5]
    assert len(ship_ids) == 10
    assert len(ack_ids) == 5
    shipments = [
        {
            "order_id": oid,
            "shipment_id": f"PACE-{oid}",
            "carrier": "UPS",
            "service": "Ground",
            "tracking_numbers": [f"1ZPACE{oid}"],
            "shipped_at": "2024-05-02T15:04:05Z",
        }
        for oid in ship_ids
    ]
    acks = [{"order_id": oid, "status": "Processing"} for oid in ack_ids]

    sb.ratelimit.configure(calls=CALLS, window=WINDOW)  # fresh windows at the tight limit
    results, summary, calls = run_paced(
        sb, tmp_path, {"order_shipments": shipments, "order_acknowledgements": acks}
    )

    assert [c.status for c in calls if c.status == 429] == []
    assert sb.calls.count(status=429) == 0
    # Shipments: one read of the 10 orders, the carriers and the statuses, then per order a
    # POST of its shipment and a PUT of its status; acknowledgements: one read of the 5 orders
    # (statuses already known) and a PUT each. An unpaced client would cross the limit often.
    assert len(calls) == (3 + 2 * len(shipments)) + (1 + len(acks)) > 4 * CALLS
    assert busiest_span([c.ts for c in calls]) <= CALLS
    # ... and no wait longer than one window (plus scheduling slack) between two calls.
    stamps = [c.ts for c in calls]
    assert longest_gap(stamps) <= WINDOW + 0.5
    # The work was really done: every shipment created, every order acknowledged.
    assert [r["outcome"] for r in results] == ["created"] * 10 + ["updated"] * 5
    assert summary["failed"] == 0
    posts = [c for c in calls if c.method == "POST" and c.path.endswith("/order_shipments")]
    assert len(posts) == 10
    for oid in ship_ids:
        assert sb.store.get("orders", oid)["order_status_id"] == st["Shipped"]
        names = [s["shipment_name"] for s in sb.store.query("order_shipments", {"order_id": oid})]
        assert names == [f"PACE-{oid}"]
    for oid in ack_ids:
        assert sb.store.get("orders", oid)["order_status_id"] == st["Processing"]

"""The order streams through the real CLI (subprocess).

Exit codes, state and the results file, with the sample inputs of tests/data/orders/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "orders"


def label_orders(seeded) -> dict[str, int]:
    """Give three Pending orders the order numbers the sample files use."""
    ids = seeded.order_ids("Pending")[:3]
    for n, oid in enumerate(ids, 1001):
        seeded.store.update("orders", oid, {"order_number": f"DEMO-{n}"})
    return {f"DEMO-{n}": oid for n, oid in enumerate(ids, 1001)}


def cli(
    seeded, tmp_path: Path, sample: str, **config
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run ``python -m target_cartcom`` on a sample file; return the process and the results."""
    results = tmp_path / f"{sample}.results.jsonl"
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "api_url": seeded.base_url,
                "access_token": seeded.token,
                "calls_per_window": 10_000,
                "results_path": str(results),
                **config,
            }
        )
    )
    with (DATA / sample).open("rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-m", "target_cartcom", "--config", str(cfg)],
            stdin=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
    return proc, [json.loads(x) for x in results.read_text().splitlines()]


def test_target_orders_cli_sample_shipments(seeded_sandbox, tmp_path):
    """The sample file applies cleanly: exit 0, state emitted, orders shipped."""
    ids = label_orders(seeded_sandbox)
    proc, lines = cli(seeded_sandbox, tmp_path, "shipments.singer")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(proc.stdout.decode().splitlines()[-1])["bookmarks"]["order_shipments"]
    assert [x["outcome"] for x in lines[:-1]] == ["created"] * 3
    assert lines[-1]["type"] == "summary"
    shipped = seeded_sandbox.order_status_ids["Shipped"]
    pending = seeded_sandbox.order_status_ids["Pending"]
    for oid in ids.values():  # Pending is an open status: it may be moved to Shipped
        doc = seeded_sandbox.store.get("orders", oid)
        assert (doc["order_status_id"], doc["previous_order_status_id"]) == (shipped, pending)


def test_target_orders_cli_record_errors_exit_non_zero(seeded_sandbox, tmp_path):
    """Bad records fail alone; the run exits non-zero only after applying the good one."""
    ids = label_orders(seeded_sandbox)
    proc, lines = cli(seeded_sandbox, tmp_path, "shipments_with_errors.singer")
    assert proc.returncode != 0
    assert "3 record(s) failed" in proc.stderr.decode()
    assert "test-token" not in proc.stderr.decode() + proc.stdout.decode()
    outcomes = {x["key"]: x["outcome"] for x in lines[:-1]}
    assert outcomes == {
        "WMS-1001-A": "created",
        "WMS-9999-A": "failed",
        "WMS-1002-B": "failed",
        "WMS-1003-B": "failed",
    }
    assert lines[-1]["failed"] == 3
    names = [
        s["shipment_name"]
        for s in seeded_sandbox.store.query("order_shipments", {"order_id": ids["DEMO-1001"]})
    ]
    assert names == ["WMS-1001-A"]
    proc, _ = cli(
        seeded_sandbox, tmp_path, "shipments_with_errors.singer", fail_on_record_errors=False
    )
    assert proc.returncode == 0


def test_target_orders_cli_sample_acknowledgements(seeded_sandbox, tmp_path):
    """Acknowledgements by order number: two set, one status name the store lacks."""
    ids = label_orders(seeded_sandbox)
    proc, lines = cli(
        seeded_sandbox, tmp_path, "acknowledgements.singer", fail_on_record_errors=False
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert [x["outcome"] for x in lines[:-1]] == ["updated", "updated", "failed"]
    processing = seeded_sandbox.order_status_ids["Processing"]
    assert seeded_sandbox.store.get("orders", ids["DEMO-1001"])["order_status_id"] == processing
    assert seeded_sandbox.store.get("orders", ids["DEMO-1003"])["order_status_id"] != processing

"""End to end through Meltano: the tap's own order lines, mapped to shipments, all land.

`meltano run tap-processing-lines target-cartcom-ship-lines` as meltano.yml defines it: the
tap reads the lines of the Processing orders of the Get Orders window (`quantity` as Cart.com
sends it, a decimal such as 1.0), a stream map turns each line into one shipment, and the target
pushes them. Every shipment lands and every such order ends Shipped or Partially Shipped; a second
run has nothing left to ship and writes nothing.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import run_demo as demo
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import created_utc

#: The first Meltano run installs the plugins into .meltano/ (minutes on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"
JOB = ["tap-processing-lines", "target-cartcom-ship-lines"]


def test_processing_lines_ship_through_meltano(tmp_path: Path) -> None:
    """Each shippable line of each Processing order in the window becomes one landed shipment."""
    demo.ensure_plugins(tmp_path / "install.log")
    db = tmp_path / "store.db"
    seed_store(str(db), products=30, orders=400, seed=21, days=60)
    server = SandboxServer(
        str(db), tokens=[TOKEN], config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0)
    )
    server.start()
    out = tmp_path / "out"
    results = out / "results" / "ship-lines.jsonl"
    env = demo.meltano_env(
        server.base_url, out, tmp_path / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    env["TARGET_CARTCOM_SHIP_LINES_RESULTS_PATH"] = str(results)
    try:
        status = {s["name"]: s["id"] for s in server.store.query("order_statuses")}
        now = datetime.now(UTC)
        floor = now - timedelta(days=30)
        for order in server.store.query("orders"):  # none near the window's edge
            if abs(created_utc(order) - floor) < timedelta(minutes=30):
                server.store.update("orders", order["id"], {"order_status_id": status["Completed"]})
        processing = {
            o["id"]
            for o in server.store.query("orders", {"order_status_id": status["Processing"]})
            if created_utc(o) >= floor
        }
        lines = [
            i
            for i in server.store.query("order_items")
            if i["order_id"] in processing
            and not i.get("is_discount_item")
            and not i.get("is_non_shipping_item")
        ]
        assert processing
        assert lines

        def run() -> list[dict]:
            before = len(demo.read_jsonl(results)) if results.exists() else 0
            proc = subprocess.run(
                [demo.meltano_bin(), "run", *JOB],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
            return demo.read_jsonl(results)[before:]

        start = len(server.calls)
        first = run()
        posts = [
            c
            for c in server.calls.snapshot()[start:]
            if c.method == "POST" and c.path.endswith("/order_shipments")
        ]
        records = [r for r in first if r.get("type") != "summary"]
        summary = first[-1]
        assert summary["failed"] == 0, [r for r in records if r["outcome"] == "failed"][:3]
        assert sorted(r["shipment_id"] for r in records) == sorted(f"LINE-{i['id']}" for i in lines)
        assert {r["outcome"] for r in records} == {"created"}
        assert len(posts) == len(lines)
        shipped = {status["Shipped"], status["Partially Shipped"]}
        for order_id in processing:
            assert server.store.get("orders", order_id)["order_status_id"] in shipped

        start = len(server.calls)
        second = run()  # the orders left Processing: no line to ship, nothing written
        assert [r for r in second if r.get("type") != "summary"] == []
        assert [c for c in server.calls.snapshot()[start:] if c.method != "GET"] == []
    finally:
        server.stop()

"""End to end: issue 13's Get Orders scenario through `meltano run get-orders`.

The acknowledgement step is included; the sandbox store is seeded relative to today, so the
30-day window holds orders.

Run 1 imports the window's Processing orders and acknowledges them. Between the runs, orders
placed about 1 and 12 days earlier go Pending -> Processing, an imported order goes Shipped
and back to Processing, and a Pending order placed 45 days ago turns Processing. Run 2 imports
and acknowledges exactly the two late orders (the acknowledgement sees only those: the order
moved back stays in Processing); run 3, with no change, imports and acknowledges nothing.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import run_demo as demo
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import created_utc

#: The first Meltano run installs the plugins into .meltano/ (minutes on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"


def test_get_orders_imports_late_eligible_orders_once_through_meltano(tmp_path: Path) -> None:
    """Three `meltano run get-orders`: the window, then the two late orders only, then nothing."""
    demo.ensure_plugins(tmp_path / "install.log")
    db = tmp_path / "store.db"
    seed_store(str(db), products=30, orders=600, seed=13, days=60)
    server = SandboxServer(
        str(db), tokens=[TOKEN], config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0)
    )
    server.start()
    out = tmp_path / "out"
    out.mkdir()
    env = demo.meltano_env(
        server.base_url, out, tmp_path / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    headers = {"X-AC-Auth-Token": TOKEN}
    try:

        def put_status(order_id: int, status_id: int) -> None:
            response = requests.put(
                f"{server.base_url}/orders/{order_id}/status",
                json={"order_status_id": status_id},
                headers=headers,
                timeout=30,
            )
            assert response.status_code == 200, response.text

        def run() -> list[int]:
            """One `meltano run get-orders`; the ids it appended to orders.jsonl."""
            path = out / "orders" / "orders.jsonl"
            before = len(demo.read_jsonl(path)) if path.exists() else 0
            proc = subprocess.run(
                [demo.meltano_bin(), "run", "get-orders"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
            return [o["id"] for o in demo.read_jsonl(path)[before:]]

        status = {
            row["name"]: row["id"]
            for row in requests.get(
                f"{server.base_url}/order_statuses",
                params={"count": 100},
                headers=headers,
                timeout=30,
            ).json()["order_statuses"]
        }
        created = requests.post(
            f"{server.base_url}/order_statuses",
            json={"name": demo.ACK_STATUS, "is_open": True},
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 201
        status[demo.ACK_STATUS] = created.json()["id"]

        # The parts, picked from the seeded orders by age; none near the window's edge.
        now = datetime.now(UTC)
        orders = server.store.query("orders")
        for order in orders:
            if abs(created_utc(order) - (now - timedelta(days=30))) < timedelta(minutes=30):
                server.store.update("orders", order["id"], {"order_status_id": status["Completed"]})
        taken: set[int] = set()

        def pick(days: float) -> int:
            best = min(
                (o for o in orders if o["id"] not in taken),
                key=lambda o: abs(created_utc(o) - (now - timedelta(days=days))),
            )
            taken.add(best["id"])
            return best["id"]

        one_day, twelve_days, old, reshipped = pick(1), pick(12), pick(45), pick(5)
        for order_id in (one_day, twelve_days, old):
            put_status(order_id, status["Pending"])
        put_status(reshipped, status["Processing"])
        floor = now - timedelta(days=30)
        expected1 = {
            o["id"]
            for o in server.store.query("orders", {"order_status_id": status["Processing"]})
            if created_utc(o) >= floor
        }
        assert reshipped in expected1
        server.calls.clear()

        # Run 1: the window's Processing orders, each acknowledged.
        first = run()
        assert sorted(first) == sorted(expected1)
        puts = [c for c in server.calls.snapshot() if c.method == "PUT"]
        assert sorted(int(c.path.split("/")[-2]) for c in puts) == sorted(expected1)
        moved = server.store.query("orders", {"order_status_id": status[demo.ACK_STATUS]})
        assert {o["id"] for o in moved} == expected1

        # Between the runs.
        for order_id in (one_day, twelve_days, old):
            put_status(order_id, status["Processing"])
        put_status(reshipped, status["Shipped"])
        put_status(reshipped, status["Processing"])
        server.calls.clear()

        # Run 2: the two late orders only, in creation order; both acknowledged.
        second = run()
        assert second == [twelve_days, one_day]
        for order_id in (twelve_days, one_day):
            assert (
                server.store.get("orders", order_id)["order_status_id"] == status[demo.ACK_STATUS]
            )
        assert server.store.get("orders", old)["order_status_id"] == status["Processing"]
        # The acknowledgement step sees only the lines this run appended to orders.jsonl
        # (`imported-orders` reads from where the last run stopped): the order moved back to
        # Processing after its import and acknowledgement is not seen again, and stays there.
        # Each order is acknowledged once, right after its import.
        puts = [c for c in server.calls.snapshot() if c.method == "PUT"]
        assert sorted(int(c.path.split("/")[-2]) for c in puts) == sorted([twelve_days, one_day])
        assert server.store.get("orders", reshipped)["order_status_id"] == status["Processing"]
        rows, summary = demo.results(out / "results" / "ack.jsonl")
        assert summary["failed"] == 0
        assert [(r["key"], r["outcome"]) for r in rows] == [
            (str(twelve_days), "updated"),
            (str(one_day), "updated"),
        ]

        # Run 3: nothing changed in the store: nothing imported, nothing read back, nothing written.
        server.calls.clear()
        assert run() == []
        assert not [c for c in server.calls.snapshot() if c.method in ("PUT", "POST")]
        rows, summary = demo.results(out / "results" / "ack.jsonl")
        assert (rows, summary["calls"]["reads"], summary["calls"]["writes"]) == ([], 0, 0)
    finally:
        server.stop()

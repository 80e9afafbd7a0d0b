"""End to end: get-orders' acknowledgement costs the same whatever the import log's history.

Issue 21: the acknowledgement step (`imported-orders target-cartcom-ack`) used to re-read the
whole import log, `orders.jsonl`, on every run: one status read per 100 orders ever imported.
Now it reads from where its last run stopped. Through `meltano run`, against a sandbox store:

1. the import alone (`tap-get-orders target-jsonl`, as when a run is killed after the import
   and before the acknowledgement): 100 orders in the log, none acknowledged;
2. `get-orders`: nothing new to import; the 100 orders are acknowledged, each once;
3. `get-orders` with nothing new: its calls, with a history of 100 orders;
4. 9,900 older orders (shipped long ago) are appended to the log, as a log with a long history
   has them; `imported-orders target-cartcom-ack` reads those 9,900 lines, and only them;
5. `get-orders` with nothing new: the same calls as in 3, none of them by the acknowledgement,
   with a history of 10,000 orders.

The target runs with a token of its own, so the sandbox's call log tells its calls from the
tap's.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
from cartcom_client.quirks import to_utc
from cartcom_sandbox.app import token_hash
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import created_utc

#: The first Meltano run installs the plugins into .meltano/ (minutes on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
TAP_TOKEN = "test-token"
ACK_TOKEN = "ack-token"
STAMP = "order_status_last_changed_at"
IMPORTED = 100
HISTORY = 10_000


def test_idle_get_orders_costs_the_same_at_100_and_10000_imported_orders(tmp_path: Path) -> None:
    """A kill between import and acknowledgement, then idle runs at a short and a long history."""
    demo.ensure_plugins(tmp_path / "install.log")
    db = tmp_path / "store.db"
    seed_store(str(db), products=10, orders=HISTORY + 400, seed=21, days=400)
    server = SandboxServer(
        str(db),
        tokens=[TAP_TOKEN, ACK_TOKEN],
        config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0),
    )
    server.start()
    out = tmp_path / "out"
    out.mkdir()
    env = demo.meltano_env(
        server.base_url, out, tmp_path / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    env["TARGET_CARTCOM_ACCESS_TOKEN"] = ACK_TOKEN
    log = out / "orders" / "orders.jsonl"
    results = out / "results" / "ack.jsonl"
    try:
        store = server.store
        status = {r["name"]: r["id"] for r in store.query("order_statuses")}
        created = requests.post(
            f"{server.base_url}/order_statuses",
            json={"name": demo.ACK_STATUS, "is_open": True},
            headers={"X-AC-Auth-Token": TAP_TOKEN},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        acked_status = created.json()["id"]
        # 100 Processing orders in the 30-day window (none near its edge); no other order is
        # Processing, so the tap's window read is the same in every run.
        now = datetime.now(UTC)
        orders = sorted(store.query("orders"), key=created_utc)
        recent = [o for o in orders if created_utc(o) > now - timedelta(days=29)]
        processing = {o["id"] for o in recent[-IMPORTED:]}
        with store.transaction():
            for order in orders:
                chosen = order["id"] in processing
                if chosen or order["order_status_id"] == status["Processing"]:
                    wanted = status["Processing"] if chosen else status["Completed"]
                    store.update("orders", order["id"], {"order_status_id": wanted})
        older = [o for o in orders if o["id"] not in processing][: HISTORY - IMPORTED]
        assert len(older) == HISTORY - IMPORTED

        def meltano(*args: str) -> None:
            proc = subprocess.run(
                [demo.meltano_bin(), "run", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

        def ack_calls() -> list[Any]:
            return [c for c in server.calls.snapshot() if c.token_hash == token_hash(ACK_TOKEN)]

        def acknowledged() -> set[int]:
            return {o["id"] for o in store.query("orders", {"order_status_id": acked_status})}

        puts: Counter[int] = Counter()

        def count_puts() -> None:
            for call in server.calls.snapshot():
                if call.method == "PUT":
                    puts[int(call.path.split("/")[-2])] += 1

        # 1. The import alone: the job was killed before its acknowledgement step.
        server.calls.clear()
        meltano("tap-get-orders", "target-jsonl")
        assert sorted(o["id"] for o in demo.read_jsonl(log)) == sorted(processing)
        assert acknowledged() == set()
        count_puts()

        # 2. The next run: nothing new to import; the orders of the killed run are acknowledged.
        server.calls.clear()
        meltano("get-orders")
        assert len(demo.read_jsonl(log)) == IMPORTED
        count_puts()
        assert acknowledged() == processing
        rows, summary = demo.results(results)
        assert sorted(int(r["key"]) for r in rows if r["outcome"] == "updated") == sorted(
            processing
        )

        # 3. Idle, history of 100: the tap's window read; the acknowledgement reads nothing.
        server.calls.clear()
        meltano("get-orders")
        count_puts()
        idle_small = sorted((c.method, c.path) for c in server.calls.snapshot())
        assert ack_calls() == []
        assert demo.results(results)[0] == []

        # 4. A long history: 9,900 older orders, shipped long ago, appended to the log as
        #    the tap writes them. The acknowledgement reads those lines and no other.
        with log.open("a") as fh:
            for order in older:
                line = {
                    "id": order["id"],
                    "created_at": to_utc(order["created_at"]),
                    STAMP: to_utc(order[STAMP]),
                }
                fh.write(json.dumps(line) + "\n")
        server.calls.clear()
        meltano("imported-orders", "target-cartcom-ack")
        count_puts()
        rows, summary = demo.results(results)
        assert sorted(int(r["key"]) for r in rows) == sorted(o["id"] for o in older)
        assert summary["calls"]["writes"] == 0

        # 5. Idle, history of 10,000: the same calls as with 100, none by the acknowledgement.
        server.calls.clear()
        meltano("get-orders")
        count_puts()
        idle_large = sorted((c.method, c.path) for c in server.calls.snapshot())
        assert ack_calls() == []
        assert idle_large == idle_small
        assert len(demo.read_jsonl(log)) == HISTORY

        # Each imported order was acknowledged exactly once, and the store agrees.
        assert puts == dict.fromkeys(processing, 1)
        assert acknowledged() == processing
    finally:
        server.stop()

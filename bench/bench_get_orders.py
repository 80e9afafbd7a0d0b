"""Benchmark of Get Orders (issue 13): state size for a busy store, calls per 15-minute run.

State size: the ``get_orders_emitted`` state (id ranges per creation day) for 300,000 orders
emitted in a 30-day window, with order ids given out in creation order, for several shares of
orders that never reach a selected status (their ids are the gaps): built with the tap's own
``EmittedOrders``, measured as the JSON the Singer STATE carries.

Calls per run: a sandbox store with 1,000 Processing orders created in the last 30 days (and
2,000 in other statuses), read by the tap in-process with ``order_status_names: [Processing]``
and ``orders` + ``order_addresses`` selected, at page size 250; then runs every 15 minutes
(clock pinned) with a few new paid orders between runs, without acknowledgement (the 1,000
stay Processing: the worst case) and with it (imported orders move on).

Run: ``.venv/bin/python bench/bench_get_orders.py``. Results: bench/results/get_orders.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cartcom_client.quirks import to_utc
from cartcom_sandbox.clock import normalise_input
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from tap_cartcom.emitted import EmittedOrders
from tap_cartcom.tap import TapCartcom

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "get_orders.json"
TOKEN = "bench-token"  # noqa: S105 - the sandbox's test token
PAGE = 250


# -- state size ---------------------------------------------------------------------------------
def state_size(eligible: int = 300_000, days: int = 30, never_share: float = 0.0) -> dict:
    """JSON size of the emitted-id state when ``never_share`` of the ids never qualify."""
    rng = random.Random(7)
    ledger = EmittedOrders()
    start = datetime(2024, 5, 1, tzinfo=UTC)
    total = round(eligible / (1 - never_share))
    order_id, emitted = 1_000_000, 0
    for n in range(total):
        order_id += 1
        if rng.random() < never_share:
            continue
        created = start + timedelta(seconds=n * days * 86400 / total)
        ledger.add(created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), order_id)
        emitted += 1
    state = ledger.to_state()
    text = json.dumps(state, separators=(",", ":"))
    back = EmittedOrders.from_state(json.loads(text))
    assert len(back) == emitted
    return {
        "orders_emitted": emitted,
        "orders_never_eligible_share": never_share,
        "days": len(state),
        "state_bytes": len(text.encode()),
        "bytes_per_order": round(len(text.encode()) / emitted, 3),
    }


# -- calls per run ---------------------------------------------------------------------------------
def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_tap(config: dict, state: dict | None, now: datetime) -> tuple[list[int], dict]:
    """One in-process run with the clock pinned; the orders emitted and the final state."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        tap = TapCartcom(config=config, state=state, parse_env_config=False)
        tap.__dict__["sync_started_at"] = now
        for name, stream in tap.streams.items():
            stream.selected = name in ("orders", "order_addresses")
        tap.sync_all()
    ids, last = [], None
    for line in out.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == "orders":
            ids.append(message["record"]["id"])
        elif message["type"] == "STATE":
            last = message["value"]
    return ids, last  # type: ignore[return-value]


def calls_per_run(acknowledge: bool, runs: int = 8, new_per_run: int = 3) -> dict:
    """Calls of a first run and of the following 15-minute runs, by path."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.db"
        seed_store(str(db), products=40, orders=3000, seed=5, days=30)
        server = SandboxServer(str(db), tokens=[TOKEN], config=SandboxConfig(plan="unlimited"))
        server.start()
        try:
            store = server.store
            status = {r["name"]: r["id"] for r in store.query("order_statuses")}
            orders = store.query("orders")
            now = datetime.now(UTC).replace(microsecond=0)
            floor = now - timedelta(days=30)
            inside = [
                o
                for o in orders
                if datetime.fromisoformat(to_utc(o["created_at"]).replace("Z", "+00:00")) >= floor
            ]
            chosen = {o["id"] for o in random.Random(3).sample(inside, 1000)}
            for o in orders:
                wanted = "Processing" if o["id"] in chosen else "Completed"
                if o["order_status_id"] != status[wanted]:
                    store.update("orders", o["id"], {"order_status_id": status[wanted]})
            template = {
                k: v for k, v in orders[-1].items() if k not in ("id", "created_at", "updated_at")
            }
            config = {
                "access_token": TOKEN,
                "api_url": server.base_url,
                "calls_per_window": 100_000,
                "window_seconds": 1,
                "page_size": PAGE,
                "order_status_names": ["Processing"],
                "orders_created_within_days": 30,
            }
            rows, state = [], None
            for run in range(runs):
                clock = now + timedelta(minutes=15 * run)
                if run:  # orders paid since the last run
                    for k in range(new_per_run):
                        stamp = normalise_input(
                            _z(clock - timedelta(minutes=k + 1)), store.timezone
                        )
                        row = {**template, "order_status_id": status["Processing"]}
                        store.insert("orders", row | {"created_at": stamp, "updated_at": stamp})
                eligible = len(store.query("orders", {"order_status_id": status["Processing"]}))
                server.calls.clear()
                ids, state = run_tap(config, state, clock)
                paths = Counter(c.path.removeprefix("/api/v1") for c in server.calls)
                # Before the run: every order in a selected status is in the window here.
                scanned = eligible
                new_pages = math.ceil(len(ids) / PAGE) if ids else 0
                rows.append(
                    {
                        "run": run + 1,
                        "orders_imported": len(ids),
                        "processing_in_window": scanned,
                        "calls": sum(paths.values()),
                        # 1 status lookup + the window's pages + 1 address read per page with
                        # new orders (new orders are the newest: they share the last pages) +
                        # 1 list read of the orders without a created_at (none here).
                        "expected": 1 + max(1, math.ceil(scanned / PAGE)) + new_pages + 1,
                        "by_path": dict(paths),
                        "state_bytes": len(json.dumps(state, separators=(",", ":"))),
                    }
                )
                if acknowledge:
                    for order_id in ids:
                        store.update("orders", order_id, {"order_status_id": status["Shipped"]})
        finally:
            server.stop()
    steady = rows[1:]
    return {
        "acknowledge": acknowledge,
        "page_size": PAGE,
        "new_orders_per_run": new_per_run,
        "runs": rows,
        "first_run_calls": rows[0]["calls"],
        "steady_calls_per_run": sorted({r["calls"] for r in steady}),
        "calls_as_expected": all(r["calls"] == r["expected"] for r in rows),
        "runs_per_day_at_15_min": 96,
        "steady_calls_per_day": 96 * max(r["calls"] for r in steady),
    }


def main() -> None:
    """Measure and write bench/results/get_orders.json."""
    sizes = [state_size(never_share=s) for s in (0.0, 0.05, 0.10, 0.25, 0.5)]
    for row in sizes:
        print(json.dumps(row), file=sys.stderr)
    calls = [calls_per_run(acknowledge=False), calls_per_run(acknowledge=True)]
    for row in calls:
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}), file=sys.stderr)
    RESULTS.write_text(json.dumps({"state_size": sizes, "calls_per_run": calls}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()

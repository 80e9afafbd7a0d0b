"""Benchmark of the keyless read (issue 20, point 1): what the rows without a key cost in calls.

A window filter never matches a row whose replication key is null or ``""``, so each run of
the tap reads those rows apart after the window: one list read sorted by the key (they come
first, followed only while a page holds nothing else), then ``select_many`` of the new ones.

Store: 10,000 products and 100,000 orders (``seed_store``, seed 11, cached between runs like
bench_tap.py's stores; ``--quick``: 1,000 and 10,000), of which the seeder leaves about 1 % of
the products without a ``created_at``; on top, through the store: 150 orders with a null
``created_at`` and 50 with ``""``, 100 orders and 50 products with a null ``updated_at``.

For each replication key, at the default page size (250), with ``orders`` and ``products``
selected: a first run with no state; an incremental run after 20 keyed orders, 3 orders with a
null key and 2 with ``""``, 5 keyed products and 2 without a key were added; an incremental run
with nothing new. The calls are the sandbox's call log: the keyless part of each stream is
the run of calls from its keyless list read (``fields=id,<key>``) to the next stream's first
call (its ``select_many`` and, for orders, their address reads). The incremental runs are
repeated on the same store and state with the keyless part switched off (the tap before the
fix): same window calls, and the keyless rows are missing from what it emits.

Run: ``.venv/bin/python bench/bench_keyless.py [--quick]``. Results: bench/results/keyless.json
(``keyless-quick.json`` with ``--quick``). The seeded store is cached in
``$BENCH_TAP_CACHE`` (default: the temp directory) under ``bench-keyless/``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cartcom_sandbox.clock import normalise_input
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from tap_cartcom.streams.incremental import WindowedStream
from tap_cartcom.tap import TapCartcom

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"  # noqa: S105 - the sandbox's test token
PAGE = 250
WINDOWED = {"orders": "/orders", "products": "/products"}


# -- the store -----------------------------------------------------------------------------
def pristine(products: int, orders: int) -> Path:
    """The seeded store file, seeded once and reused (never modified: runs use a copy)."""
    work = Path(os.environ.get("BENCH_TAP_CACHE") or tempfile.gettempdir()) / "bench-keyless"
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"store-{products}-{orders}.db"
    marker = path.with_suffix(".json")
    if not (path.exists() and marker.exists()):
        started = time.perf_counter()
        summary = seed_store(str(path), products=products, orders=orders, seed=11, overwrite=True)
        took = round(time.perf_counter() - started, 1)
        marker.write_text(json.dumps({"counts": summary["counts"], "seconds": took}))
    return path


def set_dates(store: Any, resource: str, ids: list[int], **dates: Any) -> None:
    """Write ``created_at``/``updated_at`` as given on ``ids`` (``updated_at`` kept otherwise)."""
    for record_id in ids:
        current = store.get(resource, record_id)
        store.update(resource, record_id, {"updated_at": current["updated_at"], **dates})


def make_keyless(store: Any) -> None:
    """Orders and products without a key value, spread over the id range."""
    orders = [r[0] for r in store.execute("SELECT id FROM r_orders ORDER BY id")]
    products = [r[0] for r in store.execute("SELECT id FROM r_products ORDER BY id")]
    step = len(orders) // 300
    picks = orders[::step][:300]
    set_dates(store, "orders", picks[:150], created_at=None)
    set_dates(store, "orders", picks[150:200], created_at="")
    set_dates(store, "orders", picks[200:300], updated_at=None)
    set_dates(store, "products", products[7 :: len(products) // 50][:50], updated_at=None)


def keyless_in_store(store: Any, key: str) -> dict[str, int]:
    """Rows whose ``key`` is null or "" (the store keeps both as a null column)."""
    return {
        stream: store.execute(f"SELECT COUNT(*) FROM r_{stream} WHERE c_{key} IS NULL")[0][0]
        for stream in WINDOWED
    }


def add_rows(store: Any, key: str, when: datetime) -> None:
    """Between runs: 20 keyed orders, 3 with a null key, 2 with ""; 5 + 1 + 1 products."""
    stamp = normalise_input(when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), store.timezone)
    for resource, keyed, null, blank in (("orders", 20, 3, 2), ("products", 5, 1, 1)):
        template = store.get(resource, store.next_id(resource) - 1)
        first = store.next_id(resource)
        values = [stamp] * keyed + [None] * null + [""] * blank
        store.bulk_insert(
            resource,
            [
                {
                    **template,
                    "id": first + n,
                    "created_at": stamp,
                    "updated_at": stamp,
                    key: value,
                }
                for n, value in enumerate(values)
            ],
        )


# -- the runs ------------------------------------------------------------------------------
def run_tap(config: dict, state: dict | None, now: datetime, *, keyless: bool) -> dict[str, Any]:
    """One in-process run with the clock pinned: records per stream and the final state."""
    out = io.StringIO()
    real = WindowedStream.read_keyless
    if not keyless:  # the tap before the fix: nothing read apart
        WindowedStream.read_keyless = lambda self, state: iter(())  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            tap = TapCartcom(config=config, state=state, parse_env_config=False)
            tap.__dict__["sync_started_at"] = now
            for name, stream in tap.streams.items():
                stream.selected = name in WINDOWED
            tap.sync_all()
    finally:
        WindowedStream.read_keyless = real  # type: ignore[method-assign]
    records: Counter[str] = Counter()
    last = None
    for line in out.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records[message["stream"]] += 1
        elif message["type"] == "STATE":
            last = message["value"]
    return {"records": dict(records), "state": last}


def split_calls(calls: list[Any]) -> dict[str, Any]:
    """The run's calls by path, and those of each stream's keyless part (see the docstring)."""
    keyless: dict[str, Counter[str]] = {name: Counter() for name in WINDOWED}
    part: str | None = None
    for call in calls:
        path = call.path.removeprefix("/api/v1")
        if "fields=id," in call.query:
            part = next(name for name, p in WINDOWED.items() if p == path)
        elif part is not None and path not in (
            f"{WINDOWED[part]}/select_many",
            "/order_addresses/select_many",
            "/order_addresses",
        ):
            part = None
        if part is not None:
            keyless[part][path] += 1
    total = len(calls)
    extra = sum(sum(c.values()) for c in keyless.values())
    return {
        "calls": total,
        "calls_without_the_keyless_part": total - extra,
        "keyless_part_calls": extra,
        "keyless_part_by_stream": {name: dict(c) for name, c in keyless.items()},
        "by_path": dict(Counter(c.path.removeprefix("/api/v1") for c in calls)),
    }


def measure(server: Any, config: dict, state: dict | None, now: datetime) -> dict[str, Any]:
    """One run with the keyless read; its calls from the sandbox's call log."""
    server.calls.clear()
    started = time.perf_counter()
    run = run_tap(config, state, now, keyless=True)
    seconds = round(time.perf_counter() - started, 1)
    return {**split_calls(server.calls.snapshot()), "records": run["records"]} | {
        "seconds": seconds,
        "_state": run["state"],
    }


def control(server: Any, config: dict, state: dict | None, now: datetime) -> dict[str, Any]:
    """The same run with the keyless part switched off (the tap before the fix)."""
    server.calls.clear()
    run = run_tap(config, state, now, keyless=False)
    calls = server.calls.snapshot()
    return {"calls": len(calls), "records": run["records"]}


def scenario(db: Path, key: str) -> dict[str, Any]:
    """First run, incremental run with rows added, incremental run with nothing new."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.db"
        shutil.copyfile(db, copy)
        server = SandboxServer(str(copy), tokens=[TOKEN], config=SandboxConfig(plan="unlimited"))
        server.start()
        try:
            store = server.store
            make_keyless(store)
            config = {
                "access_token": TOKEN,
                "api_url": server.base_url,
                "calls_per_window": 100_000,
                "window_seconds": 1,
                "page_size": PAGE,
                "replication_key": key,
            }
            now = datetime.now(UTC).replace(microsecond=0)
            in_store = {"rows": {n: store.count(n) for n in WINDOWED}}
            in_store["keyless"] = keyless_in_store(store, key)
            first = measure(server, config, None, now)
            first["store"] = in_store

            add_rows(store, key, now + timedelta(minutes=5))
            now2 = now + timedelta(minutes=15)
            second = measure(server, config, first["_state"], now2)
            second["without_keyless_part"] = control(server, config, first["_state"], now2)

            now3 = now2 + timedelta(minutes=15)
            third = measure(server, config, second["_state"], now3)
            third["without_keyless_part"] = control(server, config, second["_state"], now3)
        finally:
            server.stop()
    runs = {"first": first, "incremental_with_rows_added": second, "incremental_nothing_new": third}
    for run in runs.values():
        state = run.pop("_state")
        run["keyless_state_bytes"] = {
            name: len(json.dumps(state["bookmarks"][name].get("keyless", ""))) for name in WINDOWED
        }
    return {"replication_key": key, "page_size": PAGE, "runs": runs}


def commit() -> str:
    """The checkout measured (``-dirty`` with uncommitted changes)."""
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}-dirty" if dirty else head


def main() -> None:
    """Measure and write bench/results/keyless.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 products, 10,000 orders")
    args = parser.parse_args()
    products, orders = (1_000, 10_000) if args.quick else (10_000, 100_000)
    db = pristine(products, orders)
    results = {
        "commit": commit(),
        "store": {"products": products, "orders": orders, "seed": 11},
        "load_average": os.getloadavg()[0],
        "scenarios": [],
    }
    for key in ("created_at", "updated_at"):
        row = scenario(db, key)
        results["scenarios"].append(row)
        for name, run in row["runs"].items():
            summary = {k: run[k] for k in ("calls", "keyless_part_calls", "records")}
            print(key, name, json.dumps(summary), file=sys.stderr)
    name = "keyless-quick.json" if args.quick else "keyless.json"
    out = ROOT / "bench" / "results" / name
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Benchmark of tap-cartcom against the sandbox (served in its own process).

Measures, in one run:
- records/s and CPU per record for orders with items against an unthrottled sandbox, next to
  the SDK floor: a minimal SDK tap emitting the very same records from memory;
- calls per 1,000 orders (orders with items, shipments, payments and addresses);
- rate-limit utilisation (ideal / actual wall time) for the steel and gold plans, 1-s windows;
- peak RSS while extracting 10,000 and 100,000 orders (flat in N is the goal, <= 200 MB).

Run: ``.venv/bin/python bench/bench_tap.py [--quick]``. Results: bench/results/tap.json.
Each measured tap runs in a fresh child process so CPU and RSS are the tap's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "tap.json"
PY = sys.executable
TOKEN = "bench-token"  # noqa: S105 - the sandbox's test token
ORDER_STREAMS = ("orders", "order_items")
FAMILY = ("orders", "order_items", "order_shipments", "order_payments", "order_addresses")


# -- sandbox process ------------------------------------------------------------------------
def seed(path: Path, orders: int) -> dict[str, Any]:
    """Seed (or reuse) a store file with ``orders`` orders."""
    from cartcom_sandbox.seed import seed_store

    marker = path.with_suffix(".json")
    if path.exists() and marker.exists():
        return json.loads(marker.read_text())
    summary = seed_store(str(path), orders=orders, products=200, seed=11, overwrite=True)
    facts = {"orders": summary["counts"]["orders"], "counts": summary["counts"]}
    marker.write_text(json.dumps(facts))
    return facts


def free_port() -> int:
    """An ephemeral port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """``cartcom-sandbox serve`` in a child process."""

    def __init__(self, db: Path, *, calls: int | None = None, window: float = 1.0) -> None:
        """Start serving ``db``; ``calls`` per ``window`` (None = unlimited)."""
        self.port = free_port()
        args = [
            PY,
            "-m",
            "cartcom_sandbox",
            "serve",
            "--db",
            str(db),
            "--port",
            str(self.port),
            "--token",
            TOKEN,
            "--max-count",
            "1000",
            "--window",
            str(window),
        ]
        args += ["--calls", str(calls)] if calls else ["--plan", "unlimited"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/_sandbox/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("sandbox did not start")

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's call log."""
        url = f"http://127.0.0.1:{self.port}/_sandbox/calls"
        return requests.get(url, timeout=30).json()["calls"]

    def clear(self) -> None:
        """Forget the call log."""
        requests.delete(f"http://127.0.0.1:{self.port}/_sandbox/calls", timeout=10)

    def stop(self) -> None:
        """Stop the process."""
        self.proc.terminate()
        self.proc.wait(10)


# -- child: one measured tap or floor run ------------------------------------------------------
class CountingSink:
    """A stdout stand-in that counts RECORD lines (optionally keeping them)."""

    def __init__(self, keep: Path | None = None) -> None:
        """Count, and write to ``keep`` when given."""
        self.records = 0
        self.file = keep.open("w") if keep else None

    def write(self, text: str) -> int:
        """Count RECORD messages."""
        self.records += text.count('{"type":"RECORD"')
        if self.file:
            self.file.write(text)
        return len(text)

    def flush(self) -> None:
        """Nothing buffered here."""

    @property
    def buffer(self) -> _BinarySink:
        """The binary side (the msgspec writer writes bytes), counted the same way."""
        return _BinarySink(self)


class _BinarySink:
    """``sys.stdout.buffer`` of a CountingSink."""

    def __init__(self, text: CountingSink) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        """Count (and keep) as text."""
        return self.text.write(data.decode())

    def flush(self) -> None:
        """Nothing buffered here."""


def child_tap(spec: dict[str, Any]) -> dict[str, Any]:
    """Run tap-cartcom in this process; return wall, CPU, records, calls and peak RSS."""
    from tap_cartcom.tap import TapCartcom

    tap = TapCartcom(config=spec["config"], parse_env_config=False)
    for name, stream in tap.streams.items():
        stream.selected = name in spec["streams"]
    sink = CountingSink(Path(spec["keep"]) if spec.get("keep") else None)
    real = sys.stdout
    sys.stdout = sink  # type: ignore[assignment]
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tap.sync_all()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        sys.stdout = real
    if sink.file:
        sink.file.close()
    return {
        "wall": wall,
        "cpu": cpu,
        "records": sink.records,
        "calls": sum(tap.pacing.calls.values()),
        "rate_limited": tap.pacing.rate_limited,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """The SDK floor: a minimal SDK tap emitting the same records (same schemas) from memory."""
    from singer_sdk import Stream, Tap
    from singer_sdk import typing as th
    from tap_cartcom.tap import TapCartcom

    rows: dict[str, list[dict[str, Any]]] = {}
    with Path(spec["records"]).open() as fh:
        for line in fh:
            message = json.loads(line)
            if message.get("type") == "RECORD":
                rows.setdefault(message["stream"], []).append(message["record"])
    schemas = {
        name: s.schema
        for name, s in TapCartcom(config=spec["config"], parse_env_config=False).streams.items()
        if name in rows
    }

    def make(name: str) -> type[Stream]:
        class MemoryStream(Stream):
            primary_keys = ("id",)

            def get_records(self, context):
                yield from rows[name]

        MemoryStream.name = name
        MemoryStream.schema = schemas[name]
        return MemoryStream

    class FloorTap(Tap):
        name = "tap-floor"
        config_jsonschema = th.PropertiesList().to_dict()

        def discover_streams(self):
            return [make(n)(tap=self) for n in rows]

    tap = FloorTap(config={}, parse_env_config=False)
    sink = CountingSink()
    real = sys.stdout
    sys.stdout = sink  # type: ignore[assignment]
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tap.sync_all()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        sys.stdout = real
    return {
        "wall": wall,
        "cpu": cpu,
        "records": sink.records,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    out = subprocess.run(
        [PY, __file__, "--child", mode, json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def tap_config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    """Config for a sandbox run."""
    config = {
        "access_token": TOKEN,
        "api_url": sandbox.base_url,
        "calls_per_window": 100000,
        "window_seconds": 1,
        "start_date": "2000-01-01T00:00:00Z",
        "page_size": 250,
    }
    config.update(extra)
    return config


# -- the benchmark --------------------------------------------------------------------------
def main() -> None:
    """Run every measurement, write bench/results/tap.json, print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small stores (smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    small, big = (2000, 10000) if args.quick else (10000, 100000)
    work = Path(os.environ.get("BENCH_TAP_CACHE") or tempfile.gettempdir()) / "bench-tap"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"python": sys.version.split()[0], "quick": args.quick}

    db_small = work / f"orders-{small}.db"
    facts = seed(db_small, small)
    n_orders = facts["orders"]

    # 1. Throughput and CPU per record, next to the SDK floor (same records, same schemas).
    sandbox = Sandbox(db_small)
    try:
        captured = work / "captured.jsonl"
        runs, floors = [], []
        for i in range(args.rounds):
            keep = str(captured) if i == 0 else None
            spec = {"config": tap_config(sandbox), "streams": ORDER_STREAMS, "keep": keep}
            runs.append(run_child("tap", spec))
            floors.append(
                run_child("floor", {"config": tap_config(sandbox), "records": str(captured)})
            )
        best = min(runs, key=lambda r: r["cpu"])
        floor = min(floors, key=lambda r: r["cpu"])
        results["throughput"] = {
            "orders": n_orders,
            "records": best["records"],
            "records_per_s": best["records"] / best["wall"],
            "cpu_us_per_record": 1e6 * best["cpu"] / best["records"],
            "floor_records_per_s": floor["records"] / floor["wall"],
            "floor_cpu_us_per_record": 1e6 * floor["cpu"] / floor["records"],
            "cpu_ratio_to_floor": (best["cpu"] / best["records"])
            / (floor["cpu"] / floor["records"]),
            "rounds": args.rounds,
        }
        # 2. Calls per 1,000 orders, whole order family (addresses included).
        sandbox.clear()
        family = run_child("tap", {"config": tap_config(sandbox), "streams": FAMILY})
        logged = sandbox.calls()
        results["calls"] = {
            "orders": n_orders,
            "page_size": 250,
            "calls": len(logged),
            "calls_per_1000_orders": 1000 * len(logged) / n_orders,
            "bound_2_ceil_n_over_page_plus_5": 2 * -(-n_orders // 250) + 5,
            "by_path": _by_path(logged),
            "records": family["records"],
        }
    finally:
        sandbox.stop()

    # 3. Rate-limit utilisation with short (1-s) windows.
    results["utilisation"] = {}
    # Windows are shortened to keep the run short; page sizes are chosen so that the plan's
    # rate, not the tap's CPU, is the bottleneck (see docs/tap.md on CPU-bound page sizes).
    for plan, calls, window, page in (("steel", 5, 1.0, 100), ("gold", 50, 5.0, 50)):
        sandbox = Sandbox(db_small, calls=calls, window=window)
        try:
            config = tap_config(
                sandbox, calls_per_window=calls, window_seconds=window, page_size=page
            )
            run = run_child("tap", {"config": config, "streams": FAMILY})
            logged = sandbox.calls()
            ideal = len(logged) * window / calls
            results["utilisation"][plan] = {
                "calls_per_window": calls,
                "window_s": window,
                "page_size": page,
                "calls": len(logged),
                "status_429": sum(1 for c in logged if c["status"] == 429),
                "ideal_s": ideal,
                "wall_s": run["wall"],
                "utilisation": ideal / run["wall"],
                "cpu_s": run["cpu"],
            }
        finally:
            sandbox.stop()

    # 4. Peak RSS, small and big stores (flat in N is the goal).
    results["rss"] = {}
    for n, db in ((small, db_small), (big, work / f"orders-{big}.db")):
        seed(db, n)
        sandbox = Sandbox(db)
        try:
            run = run_child("tap", {"config": tap_config(sandbox), "streams": ORDER_STREAMS})
            results["rss"][str(n)] = {
                "maxrss_mb": run["maxrss_mb"],
                "records": run["records"],
                "wall_s": run["wall"],
                "cpu_s": run["cpu"],
            }
        finally:
            sandbox.stop()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def _by_path(calls: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for call in calls:
        out[call["path"]] = out.get(call["path"], 0) + 1
    return out


def print_table(results: dict[str, Any]) -> None:
    """A short human-readable summary."""
    t = results["throughput"]
    c = results["calls"]
    rows = [
        ("orders+items records/s (tap)", f"{t['records_per_s']:,.0f}"),
        ("records/s (SDK floor, same records)", f"{t['floor_records_per_s']:,.0f}"),
        ("CPU us/record (tap)", f"{t['cpu_us_per_record']:.1f}"),
        ("CPU us/record (SDK floor)", f"{t['floor_cpu_us_per_record']:.1f}"),
        ("CPU ratio tap/floor (goal <= 1.5)", f"{t['cpu_ratio_to_floor']:.2f}"),
        (
            f"calls for {c['orders']:,} orders (bound {c['bound_2_ceil_n_over_page_plus_5']})",
            f"{c['calls']}",
        ),
        ("calls per 1,000 orders", f"{c['calls_per_1000_orders']:.1f}"),
    ]
    for plan, u in results["utilisation"].items():
        rows.append(
            (
                f"utilisation {plan} ({u['calls_per_window']}/{u['window_s']:g} s, "
                f"page {u['page_size']}, {u['calls']} calls, "
                f"{u['status_429']} x 429)",
                f"{u['utilisation']:.3f}",
            )
        )
    for n, r in results["rss"].items():
        rows.append((f"peak RSS, {int(n):,} orders", f"{r['maxrss_mb']:.0f} MB"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, spec = sys.argv[2], json.loads(sys.argv[3])
        result = child_tap(spec) if mode == "tap" else child_floor(spec)
        print(json.dumps(result))
    else:
        main()

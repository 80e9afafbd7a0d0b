"""The tap's wall time against the ideal (calls ÷ rate) at a real store's latency (issue 23).

Serves one store (20,000 orders with items and payments by default) with ``cartcom-sandbox
serve --latency-ms N`` in its own process, paced at 5 calls per 1-s window, and runs the tap
(orders, order_items, order_payments; ``page_size`` 1000) in a fresh child process for each
version, alternating, in the same run: this checkout and a reference checkout (``--before``,
a git worktree of main; its code is put first on ``PYTHONPATH``, so it runs in this venv).
Prints ``wall ÷ (calls ÷ rate)`` per version and latency, with the calls, the 429s the
sandbox logged and whether the records are identical. Writes bench/results/tap_in_flight.json.

Run: ``git worktree add /tmp/tap-before main`` then
``.venv/bin/python bench/bench_tap_in_flight.py --before /tmp/tap-before --latency-ms 0 600``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_tap import ADMIN, ORDER_STREAMS, TOKEN, free_port, seed  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "tap_in_flight.json"
CALLS, WINDOW = 5, 1.0


class Served:
    """``cartcom-sandbox serve`` with a latency and a call limit, in a child process."""

    def __init__(self, db: Path, latency_ms: float) -> None:
        """Start serving ``db``."""
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cartcom_sandbox", "serve", "--db", str(db),
             "--port", str(self.port), "--token", TOKEN, "--max-count", "1000",
             "--calls", str(CALLS), "--window", str(WINDOW), "--latency-ms", str(latency_ms)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root}/api/v1"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"{self.root}/_sandbox/health", headers=ADMIN, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("sandbox did not start")

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's own call log."""
        return requests.get(f"{self.root}/_sandbox/calls", headers=ADMIN, timeout=30).json()[
            "calls"
        ]

    def clear(self) -> None:
        """Forget the call log."""
        requests.delete(f"{self.root}/_sandbox/calls", headers=ADMIN, timeout=10)

    def stop(self) -> None:
        """Stop the process."""
        self.proc.terminate()
        self.proc.wait(10)


def run_tap(served: Served, checkout: Path | None, keep: Path, extra: dict[str, Any]) -> dict:
    """One tap run in a fresh interpreter (``checkout`` first on the path when given)."""
    config = {
        "access_token": TOKEN,
        "api_url": served.base_url,
        "calls_per_window": CALLS,
        "window_seconds": WINDOW,
        "start_date": "2000-01-01T00:00:00Z",
        "page_size": 1000,
        "progress_interval_seconds": 0,
        **extra,
    }
    spec = {"config": config, "streams": ORDER_STREAMS, "keep": str(keep)}
    env = dict(os.environ)
    if checkout is not None:
        paths = [checkout / "tap-cartcom", checkout / "cartcom-client"]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    served.clear()
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_tap.py"), "--child", "tap", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    logged = served.calls()
    result["sandbox_calls"] = len(logged)
    result["status_429"] = sum(1 for c in logged if c["status"] == 429)
    result["wall_over_ideal"] = result["wall"] / (len(logged) / (CALLS / WINDOW))
    digest = hashlib.sha256()
    with keep.open("rb") as fh:
        for line in fh:
            if line.startswith(b'{"type":"RECORD"'):
                message = json.loads(line)
                message.pop("time_extracted", None)
                digest.update(json.dumps(message, sort_keys=True).encode())
    result["records_sha256"] = digest.hexdigest()
    keep.unlink()
    return result


def main() -> None:
    """Measure every latency for both versions, alternating; print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of main (git worktree)")
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 600.0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--max-in-flight", type=int, default=None, help="after: the setting")
    args = parser.parse_args()
    work = Path(tempfile.gettempdir()) / "bench-tap-in-flight"
    work.mkdir(exist_ok=True)
    db = work / f"orders-{args.orders}.sqlite"
    seed(db, args.orders)
    versions: dict[str, tuple[Path | None, dict[str, Any]]] = {}
    if args.before is not None:
        versions["before"] = (args.before.resolve(), {})
    extra = {} if args.max_in_flight is None else {"max_in_flight": args.max_in_flight}
    versions["after"] = (None, extra)
    table: dict[str, Any] = {"orders": args.orders, "calls": CALLS, "window": WINDOW, "runs": {}}
    for latency in args.latency_ms:
        served = Served(db, latency)
        try:
            runs: dict[str, list[dict]] = {name: [] for name in versions}
            for _ in range(args.rounds):
                for name, (checkout, extra_config) in versions.items():
                    keep = work / f"{name}.jsonl"
                    runs[name].append(run_tap(served, checkout, keep, extra_config))
        finally:
            served.stop()
        row = {}
        for name, results in runs.items():
            row[name] = {
                "wall_over_ideal": statistics.median(r["wall_over_ideal"] for r in results),
                "wall": statistics.median(r["wall"] for r in results),
                "cpu": statistics.median(r["cpu"] for r in results),
                "calls": results[0]["sandbox_calls"],
                "status_429": sum(r["status_429"] for r in results),
                "records": results[0]["records"],
                "records_sha256": results[0]["records_sha256"],
            }
        shas = {r["records_sha256"] for rs in runs.values() for r in rs}
        row["identical_records"] = len(shas) == 1
        table["runs"][f"{latency:g}"] = row
        for name in versions:
            r = row[name]
            print(
                f"latency {latency:g} ms  {name:>6}: wall {r['wall']:.1f} s, "
                f"wall/ideal {r['wall_over_ideal']:.2f}x, {r['calls']} calls, "
                f"{r['status_429']} x 429, cpu {r['cpu']:.1f} s, {r['records']} records",
                flush=True,
            )
        if "before" in row:
            ratio = row["after"]["wall_over_ideal"] / row["before"]["wall_over_ideal"]
            print(f"latency {latency:g} ms  after/before: {ratio:.2f}", flush=True)
        print(f"latency {latency:g} ms  identical records: {row['identical_records']}", flush=True)
    RESULTS.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Target throughput at a store's latency (issue 23): wall ÷ (calls ÷ rate), before and after.

A store that takes L seconds per answer lets a target that writes one call after the other make
at most 1/L calls per second, whatever its plan allows. Each run serves a fresh copy of a store
with ``cartcom-sandbox serve --latency-ms N --calls 5 --window 1`` (5 calls per 1-s window,
each counted call answered N ms after it arrived) and runs ``target-cartcom`` as its own process
(the input on stdin, as ``meltano run`` does):

- ``publish``: 60 simple products with one image each, into a store holding their category;
- ``sync``: 100 listings of 3 variant rows, every row changed (300 changed rows).

Per run: ``calls`` (the sandbox's log; ``n429`` among them), ``ideal`` = (calls - n429) ÷ 5,
``ratio`` = wall ÷ ideal, the ratio without start-up (``startup_s``: process start to the first
call's arrival), and the outcomes (the same for both trees, or the table says so). ``--baseline``
is another tree (a worktree of main after ``make install``): each scenario and latency runs for
it, then for this tree, one after the other, so compare the ratios of one invocation.

Run: ``.venv/bin/python bench/bench_target_in_flight.py --baseline /path/to/main-worktree
[--latencies 0,300,600,1200] [--scenarios publish,sync] [--setting max_in_flight=5]``.
Results: bench/results/target_in_flight.json and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from bench_tap import ADMIN, PY, TOKEN, _commit, free_port
from bench_target import run_target

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "target_in_flight.json"
sys.path.insert(0, str(ROOT / "tests" / "support"))  # cartcom_testing: shared with the tests
CALLS, WINDOW = 5, 1.0  # the plan; --calls 50 --window 10 is gold as Cart.com counts it
PUBLISH, SYNC_PRODUCTS = 60, 100
OPERATIONS = {"publish": ["link", "sync", "publish"], "sync": ["link", "sync"]}


class Served:
    """``cartcom-sandbox serve`` at a latency, paced to CALLS per WINDOW (a child process)."""

    def __init__(self, db: Path, latency_ms: int, calls: int, window: float) -> None:
        """Start serving ``db``; wait until it answers."""
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PY, "-m", "cartcom_sandbox", "serve", "--db", str(db), "--port", str(self.port),
             "--token", TOKEN, "--max-count", "1000", "--calls", str(calls),
             "--window", str(window), "--latency-ms", str(latency_ms)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/_sandbox/health", headers=ADMIN)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("sandbox did not start")

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's call log."""
        url = f"http://127.0.0.1:{self.port}/_sandbox/calls"
        return requests.get(url, headers=ADMIN, timeout=30).json()["calls"]

    def clear(self) -> None:
        """Forget the call log."""
        requests.delete(f"http://127.0.0.1:{self.port}/_sandbox/calls", headers=ADMIN, timeout=10)

    def stop(self) -> None:
        """Stop the process."""
        self.proc.terminate()
        self.proc.wait(10)


def inputs(work: Path) -> dict[str, tuple[Path, Path]]:
    """Per scenario: the store file and the Singer input, built once."""
    from cartcom_sandbox.store import Store
    from cartcom_testing.listing_scenarios import (
        add_reference_data,
        build_catalog,
        catalog_listings,
        change_some,
        singer_lines,
    )

    out = {}
    store = Store(str(work / "publish.db"))
    add_reference_data(store)
    store.close()
    listings = [
        {
            "sku": f"BENCH-PUB-{n:03d}",
            "title": f"Bench product {n}",
            "categories": ["Apparel > Shirts"],
            "price": 18.0,
            "quantity": 5,
            "images": [f"https://cdn.example.com/bench-pub-{n}.jpg"],
        }
        for n in range(1, PUBLISH + 1)
    ]
    (work / "publish.jsonl").write_text(singer_lines(listings), encoding="utf-8")
    out["publish"] = (work / "publish.db", work / "publish.jsonl")
    store = Store(str(work / "sync.db"))
    build_catalog(store, SYNC_PRODUCTS)
    store.close()
    listings = catalog_listings(SYNC_PRODUCTS)
    change_some(listings, 1)  # every row: 300 changed rows
    (work / "sync.jsonl").write_text(singer_lines(listings), encoding="utf-8")
    out["sync"] = (work / "sync.db", work / "sync.jsonl")
    return out


def one_run(
    exe: str,
    db: Path,
    input_path: Path,
    latency_ms: int,
    work: Path,
    *,
    plan: tuple[int, float],
    **settings: Any,
) -> dict[str, Any]:
    """One target process on a fresh copy of ``db`` served at ``latency_ms``, paced to ``plan``."""
    store = work / "run.db"
    for leftover in ("", "-wal", "-shm"):
        Path(f"{store}{leftover}").unlink(missing_ok=True)
    shutil.copyfile(db, store)
    calls, window = plan
    served = Served(store, latency_ms, calls, window)
    try:
        started = time.time()
        run = run_target(
            exe, served, input_path, work, calls_per_window=calls, window_seconds=window, **settings
        )
        logged = served.calls()
    finally:
        served.stop()
    n429 = sum(1 for c in logged if c["status"] == 429)
    ideal = (len(logged) - n429) / (calls / window)
    startup = min(c["ts"] for c in logged) - started if logged else 0.0
    return {
        "wall_s": round(run["wall_s"], 2),
        "calls": len(logged),
        "writes": run["writes"],
        "n429": n429,
        "ideal_s": round(ideal, 2),
        "ratio": round(run["wall_s"] / ideal, 3),
        "startup_s": round(startup, 2),
        "ratio_without_startup": round((run["wall_s"] - startup) / ideal, 3),
        "outcomes": run["outcomes"],
        "exit": run["exit"],
    }


def main() -> None:
    """Run every scenario at every latency, baseline tree then this one; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another tree (with its .venv) to compare")
    parser.add_argument("--latencies", default="0,300,600,1200")
    parser.add_argument("--scenarios", default="publish,sync")
    parser.add_argument("--calls", type=int, default=CALLS, help="calls per window")
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--setting", action="append", default=[], help="KEY=JSON, this tree only")
    args = parser.parse_args()
    settings = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.setting)}
    trees = {"after": ROOT}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), **trees}
    results: dict[str, Any] = {
        "calls_per_window": args.calls,
        "window_s": args.window,
        "loadavg_1m_start": os.getloadavg()[0],
        "trees": {name: {"path": p.name, "commit": _commit(p)} for name, p in trees.items()},
        "settings_after": settings,
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-in-flight-") as tmp:
        work = Path(tmp)
        prepared = inputs(work)
        for scenario in args.scenarios.split(","):
            db, input_path = prepared[scenario]
            for latency in (int(x) for x in args.latencies.split(",")):
                row = results["runs"].setdefault(f"{scenario}@{latency}", {})
                for name, tree in trees.items():
                    exe = str(tree / ".venv" / "bin" / "target-cartcom")
                    extra = settings if name == "after" else {}
                    plan = (args.calls, args.window)
                    row[name] = one_run(
                        exe, db, input_path, latency, work, plan=plan,
                        operations=OPERATIONS[scenario], **extra,
                    )  # fmt: skip
                    row[name]["loadavg_1m"] = os.getloadavg()[0]
                    print(scenario, latency, name, json.dumps(row[name]), flush=True)
                args.results.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results: dict[str, Any]) -> None:
    """The Markdown table: wall ÷ ideal per scenario and latency, before and after."""
    print(f"\n{results['calls_per_window']} calls per {results['window_s']:g}-s window")
    print("\n| scenario | latency ms | calls | before | after | after, no start-up | 429 |")
    print("|---|---|---|---|---|---|---|")
    for key, row in results["runs"].items():
        scenario, latency = key.split("@")
        before = row.get("before", {})
        after = row["after"]
        same = "" if not before or before["outcomes"] == after["outcomes"] else " (outcomes differ)"
        print(
            f"| {scenario} | {latency} | {after['calls']} | {before.get('ratio', '-')} | "
            f"{after['ratio']}{same} | {after['ratio_without_startup']} | "
            f"{before.get('n429', '-')}/{after['n429']} |"
        )


if __name__ == "__main__":
    main()

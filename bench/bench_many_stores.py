"""Benchmark of many stores on Dagster (issue 11): extract-store for 1, 4 and 10 stores at once.

Each store is its own sandbox (seed 42, 100 products, 400 orders, read 25 per page) on a scaled
Cart.com budget (10 calls per 1 s window: the bronze plan, ten times faster), and its own entry
of a stores file.
For N stores, N runs of ``<store>__extract_store`` are requested at once with ``dagster job
execute`` (multiprocess executor) on one Dagster instance configured by the project's
dagster.yaml, and each runs ``meltano run extract-store`` for its store.

Reported per N: wall time from the request to the last run's end, against 1 store; 429
answers (must be 0); each store's busiest window (calls in any ``window`` seconds, must stay
within its budget); and whether every run succeeded.

Run: ``.venv/bin/python bench/bench_many_stores.py [--sizes 1,4,10]``. Results:
bench/results/many_stores.json.
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

import yaml
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))
import run_demo as demo  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "many_stores.json"
TOKEN = "bench-token"  # noqa: S105 - the sandbox's test token
CALLS, WINDOW = 10, 1.0
PRODUCTS, ORDERS = 100, 400
PAGE = 25


def busiest_window(times: list[float], window: float) -> int:
    """Most calls that arrived within any ``window`` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run_size(n: int, work: Path, seeded: Path) -> dict:
    """Run extract-store for ``n`` stores at once; what happened."""
    tmp = work / f"n{n}"
    tmp.mkdir()
    servers, entries = [], []
    for i in range(n):
        db = tmp / f"store{i}.db"
        shutil.copy(seeded, db)
        server = SandboxServer(
            str(db), tokens=[TOKEN], config=SandboxConfig(rate_calls=CALLS, rate_window=WINDOW)
        ).start()
        servers.append(server)
        entries.append(
            {
                "name": f"store{i}",
                "api_url": server.base_url,
                "token_env": "BENCH_TOKEN",
                "plan": "bronze",
                "jobs": ["extract-store"],
                "env": {
                    "TAP_CARTCOM_WINDOW_SECONDS": int(WINDOW),
                    "TAP_CARTCOM_CALLS_PER_WINDOW": CALLS,
                    # Small pages, so that each store needs several windows of calls and its
                    # pacing, not the process start-up alone, shows in the figures.
                    "TAP_CARTCOM_PAGE_SIZE": PAGE,
                },
            }
        )
    stores_file = tmp / "stores.yml"
    stores_file.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp / "out"),
                "work_dir": str(tmp / "work"),
                "retries": {"max_retries": 0, "delay_seconds": 1},
                "stores": entries,
            }
        )
    )
    home = tmp / "dagster"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    # Storage created once, as a deployment's webserver or daemon does, before runs start at once.
    DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CARTCOM_"))} | {
        "DAGSTER_HOME": str(home),
        "CARTCOM_STORES_FILE": str(stores_file),
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        "BENCH_TOKEN": TOKEN,
    }
    dagster = Path(sys.executable).parent / "dagster"
    start = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                *(str(dagster), "job", "execute", "-m", "cartcom_orchestration.definitions"),
                *("-j", f"store{i}__extract_store"),
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"dagster-{i}.log").open("w"),
        )
        for i in range(n)
    ]
    codes = [p.wait(timeout=1800) for p in procs]
    wall = time.monotonic() - start
    calls = [s.calls.snapshot() for s in servers]
    for s in servers:
        s.stop()
    per_store = [
        {
            "calls": len(c),
            "429": sum(1 for r in c if r.status == 429),
            "busiest_window": busiest_window([r.ts for r in c], WINDOW),
        }
        for c in calls
    ]
    return {
        "stores": n,
        "wall_seconds": round(wall, 1),
        "all_succeeded": all(code == 0 for code in codes),
        "calls_total": sum(p["calls"] for p in per_store),
        "429_total": sum(p["429"] for p in per_store),
        "busiest_window_max": max(p["busiest_window"] for p in per_store),
        "budget_per_window": CALLS,
        "within_budget": all(p["busiest_window"] <= CALLS for p in per_store),
    }


def main() -> None:
    """Run the sizes and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,10")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-many-") as d:
        work = Path(d)
        demo.ensure_plugins(work / "install.log")
        seeded = work / "seeded.db"
        seed_store(str(seeded), products=PRODUCTS, orders=ORDERS, seed=42)
        rows = []
        for n in sizes:
            row = run_size(n, work, seeded)
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = next((r["wall_seconds"] for r in rows if r["stores"] == 1), None)
    for r in rows:
        r["wall_vs_1_store"] = round(r["wall_seconds"] / base, 2) if base else None
    result = {
        "what": "extract-store for N sandbox stores at once through Dagster (dagster job execute)",
        "machine": f"{os.cpu_count()} cores, shared",
        "store": {
            "products": PRODUCTS,
            "orders": ORDERS,
            "page_size": PAGE,
            "calls_per_window": CALLS,
            "window_seconds": WINDOW,
        },
        "runs": rows,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

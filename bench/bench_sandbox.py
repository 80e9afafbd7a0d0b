"""Sandbox benchmark: seed a big store, then time ``GET /orders?count=100&expand=items``.

Run: ``.venv/bin/python bench/bench_sandbox.py [--orders 100000] [--products 10000]``.
Writes bench/results/sandbox.json and prints a table. ``--profile`` adds a cProfile of the
request handler (in-process, no HTTP) to find what is slow.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cartcom_sandbox.config import SandboxConfig  # noqa: E402
from cartcom_sandbox.seed import seed_store  # noqa: E402
from cartcom_sandbox.server import SandboxServer  # noqa: E402

TOKEN = "bench-token"  # noqa: S105 - a local benchmark token
RESULTS = ROOT / "bench" / "results" / "sandbox.json"


def _pages(n: int, last_page: int, salt: int = 0) -> list[int]:
    """``n`` different-ish pages spread over the whole range, deterministic."""
    return [1 + (i * 7919 + salt * 104729) % last_page for i in range(n)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _run(base: str, pages: list[int], threads: int) -> dict:
    """Request every page (split over ``threads`` clients); latency stats and throughput."""
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    chunks = [pages[i::threads] for i in range(threads)]

    def worker(mine: list[int]) -> None:
        session = requests.Session()
        session.headers.update({"X-AC-Auth-Token": TOKEN, "Cache-Control": "no-cache"})
        local = []
        for page in mine:
            t0 = time.perf_counter()
            r = session.get(
                f"{base}/orders", params={"count": 100, "expand": "items", "page": page}, timeout=60
            )
            body = r.content
            local.append(time.perf_counter() - t0)
            if r.status_code != 200 or b'"items"' not in body:
                with lock:
                    errors.append(f"page {page}: {r.status_code}")
        with lock:
            lat.extend(local)

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - began
    return {
        "threads": threads,
        "requests": len(pages),
        "errors": len(errors),
        "median_ms": round(statistics.median(lat) * 1000, 2),
        "p95_ms": round(_pct(lat, 0.95) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 2),
        "rps": round(len(pages) / wall, 1),
    }


def _profile(server: SandboxServer, pages: list[int]) -> str:
    """cProfile of the WSGI app answering the same calls (no sockets)."""
    from werkzeug.test import Client

    client = Client(server.app)
    prof = cProfile.Profile()
    prof.enable()
    for page in pages:
        client.get(
            "/api/v1/orders",
            query_string={"count": 100, "expand": "items", "page": page},
            headers={"X-AC-Auth-Token": TOKEN},
        )
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, measure, report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--db", default=None, help="reuse (or keep) this file instead of a temp one")
    ap.add_argument("--profile", action="store_true", help="print a handler profile")
    ap.add_argument(
        "--parallel", action="store_true", help="seed with the generator in a helper process"
    )
    ap.add_argument("--out", default=str(RESULTS))
    ns = ap.parse_args(argv)

    load_before = list(os.getloadavg())  # other work on the box skews every figure
    tmpdir = tempfile.TemporaryDirectory(prefix="cartcom-bench-")
    db = Path(ns.db) if ns.db else Path(tmpdir.name) / "bench.db"
    seed_info: dict = {"reused": True}
    if not db.exists():
        summary = seed_store(
            str(db),
            products=ns.products,
            orders=ns.orders,
            seed=ns.seed,
            start=date(2024, 1, 8),
            days=90,
            parallel=ns.parallel,
        )
        seed_info = {
            "reused": False,
            "seconds": summary["seconds"],
            "counts": summary["counts"],
            "helper_process": ns.parallel,
            "rows": sum(summary["counts"].values()),
            "docs_per_s": round(sum(summary["counts"].values()) / summary["seconds"]),
        }
    seed_info["file_mb"] = round(os.path.getsize(db) / 1e6, 1)
    print(f"seed: {json.dumps({k: v for k, v in seed_info.items() if k != 'counts'})}")

    config = SandboxConfig(plan="unlimited")
    server = SandboxServer(str(db), tokens=[TOKEN], config=config).start()
    try:
        base = server.base_url
        total = requests.get(
            f"{base}/orders", params={"count": 1}, timeout=60, headers={"X-AC-Auth-Token": TOKEN}
        ).json()["total_count"]
        last_page = max(1, -(-total // 100))
        _run(base, _pages(10, last_page, 99), 1)  # warm-up
        runs = [
            _run(base, _pages(ns.requests, last_page, salt), threads)
            for salt, threads in enumerate((1, 2, 4))
        ]
        profile = _profile(server, _pages(30, last_page, 7)) if ns.profile else None
    finally:
        server.stop()
        tmpdir.cleanup()

    result = {
        "benchmark": "sandbox",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": list(os.getloadavg()),
        },
        "orders": ns.orders,
        "products": ns.products,
        "seed": seed_info,
        "call": "GET /orders?count=100&expand=items&page=N",
        "runs": runs,
    }
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"\nload average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    print(
        f"seed {ns.orders} orders / {ns.products} products: "
        f"{seed_info.get('seconds', 'reused')} s, {seed_info['file_mb']} MB"
    )
    print(
        f"{'threads':>7} {'requests':>8} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} "
        f"{'req/s':>7} {'errors':>6}"
    )
    for r in runs:
        print(
            f"{r['threads']:>7} {r['requests']:>8} {r['median_ms']:>10} {r['p95_ms']:>8} "
            f"{r['max_ms']:>8} {r['rps']:>7} {r['errors']:>6}"
        )
    print(f"results: {out}")
    if profile:
        print(profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Throughput at a real store's latency (issue 23): wall time against calls ÷ rate, per code tree.

A real store answers a call in hundreds of milliseconds; a plugin that makes one call after the
other then uses at most 1/latency calls per second, whatever its plan allows. Each scenario runs
against ``cartcom-sandbox serve --latency-ms N --calls 5 --window 1`` (5 calls per 1-s window,
each counted call answered N ms later), a fresh sandbox process per run, at each latency:

- ``tap``: a first (full) run of orders with order_items and order_payments, 20,000 orders,
  ``page_size`` 1000 (``bench_tap``'s store and child: the wall is the tap's ``sync_all``);
- ``publish``: the target publishes 60 simple products with one image each into a store holding
  their category (the wall is the whole ``target-cartcom`` process, start-up included);
- ``sync``: the target syncs 10,000 listings (30,000 variant rows) of which 300 rows changed,
  quantity or price (``bench_target``'s store and input; whole process);
- ``peer``: Airbyte's source-cart 0.3.58 (its own venv in the cache dir, installed by the
  bench from the package index) reads orders, order_items and order_payments from the same
  store at the same latency and rate (a source: the tap side only). By default it signs in as a
  Central API Router partner (``--peer-auth router``): its router host is fixed in its code, so
  the store is served as a router site over TLS (``tls_serve.py``: the same server, its socket
  wrapped; the peer trusts the local certificate through ``REQUESTS_CA_BUNDLE``) and
  ``peer_site/`` resolves that host to the sandbox in the peer's process only. (By access token,
  0.3.58 on airbyte-cdk 7 sends no token: every call answers 401.) It does not pace itself, so
  it meets 429s where calls are fast; the wall is the whole ``read`` process.

Measured per run: ``calls`` from the sandbox's own call log, ``n429`` among them, ``ideal`` =
(calls - n429) ÷ rate (a 429 does not count against the limit), ``ratio`` = wall ÷ ideal, and
for whole processes ``startup_s`` (process start to the first call's arrival) and the ratio
without it. With ``--baseline PATH`` (a worktree of another commit, after ``make install``
there) each scenario runs for that tree's venv and this one, one after the other, so "before"
and "after" are measured in one run; at every latency the tap's output of both trees is
compared (same records, same order within each stream, same final STATE but the window ends),
and the target's outcomes are compared in the table's notes. ``--setting KEY=JSON`` passes a
setting to the current tree's tap and target only (``max_in_flight=4``).

Every latency uses the same sizes (``sizes`` in the results, printed under the table). Each
scenario and latency runs once per tree (baseline, then current, then the next scenario), so
compare ratios of one invocation, and read ``loadavg_1m`` beside each run.

Run: ``make bench-throughput BENCH_BASELINE=../before BENCH_ARGS="--latencies 0,600"``, or
``.venv/bin/python bench/bench_throughput.py [--baseline ../before] [--latencies 0,600]
[--scenarios tap,publish,sync,peer] [--quick] [--setting KEY=JSON]``. Results:
bench/results/throughput.json (written after every run, so a stopped run keeps what it
measured) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_tap import (
    ORDER_STREAMS,
    TOKEN,
    Sandbox,
    _by_path,
    _commit,
    _same_records,
    run_child,
    seed,
    tap_config,
)
from bench_target import prepare, run_target

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "throughput.json"
sys.path.insert(0, str(ROOT / "tests" / "support"))  # cartcom_testing: shared with the tests
CALLS, WINDOW = 5, 1.0  # the budget: 5 calls per 1-s window
RATE = CALLS / WINDOW
PEER = "airbyte-source-cart==0.3.58"
FULL = {"orders": 20_000, "publish": 60, "sync_products": 10_000}
QUICK = {"orders": 2_000, "publish": 10, "sync_products": 1_000}
SCENARIOS = ("tap", "publish", "sync", "peer")
START = "2000-01-01T00:00:00Z"  # every seeded order is newer: a first, full run
# The peer as a Central API Router partner (its host is fixed in source-cart's code).
ROUTER_HOST, ROUTER_SITE, ROUTER_USER = "public.americommerce.com", "101", "bench-partner"
ROUTER_SECRET = "bench-secret"  # noqa: S105 - a local benchmark secret


# -- measures -----------------------------------------------------------------------------------
def measures(calls: list[dict[str, Any]], wall: float, started: float | None) -> dict[str, Any]:
    """Calls, 429s, ideal and ratio from the sandbox's call log; start-up when ``started``."""
    n429 = sum(1 for c in calls if c["status"] == 429)
    ideal = (len(calls) - n429) / RATE
    out: dict[str, Any] = {
        "wall_s": round(wall, 2),
        "calls": len(calls),
        "n429": n429,
        "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3) if ideal else None,
    }
    if started is not None and calls:
        startup = min(c["ts"] for c in calls) - started
        out["startup_s"] = round(startup, 2)
        out["ratio_after_startup"] = round((wall - startup) / ideal, 3) if ideal else None
    return out


def serve(db: Path, latency_ms: int, **kwargs: Any) -> Sandbox:
    """A fresh sandbox at the issue's budget, answering each counted call ``latency_ms`` later."""
    flags = ("--latency-ms", str(latency_ms))
    return Sandbox(db, calls=CALLS, window=WINDOW, flags=flags, **kwargs)


# -- the tap ------------------------------------------------------------------------------------
def run_tap(
    db: Path, latency_ms: int, python: str, keep: Path | None, settings: dict[str, Any]
) -> dict[str, Any]:
    """One paced first run of the order streams, in a child process of ``python``'s venv."""
    sandbox = serve(db, latency_ms)
    try:
        config = tap_config(
            sandbox, calls_per_window=CALLS, window_seconds=WINDOW, page_size=1000, **settings
        )
        spec = {"config": config, "streams": ORDER_STREAMS, "keep": str(keep) if keep else None}
        run = run_child("tap", spec, python)
        logged = sandbox.calls()
    finally:
        sandbox.stop()
    return {
        **measures(logged, run["wall"], None),
        "records": run["records"],
        "calls_by_path": _by_path(logged),
    }


def compare_outputs(baseline: Path, current: Path) -> dict[str, Any]:
    """The current tree's tap output against the baseline's, on the same store.

    Same records (sorted canonical JSON), the same order within each stream, and the same final
    STATE apart from each stream's ``replication_key_value``: a first run bookmarks the end of
    its window, the run's own clock, so that value differs between any two runs (both present);
    for the same reason the ids each remembers as emitted are compared from the later floor on.
    """

    def read(path: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
        streams: dict[str, list[str]] = {}
        state: dict[str, Any] = {}
        with path.open() as fh:
            for line in fh:
                message = json.loads(line)
                if message.get("type") == "RECORD":
                    record = json.dumps(message["record"], sort_keys=True)
                    streams.setdefault(message["stream"], []).append(record)
                elif message.get("type") == "STATE":
                    state = message["value"]
        return streams, state

    def without_window_ends(state: dict[str, Any]) -> dict[str, Any]:
        bookmarks = {
            name: {k: v for k, v in mark.items() if k != "replication_key_value"}
            | {"has_replication_key_value": "replication_key_value" in mark}
            for name, mark in state.get("bookmarks", {}).items()
        }
        return {**state, "bookmarks": bookmarks}

    def same_lookback(x: dict[str, Any], y: dict[str, Any]) -> None:
        """Both runs' lookback memories from the later run's floor on.

        ``emitted`` keeps the ids created within ``lookback_days`` of the window end, the run's
        own clock: an order created between the two runs' floors is kept by the earlier run
        only, whatever the code.
        """
        for name, mark in x.get("bookmarks", {}).items():
            other = y.get("bookmarks", {}).get(name, {})
            if isinstance(mark.get("emitted"), dict) and isinstance(other.get("emitted"), dict):
                floor = max(
                    min(mark["emitted"].values(), default=""),
                    min(other["emitted"].values(), default=""),
                )
                for m in (mark, other):
                    m["emitted"] = {k: v for k, v in m["emitted"].items() if v >= floor}

    (a, state_a), (b, state_b) = read(baseline), read(current)
    same_lookback(state_a, state_b)
    return {
        **_same_records(current, baseline),
        "same_order_within_streams": a == b,
        "same_final_state_but_window_ends": without_window_ends(state_a)
        == without_window_ends(state_b),
    }


# -- the target ---------------------------------------------------------------------------------
def publish_inputs(work: Path, products: int) -> dict[str, Path]:
    """A store with the category and status a publish needs, and ``products`` simple listings."""
    from cartcom_sandbox.store import Store
    from cartcom_testing.listing_scenarios import add_reference_data, singer_lines

    paths = {"db": work / "publish-base.db", "input": work / f"publish-{products}.jsonl"}
    if not paths["db"].exists():
        tmp = paths["db"].with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        store = Store(str(tmp))
        add_reference_data(store)
        store.close()
        tmp.rename(paths["db"])
    listings = [
        {
            "sku": f"BENCH-PUB-{n:04d}",
            "title": f"Bench product {n}",
            "categories": ["Apparel > Shirts"],
            "price": 18.0,
            "quantity": 5,
            "images": [f"https://cdn.example.com/bench-pub-{n}.jpg"],
        }
        for n in range(1, products + 1)
    ]
    paths["input"].write_text(singer_lines(listings), encoding="utf-8")
    return paths


def run_target_paced(
    base_db: Path, input_path: Path, latency_ms: int, exe: str, work: Path, **settings: Any
) -> dict[str, Any]:
    """One paced target run on a fresh copy of ``base_db`` (whole process, start-up included)."""
    store = work / "store-run.db"
    for leftover in ("-wal", "-shm"):  # a stopped sandbox's journal must not replay on the copy
        Path(f"{store}{leftover}").unlink(missing_ok=True)
    shutil.copyfile(base_db, store)
    sandbox = serve(store, latency_ms)
    try:
        started = time.time()
        run = run_target(
            exe,
            sandbox,
            input_path,
            work,
            calls_per_window=CALLS,
            window_seconds=WINDOW,
            **settings,
        )
        logged = sandbox.calls()
    finally:
        sandbox.stop()
    out = measures(logged, run["wall_s"], started)
    out.update(
        {
            "writes": run["writes"],
            "outcomes": run["outcomes"],
            "failed": run["failed"],
            "exit": run["exit"],
        }
    )
    return out


# -- the peer: Airbyte source-cart ------------------------------------------------------------
def peer_venv(cache: Path) -> Path:
    """The peer's venv (created and installed once, apart from the project's)."""
    venv = cache / "airbyte-venv"
    exe = venv / "bin" / "source-cart"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--disable-pip-version-check", PEER], check=True)
    return exe


def certificate(cache: Path) -> tuple[str, str]:
    """A self-signed certificate for the router's host and 127.0.0.1 (made once with openssl)."""
    cert, key = cache / "peer-cert.pem", cache / "peer-key.pem"
    if not (cert.exists() and key.exists()):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={ROUTER_HOST}",
             "-addext", f"subjectAltName=DNS:{ROUTER_HOST},IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
    return str(cert), str(key)


def peer_catalog(exe: Path, config_path: Path, work: Path) -> Path:
    """The peer's configured catalog: the order streams, incremental on ``updated_at``."""
    out = subprocess.run(
        [str(exe), "discover", "--config", str(config_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    catalog = next(
        json.loads(line)["catalog"]
        for line in out.stdout.splitlines()
        if line.startswith("{") and json.loads(line).get("type") == "CATALOG"
    )
    streams = [
        {
            "stream": s,
            "sync_mode": "incremental",
            "cursor_field": ["updated_at"],
            "destination_sync_mode": "append",
        }
        for s in catalog["streams"]
        if s["name"] in ORDER_STREAMS
    ]
    path = work / "peer-catalog.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def run_peer(
    db: Path, latency_ms: int, exe: Path, cache: Path, work: Path, *, auth: str
) -> dict[str, Any]:
    """One first run of the peer's order streams against a TLS sandbox (whole process).

    ``auth`` ``router`` (the Central API Router: the store served as a router site, the
    router's host resolved to it in the peer's process only, ``peer_site/``) or ``token`` (a
    single store by access token: 0.3.58 on airbyte-cdk 7 sends no token, so every call is 401).
    """
    tls = certificate(cache)
    env = {**os.environ, "REQUESTS_CA_BUNDLE": tls[0]}
    if auth == "router":
        sandbox = serve(db, latency_ms, tls=tls, router=(ROUTER_SITE, ROUTER_USER, ROUTER_SECRET))
        credentials = {
            "auth_type": "CENTRAL_API_ROUTER",
            "user_name": ROUTER_USER,
            "user_secret": ROUTER_SECRET,
            "site_id": ROUTER_SITE,
        }
        site = str(Path(__file__).with_name("peer_site"))
        env.update({"PYTHONPATH": site, "BENCH_PEER_HOST": ROUTER_HOST})
        env["BENCH_PEER_PORT"] = str(sandbox.port)
    else:
        sandbox = serve(db, latency_ms, tls=tls)
        credentials = {
            "auth_type": "SINGLE_STORE_ACCESS_TOKEN",
            "access_token": TOKEN,
            "store_name": f"127.0.0.1:{sandbox.port}",
        }
    try:
        config_path = work / "peer-config.json"
        config_path.write_text(json.dumps({"start_date": START, "credentials": credentials}))
        catalog = peer_catalog(exe, config_path, work)
        sandbox.clear()
        out_path, err_path = work / "peer-out.jsonl", work / "peer-err.txt"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started, wall0 = time.time(), time.perf_counter()
            code = subprocess.run(
                [str(exe), "read", "--config", str(config_path), "--catalog", str(catalog)],
                stdout=out,
                stderr=err,
                env=env,
                check=False,
            ).returncode
            wall = time.perf_counter() - wall0
        logged = sandbox.calls()
    finally:
        sandbox.stop()
    records: dict[str, int] = {}
    errors: list[str] = []
    with out_path.open() as fh:
        for line in fh:
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if message.get("type") == "RECORD":
                stream = message["record"]["stream"]
                records[stream] = records.get(stream, 0) + 1
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                errors.append(message["trace"]["error"].get("message", "")[:300])
    out_path.unlink()
    result = measures(logged, wall, started)
    result.update({"records": sum(records.values()), "records_by_stream": records})
    result.update({"calls_by_path": _by_path(logged), "exit": code, "errors": errors, "auth": auth})
    if code:
        result["stderr_tail"] = err_path.read_text(errors="replace")[-1500:]
    return result


# -- the benchmark ------------------------------------------------------------------------------
def main() -> None:
    """Every scenario at every latency for each tree; bench/results/throughput.json; a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a worktree of another commit, with its .venv")
    parser.add_argument("--latencies", default="0,300,600,1200", help="ms, comma-separated")
    parser.add_argument("--peer-latencies", help="ms for the peer (default: --latencies)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--peer-auth", choices=("router", "token"), default="router")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--update", action="store_true", help="add to --out's runs instead of replacing them"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="a tap and target setting for the current tree only (say max_in_flight=4)",
    )
    args = parser.parse_args()
    try:
        args.settings = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.setting)}
    except ValueError as exc:
        parser.error(f"--setting takes KEY=JSON: {exc}")
    sizes = dict(QUICK if args.quick else FULL)
    latencies = [int(x) for x in args.latencies.split(",")]
    peer_latencies = [int(x) for x in (args.peer_latencies or args.latencies).split(",")]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    cache = Path(os.environ.get("BENCH_CACHE") or ROOT / ".bench-cache")
    work = cache / "throughput"
    work.mkdir(parents=True, exist_ok=True)
    # Each invocation's run files (store copies, configs, outputs) apart from another's.
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        _bench(args, (sizes, latencies, peer_latencies, scenarios), cache, work, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _bench(args: argparse.Namespace, plan: tuple, cache: Path, work: Path, scratch: Path) -> None:
    """The runs of one invocation; ``work`` holds the stores and inputs, ``scratch`` the rest."""
    sizes, latencies, peer_latencies, scenarios = plan
    bin_dir = Path(sys.executable).parent
    trees: dict[str, dict[str, Any]] = {}
    if args.baseline:
        base = Path(args.baseline).resolve()
        venv = base / ".venv" / "bin"
        trees["baseline"] = {"path": str(base), "commit": _commit(base), "bin": venv}
    trees["current"] = {"path": str(ROOT), "commit": _commit(ROOT), "bin": bin_dir}

    results: dict[str, Any] = {
        "benchmark": "throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        },
        "budget": {"calls_per_window": CALLS, "window_s": WINDOW},
        "trees": {
            k: {"path": Path(v["path"]).name, "commit": v["commit"]} for k, v in trees.items()
        },
        "sizes": {
            "orders": sizes["orders"],
            "page_size": 1000,
            "publish_simple_products_with_one_image": sizes["publish"],
            "sync_listings": sizes["sync_products"],
            "sync_variant_rows": sizes["sync_products"] * 3,
            "sync_changed_rows": sizes["sync_products"] * 3 // 100,
        },
        "quick": args.quick,
        "settings_current": args.settings,
        "scenarios": {},
    }
    out_file = Path(args.out)
    if args.update and out_file.exists():
        # Another invocation's runs (say, the peer measured apart) kept beside this one's.
        earlier = json.loads(out_file.read_text(encoding="utf-8"))
        results["scenarios"] = earlier.get("scenarios", {})
        results["trees"] = {**earlier.get("trees", {}), **results["trees"]}
        results["tap_output"] = earlier.get("tap_output", {})
        results["earlier"] = [
            *earlier.pop("earlier", []),
            {k: earlier.get(k) for k in ("when", "machine", "sizes", "quick", "peer")},
        ]

    def save() -> None:
        results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    def record(scenario: str, latency: int, tree: str, run: dict[str, Any]) -> None:
        run["loadavg_1m"] = round(os.getloadavg()[0], 2)
        results["scenarios"].setdefault(scenario, {}).setdefault(str(latency), {})[tree] = run
        print(scenario, f"{latency}ms", tree, json.dumps(run), flush=True)
        save()

    orders_db = work / f"orders-{sizes['orders']}.db"
    if "tap" in scenarios or "peer" in scenarios:
        seed(orders_db, sizes["orders"])
    if "publish" in scenarios:
        publish = publish_inputs(work, sizes["publish"])
    if "sync" in scenarios:
        sync = prepare(work, sizes["sync_products"])
    if "peer" in scenarios:
        peer_exe = peer_venv(cache)
        results["peer"] = {
            "package": PEER,
            "auth": args.peer_auth,
            "transport": "https (bench/tls_serve.py)",
        }

    for latency in latencies:
        for scenario in scenarios:
            if scenario == "peer":
                continue
            for tree, spec in trees.items():
                settings = args.settings if tree == "current" else {}
                if scenario == "tap":
                    keep = scratch / f"tap-records-{tree}.jsonl" if args.baseline else None
                    python = str(spec["bin"] / "python")
                    run = run_tap(orders_db, latency, python, keep, settings)
                elif scenario == "publish":
                    exe = str(spec["bin"] / "target-cartcom")
                    run = run_target_paced(
                        publish["db"],
                        publish["input"],
                        latency,
                        exe,
                        scratch,
                        operations=["link", "sync", "publish"],
                        **settings,
                    )
                else:
                    exe = str(spec["bin"] / "target-cartcom")
                    run = run_target_paced(
                        sync["db"], sync["changed"], latency, exe, scratch, **settings
                    )
                record(scenario, latency, tree, run)
            if scenario == "tap" and args.baseline:
                # At every latency: an order that only breaks when calls overlap shows here.
                a, b = scratch / "tap-records-baseline.jsonl", scratch / "tap-records-current.jsonl"
                results.setdefault("tap_output", {})[str(latency)] = compare_outputs(a, b)
                a.unlink()
                b.unlink()
                save()
        if "peer" in scenarios and latency in peer_latencies:
            record(
                "peer",
                latency,
                "peer",
                run_peer(orders_db, latency, peer_exe, cache, scratch, auth=args.peer_auth),
            )
    for latency in peer_latencies:
        if "peer" in scenarios and latency not in latencies:
            record(
                "peer",
                latency,
                "peer",
                run_peer(orders_db, latency, peer_exe, cache, scratch, auth=args.peer_auth),
            )
    save()
    print_table(results)
    print(f"results: {out_file}")


GOALS = {"tap": 1.15, "publish": 1.2, "sync": 1.2}  # issue 23's wall ÷ ideal, at 600 ms


def print_table(results: dict[str, Any]) -> None:
    """A Markdown table: a row per scenario and tree, a column per latency.

    A cell: wall ÷ ideal, then wall seconds, calls and 429s (the peer's figures to compare are
    its wall and calls). The target rows add the ratio without the process's start-up.
    """
    latencies = sorted({int(ms) for runs in results["scenarios"].values() for ms in runs})
    trees = results["trees"]
    sizes = results["sizes"]
    print(
        f"\nwall ÷ ideal (ideal = calls ÷ rate) at {CALLS} calls per {WINDOW:g}-s window, "
        f"`cartcom-sandbox serve --latency-ms L`; cell: ratio (wall s, calls, 429s)\n"
    )
    print("| scenario | tree | " + " | ".join(f"{ms} ms" for ms in latencies) + " |")
    print("|---|---|" + "---:|" * len(latencies))
    for scenario, runs in results["scenarios"].items():
        for tree in sorted({t for by_tree in runs.values() for t in by_tree}):
            label = f"{tree} ({trees[tree]['commit']})" if tree in trees else tree
            row = [runs.get(str(ms), {}).get(tree) or {} for ms in latencies]
            cells = [
                f"{r['ratio']:.2f} ({r['wall_s']:.1f} s, {r['calls']}, {r['n429']})"
                if r.get("ratio") is not None
                else "-"
                for r in row
            ]
            print(f"| {scenario} | {label} | " + " | ".join(cells) + " |")
            if scenario != "peer" and any(r.get("ratio_after_startup") for r in row):
                cells = [
                    f"{r['ratio_after_startup']:.2f}" if r.get("ratio_after_startup") else "-"
                    for r in row
                ]
                print(f"| {scenario}, after start-up | {label} | " + " | ".join(cells) + " |")
    print(
        f"\nsizes (at every latency): tap {sizes['orders']:,} orders with items and payments, "
        f"page {sizes['page_size']}; publish {sizes['publish_simple_products_with_one_image']} "
        f"simple products with one image; sync {sizes['sync_changed_rows']} changed variant rows "
        f"of {sizes['sync_variant_rows']:,}" + (" (--quick)" if results["quick"] else "")
    )
    print("issue 23's goal at 600 ms: " + ", ".join(f"{k} ≤ {v}" for k, v in GOALS.items()))
    if results.get("settings_current"):
        print(f"current tree's settings: {results['settings_current']}")
    for ms, compared in results.get("tap_output", {}).items():
        print(f"tap output at {ms} ms, current vs baseline: {compared}")
    for scenario in ("publish", "sync"):
        for ms, by_tree in results["scenarios"].get(scenario, {}).items():
            if len(by_tree) == 2:
                outcomes = [r["outcomes"] for r in by_tree.values()]
                if outcomes[0] != outcomes[1]:
                    print(f"{scenario} at {ms} ms: outcomes differ between trees: {outcomes}")
    load = results["machine"]
    print(f"load average before/after: {load['loadavg_before'][0]} / {load['loadavg_after'][0]}")


if __name__ == "__main__":
    main()

"""Benchmark of target-cartcom's hot path next to the previous release (2e205ea), in one run.

The scenario is issue 12's: a sync of 10,000 listings with 30,000 variants against a store that
holds them exactly (``cartcom_testing.listing_scenarios``), so nothing changes: the target reads
the input, validates it, indexes the store (10 catalog reads) and plans nothing.

Measured, for this checkout and the previous release (a git worktree with its own venv):

- CPU per record: each target runs as its own process (its venv's ``target-cartcom``, the input
  file on stdin, like ``meltano run``); its CPU (user + system, from ``wait4``) is the target's
  alone. The sandbox serves the store in another process, so its work is not counted with the
  target's; its CPU is read from ``/proc`` and reported as its share. Rounds alternate between
  the two versions; the ratio is taken per round and its median reported. ``startup`` is the same
  process on an input with the SCHEMA line only (interpreter, imports, settings), so the figure
  per record can also be given without it.
- Paced: ``calls_per_window`` 50 per 5-s window, the sandbox rate-limited alike; wall time
  against the ideal (calls / rate) and the 429s, for the unchanged sync and for a 1%-changed one
  (300 writes, on a fresh copy of the store each time).
- Floors: what any SDK target spends on this sync, on the same input and the same catalog
  URLs (``target_floor.py``). ``bare`` imports the SDK, decodes the input lines and fetches and
  decodes the pages; ``sdk`` does that inside an SDK target, the SDK's message loop included.
  Neither validates, indexes or compares. The previous release's CPU over a floor bounds the
  ratio any rewrite of the target's own hot path could reach.
- Breakdown: where the current target's CPU goes on the unchanged sync (reading, validation,
  index, plan, results), in-process with each phase timed.

Run: ``.venv/bin/python bench/bench_target.py --previous /path/to/2e205ea-worktree``
(``git worktree add ../prev 2e205ea`` then ``make install`` there). Results:
bench/results/target.json. ``--profile out.prof`` profiles the current target in-process on the
unchanged sync instead (cProfile), printing the top entries.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_tap import TOKEN, Sandbox, _commit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "target.json"
sys.path.insert(0, str(ROOT / "tests" / "support"))  # cartcom_testing: shared with the tests
TICKS = os.sysconf("SC_CLK_TCK")


# -- inputs -----------------------------------------------------------------------------------
def prepare(work: Path, products: int) -> dict[str, Path]:
    """The store file and the input files (unchanged, 1% changed, SCHEMA only), built once."""
    from cartcom_sandbox.store import Store
    from cartcom_testing.listing_scenarios import (
        build_catalog,
        catalog_listings,
        change_some,
        singer_lines,
    )

    paths = {
        "db": work / f"catalog-{products}.db",
        "unchanged": work / f"unchanged-{products}.jsonl",
        "changed": work / f"changed-{products}.jsonl",
        "empty": work / "schema-only.jsonl",
    }
    if not paths["db"].exists():
        tmp = paths["db"].with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        store = Store(str(tmp))
        build_catalog(store, products)
        store.close()
        tmp.rename(paths["db"])
    listings = catalog_listings(products)
    paths["unchanged"].write_text(singer_lines(listings), encoding="utf-8")
    paths["empty"].write_text(singer_lines([]), encoding="utf-8")
    change_some(listings, 100)
    paths["changed"].write_text(singer_lines(listings), encoding="utf-8")
    return paths


# -- one measured target process ------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measured(command: list[str], input_path: Path, stderr: Any = subprocess.DEVNULL) -> tuple:
    """Run ``command`` on ``input_path`` as stdin: (exit code, CPU seconds, wall seconds).

    The CPU is the child's own (user + system, from ``wait4``).
    """
    with input_path.open("rb") as stdin:
        wall0 = time.perf_counter()
        proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - wall0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, wall


def run_target(
    executable: str, sandbox: Sandbox, input_path: Path, work: Path, **settings: Any
) -> dict[str, Any]:
    """Run ``executable`` on ``input_path``; its CPU, wall, outcomes, and the sandbox's calls."""
    results_path = work / "results.jsonl"
    results_path.unlink(missing_ok=True)
    config = {
        "access_token": TOKEN,
        "api_url": sandbox.base_url,
        "calls_per_window": 100_000,
        "window_seconds": 1,
        "results_path": str(results_path),
        **settings,
    }
    config_path = work / "target-config.json"
    config_path.write_text(json.dumps(config))
    sandbox.clear()
    sandbox_cpu0 = proc_cpu(sandbox.proc.pid)
    exit_code, cpu, wall = measured([executable, "--config", str(config_path)], input_path)
    sandbox_cpu = proc_cpu(sandbox.proc.pid) - sandbox_cpu0
    calls = sandbox.calls()
    summary: dict[str, Any] = {}
    if results_path.exists():
        lines = results_path.read_text(encoding="utf-8").splitlines()
        summary = json.loads(lines[-1]) if lines else {}
    return {
        "exit": exit_code,
        "cpu_s": cpu,
        "wall_s": wall,
        "sandbox_cpu_s": sandbox_cpu,
        "calls": len(calls),
        "writes": sum(1 for c in calls if c["method"] != "GET"),
        "status_429": sum(1 for c in calls if c["status"] == 429),
        "outcomes": summary.get("outcomes", {}).get("listings", {}),
        "failed": summary.get("failed"),
    }


# -- the floor: what any SDK target must spend on this sync -----------------------------------
def catalog_urls(executable: str, sandbox: Sandbox, input_path: Path, work: Path) -> list[str]:
    """The catalog pages ``executable`` reads on ``input_path`` (from the sandbox's call log).

    The run must succeed, and every call must be a catalog read that answered 200: otherwise
    the floors would fetch a different, cheaper set of pages.
    """
    run = run_target(executable, sandbox, input_path, work)
    if run["exit"] != 0 or run["failed"]:
        raise RuntimeError(f"the target run that names the catalog pages failed: {run}")
    calls = sandbox.calls()
    pages = [c for c in calls if c["method"] == "GET" and c["path"].endswith("/products")]
    if len(pages) != len(calls) or any(c["status"] != 200 for c in pages):
        raise RuntimeError("the unchanged sync made calls other than catalog reads")
    origin = sandbox.base_url.split("/api/")[0]
    return [origin + c["path"] + (f"?{c['query']}" if c.get("query") else "") for c in pages]


def run_floor(kind: str, input_path: Path, urls: list[str]) -> float:
    """CPU seconds of ``target_floor.py`` in mode ``kind`` (``bare`` or ``sdk``) on this sync."""
    script = str(Path(__file__).with_name("target_floor.py"))
    with tempfile.TemporaryFile() as stderr:
        exit_code, cpu, _ = measured(
            [sys.executable, script, kind, TOKEN, *urls], input_path, stderr=stderr
        )
        if exit_code != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the {kind} floor process failed: {tail}")
    return cpu


# -- the benchmark --------------------------------------------------------------------------
def main() -> None:
    """Every measurement for both versions; bench/results/target.json and a short table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--previous", default=os.environ.get("BENCH_PREVIOUS"))
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-paced", action="store_true", help="skip the paced runs")
    parser.add_argument("--profile", help="cProfile the current target in-process to this file")
    parser.add_argument("--breakdown", action="store_true", help="only the phase breakdown")
    args = parser.parse_args()
    work = Path(os.environ.get("BENCH_TARGET_CACHE") or tempfile.gettempdir()) / "bench-target"
    work.mkdir(parents=True, exist_ok=True)
    paths = prepare(work, args.products)
    if args.profile:
        profile(paths, work, Path(args.profile))
        return
    if args.breakdown:
        print(json.dumps(breakdown(paths, work)))
        return
    versions = {"current": str(Path(sys.executable).parent / "target-cartcom")}
    if args.previous:
        versions["previous"] = str(Path(args.previous) / ".venv" / "bin" / "target-cartcom")
    records = args.products
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "current_commit": _commit(ROOT),
        "previous_commit": _commit(Path(args.previous)) if args.previous else None,
        "listings": records,
        "variants": records * 3,
    }

    # 1. Unchanged sync, unthrottled: CPU per record, rounds alternating between the versions.
    store = work / "store-unchanged.db"
    shutil.copyfile(paths["db"], store)
    sandbox = Sandbox(store)
    try:
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in versions}
        startup: dict[str, list[float]] = {v: [] for v in versions}
        # The floors read the pages the current target reads (this run also warms the caches).
        urls = catalog_urls(versions["current"], sandbox, paths["unchanged"], work)
        floors: dict[str, list[float]] = {"bare": [], "sdk": []}
        for _ in range(args.rounds):
            for version, exe in versions.items():
                runs[version].append(run_target(exe, sandbox, paths["unchanged"], work))
                print(version, json.dumps(runs[version][-1]), flush=True)
            for kind, cpus in floors.items():
                cpus.append(run_floor(kind, paths["unchanged"], urls))
            print("floors", json.dumps({k: round(v[-1], 3) for k, v in floors.items()}), flush=True)
        for version, exe in versions.items():
            for _ in range(2):
                startup[version].append(run_target(exe, sandbox, paths["empty"], work)["cpu_s"])
    finally:
        sandbox.stop()
    cpu: dict[str, Any] = {"rounds": args.rounds}
    for version, rounds in runs.items():
        base = min(startup[version])
        cpus = [r["cpu_s"] for r in rounds]
        median = statistics.median(cpus)
        cpu[version] = {
            "cpu_s": [round(c, 3) for c in cpus],
            "wall_s": [round(r["wall_s"], 3) for r in rounds],
            "sandbox_cpu_s": [round(r["sandbox_cpu_s"], 3) for r in rounds],
            "sandbox_share_of_cpu": round(
                statistics.median(
                    r["sandbox_cpu_s"] / (r["sandbox_cpu_s"] + r["cpu_s"]) for r in rounds
                ),
                3,
            ),
            "startup_cpu_s": round(base, 3),
            "cpu_ms_per_record": round(1000 * median / records, 4),
            "cpu_ms_per_record_after_startup": round(1000 * (median - base) / records, 4),
            "records_per_cpu_s": round(records / median),
            "calls": rounds[0]["calls"],
            "writes": rounds[0]["writes"],
            "outcomes": rounds[0]["outcomes"],
            "failed": rounds[0]["failed"],
            "exit": rounds[0]["exit"],
        }
    if "previous" in versions:
        ratios = [
            p["cpu_s"] / c["cpu_s"] for c, p in zip(runs["current"], runs["previous"], strict=True)
        ]
        cpu["cpu_ratio_per_round"] = [round(r, 2) for r in ratios]
        cpu["cpu_ratio_median"] = round(statistics.median(ratios), 2)
        after = [
            (p["cpu_s"] - cpu["previous"]["startup_cpu_s"])
            / (c["cpu_s"] - cpu["current"]["startup_cpu_s"])
            for c, p in zip(runs["current"], runs["previous"], strict=True)
        ]
        cpu["cpu_ratio_after_startup_median"] = round(statistics.median(after), 2)
    # The floors bound any ratio: a target that spent nothing on validating, indexing and
    # comparing would be previous / floor faster; a 3x target has previous / 3 - floor left.
    cpu["floor"] = {"catalog_calls": len(urls)}
    whats = {
        "bare": "import singer_sdk, decode the input lines, fetch and decode the catalog pages",
        "sdk": "the same in an SDK target: its message loop and batching (bench/target_floor.py)",
    }
    for kind, cpus in floors.items():
        floor_cpu = statistics.median(cpus)
        block: dict[str, Any] = {
            "what": whats[kind],
            "cpu_s": [round(f, 3) for f in cpus],
            "cpu_s_median": round(floor_cpu, 3),
        }
        if "previous" in versions:
            previous_cpu = statistics.median(r["cpu_s"] for r in runs["previous"])
            block["previous_over_floor"] = round(previous_cpu / floor_cpu, 2)
            block["left_for_3x_s"] = round(previous_cpu / 3 - floor_cpu, 3)
        cpu["floor"][kind] = block
    results["unchanged_cpu"] = cpu

    # 2. Paced at 50 calls per 5-s window: unchanged, then 1% changed (a fresh store each run).
    if not args.no_paced:
        rate = 50 / 5
        results["paced"] = {"calls_per_window": 50, "window_s": 5}
        for scenario in ("unchanged", "changed"):
            results["paced"][scenario] = {}
            for version, exe in versions.items():
                store = work / f"store-paced-{version}.db"
                shutil.copyfile(paths["db"], store)
                sandbox = Sandbox(store, calls=50, window=5.0)
                try:
                    run = run_target(
                        exe, sandbox, paths[scenario], work, calls_per_window=50, window_seconds=5
                    )
                finally:
                    sandbox.stop()
                ideal = run["calls"] / rate
                run["ideal_s"] = ideal
                run["wall_over_ideal"] = run["wall_s"] / ideal if ideal else None
                results["paced"][scenario][version] = run
                print("paced", scenario, version, json.dumps(run), flush=True)
    # 3. Where the current target's CPU goes (phases timed in a fresh process of its own).
    child = subprocess.run(
        [sys.executable, __file__, "--breakdown", "--products", str(args.products)],
        check=True,
        capture_output=True,
        text=True,
    )
    results["breakdown_current"] = json.loads(child.stdout.strip().splitlines()[-1])
    results["loadavg_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)


def in_process_target(sandbox: Any, results: Path) -> Any:
    """The current target in this process, unthrottled, against ``sandbox``."""
    from target_cartcom.target import TargetCartcom

    config = {
        "access_token": TOKEN,
        "api_url": sandbox.base_url,
        "calls_per_window": 100_000,
        "window_seconds": 1,
        "results_path": str(results),
    }
    return TargetCartcom(config=config, parse_env_config=False)


def breakdown(paths: dict[str, Path], work: Path) -> dict[str, float]:
    """CPU seconds of each phase of one in-process unchanged sync (the sandbox elsewhere).

    Each phase is a function wrapped with a ``process_time`` timer (about a microsecond per
    call added); ``reading`` is what is left of the whole run: the SDK's loop, decoding the
    lines, SCHEMA handling. Start-up (imports) is not in it; ``bench`` measures that apart.
    """
    from collections import Counter

    import target_cartcom._client.session as session_module
    from target_cartcom.listings import batch, index_builder, state, store_index
    from target_cartcom.run_context import RunContext

    spent: Counter[str] = Counter()
    undo: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[phase] += time.process_time() - started

        undo.append((owner, name, original))
        setattr(owner, name, wrapper)

    timed(batch, "parse_listing", "validation: parse and check each listing")
    timed(state.ListingsState, "check_duplicates", "validation: SKUs seen twice in the input")
    timed(session_module, "_json_body", "index: decode the catalog pages (msgspec)")
    timed(store_index.StoreIndex, "add_product", "index: index products, rows and prices")
    timed(index_builder.IndexBuilder, "_terms", "index: lookup terms and the auto estimate")
    timed(index_builder.IndexBuilder, "build", "index (all)")
    timed(batch.ListingBatch, "_link", "plan: link each listing")
    timed(batch.ListingBatch, "_apply", "plan: compare and plan each listing (sync)")
    timed(RunContext, "report", "results: one line per listing")
    store = work / "store-breakdown.db"
    shutil.copyfile(paths["db"], store)
    sandbox = Sandbox(store)
    try:
        target = in_process_target(sandbox, work / "breakdown-results.jsonl")
        with paths["unchanged"].open(encoding="utf-8") as lines:
            started = time.process_time()
            target.listen(lines)
            total = time.process_time() - started
    finally:
        sandbox.stop()
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)
    every = dict(spent)
    index_all = every.pop("index (all)")
    index_parts = sum(v for k, v in every.items() if k.startswith("index:"))
    every["index: HTTP and paging (the rest of the index)"] = index_all - index_parts
    every["reading: SDK loop, decoding lines, the rest"] = total - sum(every.values())
    out = {k: round(v, 3) for k, v in sorted(every.items())}
    out["total (without start-up)"] = round(total, 3)
    return out


def profile(paths: dict[str, Path], work: Path, out: Path) -> None:
    """cProfile one in-process unchanged sync of the current target (the sandbox elsewhere)."""
    import cProfile
    import io
    import pstats

    store = work / "store-profile.db"
    shutil.copyfile(paths["db"], store)
    sandbox = Sandbox(store)
    try:
        text = paths["unchanged"].read_text(encoding="utf-8")
        target = in_process_target(sandbox, work / "profile-results.jsonl")
        profiler = cProfile.Profile()
        cpu0 = time.process_time()
        profiler.enable()
        target.listen(io.StringIO(text))
        profiler.disable()
        print(f"CPU {time.process_time() - cpu0:.2f} s (with the profiler's overhead)")
    finally:
        sandbox.stop()
    profiler.dump_stats(str(out))
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def print_table(results: dict[str, Any]) -> None:
    """One row per figure, one column per version."""
    cpu = results["unchanged_cpu"]
    versions = [v for v in ("previous", "current") if v in cpu]
    rows = [
        (
            f"CPU ms per listing, {results['listings']:,} unchanged (median of {cpu['rounds']})",
            [f"{cpu[v]['cpu_ms_per_record']:.3f}" for v in versions],
        ),
        ("  of which startup (s)", [f"{cpu[v]['startup_cpu_s']:.2f}" for v in versions]),
        ("listings per CPU-s", [f"{cpu[v]['records_per_cpu_s']:,}" for v in versions]),
        ("calls (writes)", [f"{cpu[v]['calls']} ({cpu[v]['writes']})" for v in versions]),
        ("sandbox share of CPU", [f"{cpu[v]['sandbox_share_of_cpu']:.0%}" for v in versions]),
    ]
    for scenario, block in results.get("paced", {}).items():
        if isinstance(block, dict):
            rows.append(
                (
                    f"paced 50/5 s, {scenario}: wall/ideal (calls, 429s)",
                    [
                        f"{block[v]['wall_over_ideal']:.2f} ({block[v]['calls']}, "
                        f"{block[v]['status_429']})"
                        for v in versions
                        if v in block
                    ],
                )
            )
    width = max(len(k) for k, _ in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{v:>14}" for v in versions))
    for key, values in rows:
        print(f"{key:<{width}}  " + "  ".join(f"{x:>14}" for x in values))
    for phase, seconds in results.get("breakdown_current", {}).items():
        print(f"  current, in-process: {phase:<50} {seconds:6.3f} s")
    for kind, floor in cpu.get("floor", {}).items():
        if not isinstance(floor, dict):
            continue
        line = f"floor, {kind} ({floor['what']}): {floor['cpu_s_median']} s"
        if "previous_over_floor" in floor:
            line += (
                f"; previous / floor {floor['previous_over_floor']}x, "
                f"left beyond it for 3x {floor['left_for_3x_s']} s"
            )
        print(line)
    if "cpu_ratio_median" in cpu:
        print(f"CPU ratio previous/current per round: {cpu['cpu_ratio_per_round']}")
        after = cpu["cpu_ratio_after_startup_median"]
        print(f"median {cpu['cpu_ratio_median']}x; after startup {after}x")


if __name__ == "__main__":
    main()

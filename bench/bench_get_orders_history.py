"""Benchmark of issue 21: the calls and CPU of an idle get-orders run, by import log length.

get-orders imports (``tap-get-orders target-jsonl``), then acknowledges what the import log
holds (``imported-orders target-cartcom-ack``). Before issue 21, ``imported-orders`` was
tap-jsonl 0.3.1, which re-reads the whole log on every run, so the acknowledgement made one
status read per 100 orders ever imported. Now it is tap-cartcom-import-log, which reads from the
position its state keeps. This measures an idle run (nothing new in the store) of both
pipelines with 100, 10,000 and 100,000 orders in the log.

The store: a sandbox (its own process, no rate limit) seeded with the largest size plus a few
hundred orders; every order is acknowledged already, so none is Processing and the import finds
nothing. The log: the store's orders, one JSON line each as target-jsonl writes them (the
store's documents with UTC stamps, about 1.6 KB a line; the tap's lines, with items and
addresses, are larger, so ``before``'s CPU is a lower bound), the first N. Each pipeline is run as
``meltano run`` runs it, tap piped into target as two processes, with the plugins' settings
from meltano.yml (``before``: tap-jsonl from the ``listings-feed`` venv that ``meltano install``
built, ``after``: tap-cartcom-import-log); a first run catches up on the log, and the idle run
is given the state the first one ended with. CPU is user + system of the two processes
(``wait4``); calls are the sandbox's call log. The import step (``tap-get-orders``, same in both)
is measured once per size the same way, its output thrown away.

Run: ``.venv/bin/python bench/bench_get_orders_history.py`` (``--sizes 100 10000`` for fewer;
it installs the Meltano plugins first when they are missing, as ``make demo`` does). The
100,000-line log is about 160 MB in a temporary folder; the whole run takes about 8 minutes.
Results: bench/results/get_orders_history.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from bench_tap import TOKEN, Sandbox, _commit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))  # run_demo: installs the Meltano plugins
RESULTS = ROOT / "bench" / "results" / "get_orders_history.json"
BIN = Path(sys.executable).parent
TAP_JSONL = ROOT / ".meltano" / "extractors" / "listings-feed" / "venv" / "bin" / "tap-jsonl"
SIZES = (100, 10_000, 100_000)
ACK_STATUS = "Awaiting Fulfillment"
STAMPS = ("created_at", "updated_at", "ordered_at", "order_status_last_changed_at")


def plugin_config(kind: str, name: str) -> dict[str, Any]:
    """A plugin's ``config`` in meltano.yml, ``${MELTANO_PROJECT_ROOT}`` values dropped."""
    doc = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(p for p in doc["plugins"][kind] if p["name"] == name)
    return {k: v for k, v in (plugin.get("config") or {}).items() if "MELTANO_" not in str(v)}


# -- the store and the log ----------------------------------------------------------------------
def prepare_store(db: Path, orders: int) -> None:
    """Seed ``orders`` orders; create the acknowledgement status; nothing left Processing."""
    from cartcom_sandbox.seed import seed_store
    from cartcom_sandbox.store import Store

    seed_store(str(db), products=20, orders=orders, seed=21, days=400, overwrite=True)
    store = Store(str(db))
    status = {r["name"]: r["id"] for r in store.query("order_statuses")}
    acked = store.insert("order_statuses", {"name": ACK_STATUS, "is_open": True})["id"]
    with store.transaction():
        for order in store.query("orders", {"order_status_id": status["Processing"]}):
            store.update("orders", order["id"], {"order_status_id": acked})
    store.close()


def write_log(db: Path, path: Path, lines: int) -> None:
    """The first ``lines`` orders of the store, one JSON line each (UTC stamps)."""
    from cartcom_client.quirks import to_utc
    from cartcom_sandbox.store import Store

    store = Store(str(db))
    with path.open("w", encoding="utf-8") as fh:
        for offset in range(0, lines, 1000):
            for doc in store.query("orders", limit=min(1000, lines - offset), offset=offset):
                for name in STAMPS:
                    if doc.get(name):
                        doc[name] = to_utc(doc[name])
                fh.write(json.dumps(doc) + "\n")
    store.close()


# -- one measured pipeline run -------------------------------------------------------------------
def pipe(tap: list[str], target: list[str] | None) -> dict[str, Any]:
    """``tap | target`` as two processes: exit codes, CPU of both, wall, the last STATE."""
    wall0 = time.perf_counter()
    tap_proc = subprocess.Popen(tap, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if target is None:  # the tap alone, its output discarded
        for _ in tap_proc.stdout:  # type: ignore[union-attr]
            pass
        last = None
        target_cpu, target_exit = 0.0, 0
    else:
        target_proc = subprocess.Popen(
            target, stdin=tap_proc.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        tap_proc.stdout.close()  # type: ignore[union-attr]
        out = target_proc.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(target_proc.pid, 0)
        target_proc.returncode = target_exit = os.waitstatus_to_exitcode(status)
        target_cpu = usage.ru_utime + usage.ru_stime
        states = [ln for ln in out.decode().splitlines() if ln.strip()]
        last = json.loads(states[-1]) if states else None
    _, status, usage = os.wait4(tap_proc.pid, 0)
    tap_proc.returncode = os.waitstatus_to_exitcode(status)
    tap_cpu = usage.ru_utime + usage.ru_stime
    return {
        "exit": [tap_proc.returncode, target_exit],
        "tap_cpu_s": round(tap_cpu, 3),
        "target_cpu_s": round(target_cpu, 3),
        "cpu_s": round(tap_cpu + target_cpu, 3),
        "wall_s": round(time.perf_counter() - wall0, 3),
        "state": last,
    }


def ack_run(
    version: str, log: Path, state: dict | None, sandbox: Sandbox, work: Path
) -> dict[str, Any]:
    """One run of ``imported-orders target-cartcom-ack`` as ``version`` had it."""
    if version == "before":
        tap = [str(TAP_JSONL)]
        tap_config = {"path": str(log), "stream_name": "orders", "primary_keys": ["id"]}
    else:
        tap = [str(BIN / "tap-cartcom-import-log")]
        tap_config = {"path": str(log)}
    (work / "tap.json").write_text(json.dumps(tap_config))
    tap += ["--config", str(work / "tap.json")]
    if state is not None:
        (work / "state.json").write_text(json.dumps(state))
        tap += ["--state", str(work / "state.json")]
    target_config = {
        **plugin_config("loaders", "target-cartcom"),
        **plugin_config("loaders", "target-cartcom-ack"),
        "api_url": sandbox.base_url,
        "access_token": TOKEN,
        "calls_per_window": 100_000,
        "window_seconds": 1,
        "results_path": str(work / "ack.jsonl"),
    }
    (work / "target.json").write_text(json.dumps(target_config))
    sandbox.clear()
    run = pipe(tap, [str(BIN / "target-cartcom"), "--config", str(work / "target.json")])
    run["calls"] = len(sandbox.calls())
    summary = json.loads((work / "ack.jsonl").read_text().splitlines()[-1])
    run["records"] = sum(sum(v.values()) for v in summary["outcomes"].values())
    run["writes"] = summary["calls"]["writes"]
    return run


def import_run(sandbox: Sandbox, work: Path) -> dict[str, Any]:
    """One idle run of ``tap-get-orders`` (orders, items, addresses selected), output dropped."""
    config = {
        **plugin_config("extractors", "tap-cartcom"),
        **plugin_config("extractors", "tap-get-orders"),
        "api_url": sandbox.base_url,
        "access_token": TOKEN,
        "calls_per_window": 100_000,
        "window_seconds": 1,
    }
    (work / "get-orders.json").write_text(json.dumps(config))
    tap = str(BIN / "tap-cartcom")
    found = subprocess.run(
        [tap, "--config", str(work / "get-orders.json"), "--discover"],
        capture_output=True,
        check=True,
    )
    catalog = json.loads(found.stdout)
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in ("orders", "order_items", "order_addresses")
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = selected
    (work / "catalog.json").write_text(json.dumps(catalog))
    sandbox.clear()
    run = pipe(
        [tap, "--config", str(work / "get-orders.json"), "--catalog", str(work / "catalog.json")],
        None,
    )
    run["calls"] = len(sandbox.calls())
    run.pop("state")
    return run


# -- the benchmark ------------------------------------------------------------------------------
def main() -> None:
    """Measure each size, before and after; write bench/results/get_orders_history.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    import run_demo

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_demo.ensure_plugins(work / "install.log")  # tap-jsonl, for `before`
        db = work / "store.db"
        t0 = time.perf_counter()
        prepare_store(db, max(args.sizes) + 500)
        print(f"seeded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        sandbox = Sandbox(db)
        try:
            for size in args.sizes:
                log = work / "orders.jsonl"
                write_log(db, log, size)
                row: dict[str, Any] = {
                    "imported_orders": size,
                    "log_mb": round(log.stat().st_size / 1e6, 1),
                    "import_step": import_run(sandbox, work),
                }
                for version in ("before", "after"):
                    first = ack_run(version, log, None, sandbox, work)
                    idle = ack_run(version, log, first.pop("state"), sandbox, work)
                    idle.pop("state")
                    row[version] = {"first_run": first, "idle_run": idle}
                    total = row["import_step"]["calls"] + idle["calls"]
                    row[version]["idle_job_calls"] = total
                    row[version]["idle_job_cpu_s"] = round(
                        row["import_step"]["cpu_s"] + idle["cpu_s"], 3
                    )
                rows.append(row)
                print(json.dumps(summary_line(row)), file=sys.stderr)
        finally:
            sandbox.stop()
    RESULTS.write_text(
        json.dumps(
            {"commit": _commit(ROOT), "measured_at": time.strftime("%Y-%m-%d"), "sizes": rows},
            indent=2,
        )
        + "\n"
    )
    print_table(rows)
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


def summary_line(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of one size that the table shows."""
    out: dict[str, Any] = {"imported_orders": row["imported_orders"]}
    for version in ("before", "after"):
        idle = row[version]["idle_run"]
        out[version] = {
            "idle_job_calls": row[version]["idle_job_calls"],
            "ack_calls": idle["calls"],
            "ack_records": idle["records"],
            "ack_cpu_s": idle["cpu_s"],
            "idle_job_cpu_s": row[version]["idle_job_cpu_s"],
        }
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    """Calls and CPU of an idle get-orders run, by log length."""
    print(
        "imported | idle job calls before / after | acknowledgement: calls, lines read, CPU s"
        " before / after | idle job CPU s before / after"
    )
    for row in rows:
        b, a = row["before"], row["after"]
        bi, ai = b["idle_run"], a["idle_run"]
        print(
            f"{row['imported_orders']:>8,} | {b['idle_job_calls']:>5} / {a['idle_job_calls']:<5}"
            f" | {bi['calls']}, {bi['records']:,}, {bi['cpu_s']:.2f} / "
            f"{ai['calls']}, {ai['records']:,}, {ai['cpu_s']:.2f}"
            f" | {b['idle_job_cpu_s']:.2f} / {a['idle_job_cpu_s']:.2f}"
        )


if __name__ == "__main__":
    main()

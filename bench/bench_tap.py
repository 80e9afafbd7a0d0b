"""Benchmark of tap-cartcom next to the previous release (2e205ea), in one run, on one store.

The sandbox serves the store in its own process; the previous release is a git worktree of
commit 2e205ea with its own venv.

Measures, each for this checkout and the previous release:
- records per CPU-second for orders + items + payments, 20,000 orders, page 1000, unthrottled
  (rounds alternate between the two versions; the output is compared record for record);
- calls for orders only with the address fields deselected (order pages only, no address read);
- wall time against the ideal (calls / rate) at 5 calls per 1-s window, page 1000, and 429s;
- peak RSS while extracting 100,000 orders (flat in N is the goal, <= 200 MB).

Run: ``.venv/bin/python bench/bench_tap.py --previous /path/to/2e205ea-worktree``
(that worktree needs ``make install``; ``git -C . worktree add ../prev 2e205ea``).
Results: bench/results/tap.json. Each measured tap runs in a fresh child process (its own
venv's python) so CPU and RSS are the tap's alone; the sandbox runs in another process.
CPU time (``process_time``) is the tap's own, so a busy machine slows the wall time, not it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
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
#: The sandbox admin routes (/_sandbox/*) need a valid token too.
ADMIN = {"X-AC-Auth-Token": TOKEN}
ORDER_STREAMS = ("orders", "order_items", "order_payments")
ADDRESS_FIELDS = ("billing_address", "shipping_address")
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

    def __init__(
        self,
        db: Path,
        *,
        calls: int | None = None,
        window: float = 1.0,
        flags: tuple[str, ...] = (),
        tls: tuple[str, str] | None = None,
        router: tuple[str, str, str] | None = None,
    ) -> None:
        """Start serving ``db``; ``calls`` per ``window`` (None = unlimited).

        ``flags``: more ``serve`` options (``--latency-ms 600``). ``tls``: a (certificate, key)
        pair to serve HTTPS with (``tls_serve.py``), for a client that only speaks https.
        ``router``: (site id, user, secret) to serve ``db`` as that site of a Central API Router
        (the secret passed in the environment, never on the command line).
        """
        self.port = free_port()
        self.admin = dict(ADMIN)
        env = dict(os.environ)
        store = ["--db", str(db)]
        if router:
            site, user, secret = router
            store = ["--router", "--site", f"{site}={db}", "--pub-user-env", f"{user}=BENCH_PUB"]
            env["BENCH_PUB"] = secret
            self.admin["X-AC-PUB-Site-ID"] = site
        args = [
            "serve",
            *store,
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
        args += list(flags)
        if tls:
            launcher = [PY, str(Path(__file__).with_name("tls_serve.py")), *tls]
        else:
            launcher = [PY, "-m", "cartcom_sandbox"]
        self.verify: str | bool = tls[0] if tls else True
        self.root = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            launcher + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        self.base_url = f"{self.root}/api/v1"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(
                    f"{self.root}/_sandbox/health",
                    headers=self.admin,
                    timeout=1,
                    verify=self.verify,
                )
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("sandbox did not start")

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's call log."""
        url = f"{self.root}/_sandbox/calls"
        return requests.get(url, headers=self.admin, timeout=30, verify=self.verify).json()["calls"]

    def clear(self) -> None:
        """Forget the call log."""
        url = f"{self.root}/_sandbox/calls"
        requests.delete(url, headers=self.admin, timeout=10, verify=self.verify)

    def stop(self) -> None:
        """Stop the process."""
        self.proc.terminate()
        self.proc.wait(10)


# -- child: one measured tap or floor run ------------------------------------------------------
class CountingSink:
    """A stdout stand-in that counts RECORD lines (optionally keeping them), text or bytes."""

    def __init__(self, keep: Path | None = None) -> None:
        """Count, and write to ``keep`` when given."""
        self.records = 0
        self.file = keep.open("wb") if keep else None
        self.buffer = _BinarySink(self)

    def write(self, text: str) -> int:
        """Count RECORD messages (the previous release writes text)."""
        return self.buffer.write(text.encode())

    def flush(self) -> None:
        """Nothing buffered here."""


class _BinarySink:
    """``sys.stdout.buffer`` of a CountingSink (the msgspec writer writes bytes)."""

    def __init__(self, sink: CountingSink) -> None:
        self.sink = sink

    def write(self, data: bytes) -> int:
        """Count (and keep) the lines."""
        self.sink.records += data.count(b'{"type":"RECORD"')
        if self.sink.file:
            self.sink.file.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing buffered here."""


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``), MB.

    Not ``ru_maxrss``: Linux carries the parent's peak over fork, so every child would report
    at least the benchmark's own peak (it holds both outputs while comparing them).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_tap(spec: dict[str, Any]) -> dict[str, Any]:
    """Run tap-cartcom in this process; return wall, CPU, records, calls and peak RSS."""
    from tap_cartcom.tap import TapCartcom

    tap = TapCartcom(config=spec["config"], parse_env_config=False)
    if spec.get("deselect"):
        catalog = tap.catalog_dict
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                crumb = tuple(meta["breadcrumb"])
                if not crumb:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in spec["streams"]
                elif crumb[-1] in spec["deselect"]:
                    meta["metadata"]["selected"] = False
        tap = TapCartcom(config=spec["config"], catalog=catalog, parse_env_config=False)
    else:
        for name, stream in tap.streams.items():
            stream.selected = name in spec["streams"]
    # A real file as stdout, as a pipe would be (C-level writes); records counted afterwards,
    # outside the timed part, so no Python-level sink is measured with the tap.
    out_path = Path(spec["keep"]) if spec.get("keep") else Path(spec["out"])
    out = out_path.open("w", encoding="utf-8", buffering=1 << 16)
    real = sys.stdout
    sys.stdout = out
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tap.sync_all()
        out.flush()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        sys.stdout = real
        out.close()
    pacing = getattr(tap, "pacing", None)
    records = 0
    with out_path.open("rb") as fh:
        for line in fh:
            records += line.startswith(b'{"type":"RECORD"')
    if not spec.get("keep"):
        out_path.unlink()
    return {
        "wall": wall,
        "cpu": cpu,
        "records": records,
        # None where a tree paces elsewhere (the sandbox's call log is the measure that counts).
        "calls": sum(pacing.calls.values()) if pacing else None,
        "rate_limited": pacing.rate_limited if pacing else None,
        "maxrss_mb": peak_rss_mb(),
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
        "maxrss_mb": peak_rss_mb(),
    }


def run_child(mode: str, spec: dict[str, Any], python: str = PY) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (``python``: the venv of the tap measured)."""
    spec = {"out": str(Path(tempfile.gettempdir()) / f"bench-tap-{os.getpid()}.jsonl"), **spec}
    out = subprocess.run(
        [python, __file__, "--child", mode, json.dumps(spec)],
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
    """Run every measurement for both versions, write bench/results/tap.json, print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--previous", default=os.environ.get("BENCH_PREVIOUS"), required=False)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--big", type=int, default=100000, help="orders for the RSS run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    versions = {"current": PY}
    if args.previous:
        versions["previous"] = str(Path(args.previous) / ".venv" / "bin" / "python")
    work = Path(os.environ.get("BENCH_TAP_CACHE") or tempfile.gettempdir()) / "bench-tap"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "current_commit": _commit(ROOT),
        "previous_commit": _commit(Path(args.previous)) if args.previous else None,
    }
    db = work / f"orders-{args.orders}.db"
    n_orders = seed(db, args.orders)["orders"]
    pages = -(-n_orders // 1000)

    # 1. Records per CPU-second, unthrottled, page 1000; rounds alternate between versions.
    sandbox = Sandbox(db)
    try:
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in versions}
        for i in range(args.rounds):
            for version, python in versions.items():
                keep = str(work / f"records-{version}.jsonl") if i == 0 else None
                spec = {
                    "config": tap_config(sandbox, page_size=1000),
                    "streams": ORDER_STREAMS,
                    "keep": keep,
                }
                runs[version].append(run_child("tap", spec, python))
        results["throughput"] = {"orders": n_orders, "page_size": 1000, "rounds": args.rounds}
        for version, rounds in runs.items():
            rates = sorted(r["records"] / r["cpu"] for r in rounds)
            results["throughput"][version] = {
                "records": rounds[0]["records"],
                "calls": rounds[0]["calls"],
                "cpu_s": [round(r["cpu"], 3) for r in rounds],
                "wall_s": [round(r["wall"], 3) for r in rounds],
                "records_per_cpu_s_median": statistics.median(rates),
                "records_per_cpu_s_best": rates[-1],
                "maxrss_mb": max(r["maxrss_mb"] for r in rounds),
            }
        if "previous" in versions:
            t = results["throughput"]
            ratios = [
                (c["records"] / c["cpu"]) / (p["records"] / p["cpu"])
                for c, p in zip(runs["current"], runs["previous"], strict=True)
            ]
            t["cpu_ratio_per_round"] = [round(r, 2) for r in ratios]
            t["cpu_ratio_median"] = statistics.median(ratios)
            t["identical_records"] = _same_records(
                work / "records-current.jsonl", work / "records-previous.jsonl"
            )

        # 2. Orders only, address fields deselected: calls = order pages only.
        results["orders_only"] = {"orders": n_orders, "order_pages": pages}
        for version, python in versions.items():
            sandbox.clear()
            spec = {
                "config": tap_config(sandbox, page_size=1000),
                "streams": ("orders",),
                "deselect": ADDRESS_FIELDS,
            }
            run = run_child("tap", spec, python)
            logged = sandbox.calls()
            results["orders_only"][version] = {
                "calls": len(logged),
                "by_path": _by_path(logged),
                "records": run["records"],
            }
    finally:
        sandbox.stop()

    # 3. Paced: 5 calls per 1-s window (a gold store's rate), page 1000.
    results["paced"] = {"calls_per_window": 5, "window_s": 1.0, "page_size": 1000}
    for version, python in versions.items():
        sandbox = Sandbox(db, calls=5, window=1.0)
        try:
            config = tap_config(sandbox, calls_per_window=5, window_seconds=1, page_size=1000)
            run = run_child("tap", {"config": config, "streams": ORDER_STREAMS}, python)
            logged = sandbox.calls()
        finally:
            sandbox.stop()
        ideal = len(logged) / 5
        results["paced"][version] = {
            "calls": len(logged),
            "status_429": sum(1 for c in logged if c["status"] == 429),
            "ideal_s": ideal,
            "wall_s": run["wall"],
            "wall_over_ideal": run["wall"] / ideal,
            "cpu_s": run["cpu"],
            "records": run["records"],
        }

    # 4. Peak RSS at the big store (and the small one, from step 1): flat in N.
    big = work / f"orders-{args.big}.db"
    seed(big, args.big)
    results["rss"] = {"orders": args.big}
    for version, python in versions.items():
        sandbox = Sandbox(big)
        try:
            spec = {"config": tap_config(sandbox, page_size=1000), "streams": ORDER_STREAMS}
            run = run_child("tap", spec, python)
        finally:
            sandbox.stop()
        results["rss"][version] = {
            "maxrss_mb": run["maxrss_mb"],
            "maxrss_mb_at_small": results["throughput"][version]["maxrss_mb"],
            "records": run["records"],
            "cpu_s": run["cpu"],
            "wall_s": run["wall"],
        }
    results["loadavg_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def _commit(path: Path) -> str:
    """The checkout's commit, ``-dirty`` when tracked code differs from it (results aside)."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(path), *args]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")


def _same_records(a: Path, b: Path) -> dict[str, Any]:
    """Compare two outputs' RECORD messages as sorted canonical JSON (stream + record)."""

    def records(path: Path) -> list[str]:
        out = []
        with path.open() as fh:
            for line in fh:
                message = json.loads(line)
                if message.get("type") == "RECORD":
                    out.append(json.dumps([message["stream"], message["record"]], sort_keys=True))
        return sorted(out)

    left, right = records(a), records(b)
    return {"identical": left == right, "records": len(left), "records_previous": len(right)}


def _by_path(calls: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for call in calls:
        out[call["path"]] = out.get(call["path"], 0) + 1
    return out


def print_table(results: dict[str, Any]) -> None:
    """A short human-readable summary: one row per figure, one column per version."""
    versions = [v for v in ("previous", "current") if v in results["throughput"]]
    t, o, p, r = (results[k] for k in ("throughput", "orders_only", "paced", "rss"))
    rows = [
        (
            f"records per CPU-s, {t['orders']:,} orders (median of {t['rounds']})",
            [f"{t[v]['records_per_cpu_s_median']:,.0f}" for v in versions],
        ),
        ("calls, orders only (no address field)", [str(o[v]["calls"]) for v in versions]),
        (
            "paced 5/1 s: wall / ideal (calls, 429s)",
            [
                f"{p[v]['wall_over_ideal']:.2f} ({p[v]['calls']}, {p[v]['status_429']})"
                for v in versions
            ],
        ),
        (
            f"peak RSS, {r['orders']:,} orders",
            [f"{r[v]['maxrss_mb']:.0f} MB" for v in versions],
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{v:>14}" for v in versions))
    for key, values in rows:
        print(f"{key:<{width}}  " + "  ".join(f"{x:>14}" for x in values))
    if "cpu_ratio_median" in t:
        print(f"CPU ratio (median per round): {t['cpu_ratio_median']:.2f}x")
        print(f"identical records: {t['identical_records']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, spec = sys.argv[2], json.loads(sys.argv[3])
        result = child_tap(spec) if mode == "tap" else child_floor(spec)
        print(json.dumps(result))
    else:
        main()

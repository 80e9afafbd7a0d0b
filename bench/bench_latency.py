"""Latency benchmark: does ``serve --latency-ms N`` make the probe measure N plus the sandbox?

Run: ``.venv/bin/python bench/bench_latency.py [--latency-ms 400] [--rounds 3]``.
Serves a store of the tests' seeded size with ``cartcom-sandbox serve`` (a subprocess, as a merchant
would), then, per round, probes it with the delay on and with it off (the sandbox's own time,
same process, same store). The figure: the probe's ``call_latency_ms.p50`` with the delay,
against ``N + the p50 without it``; within ``--tolerance`` (10 %) or exit 1. A second
scenario adds ``--latency-ms-per-kb``: the probe's 25-row pages (about 13 KiB) must take
``N + M x their KiB`` more than without. Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cartcom_sandbox.seed import seed_store  # noqa: E402
from cartcom_store_probe.calls import Caller  # noqa: E402
from cartcom_store_probe.report import run_probe  # noqa: E402

TOKEN = "bench-token"  # noqa: S105 - a local benchmark token
WINDOW = 0.5  # a Steel pool over a short window: the probe paces itself, quickly
RESULTS = ROOT / "bench" / "results" / "latency.json"
SEED_ARGS: dict[str, Any] = {"products": 60, "orders": 300, "seed": 7}  # the tests' store size


class Served:
    """``cartcom-sandbox serve`` in a subprocess; its latency is changed on the admin route."""

    def __init__(self, db: Path, *flags: str) -> None:
        """Start it; wait for the base URL line."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cartcom_sandbox", "serve", "--db", str(db), "--port", "0",
             "--token", TOKEN, "--window", str(WINDOW), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.stop()
            raise SystemExit(f"serve did not start: {self.base_url!r}")

    def set_latency(self, ms: float, per_kb: float = 0.0) -> None:
        """Change the delay at run time (no restart: the same process, warm)."""
        root = self.base_url.rsplit("/api/v1", 1)[0]
        requests.post(
            f"{root}/_sandbox/config",
            json={"latency_ms": ms, "latency_ms_per_kb": per_kb},
            headers={"X-AC-Auth-Token": TOKEN},
            timeout=10,
        ).raise_for_status()

    def probe(self) -> dict[str, Any]:
        """One probe run (17 to 19 GETs); its calls start a fresh rate window."""
        time.sleep(WINDOW + 0.1)  # let the previous probe's window end
        report = run_probe(Caller(self.base_url, TOKEN, window=WINDOW))
        if report["probe"]["stopped"]:
            raise SystemExit(f"the probe stopped: {report['probe']['stopped']}")
        return report["call_latency_ms"]

    def stop(self) -> None:
        """Stop the server."""
        self.proc.terminate()
        self.proc.communicate(timeout=10)


def _scenario(
    served: Served, ms: float, per_kb: float, rounds: int, tolerance: float
) -> dict[str, Any]:
    """Interleaved rounds of (delay on, delay off); the medians of their p50s compared."""
    on: list[dict[str, Any]] = []
    off: list[dict[str, Any]] = []
    for _ in range(rounds):
        served.set_latency(ms, per_kb)
        on.append(served.probe())
        served.set_latency(0)
        off.append(served.probe())
    p50_on = statistics.median(r["p50"] for r in on)
    own = statistics.median(r["p50"] for r in off)
    out: dict[str, Any] = {
        "latency_ms": ms,
        "latency_ms_per_kb": per_kb,
        "rounds": rounds,
        "p50_with_delay_ms": p50_on,
        "sandbox_own_p50_ms": own,
    }
    if per_kb:
        # The 25-row sample pages: N + M x KiB on top of what they take without the delay.
        group = [r["by_page_size"]["25"] for r in on]
        base = statistics.median(r["by_page_size"]["25"]["p50"] for r in off)
        kib = statistics.median(g["kib_p50"] for g in group)
        measured = statistics.median(g["p50"] for g in group)
        expected = ms + per_kb * kib + base
        out.update({"page_25_kib": kib, "page_25_p50_ms": measured})
    else:
        measured, expected = p50_on, ms + own
    out["expected_ms"] = round(expected, 1)
    out["ratio"] = round(measured / expected, 3)
    out["within_tolerance"] = abs(measured / expected - 1) <= tolerance
    out["probe_reports"] = {"with_delay": on, "without": off}
    return out


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, probe with and without the delay, compare, report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=400.0)
    ap.add_argument("--per-kb", type=float, default=20.0, help="second scenario's ms per KiB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--out", default=str(RESULTS))
    ns = ap.parse_args(argv)

    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="cartcom-bench-") as tmp:
        db = Path(tmp) / "store.db"
        seed_store(str(db), **SEED_ARGS)
        served = Served(db)
        try:
            scenarios = [
                _scenario(served, ns.latency_ms, 0.0, ns.rounds, ns.tolerance),
                _scenario(served, ns.latency_ms / 4, ns.per_kb, ns.rounds, ns.tolerance),
            ]
        finally:
            served.stop()

    result = {
        "benchmark": "latency",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": list(os.getloadavg()),
        },
        "store": {k: str(v) for k, v in SEED_ARGS.items()},
        "tolerance": ns.tolerance,
        "scenarios": scenarios,
    }
    out = Path(ns.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"{'delay':>16} {'measured p50':>13} {'expected':>9} {'ratio':>6}  ok")
    for s in scenarios:
        delay = f"{s['latency_ms']:g} ms" + (
            f" + {s['latency_ms_per_kb']:g}/KiB" if s["latency_ms_per_kb"] else ""
        )
        measured = s.get("page_25_p50_ms", s["p50_with_delay_ms"])
        print(
            f"{delay:>16} {measured:>13} {s['expected_ms']:>9} {s['ratio']:>6}  "
            f"{'yes' if s['within_tolerance'] else 'NO'}"
        )
    print(f"results: {out}")
    return 0 if all(s["within_tolerance"] for s in scenarios) else 1


if __name__ == "__main__":
    raise SystemExit(main())

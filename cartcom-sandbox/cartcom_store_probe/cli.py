"""``cartcom-sandbox probe``: check the options, run the probe, write and summarise the report.

Exit status: 0, 1 when the probe stopped early (the partial report is still written), 2 for a
refused URL, an unset token variable or an out-of-range pace (no call made).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from cartcom_store_probe import MAX_CALLS
from cartcom_store_probe.calls import Caller
from cartcom_store_probe.report import run_probe
from cartcom_store_probe.store_url import api_url_from


def main(args: argparse.Namespace) -> int:
    """Run the probe and write the report; exit 0, or 1 when the probe was stopped early."""
    try:
        base = api_url_from(args.domain, args.api_url)
    except ValueError as err:
        print(f"probe: {err}", file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env, "")
    if not token.strip():
        # the name is not echoed: a token pasted there by mistake must not reach the terminal
        print(
            "probe: the environment variable named by --token-env is empty or unset",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.calls_per_window <= 50 or args.window <= 0:
        print("probe: --calls-per-window is 1 to 50 and --window is positive", file=sys.stderr)
        return 2
    caller = Caller(base, token.strip(), args.calls_per_window, args.window)
    print(
        f"probe: reading {base} (GET only, at most {MAX_CALLS} calls, "
        f"{args.calls_per_window} per {args.window:g} s)",
        file=sys.stderr,
    )
    report = run_probe(caller)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"probe: {caller.calls} calls; report written to {args.out}", file=sys.stderr)
    if report["probe"]["stopped"]:
        print(f"probe: stopped early: {report['probe']['stopped']}", file=sys.stderr)
    if report["differences"]:
        print("Differences from the sandbox defaults:")
        for line in report["differences"]:
            print(f"  {line}")
    else:
        print("No difference from the sandbox defaults.")
    lat = report["call_latency_ms"]
    if lat.get("calls"):
        print(
            f"Call latency: p50 {lat['p50']:g} ms, p95 {lat['p95']:g} ms, max {lat['max']:g} ms "
            f"over {lat['calls']} calls (serve --profile applies the p50; the sandbox alone "
            "answers in milliseconds)"
        )
    return 1 if report["probe"]["stopped"] else 0

"""One probe run: the samples, then the experiments, folded into the report.

The report is written even when the probe stops early (``probe.stopped`` says why); what was
not reached stays ``"unknown"``.
"""

from __future__ import annotations

from typing import Any

from cartcom_store_probe import REPORT_VERSION, RESOURCES
from cartcom_store_probe.calls import Caller, ProbeStoppedError
from cartcom_store_probe.compare import differences
from cartcom_store_probe.experiments import (
    note_call_limit,
    probe_empty_page,
    probe_max_count,
    probe_url_cap,
)
from cartcom_store_probe.latency import latency_stats
from cartcom_store_probe.rows import (
    Findings,
    flag_point,
    known_list_keys,
    list_key_of,
    sorted_counts,
)

SAMPLE_COUNT = 25  # rows read per resource for types and formats
#: The points the sampled rows settle: each carries the samples that had rows as evidence.
ROW_POINTS = ("fractional_digits", "utc_offsets", "flag_encoding", "null_vs_empty_dates")


def run_probe(caller: Caller) -> dict[str, Any]:
    """Probe the store behind ``caller``; returns the report (partial if stopped)."""
    report: dict[str, Any] = {
        "probe": {"version": REPORT_VERSION, "calls": 0, "stopped": None},
        "max_count": {"value": "unknown", "evidence": []},
        "empty_page_status": {"value": "unknown", "evidence": []},
        "list_keys": {"value": {}, "evidence": []},
        "call_limit_header": {"value": "unknown", "evidence": []},
        "fractional_digits": {"value": {}, "evidence": []},
        "utc_offsets": {"value": {}, "evidence": []},
        "flag_encoding": {"value": "unknown", "evidence": []},
        "null_vs_empty_dates": {"value": {}, "evidence": []},
        "url_cap": {"value": "unknown", "evidence": []},
        "field_types": {},
    }
    findings = Findings()
    totals: dict[str, int] = {}
    sample_evidence: list[dict[str, Any]] = []
    try:
        for name in RESOURCES:
            reply = caller.get(f"/{name}", [("count", str(SAMPLE_COUNT))])
            note_call_limit(report, reply)
            report["list_keys"]["evidence"].append(reply.evidence)
            key = list_key_of(reply.body) if reply.status == 200 else None
            shown = "unknown" if key is None else key if key in known_list_keys(name) else "other"
            report["list_keys"]["value"][name] = shown
            if key:
                rows = reply.body[key]
                findings.read_rows(name, rows)
                if rows:
                    sample_evidence.append(reply.evidence)
                total = reply.body.get("total_count")
                if isinstance(total, int) and not isinstance(total, bool):
                    totals[name] = total
        probe_empty_page(caller, report)
        probe_max_count(caller, report, totals)
        probe_url_cap(caller, report)
    except ProbeStoppedError as stop:
        report["probe"]["stopped"] = str(stop)
    report["probe"]["calls"] = caller.calls
    for point in ROW_POINTS:
        report[point]["evidence"] = list(sample_evidence)
    if sample_evidence:
        report["fractional_digits"]["value"] = sorted_counts(findings.fractional)
        report["utc_offsets"]["value"] = sorted_counts(findings.offsets)
        report["flag_encoding"].update(flag_point(findings.flags))
        report["null_vs_empty_dates"]["value"] = sorted_counts(findings.dates)
        report["null_vs_empty_dates"]["null_fields"] = sorted(findings.null_date_fields)
        report["null_vs_empty_dates"]["empty_string_fields"] = sorted(findings.empty_date_fields)
    report["field_types"] = {
        name: {k: "|".join(sorted(v)) for k, v in sorted(types.items())}
        for name, types in findings.field_types.items()
    }
    report["unknown_fields"] = {name: len(found) for name, found in findings.unknown.items()}
    report["call_latency_ms"] = latency_stats(caller.timings)
    report["differences"] = differences(report)
    return report

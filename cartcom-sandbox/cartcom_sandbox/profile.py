"""A probe report as a sandbox profile: the serving knobs a store's report determines.

Only facts the probe pinned down are applied (an exact ``max_count``, a seen empty page status,
list keys seen, the call limit, an exact URL cap, the median call's latency). Facts about stored
records (timestamp digits and offsets, flag encoding, null or empty dates) describe the data,
which the seed decides, so they are reported as not applied rather than silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartcom_store_probe import REPORT_VERSION

from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import SandboxConfig

DATA_POINTS = ("fractional_digits", "utc_offsets", "flag_encoding", "null_vs_empty_dates")


@dataclass
class Profile:
    """Settings for SandboxConfig derived from a report, and what was left out and why."""

    settings: dict[str, Any] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a probe report (ValueError when it is not one)."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the profile {path}: {err}") from None
    if not isinstance(report, dict) or not isinstance(report.get("probe"), dict):
        raise ValueError(f"{path} is not a probe report (no 'probe' section)")
    if report["probe"].get("version") != REPORT_VERSION:
        raise ValueError(f"{path}: unsupported report version {report['probe'].get('version')}")
    return report


def _value(report: dict[str, Any], point: str) -> Any:
    entry = report.get(point)
    return entry.get("value", "unknown") if isinstance(entry, dict) else "unknown"


def profile_from(report: dict[str, Any], *, rate: bool = True, latency: bool = True) -> Profile:
    """The knobs ``report`` determines.

    ``rate=False`` leaves the call limit alone and ``latency=False`` the answer time (tests).
    """
    prof = Profile()
    s = prof.settings

    mc = report.get("max_count") or {}
    if isinstance(mc.get("value"), int) and mc["value"] > 0:
        s["max_count"] = mc["value"]
        prof.applied.append(f"max_count={mc['value']}")
        if mc.get("over_max") in ("cap", "error"):
            s["count_over_max"] = mc["over_max"]
            prof.applied.append(f"count_over_max={mc['over_max']}")
    else:
        prof.not_applied.append("max_count: not pinned down (only a bound was learned)")

    eps = _value(report, "empty_page_status")
    if eps in (200, 404):
        s["empty_page_status"] = eps
        prof.applied.append(f"empty_page_status={eps}")
    else:
        prof.not_applied.append("empty_page_status: unknown")

    keys = _value(report, "list_keys")
    named = {r: k for r, k in (keys or {}).items() if isinstance(k, str)}
    seen = {r: k for r, k in named.items() if k not in ("unknown", "other")}
    if seen:
        s["list_keys"] = dict(sorted(seen.items()))
        changed = ",".join(f"{r}={k}" for r, k in s["list_keys"].items() if k != R.list_key(r))
        prof.applied.append(
            f"list_keys of {len(seen)} resources (not the defaults: {changed or 'none'})"
        )
    unknown = sorted(r for r, k in (keys or {}).items() if k == "unknown")
    if unknown:
        prof.not_applied.append("list_keys of " + ",".join(unknown) + ": unknown")
    other = sorted(r for r, k in (keys or {}).items() if k == "other")
    if other:
        prof.not_applied.append("list_keys of " + ",".join(other) + ": a name the project lacks")

    cl = _value(report, "call_limit_header")
    if isinstance(cl, dict) and cl.get("format") == "used/limit" and cl.get("limit"):
        if rate:
            s["rate_calls"] = int(cl["limit"])
            prof.applied.append(f"rate_calls={cl['limit']} (the limit the store reported)")
        else:
            prof.not_applied.append("call limit: left to the caller here")
    elif isinstance(cl, dict):
        prof.not_applied.append(
            f"call_limit_header: format {cl.get('format')!r}; the sandbox sends only used/limit"
        )

    lat = report.get("call_latency_ms")
    p50 = lat.get("p50") if isinstance(lat, dict) else None
    if isinstance(p50, (int, float)) and not isinstance(p50, bool) and 0 <= p50 < 600_000:
        if latency:
            s["latency_ms"] = float(p50)
            prof.applied.append(f"latency_ms={p50:g} (the probe's median call)")
        else:
            prof.not_applied.append("call latency: left to the caller here")
    else:
        prof.not_applied.append("call_latency_ms: not measured")

    cap = _value(report, "url_cap")
    if isinstance(cap, int) and cap > 0:
        s["max_url_length"] = cap
        prof.applied.append(f"max_url_length={cap}")
    else:
        prof.not_applied.append("url_cap: unknown")

    for point in DATA_POINTS:
        if _value(report, point) not in ("unknown", {}):
            prof.not_applied.append(f"{point}: a property of the stored records (the seed)")
    return prof


def apply_profile(
    config: SandboxConfig, report: dict[str, Any], *, rate: bool = True, latency: bool = True
) -> Profile:
    """Set on ``config`` every knob ``report`` determines (validated); returns the Profile."""
    prof = profile_from(report, rate=rate, latency=latency)
    for key, value in prof.settings.items():
        setattr(config, key, value)
    config.validate()
    return prof

"""The report against the sandbox's defaults: one line per probed fact that contradicts one."""

from __future__ import annotations

from typing import Any

from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import SandboxConfig

from cartcom_store_probe import RESOURCES, STEEL_CALLS
from cartcom_store_probe.rows import flag_fields


def sandbox_defaults() -> dict[str, Any]:
    """What the sandbox serves by default, in the report's terms (``serve`` with no flags)."""
    cfg = SandboxConfig()
    flags = {}
    for name in RESOURCES:
        res = R.get(name)
        for f in flag_fields(name):
            flags[f"{name}.{f}"] = "int" if f in res.int_flags else "bool"
    return {
        "max_count": cfg.max_count,
        "empty_page_status": cfg.empty_page_status,
        "list_keys": {name: R.list_key(name) for name in RESOURCES},
        "call_limit_header": {"format": "used/limit", "limit": STEEL_CALLS},
        "url_cap": cfg.max_url_length,
        "utc_offsets": {"-05:00", "-06:00"},  # America/Chicago
        "fractional_digits": {str(d) for d in range(8)},
        "flags": flags,
    }


def differences(report: dict[str, Any]) -> list[str]:
    """One line per probed fact that contradicts a sandbox default."""
    d = sandbox_defaults()
    out: list[str] = []

    def diff(what: str, seen: Any, default: Any) -> None:
        out.append(f"{what}: the store shows {seen!r}, the sandbox default is {default!r}")

    mc = report["max_count"]
    if isinstance(mc.get("value"), int) and mc["value"] != d["max_count"]:
        diff("max_count", mc["value"], d["max_count"])
    elif isinstance(mc.get("at_least"), int) and mc["at_least"] > d["max_count"]:
        diff("max_count", f"at least {mc['at_least']}", d["max_count"])
    eps = report["empty_page_status"]["value"]
    if isinstance(eps, int) and eps != d["empty_page_status"]:
        diff("empty_page_status", eps, d["empty_page_status"])
    for name, key in report["list_keys"]["value"].items():
        if key == "other":
            out.append(
                f"list_keys.{name}: the store lists rows under a name the project does not know "
                f"(not shown), the sandbox default is {d['list_keys'].get(name)!r}"
            )
        elif key != "unknown" and key != d["list_keys"].get(name):
            diff(f"list_keys.{name}", key, d["list_keys"].get(name))
    for name, count in sorted(report.get("unknown_fields", {}).items()):
        out.append(f"unknown_fields.{name}: the store sends {count} field(s) the sandbox lacks")
    cl = report["call_limit_header"]["value"]
    if isinstance(cl, dict) and cl.get("format") != "used/limit":
        diff("call_limit_header.format", cl.get("format"), "used/limit")
    if isinstance(cl, dict) and cl.get("limit") not in (None, d["call_limit_header"]["limit"]):
        diff("call_limit_header.limit", cl["limit"], d["call_limit_header"]["limit"])
    cap = report["url_cap"]["value"]
    if isinstance(cap, int) and cap != d["url_cap"]:
        diff("url_cap", cap, d["url_cap"])
    extra = sorted(set(report["utc_offsets"]["value"]) - d["utc_offsets"])
    if extra:
        diff("utc_offsets", extra, sorted(d["utc_offsets"]))
    extra = sorted(set(report["fractional_digits"]["value"]) - d["fractional_digits"])
    if extra:
        diff("fractional_digits", extra, "0 to 7")
    fe = report["flag_encoding"]
    for kind in ("int", "bool", "other"):
        for where in fe.get(kind, []):
            default = d["flags"].get(where)
            if default is not None and default != kind:
                diff(f"flag_encoding.{where}", kind, default)
    return out

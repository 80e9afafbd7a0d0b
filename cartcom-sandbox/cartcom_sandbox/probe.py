"""``cartcom-sandbox probe``: learn a live store's API dialect with a few read-only calls.

The probe turns the INF points of docs/api.md (list keys, empty page status, largest ``count``,
timestamp formats, flag encoding, URL cap, call-limit header) into evidence from the merchant's
own store. It is read-only by construction: it only ever sends GET, at most ``MAX_CALLS`` of
them, paced at the Steel plan's rate (5 calls per 10 s) unless told otherwise, and it stops at
the first 401, 429 or redirect. The report holds shapes, types, counts and formats only: no
record values (names, addresses, e-mails, SKUs, ids, amounts) are ever copied into it, and the
token never leaves the request header. Names are the store's choice too (a field or a list key
can be called anything, an e-mail address included): the report names only fields and list keys
the project knows (the sandbox's resources), and counts the others.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import PLANS, SandboxConfig

REPORT_VERSION = 1
MAX_CALLS = 30  # hard ceiling, enforced before every request
STEEL_CALLS = PLANS["steel"] or 5  # the smallest plan: 5 calls per 10 s (docs/api.md §1.9)
STEEL_WINDOW = 10.0
PACE_MARGIN = 0.05  # seconds added to every window wait (clock skew, latency)
SAMPLE_COUNT = 25  # rows read per resource for types and formats
# Resources read with read_orders / read_catalog, the scopes a tap token has (§1.11). Nothing
# that needs settings/system: a scope refusal is a 401, which would end the probe.
RESOURCES = (
    "orders",
    "order_items",
    "order_shipments",
    "order_payments",
    "order_addresses",
    "order_statuses",
    "products",
    "product_variants",
    "product_pictures",
    "variant_inventory",
    "product_statuses",
    "categories",
    "manufacturers",
)
MAX_COUNT_ASK = 2000  # twice what §13 saw work live; then bisect only if refused
URL_CAP_GUESS = 2048  # IIS / ASP.NET default (§14)
PAGING_KEYS = {"total_count", "next_page", "previous_page"}
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(?P<frac>\d+))?)?(?P<off>Z|[+-]\d{2}:?\d{2})?$"
)
_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$"
)


class ProbeStoppedError(Exception):
    """The probe must not go on (401, 429, redirect, call budget, connection failure)."""


# ------------------------------------------------------------------------------ the URL
def api_url_from(domain: str | None, api_url: str | None) -> str:
    """The API base URL, checked strictly: https, or http only to a loopback host.

    No user info, query or fragment; ``--domain`` is a bare host name (optionally ``:port``).
    """
    if bool(domain) == bool(api_url):
        raise ValueError("give exactly one of --domain or --api-url")
    if domain:
        if not _HOSTNAME.match(domain):
            raise ValueError("--domain must be a bare host name such as shop.example.com")
        return f"https://{domain}/api/v1"
    assert api_url is not None
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http"):
        raise ValueError("--api-url must start with https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("--api-url must not carry user info")
    if parts.query or parts.fragment:
        raise ValueError("--api-url must not carry a query or a fragment")
    host = parts.hostname or ""
    if not host:
        raise ValueError("--api-url has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as err:
        raise ValueError(f"--api-url has a bad port: {err}") from None
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError("--api-url may use http only for a loopback host (127.0.0.1, ::1)")
    path = parts.path.rstrip("/") or "/api/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------ calls
@dataclass
class Reply:
    """One answered GET: what the analysis may look at (the body stays in memory)."""

    path: str  # relative to the API base, with the query, as shown in the evidence
    status: int
    body: Any  # parsed JSON, or None
    call_limit: str | None

    @property
    def evidence(self) -> dict[str, Any]:
        """The path probed and the HTTP status."""
        return {"path": self.path, "status": self.status}


@dataclass
class Caller:
    """Sends the probe's GETs: budget, pacing, stop rules. Nothing but GET exists here."""

    base_url: str
    token: str
    calls_per_window: int = STEEL_CALLS
    window: float = STEEL_WINDOW
    max_calls: int = MAX_CALLS
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session: requests.Session = field(default_factory=requests.Session)
    timer: Callable[[], float] = time.perf_counter  # times each call (never faked by pacing)
    calls: int = 0
    #: One entry per answered call: (the ``count`` asked, or None; ms to the answer's last
    #: byte; the answer body's bytes).
    timings: list[tuple[int | None, float, int]] = field(default_factory=list)
    _sent: deque = field(default_factory=deque)
    _pool_full: bool = False

    def _pace(self) -> None:
        """Wait so that no ``window`` holds more than ``calls_per_window`` of our calls."""
        span = self.window + PACE_MARGIN
        if self._pool_full and self._sent:
            # The store says the pool is used up (another app shares it): sit out a window.
            self._wait_until(self._sent[-1] + span)
            self._pool_full = False
        if len(self._sent) >= self.calls_per_window:
            self._wait_until(self._sent[-self.calls_per_window] + span)

    def _wait_until(self, deadline: float) -> None:
        while (left := deadline - self.clock()) > 0:
            self.sleep(max(left, 0.001))

    def get(
        self, path: str, params: Sequence[tuple[str, str]] = (), shown: str | None = None
    ) -> Reply:
        """GET ``base + path?params``; ``shown`` replaces the query in the evidence if long."""
        if self.calls >= self.max_calls:
            raise ProbeStoppedError(f"call budget of {self.max_calls} reached")
        query = "&".join(f"{k}={quote(v, safe=':,-.')}" for k, v in params)
        rel = path + ("?" + query if query else "")
        self._pace()
        self.calls += 1
        started = self.timer()
        try:
            resp = self.session.request(
                "GET",
                self.base_url + rel,
                headers={
                    "X-AC-Auth-Token": self.token,
                    "Accept": "application/json",
                    "Cache-Control": "no-cache",
                    "User-Agent": "cartcom-sandbox-probe",
                },
                timeout=self.timeout,
                allow_redirects=False,  # a redirect could carry the token to another host
            )
        except requests.RequestException as err:
            raise ProbeStoppedError(f"GET {shown or rel} failed: {type(err).__name__}") from None
        finally:
            # Paced from when the answer came back: the store counted the call by then, so a
            # slow first answer cannot shift its window past ours.
            self._sent.append(self.clock())
            while len(self._sent) > self.calls_per_window:
                self._sent.popleft()
        # requests reads the whole body before returning: the time is the store's full answer
        elapsed_ms = (self.timer() - started) * 1000
        count = next((int(v) for k, v in params if k == "count" and v.isdigit()), None)
        self.timings.append((count, elapsed_ms, len(resp.content)))
        limit = resp.headers.get("X-AC-Call-Limit")
        m = _CALL_LIMIT.match(limit or "")
        if m and int(m.group(1)) >= int(m.group(2)):
            self._pool_full = True
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        reply = Reply(shown or rel, resp.status_code, body, limit)
        if resp.status_code == 401:
            raise ProbeStoppedError(f"401 on GET {reply.path}: the token was refused")
        if resp.status_code == 429:
            raise ProbeStoppedError(f"429 on GET {reply.path}: the call limit was reached")
        if 300 <= resp.status_code < 400:
            raise ProbeStoppedError(
                f"{resp.status_code} redirect on GET {reply.path}: not followed"
            )
        return reply


# ------------------------------------------------------------------------------ analysis
def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def list_key_of(body: Any) -> str | None:
    """The one array-valued key of a list wrapper that is not paging metadata."""
    if not isinstance(body, dict):
        return None
    keys = sorted(k for k, v in body.items() if k not in PAGING_KEYS and isinstance(v, list))
    return keys[0] if len(keys) == 1 else None


def known_list_keys(name: str) -> set[str]:
    """List keys the project knows for ``name``.

    Its own name, the key seen in the field, and the name it has nested in its parent (the rule
    the field evidence follows, docs/api.md §13).
    """
    keys = {name, R.list_key(name)}
    for nested in R.NESTED.values():
        keys.update(n for n, how in nested.items() if how.kind == "child" and how.resource == name)
    return keys


def known_fields(name: str) -> set[str]:
    """Fields the sandbox serves for ``name`` (the spec's, with nested collections)."""
    try:
        res = R.get(name)
    except KeyError:
        return set()
    return set(res.fields) | set(res.nested) | set(res.null_nested)


def _flag_fields(name: str) -> set[str]:
    """Fields the sandbox treats as flags: spec booleans plus the 0/1 integer flags."""
    try:
        res = R.get(name)
    except KeyError:
        return set()
    return {f for f, t in res.types.items() if t == "boolean"} | set(res.int_flags)


def _date_fields(name: str) -> set[str]:
    try:
        return set(R.get(name).datetimes)
    except KeyError:
        return set()


@dataclass
class Findings:
    """What the sampled rows show, as counts and types only."""

    fractional: Counter = field(default_factory=Counter)
    offsets: Counter = field(default_factory=Counter)
    dates: Counter = field(default_factory=Counter)
    null_date_fields: set[str] = field(default_factory=set)
    empty_date_fields: set[str] = field(default_factory=set)
    flags: dict[str, set[str]] = field(default_factory=dict)
    field_types: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    #: Per resource, the fields the project does not know (held here, only counted in the report).
    unknown: dict[str, set[str]] = field(default_factory=dict)

    def read_rows(self, name: str, rows: list[Any]) -> None:
        """Fold the rows of resource ``name`` into the counts (values are not kept)."""
        flags, dates, known = _flag_fields(name), _date_fields(name), known_fields(name)
        types = self.field_types.setdefault(name, {})
        for row in rows:
            if not isinstance(row, dict):
                continue
            for key, value in row.items():
                if key not in known:  # a name the store chose: counted, never copied
                    self.unknown.setdefault(name, set()).add(key)
                    continue
                types.setdefault(key, set()).add(_json_type(value))
                if key in flags:
                    self.flags.setdefault(f"{name}.{key}", set()).add(_json_type(value))
                if key in dates or (isinstance(value, str) and _DATETIME.match(value)):
                    self._date(f"{name}.{key}", value)

    def _date(self, where: str, value: Any) -> None:
        if value is None:
            self.dates["null"] += 1
            self.null_date_fields.add(where)
            return
        if value == "":
            self.dates["empty_string"] += 1
            self.empty_date_fields.add(where)
            return
        m = _DATETIME.match(value) if isinstance(value, str) else None
        if m is None:
            self.dates["other"] += 1
            return
        self.dates["with_offset" if m.group("off") else "no_offset"] += 1
        self.fractional[str(len(m.group("frac") or ""))] += 1
        self.offsets[m.group("off") or "none"] += 1


def _flag_point(flags: dict[str, set[str]]) -> dict[str, Any]:
    by_kind: dict[str, list[str]] = {"int": [], "bool": [], "other": []}
    for where, types in sorted(flags.items()):
        seen = types - {"null"}
        if seen == {"integer"}:
            by_kind["int"].append(where)
        elif seen == {"boolean"}:
            by_kind["bool"].append(where)
        elif seen:
            by_kind["other"].append(where)
    kinds = [k for k in ("int", "bool", "other") if by_kind[k]]
    value = kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "unknown")
    return {"value": value, **{k: v for k, v in by_kind.items() if v}}


def _sorted_counts(counter: Counter) -> dict[str, int]:
    return {k: counter[k] for k in sorted(counter, key=lambda s: (len(s), s))}


# ------------------------------------------------------------------------------ the probe
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
            _note_call_limit(report, reply)
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
        _probe_empty_page(caller, report)
        _probe_max_count(caller, report, totals)
        _probe_url_cap(caller, report)
    except ProbeStoppedError as stop:
        report["probe"]["stopped"] = str(stop)
    report["probe"]["calls"] = caller.calls
    for point in ("fractional_digits", "utc_offsets", "flag_encoding", "null_vs_empty_dates"):
        report[point]["evidence"] = list(sample_evidence)
    if sample_evidence:
        report["fractional_digits"]["value"] = _sorted_counts(findings.fractional)
        report["utc_offsets"]["value"] = _sorted_counts(findings.offsets)
        report["flag_encoding"].update(_flag_point(findings.flags))
        report["null_vs_empty_dates"]["value"] = _sorted_counts(findings.dates)
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


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _stats(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "calls": len(ordered),
        "p50": round(_nearest_rank(ordered, 0.50), 1),
        "p95": round(_nearest_rank(ordered, 0.95), 1),
        "max": round(ordered[-1], 1),
    }


def latency_stats(timings: Sequence[tuple[int | None, float, int]]) -> dict[str, Any]:
    """``call_latency_ms``: p50/p95/max over the answered calls, and by page size asked.

    Percentiles are nearest-rank (each one a time some call took). ``by_page_size`` groups the
    calls by the ``count`` they sent, with the median answer size in KiB, so a store whose
    large pages are slower shows it; a size the probe asked once has ``calls: 1``.
    """
    if not timings:
        return {"calls": 0, "note": "no call was answered"}
    out = _stats([ms for _, ms, _ in timings])
    groups: dict[int, list[tuple[float, int]]] = {}
    for count, ms, size in timings:
        if count is not None:
            groups.setdefault(count, []).append((ms, size))
    out["by_page_size"] = {
        str(count): {
            **_stats([ms for ms, _ in rows]),
            "kib_p50": round(_nearest_rank(sorted(size for _, size in rows), 0.5) / 1024, 1),
        }
        for count, rows in sorted(groups.items())
    }
    out["measured_as"] = "from sending each GET to the last byte of its answer, at the probe"
    return out


def _note_call_limit(report: dict[str, Any], reply: Reply) -> None:
    point = report["call_limit_header"]
    if point["evidence"]:
        return
    point["evidence"].append(reply.evidence)
    if reply.call_limit is None:
        point["value"] = {"format": "absent"}
        return
    m = _CALL_LIMIT.match(reply.call_limit)
    if m:
        point["value"] = {"format": "used/limit", "limit": int(m.group(2))}
    else:
        point["value"] = {"format": "other", "shape": header_shape(reply.call_limit)}


def header_shape(value: str) -> str:
    """A header's shape, never its text.

    Digit runs become 9, letter runs a, any other character but a few separators ``?``
    (``jane.doe@example.com`` is ``a.a?a.a``).
    """
    shape = re.sub(r"[^\W\d_]+", "a", re.sub(r"\d+", "9", value))
    return re.sub(r"[^a9 /:;,.=-]", "?", shape)[:40]


def _probe_empty_page(caller: Caller, report: dict[str, Any]) -> None:
    """Page 1 of a filter nothing matches (no record has an id below 1)."""
    reply = caller.get("/orders", [("id", "lt:1"), ("count", "1")])
    point = report["empty_page_status"]
    point["evidence"].append(reply.evidence)
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status == 404 or (reply.status == 200 and body.get("total_count") == 0):
        point["value"] = reply.status
    else:
        point["note"] = "the empty filter was not honoured as expected"


def _rows(reply: Reply) -> int | None:
    key = list_key_of(reply.body)
    return len(reply.body[key]) if reply.status == 200 and key else None


def _probe_max_count(caller: Caller, report: dict[str, Any], totals: dict[str, int]) -> None:
    """Largest ``count`` honoured, in at most 3 calls on the biggest resource seen.

    A store that caps silently shows the cap as the row count of one big page (when it has
    more rows than the cap). A store that refuses a big ``count`` (400) is bisected twice.
    """
    point = report["max_count"]
    if not totals or max(totals.values()) == 0:
        point["note"] = "no rows to page through"
        return
    name = max(totals, key=lambda n: (totals[n], n))
    total = totals[name]
    lo, hi = 0, None  # lo: a count known honoured; hi: a count known refused (400)
    hint = None  # a number the refusal's message names, tried (and so checked) next
    ask = MAX_COUNT_ASK
    for _ in range(3):
        reply = caller.get(f"/{name}", [("count", str(ask)), ("fields", "id")])
        point["evidence"].append(reply.evidence)
        rows = _rows(reply)
        if reply.status == 400:
            point["over_max"] = "error"
            hi = ask
            hint = _number_in_message(reply.body)
        elif rows is None:
            point["note"] = "the page answer had no list"
            break
        elif rows < min(ask, total):
            point["value"] = rows
            point.setdefault("over_max", "cap")
            return
        else:  # accepted: the whole ask, or every row there is
            lo = max(lo, ask if hi is not None or rows == ask else rows)
        if hi is None:
            break  # nothing refused and nothing capped: only a lower bound can be known
        if hint is not None and lo < hint < hi:
            ask = hint  # the store named its limit: check it
        elif hint is not None and lo == hint and hint + 1 < hi:
            ask = hint + 1  # ... and that one more is refused
        else:
            ask = (lo + hi) // 2 if lo else hi // 2
        if ask <= lo or ask >= hi:
            break
    if hi is not None and lo and hi - lo <= 1:
        point["value"] = lo
        return
    if lo:
        point["at_least"] = lo
    if hi is not None:
        point["below"] = hi


def _number_in_message(body: Any) -> int | None:
    """The one number in an error envelope's details (e.g. "cannot exceed 1000"), if any."""
    if not isinstance(body, dict):
        return None
    numbers = re.findall(r"\d+", str(body.get("details") or body.get("message") or ""))
    return int(numbers[0]) if len(numbers) == 1 and 0 < int(numbers[0]) < 100_000 else None


def _probe_url_cap(caller: Caller, report: dict[str, Any]) -> None:
    """One harmless over-long GET (cap + 1), and one at the cap if that was refused."""
    point = report["url_cap"]
    point["measured_as"] = "path and query string"
    prefix_path = urlsplit(caller.base_url).path + "/orders"
    base_q = "count=1&fields=id&probe_padding="

    def padded(length: int) -> Reply:
        pad = "x" * (length - len(prefix_path) - 1 - len(base_q))
        shown = f"/orders?{base_q}<{len(pad)} x> ({length} characters)"
        return caller.get(
            "/orders", [("count", "1"), ("fields", "id"), ("probe_padding", pad)], shown=shown
        )

    over = padded(URL_CAP_GUESS + 1)
    point["evidence"].append(over.evidence)
    if over.status == 200:
        point["accepted_length"] = URL_CAP_GUESS + 1
        return
    at = padded(URL_CAP_GUESS)
    point["evidence"].append(at.evidence)
    if at.status == 200:
        point["value"] = URL_CAP_GUESS
        point["refusal_status"] = over.status
    else:
        point["note"] = "both lengths were refused; the padding itself may be refused"


# ------------------------------------------------------------------------------ defaults
def sandbox_defaults() -> dict[str, Any]:
    """What the sandbox serves by default, in the report's terms (``serve`` with no flags)."""
    cfg = SandboxConfig()
    flags = {}
    for name in RESOURCES:
        res = R.get(name)
        for f in _flag_fields(name):
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


# ------------------------------------------------------------------------------ the CLI
def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``probe`` subcommand's options."""
    p = sub.add_parser(
        "probe",
        allow_abbrev=False,  # "--token X" must never be read as "--token-env X"
        help="read a live store's API dialect (GET only, at most 30 calls) into a report",
        description="Read-only probe of a Cart.com store. The token is read from an "
        "environment variable, never from the command line.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--domain", help="the store's domain, e.g. shop.example.com (https)")
    where.add_argument("--api-url", help="the API base URL (https; http only for a loopback host)")
    p.add_argument(
        "--token-env",
        required=True,
        metavar="NAME",
        help="environment variable that holds the X-AC-Auth-Token",
    )
    p.add_argument("--out", required=True, type=Path, help="where to write report.json")
    p.add_argument(
        "--calls-per-window",
        type=int,
        default=STEEL_CALLS,
        help=f"pace: calls per window (default {STEEL_CALLS}, the Steel plan)",
    )
    p.add_argument(
        "--window",
        type=float,
        default=STEEL_WINDOW,
        help=f"pace: window in seconds (default {STEEL_WINDOW:g})",
    )


def refuse_token_on_command_line(argv: Sequence[str]) -> bool:
    """True (and a message that does not echo it) when a token was put on the command line."""
    if any(a == "--token" or a.startswith("--token=") for a in argv):
        print(
            "probe: a token is never given on the command line; put it in an environment "
            "variable and pass that variable's name with --token-env",
            file=sys.stderr,
        )
        return True
    return False


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

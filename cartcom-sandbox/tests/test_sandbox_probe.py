"""``cartcom-sandbox probe`` and ``serve --profile``.

Detection, round trip, call discipline, no data and no token in any output, strict URLs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cartcom_sandbox import cli
from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.profile import apply_profile, load_report
from cartcom_store_probe import MAX_CALLS, RESOURCES
from cartcom_store_probe.calls import Caller, ProbeStoppedError
from cartcom_store_probe.latency import latency_stats
from cartcom_store_probe.rows import list_key_of
from cartcom_store_probe.store_url import api_url_from
from requests.adapters import HTTPAdapter

WINDOW = 0.5  # a Steel-sized pool (5 calls) over a short window keeps the tests quick
SECRET = "tok-Zq81-never-shown-7c3e"
PROFILE = Path(__file__).parents[2] / "tests" / "profiles" / "old-dialect.json"
#: The old dialect (make test-profile): what the sandbox and the spec said before the field
#: evidence: every list under its resource's name, count capped at 100, an empty page 1 is 404.
OLD_DIALECT_KEYS = [f"--list-key={name}={name}" for name in RESOURCES if R.list_key(name) != name]


def without_latency(report: dict[str, Any]) -> dict[str, Any]:
    """The report but its timings (they differ from run to run)."""
    return {k: v for k, v in report.items() if k != "call_latency_ms"}


def probe(
    base_url: str, out: Path, token: str, capsys: pytest.CaptureFixture, monkeypatch
) -> tuple[int, dict[str, Any] | None, str]:
    """Run the probe CLI in-process; returns (exit code, report or None, stdout+stderr)."""
    monkeypatch.setenv("PROBE_TOKEN", token)
    code = cli.main(
        [
            "probe",
            "--api-url",
            base_url,
            "--token-env",
            "PROBE_TOKEN",
            "--out",
            str(out),
            "--window",
            str(WINDOW),
        ]
    )
    captured = capsys.readouterr()
    report = json.loads(out.read_text()) if out.exists() else None
    return code, report, captured.out + captured.err


class Served:
    """``cartcom-sandbox serve`` in a subprocess (the real CLI path), on a free port."""

    def __init__(self, db: Path, *flags: str) -> None:
        """Start serving ``db`` with ``flags``; waits for the base URL line."""
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cartcom_sandbox",
                "serve",
                "--db",
                str(db),
                "--port",
                "0",
                "--token",
                SECRET,
                "--window",
                str(WINDOW),
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise AssertionError(f"serve did not start: {self.base_url!r} {self.stderr}")
        self.stderr = ""

    def calls(self) -> list[dict[str, Any]]:
        """The server's call log (the admin route; the token header is harmless there)."""
        root = self.base_url.rsplit("/api/v1", 1)[0]
        resp = requests.get(
            f"{root}/_sandbox/calls", headers={"X-AC-Auth-Token": SECRET}, timeout=10
        )
        resp.raise_for_status()
        return resp.json()["calls"]

    def stop(self) -> str:
        """Stop; returns everything the server wrote to stdout and stderr."""
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=10)
        self.stderr = err
        return out + err


@pytest.fixture
def store_copy(seeded_sandbox_db, tmp_path) -> Iterator[Path]:
    """A private copy of the session's seeded store (742 order items, 217 shipments)."""
    path = tmp_path / "store.db"
    shutil.copyfile(seeded_sandbox_db[0], path)
    return path


# ----------------------------------------------------------------------------- round trip
def test_probe_detects_non_default_knobs_and_the_profile_round_trips(
    store_copy, tmp_path, capsys, monkeypatch
):
    """Must show: each non-default knob is detected; serving the report probes the same."""
    first = Served(
        store_copy, "--max-count", "100", "--empty-page-status", "404", *OLD_DIALECT_KEYS
    )
    try:
        code, report1, out1 = probe(
            first.base_url, tmp_path / "r1.json", SECRET, capsys, monkeypatch
        )
        calls = first.calls()
    finally:
        served1 = first.stop()
    assert code == 0, out1
    assert report1["probe"]["stopped"] is None
    assert report1["max_count"]["value"] == 100
    assert report1["empty_page_status"]["value"] == 404
    assert report1["list_keys"]["value"] == {name: name for name in RESOURCES}
    assert report1["url_cap"]["value"] == 2048
    assert report1["call_limit_header"]["value"] == {"format": "used/limit", "limit": 5}
    # every point carries evidence: the path probed and the status
    for point in ("max_count", "empty_page_status", "list_keys", "call_limit_header",
                  "fractional_digits", "utc_offsets", "flag_encoding", "null_vs_empty_dates",
                  "url_cap"):  # fmt: skip
        evidence = report1[point]["evidence"]
        assert evidence, point
        assert all(set(e) == {"path", "status"} and e["path"].startswith("/") for e in evidence)
    assert {"path": "/orders?id=lt:1&count=1", "status": 404} in report1["empty_page_status"][
        "evidence"
    ]
    # the differences against the defaults are printed, not silently absorbed
    assert "max_count: the store shows 100, the sandbox default is 1000" in out1
    assert "empty_page_status: the store shows 404" in out1
    assert (
        "list_keys.order_addresses: the store shows 'order_addresses', "
        "the sandbox default is 'addresses'"
    ) in out1
    assert "list_keys.order_items: the store shows 'order_items'" in out1
    assert len(calls) == report1["probe"]["calls"]
    assert report1["call_latency_ms"]["calls"] == len(calls)
    # make test-profile serves this very report (regenerate it the same way if it moves)
    stale = "tests/profiles/old-dialect.json is stale"
    assert without_latency(report1) == without_latency(load_report(PROFILE)), stale

    profile = tmp_path / "profile.json"
    shutil.copyfile(tmp_path / "r1.json", profile)
    second = Served(store_copy, "--profile", str(profile))
    try:
        code, report2, out2 = probe(
            second.base_url, tmp_path / "r2.json", SECRET, capsys, monkeypatch
        )
    finally:
        served2 = second.stop()
    assert code == 0, out2
    assert "profile: applied max_count=100" in served2
    assert "profile: applied empty_page_status=404" in served2
    assert "order_shipments=order_shipments" in served2
    assert f"profile: applied latency_ms={report1['call_latency_ms']['p50']:g}" in served2
    assert "profile: not applied: flag_encoding" in served2
    assert without_latency(report2) == without_latency(report1)
    for text in (out1, out2, served1, served2, (tmp_path / "r1.json").read_text()):
        assert SECRET not in text


def test_probe_reports_the_defaults_as_no_difference(seeded_sandbox, tmp_path, capsys, monkeypatch):
    """On a default sandbox nothing differs, and max_count is only a bound (all rows fit)."""
    code, report, out = probe(
        seeded_sandbox.base_url, tmp_path / "r.json", seeded_sandbox.token, capsys, monkeypatch
    )
    assert code == 0, out
    # the fixture's pool is unlimited; serve's default is Steel (5): the only difference
    assert report["differences"] == [
        "call_limit_header.limit: the store shows 1000000, the sandbox default is 5"
    ]
    assert report["empty_page_status"]["value"] == 200
    assert report["list_keys"]["value"]["order_shipments"] == "shipments"
    assert report["list_keys"]["value"]["order_addresses"] == "addresses"
    assert report["max_count"]["value"] == "unknown"
    assert report["max_count"]["at_least"] == seeded_sandbox.counts["order_items"]
    assert report["flag_encoding"]["value"] == "mixed"
    assert "products.is_hidden" in report["flag_encoding"]["int"]
    assert "orders.is_gift" in report["flag_encoding"]["bool"]
    assert set(report["utc_offsets"]["value"]) <= {"-05:00", "-06:00"}
    assert report["null_vs_empty_dates"]["empty_string_fields"]


class TestPacing:
    """The probe against a Steel-sized pool that refuses an oversized count."""

    @pytest.fixture
    def sandbox_config(self) -> SandboxConfig:
        """A Steel pool (5 calls) per short window: the probe must pace itself to stay in it."""
        return SandboxConfig(plan="steel", rate_window=WINDOW, count_over_max="error")

    def test_probe_only_gets_at_most_30_paced_at_the_steel_rate(
        self, seeded_sandbox, tmp_path, capsys, monkeypatch
    ):
        """From the call log: GET only, at most 30, never 6 inside one window, never a 429."""
        code, report, out = probe(
            seeded_sandbox.base_url, tmp_path / "r.json", seeded_sandbox.token, capsys, monkeypatch
        )
        calls = seeded_sandbox.calls.snapshot()
        assert code == 0, out
        assert calls, "the probe made no call"
        assert {c.method for c in calls} == {"GET"}
        assert len(calls) <= MAX_CALLS
        assert len(calls) == report["probe"]["calls"]
        assert 429 not in {c.status for c in calls}
        times = [c.ts for c in calls]
        assert all(
            later - earlier >= WINDOW for earlier, later in zip(times, times[5:], strict=False)
        )
        # count_over_max=error: a refused count is bisected, still within 3 calls
        assert len(report["max_count"]["evidence"]) <= 3
        assert report["max_count"]["over_max"] == "error"
        assert [e["status"] for e in report["max_count"]["evidence"]] == [400, 200, 400]
        assert report["max_count"]["value"] == SandboxConfig().max_count  # 1000 ok, 1001 not


def test_probe_stops_at_the_first_401_and_never_shows_the_token(
    seeded_sandbox, tmp_path, capsys, monkeypatch
):
    """A refused token ends the probe after one call; the token is in no output."""
    code, report, out = probe(
        seeded_sandbox.base_url, tmp_path / "r.json", SECRET, capsys, monkeypatch
    )
    assert code == 1
    assert len(seeded_sandbox.calls) == 1
    assert report["probe"]["calls"] == 1
    assert report["probe"]["stopped"].startswith("401")
    assert SECRET not in out
    assert SECRET not in (tmp_path / "r.json").read_text()


def test_probe_stops_at_the_first_429(seeded_sandbox, tmp_path, capsys, monkeypatch):
    """A 429 (here injected on the third call) ends the probe: no retry, no further call."""
    seeded_sandbox.faults.script([{"kind": "status", "status": 429, "after": 2}])
    code, report, _ = probe(
        seeded_sandbox.base_url, tmp_path / "r.json", seeded_sandbox.token, capsys, monkeypatch
    )
    assert code == 1
    assert len(seeded_sandbox.calls) == 3
    assert report["probe"]["stopped"].startswith("429")


# ----------------------------------------------------------------------------- no data
def _canary_store(store) -> list[str]:
    """One record per probed resource whose every value is recognisable; returns the values."""
    canaries: list[str] = []
    for i, name in enumerate(RESOURCES):
        res = R.get(name)
        flags = {f for f, t in res.types.items() if t == "boolean"} | set(res.int_flags)
        doc: dict[str, Any] = {"id": 731_000 + 97 * i}
        canaries.append(str(doc["id"]))
        for j, (fld, typ) in enumerate(res.types.items()):
            if fld == "id" or fld in flags or fld in res.datetimes:
                continue
            if typ == "string":
                doc[fld] = f"Quokka{i:02d}x{j:03d}@canary.test"
            elif typ == "number":
                doc[fld] = round(8_371.13 + i * 100 + j / 1000, 3)
            elif typ == "integer":
                doc[fld] = 914_000 + i * 1000 + j
            else:
                continue
            canaries.append(str(doc[fld]))
        store.insert(name, doc)
    return canaries


def test_probe_report_holds_no_data(sandbox, tmp_path, capsys, monkeypatch):
    """Names, e-mails, SKUs, ids, amounts seeded into every field: none reaches the report."""
    canaries = _canary_store(sandbox.store)
    code, report, out = probe(
        sandbox.base_url, tmp_path / "r.json", sandbox.token, capsys, monkeypatch
    )
    assert code == 0, out
    # the canary records were read (so the check below means something)
    assert report["field_types"]["products"]["item_name"] == "string"
    assert report["field_types"]["orders"]["grand_total"] == "number"
    text = (tmp_path / "r.json").read_text() + out
    leaked = [c for c in canaries if c in text]
    assert leaked == []
    assert "Quokka" not in text
    assert "canary.test" not in text


#: Names a store could choose for a field, a list key or a header: never copied into any output.
NAME_CANARIES = ("jane.doe@example.com", "Ada Lovelace 4111111111111111", "ssn_123-45-6789")


def _store_choosing_names(request: Any, context: Any) -> dict[str, Any]:
    """A store whose orders sit under a canary key and whose rows carry canary field names."""
    name = request.path.rsplit("/", 1)[-1]
    context.headers["X-AC-Call-Limit"] = NAME_CANARIES[0]
    query = request.qs
    if name == "orders" and "id" in query:  # the empty page
        context.status_code = 404
        return {"message": "not found"}
    if name == "orders" and "probe_padding" in query:
        return {"orders": [{"id": 1}], "total_count": 1}
    rows: list[dict[str, Any]] = []
    key = R.list_key(name)
    if name == "orders":
        key = NAME_CANARIES[0]
        rows = [{"id": 7, "grand_total": 5.5, NAME_CANARIES[0]: "x", NAME_CANARIES[1]: 1}]
    elif name == "products":
        rows = [{"id": 8, "item_name": "Widget", NAME_CANARIES[2]: None, NAME_CANARIES[0]: 2}]
    return {key: rows, "total_count": len(rows)}


def test_probe_names_only_fields_and_list_keys_the_project_knows(tmp_path, capsys, monkeypatch):
    """Field names, a list key and a header chosen by the store: counted or shaped, not copied.

    The report and stdout/stderr carry none of the canaries; known names are still reported.
    """
    from cartcom_testing.wire import mock_transport

    transport = mock_transport(monkeypatch)
    store = re.compile(r"http://127\.0\.0\.1:9/.*")
    transport.register_uri("GET", store, json=_store_choosing_names)
    code, report, out = probe(
        "http://127.0.0.1:9/api/v1", tmp_path / "r.json", SECRET, capsys, monkeypatch
    )
    assert code == 0, out
    assert report["list_keys"]["value"]["orders"] == "other"
    assert report["list_keys"]["value"]["order_items"] == "items"
    assert report["field_types"]["orders"] == {"grand_total": "number", "id": "integer"}
    assert report["field_types"]["products"] == {"id": "integer", "item_name": "string"}
    assert report["unknown_fields"] == {"orders": 2, "products": 2}
    assert report["call_limit_header"]["value"] == {"format": "other", "shape": "a.a?a.a"}
    assert "list_keys.orders: the store lists rows under a name the project does not know" in out
    assert "unknown_fields.orders: the store sends 2 field(s) the sandbox lacks" in out
    text = (tmp_path / "r.json").read_text() + out
    for part in ("jane.doe", "example.com", "Lovelace", "4111111111111111", "123-45-6789"):
        assert part not in text, part


# ----------------------------------------------------------------------------- URLs
@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_url": "http://shop.example.com/api/v1"},  # plain http off loopback
        {"api_url": "ftp://127.0.0.1/api/v1"},
        {"api_url": "https://user:pw@shop.example.com/api/v1"},
        {"api_url": "https://shop.example.com/api/v1?x=1"},
        {"api_url": "https://shop.example.com:99999/api/v1"},
        {"domain": "shop.example.com/evil"},
        {"domain": "user@shop.example.com"},
        {"domain": "https://shop.example.com"},
        {},
    ],
)
def test_probe_refuses_unsafe_urls(kwargs):
    """https, or http to loopback only; no user info, query, path tricks."""
    with pytest.raises(ValueError, match=r"--domain|--api-url"):
        api_url_from(kwargs.get("domain"), kwargs.get("api_url"))


def test_probe_accepts_https_domains_and_loopback_http():
    """What a merchant or a local test types."""
    assert api_url_from("shop.example.com", None) == "https://shop.example.com/api/v1"
    assert api_url_from(None, "https://shop.example.com/api/v1/") == (
        "https://shop.example.com/api/v1"
    )
    assert api_url_from(None, "http://127.0.0.1:8600/api/v1") == "http://127.0.0.1:8600/api/v1"
    assert api_url_from(None, "http://[::1]:8600/api/v1") == "http://[::1]:8600/api/v1"


def test_probe_cli_refuses_bad_url_and_missing_token_without_a_call(
    sandbox, tmp_path, capsys, monkeypatch
):
    """No call is made on a refused URL or an unset token variable; exit code 2."""
    code, report, _ = probe(
        "http://example.com/api/v1", tmp_path / "r.json", SECRET, capsys, monkeypatch
    )
    assert (code, report) == (2, None)
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    code = cli.main(["probe", "--api-url", sandbox.base_url, "--token-env", "NO_SUCH_TOKEN_VAR",
                     "--out", str(tmp_path / "r.json")])  # fmt: skip
    assert code == 2
    assert "--token-env is empty or unset" in capsys.readouterr().err
    assert len(sandbox.calls) == 0


@pytest.mark.parametrize(
    "flag",
    [["--token", SECRET], [f"--token={SECRET}"], ["--token-env", "PROBE_TOKEN", "--token", SECRET]],
)
def test_probe_has_no_token_option(flag, capsys):
    """The token comes from an environment variable only; one typed anyway is not echoed."""
    argv = ["probe", "--domain", "shop.example.com", *flag, "--out", "r.json"]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "never given on the command line" in captured.err
    assert SECRET not in captured.out + captured.err


def test_probe_options_are_not_abbreviated():
    """``--token X`` must never be taken for ``--token-env X`` (argparse prefix matching)."""
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(
            ["probe", "--domain", "d.example", "--tok", "X", "--out", "r"]
        )


def test_probe_does_not_follow_redirects(sandbox, tmp_path, capsys, monkeypatch):
    """A 3xx could carry the token header to another host: the probe stops there."""
    sandbox.faults.script([{"kind": "status", "status": 302}])
    code, report, _ = probe(
        sandbox.base_url, tmp_path / "r.json", sandbox.token, capsys, monkeypatch
    )
    assert code == 1
    assert report["probe"]["stopped"].startswith("302 redirect")
    assert len(sandbox.calls) == 1


# ----------------------------------------------------------------------------- profile
def test_profile_applies_only_what_the_report_determines(tmp_path):
    """Exact facts become knobs; bounds and data facts are reported as not applied."""
    report = load_report(PROFILE)
    config = SandboxConfig(plan="unlimited")
    prof = apply_profile(config, report, rate=False, latency=False)
    assert (config.max_count, config.empty_page_status) == (100, 404)
    assert config.list_keys["order_shipments"] == "order_shipments"
    assert config.calls_per_window() is None  # rate=False leaves the pool alone
    assert config.latency_ms == 0  # latency=False leaves the answer time alone
    assert "call latency: left to the caller here" in prof.not_applied
    assert any(line.startswith("utc_offsets") for line in prof.not_applied)
    prof = apply_profile(config, report)
    assert config.latency_ms == report["call_latency_ms"]["p50"] > 0
    unmeasured = apply_profile(SandboxConfig(), without_latency(report))
    assert "call_latency_ms: not measured" in unmeasured.not_applied

    bound = dict(report, max_count={"value": "unknown", "at_least": 742, "evidence": []})
    config = SandboxConfig()
    prof = apply_profile(config, bound)
    assert config.max_count == SandboxConfig().max_count
    assert config.rate_calls == 5
    assert any(line.startswith("max_count") for line in prof.not_applied)


def test_profile_never_serves_a_list_key_the_probe_did_not_name(tmp_path):
    """A list key reported as ``other`` (a store-chosen name, not copied) is not applied."""
    report = load_report(PROFILE)
    keys = dict(report["list_keys"]["value"], orders="other")
    config = SandboxConfig(plan="unlimited")
    prof = apply_profile(config, dict(report, list_keys={"value": keys, "evidence": []}))
    assert "orders" not in config.list_keys
    assert config.list_keys["order_shipments"] == "order_shipments"
    assert "list_keys of orders: a name the project lacks" in prof.not_applied


def test_serve_flags_given_explicitly_win_over_the_profile(store_copy, tmp_path):
    """``--profile`` with ``--max-count 300``: the flag wins, and the server says so."""
    profile = PROFILE
    served = Served(
        store_copy, "--profile", str(profile), "--max-count", "300", "--latency-ms", "0"
    )
    try:
        resp = requests.get(
            served.base_url + "/order_items?count=1000&fields=id",
            headers={"X-AC-Auth-Token": SECRET},
            timeout=10,
        )
        empty = requests.get(
            served.base_url + "/orders?id=lt:1", headers={"X-AC-Auth-Token": SECRET}, timeout=10
        )
    finally:
        text = served.stop()
    assert len(resp.json()[list_key_of(resp.json())]) == 300
    assert empty.status_code == 404
    assert "profile: max_count kept from the command line" in text
    assert "profile: latency_ms kept from the command line" in text


def test_serve_refuses_a_file_that_is_not_a_report(tmp_path):
    """A wrong --profile is an error, never a silent default."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"max_count": 500}')
    proc = subprocess.run(
        [sys.executable, "-m", "cartcom_sandbox", "serve", "--db", ":memory:", "--port", "0",
         "--profile", str(bad)],
        check=False, capture_output=True, text=True, timeout=30, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "not a probe report" in proc.stderr


class _FakeStore:
    """The network under the client's pacing adapter: answers every GET with 200 (or a 302).

    Records the (fake) time and method of each call that reached it, and the last request.
    """

    def __init__(self, clock: list[float], limit: int = 50) -> None:
        self.clock = clock
        self.limit = limit
        self.sent: list[tuple[str, float]] = []
        self.redirect = False  # answer 302 to another host instead

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append((request.method or "", self.clock[0]))
        self.request = request
        used = sum(1 for _, t in self.sent if self.clock[0] - t < 10.0)
        response = requests.Response()
        response.status_code = 302 if self.redirect else 200
        response.headers["X-AC-Call-Limit"] = f"{used}/{self.limit}"
        if self.redirect:
            response.headers["Location"] = "https://elsewhere.example.net/api/v1/orders"
        response._content = b"{}"
        response.url = request.url or ""
        response.request = request
        return response


def _caller(store: _FakeStore, clock: list[float], monkeypatch, **kwargs: Any) -> Caller:
    """A Caller whose transport (under the client's PacedAdapter) is ``store``."""

    def sleep(seconds: float) -> None:
        clock[0] += max(0.0, seconds)

    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, **kw: store.send(request))
    return Caller(
        "https://shop.example.com/api/v1",
        SECRET,
        sleep=sleep,
        clock=lambda: clock[0],
        **kwargs,
    )


def test_probe_paces_at_the_steel_rate_by_default(monkeypatch):
    """Without options: never more than 5 calls inside any 10 s (fake clock, no waiting)."""
    clock = [1000.0]
    store = _FakeStore(clock)
    caller = _caller(store, clock, monkeypatch)
    for _ in range(16):
        caller.get("/orders")
    times = [t for _, t in store.sent]
    assert all(later - earlier >= 10.0 for earlier, later in zip(times, times[5:], strict=False))
    assert times[-1] - times[0] < 31  # and not slower than needed: 16 calls in 4 windows
    assert {m for m, _ in store.sent} == {"GET"}
    assert store.request.headers["X-AC-Auth-Token"] == SECRET  # in the header, not the URL
    assert SECRET not in (store.request.url or "")
    store.redirect = True  # a redirect could carry the token away: it is not followed
    with pytest.raises(ProbeStoppedError, match="302 redirect"):
        caller.get("/orders")
    assert len(store.sent) == 17


def test_probe_sits_out_a_window_when_the_pool_is_used_up(monkeypatch):
    """Another app sharing the pool (header 2/2) makes the probe wait, never call into a 429."""
    clock = [0.0]
    store = _FakeStore(clock, limit=2)
    caller = _caller(store, clock, monkeypatch)
    for _ in range(6):
        caller.get("/orders")
    times = [t for _, t in store.sent]
    assert all(later - earlier >= 10.0 for earlier, later in zip(times, times[2:], strict=False))


def test_probe_never_exceeds_its_call_budget(monkeypatch):
    """The ceiling is checked before each call: call 31 is refused without being sent."""
    clock = [0.0]
    store = _FakeStore(clock)
    caller = _caller(store, clock, monkeypatch, calls_per_window=50, window=0.001)
    for _ in range(MAX_CALLS):
        caller.get("/orders")
    with pytest.raises(ProbeStoppedError, match="budget"):
        caller.get("/orders")
    assert len(store.sent) == MAX_CALLS == 30


def test_serve_knows_which_options_were_given_explicitly():
    """Abbreviated, ``=``-joined or equal to the default: still given, so the profile yields."""
    explicit = cli._explicit_fields
    assert explicit(["serve", "--db", "x", "--profile", "p"]) == set()
    given = ["serve", "--db", "x", "--max-c", "300", "--plan=gold", "--empty-page-status", "200"]
    assert explicit(given) == {"max_count", "rate_calls", "empty_page_status"}


class _SlowFirstAnswer(_FakeStore):
    """The first answer takes 3 s (the store counts a call somewhere before it answers)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if len(self.sent) == 1:
            self.clock[0] += 3.0
        return response


def test_probe_paces_from_the_answers_not_the_sends(monkeypatch):
    """A slow first answer: the sixth call still waits a full window after that answer."""
    clock = [0.0]
    store = _SlowFirstAnswer(clock)
    caller = _caller(store, clock, monkeypatch)
    for _ in range(6):
        caller.get("/orders")
    assert store.sent[5][1] >= 3.0 + 10.0


# ----------------------------------------------------------------------------- latency
class _SlowBigPages(_FakeStore):
    """Answers ``count=25`` in 0.4 s and ``count=2000`` in 1.2 s (of the fake clock)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        self.clock[0] += 1.2 if "count=2000" in (request.url or "") else 0.4
        return response


def test_probe_measures_each_call_and_groups_by_page_size(monkeypatch):
    """p50/p95/max are nearest-rank over the calls; by_page_size keeps the sizes apart."""
    clock = [0.0]
    store = _SlowBigPages(clock)
    caller = _caller(store, clock, monkeypatch, timer=lambda: clock[0])
    for _ in range(4):
        caller.get("/orders", [("count", "25")])
    for _ in range(2):
        caller.get("/order_items", [("count", "2000"), ("fields", "id")])
    caller.get("/orders/select_many", [("ids", "1")])  # no count: in the totals only
    stats = latency_stats(caller.timings)
    assert (stats["calls"], stats["p50"], stats["p95"], stats["max"]) == (7, 400.0, 1200.0, 1200.0)
    assert stats["by_page_size"]["25"] == {
        "calls": 4, "p50": 400.0, "p95": 400.0, "max": 400.0, "kib_p50": 0.0,
    }  # fmt: skip
    assert stats["by_page_size"]["2000"]["p50"] == 1200.0
    assert set(stats["by_page_size"]) == {"25", "2000"}
    assert latency_stats([]) == {"calls": 0, "note": "no call was answered"}


@pytest.mark.slow
def test_probe_round_trip_on_a_sandbox_served_with_latency(
    store_copy, tmp_path, capsys, monkeypatch
):
    """``serve --latency-ms 400``: every counted answer waits, so the probe's p50 is >= 400.

    The upper bound (400 + the sandbox's own time, within 10 %) is a timing figure: it is
    checked in bench/bench_latency.py, not here, where a loaded machine could break it. What
    pins the delay's size (exactly once per counted call, none on refusals) is
    test_sandbox_latency.py. ``serve --profile`` of the report then applies its p50.
    """
    served = Served(store_copy, "--latency-ms", "400")
    try:
        code, report, out = probe(served.base_url, tmp_path / "r.json", SECRET, capsys, monkeypatch)
    finally:
        text = served.stop()
    assert code == 0, out
    assert "latency=400ms" in text
    lat = report["call_latency_ms"]
    assert lat["calls"] == report["probe"]["calls"]
    assert lat["max"] >= lat["p95"] >= lat["p50"] >= 400
    assert lat["by_page_size"]["25"]["calls"] == len(RESOURCES)
    assert lat["by_page_size"]["25"]["p50"] >= 400
    assert lat["by_page_size"]["2000"]["p50"] >= 400
    assert f"Call latency: p50 {lat['p50']:g} ms" in out

    again = Served(store_copy, "--profile", str(tmp_path / "r.json"))
    try:
        code, report2, out2 = probe(
            again.base_url, tmp_path / "r2.json", SECRET, capsys, monkeypatch
        )
    finally:
        text2 = again.stop()
    assert code == 0, out2
    assert f"profile: applied latency_ms={lat['p50']:g}" in text2
    assert report2["call_latency_ms"]["p50"] >= lat["p50"]

"""Several listings written at once (``max_in_flight``, issue 23) give what one at a time gives.

On a sandbox that takes its time to answer and counts calls per window: the store read back and
the results are the same as with ``max_in_flight: 1``; each product's writes come in the same
order; never more calls in flight than the setting nor more per window than the plan; a fatal
error stops every worker; a run killed with several products in flight is completed by a rerun.
Concurrency is proven, not hoped for: a write held in the store lets another listing's write
through only when two are in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import (
    add_reference_data,
    category_path,
    published,
    singer_lines,
)
from cartcom_testing.runs import run_listings as run
from target_cartcom._client import ConfigurationError

PUBLISH = ["link", "sync", "publish"]
SYNC = ["link", "sync"]
#: The plan the sandbox enforces and the target is told: calls per 1-s window.
RATE = 12
IN_FLIGHT = 4
#: A held write waits this long at most: longer than ``_wait_for``, so one listing at a time
#: (which sends nothing else meanwhile) fails the wait instead of passing once the hold ends.
HELD = {"seconds": 120}


def _simple(n: int) -> dict[str, Any]:
    return {
        "sku": f"FLY-{n}",
        "title": f"Fly {n}",
        "brand": "Inflight Co",  # new: created once, whichever listing comes first
        "categories": ["Apparel > Shirts > Inflight"],  # a new level, created once
        "images": [f"https://cdn.example.com/fly-{n}.jpg"],
        "price": 10.0 + n,
        "quantity": n,
    }


def _with_variants(n: int) -> dict[str, Any]:
    return {
        "sku": f"VAR-{n}",
        "title": f"Var {n}",
        "brand": "Inflight Co",
        "categories": ["Apparel > Shirts > Inflight"],
        "images": [f"https://cdn.example.com/var-{n}.jpg"],
        "price": 20.0,
        "variants": [
            {"sku": f"VAR-{n}-S", "options": {"Size": "S"}, "price": 18.0, "quantity": 1},
            {"sku": f"VAR-{n}-M", "options": {"Size": "M"}, "price": 20.0, "cost": 9.0},
            {"sku": f"VAR-{n}-L", "options": {"Size": "L"}, "price": 22.0, "quantity": 3},
        ],
    }


LISTINGS = [_simple(1), _simple(2), _with_variants(1), _simple(3), _simple(4), _with_variants(2)]
LISTINGS += [_simple(5), _simple(6)]
SKUS = [listing["sku"] for listing in LISTINGS]


def _changed(listing: dict[str, Any]) -> dict[str, Any]:
    """The sync feed: every quantity and price moved."""
    if "variants" not in listing:
        return {"sku": listing["sku"], "quantity": listing["quantity"] + 10, "price": 30.0}
    variants = [
        {
            "sku": v["sku"],
            "options": v["options"],
            "quantity": (v.get("quantity") or 0) + 5,
            "price": v["price"] + 1,
        }
        for v in listing["variants"]
    ]
    return {"sku": listing["sku"], "variants": variants}


CHANGES = [_changed(listing) for listing in LISTINGS]


class InStore:
    """The sandbox's answer delay, counting the calls the store is working on at once."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            self._sleep(seconds)
        finally:
            with self._lock:
                self.now -= 1


class Answered:
    """The sandbox's WSGI app, counting the requests that arrived and those answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.arrived = 0
        self.answered = 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            self.arrived += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.answered += 1


def _sandbox(**config: Any) -> SandboxServer:
    """A sandbox that takes 20 ms per answer and allows RATE calls per 1-s window."""
    settings = {"latency_ms": 20.0, "rate_calls": RATE, "rate_window": 1.0, **config}
    server = SandboxServer(
        ":memory:", tokens=["test-token"], config=SandboxConfig(plan="unlimited", **settings)
    )
    server.in_store = InStore(server.app.sleep)  # type: ignore[attr-defined]
    server.app.sleep = server.in_store  # type: ignore[union-attr]
    server.answered = Answered(server.app)  # type: ignore[attr-defined]
    server.app = server.answered  # type: ignore[assignment]
    server.start()
    add_reference_data(server.store)
    return server


@pytest.fixture
def fresh() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes (``_sandbox``), stopped at the end."""
    servers: list[SandboxServer] = []

    def start(**config: Any) -> SandboxServer:
        servers.append(_sandbox(**config))
        return servers[-1]

    yield start
    for server in servers:
        server.faults.clear()
        server.stop()


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait until ``condition`` holds (a condition, not a duration)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _writes(calls: list[Any]) -> list[Any]:
    return [c for c in calls if c.method != "GET"]


def run_held(
    sb: SandboxServer, records: list[dict[str, Any]], method: str, path: str, **settings: Any
):
    """Run with the first ``method path`` write held in the store until another one arrives.

    One listing at a time never sends that second write (it waits for the first answer), so
    this fails unless two calls are really in flight.
    """
    sb.faults.script([{"kind": "hold", "method": method, "path": path, **HELD}])
    before = len(sb.calls)
    out: dict[str, Any] = {}

    def target() -> None:
        out["run"] = run(sb, records, **settings)

    thread = threading.Thread(target=target)
    thread.start()
    try:
        _wait_for(lambda: bool(sb.faults.state()["fired"]), "the held write")
        _wait_for(
            lambda: any(
                c.method == method and c.path.removeprefix("/api/v1").startswith(path)
                for c in sb.calls.snapshot()[before:]
            ),
            "a second write in flight",
        )
    finally:
        sb.faults.release()
        thread.join(timeout=120)
    sb.faults.clear()
    return out["run"]


def _results(sb: SandboxServer, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Result lines with their ids replaced by the SKU of what they name in the store.

    The store numbers new records in the order their calls arrive, so only the ids may differ.
    """
    products = {p["id"]: f"product {p['item_number']}" for p in sb.store.query("products")}
    rows = {r["id"]: f"row {r['item_number']}" for r in sb.store.query("variant_inventory")}
    out = []
    for result in results:
        ids = result.get("ids") or {}
        named = {
            "product_id": products.get(ids.get("product_id")),
            "variant_inventory_id": rows.get(ids.get("variant_inventory_id")),
            "variant_inventory_ids": {
                sku: rows.get(i) for sku, i in (ids.get("variant_inventory_ids") or {}).items()
            },
        }
        rest = {k: v for k, v in ids.items() if k not in named}
        out.append({**result, "ids": {**named, **rest}})
    return out


def _store(sb: SandboxServer) -> dict[str, Any]:
    """Each product as the store holds it, and every brand, category and group, each once."""
    products = {sku: published(sb, sku) for sku in SKUS}
    shared = {
        "brands": sorted(m["name"] for m in sb.store.query("manufacturers")),
        "categories": sorted(str(category_path(sb, c["id"])) for c in sb.store.query("categories")),
        "groups": sorted(g["name"] for g in sb.store.query("variant_groups")),
    }
    return {"products": products, **shared}


def _product_writes(sb: SandboxServer, calls: list[Any]) -> dict[str, list[tuple[str, str]]]:
    """Each product's writes, in the order the store got them, as (method, resource)."""
    sku_of = {p["id"]: p["item_number"] for p in sb.store.query("products")}
    row_product = {r["id"]: r["product_id"] for r in sb.store.query("variant_inventory")}
    value_product = {v["id"]: v["product_id"] for v in sb.store.query("product_variants")}
    price_product = {p["id"]: p["product_id"] for p in sb.store.query("product_pricing")}
    owners = {"variant_inventory": row_product, "product_variants": value_product}
    owners["product_pricing"] = price_product
    out: dict[str, list[tuple[str, str]]] = {}
    for call in _writes(calls):
        parts = call.path.removeprefix("/api/v1/").split("/")
        body = call.request_json or {}
        if parts[0] == "products" and call.method == "POST":
            sku = body["item_number"]
        elif parts[0] == "products":
            sku = sku_of[int(parts[1])]
        elif len(parts) > 1 and parts[1].isdigit():
            sku = sku_of[owners[parts[0]][int(parts[1])]]
        elif "product_id" in body:
            sku = sku_of[body["product_id"]]
        else:
            continue  # a brand, a category, the tree: shared, not a product's
        out.setdefault(sku, []).append((call.method, parts[0]))
    return out


def _within_plan(calls: list[Any]) -> bool:
    """No 429, and never more than RATE calls arriving within any 1-s span."""
    if any(c.status == 429 for c in calls):
        return False
    times = sorted(c.ts for c in calls)
    return all(
        sum(1 for t in times[i : i + RATE + 1] if t - start < 1.0) <= RATE
        for i, start in enumerate(times)
    )


@pytest.fixture(scope="module")
def both() -> Iterator[dict[int, dict[str, Any]]]:
    """The publish then the sync, one listing at a time and IN_FLIGHT at once."""
    servers: list[SandboxServer] = []
    out: dict[int, dict[str, Any]] = {}
    pace = {"calls_per_window": RATE, "window_seconds": 1}
    try:
        for in_flight in (1, IN_FLIGHT):
            sb = _sandbox()
            servers.append(sb)
            settings = {"max_in_flight": in_flight, **pace}
            if in_flight == 1:
                pub, pub_calls = run(sb, LISTINGS, operations=PUBLISH, **settings)
                sync, sync_calls = run(sb, CHANGES, operations=SYNC, **settings)
            else:
                pub, pub_calls = run_held(
                    sb, LISTINGS, "POST", "/products", operations=PUBLISH, **settings
                )
                sync, sync_calls = run_held(sb, CHANGES, "PUT", "/", operations=SYNC, **settings)
            out[in_flight] = {
                "sb": sb,
                "publish": (pub, pub_calls),
                "sync": (sync, sync_calls),
                "results": _results(sb, pub.results + sync.results),
                "store": _store(sb),
                "peak": sb.in_store.peak,  # type: ignore[attr-defined]
            }
        yield out
    finally:
        for sb in servers:
            sb.faults.clear()
            sb.stop()


def test_several_in_flight_leave_the_store_and_results_of_one_at_a_time(both):
    one, many = both[1], both[IN_FLIGHT]
    assert {r["outcome"] for r in one["publish"][0].results} == {"created"}
    assert {r["outcome"] for r in one["sync"][0].results} == {"updated"}
    assert many["store"] == one["store"]
    assert many["results"] == one["results"]
    for kind in ("publish", "sync"):
        summary_one, summary_many = one[kind][0].summary, many[kind][0].summary
        assert summary_many["calls"] == summary_one["calls"]
        assert summary_many["status"] == "completed"


def test_each_products_writes_keep_their_order(both):
    """Per product, the store got the same writes in the same order; the show is last."""
    for kind in ("publish", "sync"):
        one = _product_writes(both[1]["sb"], both[1][kind][1])
        many = _product_writes(both[IN_FLIGHT]["sb"], both[IN_FLIGHT][kind][1])
        assert many == one
        assert sorted(many) == sorted(SKUS)
    for sku, writes in _product_writes(
        both[IN_FLIGHT]["sb"], both[IN_FLIGHT]["publish"][1]
    ).items():
        assert writes[0] == ("POST", "products"), sku
        assert writes[-1] == ("PUT", "products"), sku  # the write that clears the mark


def test_never_more_in_flight_than_the_setting_nor_more_per_window_than_the_plan(both):
    assert both[1]["peak"] == 1
    assert 2 <= both[IN_FLIGHT]["peak"] <= IN_FLIGHT  # 2: run_held proved two in flight
    for in_flight in (1, IN_FLIGHT):
        # Each run paces its own calls (a new run learns the store's count from its answers).
        assert not [c for c in both[in_flight]["sb"].calls.snapshot() if c.status == 429]
        for kind in ("publish", "sync"):
            assert _within_plan(both[in_flight][kind][1]), (in_flight, kind)


def test_a_fatal_error_mid_batch_stops_every_worker_and_a_rerun_completes(fresh):
    """A 401 on one product's write while another product's write is in the store.

    The run raises the 401 once every worker has ended (the held write's worker stops when its
    answer comes back); the rerun completes what both left undone.
    """
    clean_sb = fresh()
    assert {r["outcome"] for r in run(clean_sb, LISTINGS, operations=PUBLISH)[0].results} == {
        "created"
    }
    clean = _store(clean_sb)
    sb = fresh()
    # The first picture's POST is held; the next one (another product's: only several
    # listings in flight send it meanwhile) is refused as unauthorized, which no later
    # record can survive.
    sb.faults.script(
        [
            {"kind": "hold", "method": "POST", "path": "/product_pictures", **HELD},
            {"kind": "status", "status": 401, "method": "POST", "path": "/product_pictures"},
        ]
    )
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            run(sb, LISTINGS, operations=PUBLISH, max_in_flight=IN_FLIGHT)
        except Exception as exc:
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    try:
        _wait_for(lambda: any(c.status == 401 for c in sb.calls.snapshot()), "the 401")
    finally:
        sb.faults.release()
        thread.join(timeout=120)
    assert not thread.is_alive()
    assert "401" in str(out.get("error"))
    assert not [t for t in threading.enumerate() if t.name.startswith("target-cartcom-writer")]
    held = [c for c in sb.calls.snapshot() if c.path.endswith("/product_pictures")]
    # The held write (the first sent) is logged once answered: after the refusal.
    assert held[0].status == 401
    assert 201 in [c.status for c in held[1:]]
    sb.faults.clear()
    again, _ = run(sb, LISTINGS, operations=PUBLISH, max_in_flight=IN_FLIGHT)
    assert {r["outcome"] for r in again.results} <= {"created", "updated"}
    assert _store(sb) == clean


def test_a_run_killed_with_several_products_in_flight_is_completed_by_a_rerun(fresh, tmp_path):
    clean_sb = fresh()
    assert {r["outcome"] for r in run(clean_sb, LISTINGS, operations=PUBLISH)[0].results} == {
        "created"
    }
    clean = _store(clean_sb)
    sb = fresh()
    # Two writes of two different products held in the store at once, then the kill.
    sb.faults.script(
        [
            {"kind": "hold", "method": "POST", "path": "/product_pictures", "after": 1, **HELD},
            {"kind": "hold", "method": "POST", "path": "/variant_inventory", "after": 1, **HELD},
        ]
    )
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "access_token": sb.token,
                "api_url": sb.base_url,
                "calls_per_window": RATE,
                "window_seconds": 1,
                "max_in_flight": IN_FLIGHT,
                "operations": PUBLISH,
                "results_path": str(tmp_path / "results.jsonl"),
            }
        )
    )
    feed = tmp_path / "feed.singer"
    feed.write_text(singer_lines(LISTINGS))
    with feed.open() as stdin:
        target = subprocess.Popen(
            [sys.executable, "-m", "target_cartcom", "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait_for(lambda: len(sb.faults.state()["fired"]) == 2, "two held writes")
        os.kill(target.pid, signal.SIGKILL)
        target.wait(timeout=30)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait(timeout=30)
    assert target.returncode == -signal.SIGKILL
    sb.faults.release()  # the store applies the writes the dead target sent
    answered = sb.answered  # type: ignore[attr-defined]
    _wait_for(lambda: answered.arrived == answered.answered, "the released writes answered")
    marked = [p for p in sb.store.query("products") if p.get("keywords")]
    assert len(marked) >= 2  # several products stopped part-way, hidden and marked
    assert all(p["is_hidden"] for p in marked)
    again, _ = run(sb, LISTINGS, operations=PUBLISH, max_in_flight=IN_FLIGHT)
    # Products done before the kill are unchanged; those stopped part-way are completed.
    assert {r["outcome"] for r in again.results} <= {"created", "updated", "unchanged"}
    done = {r["key"]: r["outcome"] for r in again.results}
    assert all(done[p["item_number"]] == "updated" for p in marked)
    assert _store(sb) == clean
    third, calls3 = run(sb, LISTINGS, operations=PUBLISH, max_in_flight=IN_FLIGHT)
    assert _writes(calls3) == []
    assert {r["outcome"] for r in third.results} == {"unchanged"}


@pytest.mark.parametrize("value", [0, -2, 11])
def test_max_in_flight_outside_1_to_10_stops_the_run_before_any_call(fresh, value):
    sb = fresh()
    before = len(sb.calls)
    with pytest.raises(ConfigurationError, match="max_in_flight"):
        run(sb, LISTINGS, operations=PUBLISH, max_in_flight=value)
    assert len(sb.calls) == before

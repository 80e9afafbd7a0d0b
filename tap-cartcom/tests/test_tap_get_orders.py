"""Get Orders on the sandbox: every eligible order of the import window, exactly once.

The store is seeded relative to today (600 orders over the last 60 days), so the same data
serves runs with a pinned clock (``run_tap(now=...)``) and a real ``tap-cartcom`` subprocess.
The scenario of issue 13: run 1 imports the window's Processing orders; between the runs,
orders created about 1 and 12 days earlier go Pending -> Processing (payment review, fraud
hold, back-order), an imported order goes Shipped and back to Processing, and a Pending order
created 45 days ago turns Processing; run 2 imports exactly the first two; run 3 nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cartcom_sandbox.clock import normalise_input
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import created_utc, order_status_ids, set_order_status
from tap_cartcom._client.quirks import to_utc
from tap_cartcom.emitted import STATE_KEY, DayRanges, EmittedOrders, unpack
from tap_test_support import run_tap

TOKEN = "test-token"
PAGE = 10
TAP = str(Path(sys.executable).with_name("tap-cartcom"))


# -- the store ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recent_store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 orders over the 60 days before today (seed 13), seeded once per module."""
    path = tmp_path_factory.mktemp("get-orders") / "store.db"
    seed_store(str(path), products=30, orders=600, seed=13, days=60)
    return path


@pytest.fixture
def server(recent_store_db: Path, tmp_path: Path) -> Any:
    """A sandbox over a private copy of the store, unlimited plan."""
    db = tmp_path / "store.db"
    shutil.copyfile(recent_store_db, db)
    srv = SandboxServer(str(db), tokens=[TOKEN], config=SandboxConfig(plan="unlimited"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Scenario:
    """Issue 13's store story, with the orders that play each part."""

    server: Any
    now: datetime
    status: dict[str, int]
    parts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, server: Any) -> Scenario:
        """Pick the orders and put them in their starting statuses."""
        now = datetime.now(UTC).replace(microsecond=0)
        scenario = cls(server, now, order_status_ids(server))
        orders = server.store.query("orders")
        # No order within 10 minutes of a window's edge: the subprocess's clock is not pinned.
        for order in orders:
            for days in (3, 10, 30):
                if abs(created_utc(order) - (now - timedelta(days=days))) < timedelta(minutes=10):
                    server.store.update("orders", order["id"], {"order_status_id": 5})
        taken: set[int] = set()

        def pick(days: float) -> int:
            target = now - timedelta(days=days)
            best = min(
                (o for o in orders if o["id"] not in taken),
                key=lambda o: abs(created_utc(o) - target),
            )
            taken.add(best["id"])
            return best["id"]

        pending = scenario.status["Pending"]
        for name, days in (("one_day", 1), ("twelve_days", 12), ("old", 45)):
            scenario.parts[name] = pick(days)
            set_order_status(server, scenario.parts[name], pending)
        scenario.parts["reshipped"] = pick(5)
        set_order_status(server, scenario.parts["reshipped"], scenario.status["Processing"])
        scenario.parts["reopened"] = pick(8)
        set_order_status(server, scenario.parts["reopened"], scenario.status["Completed"])
        return scenario

    def eligible(self, statuses: set[str], days: float, now: datetime) -> set[int]:
        """Orders created in ``[now - days, now)`` whose status is one of ``statuses``."""
        ids = {self.status[s] for s in statuses}
        floor = now - timedelta(days=days)
        return {
            o["id"]
            for o in self.server.store.query("orders")
            if o["order_status_id"] in ids and floor <= created_utc(o) < now
        }

    def created_since(self, days: float, now: datetime) -> set[int]:
        """Every order created in ``[now - days, now)``."""
        floor = now - timedelta(days=days)
        return {o["id"] for o in self.server.store.query("orders") if floor <= created_utc(o) < now}

    def change(self) -> None:
        """Between run 1 and run 2."""
        processing = self.status["Processing"]
        for name in ("one_day", "twelve_days", "old"):
            set_order_status(self.server, self.parts[name], processing)
        set_order_status(self.server, self.parts["reshipped"], self.status["Shipped"])
        set_order_status(self.server, self.parts["reshipped"], processing)
        set_order_status(self.server, self.parts["reopened"], self.status["Partially Shipped"])

    def add_orders(self, created: datetime) -> None:
        """Two orders placed after run 1: one paid (Processing), one not (Pending)."""
        template = self.server.store.get("orders", self.parts["old"])
        doc = {k: v for k, v in template.items() if k not in ("id", "created_at", "updated_at")}
        for name, status in (("new_processing", "Processing"), ("new_pending", "Pending")):
            stamp = normalise_input(_z(created), self.server.store.timezone)
            row = {**doc, "order_status_id": self.status[status]}
            row |= {"created_at": stamp, "updated_at": stamp}
            self.parts[name] = self.server.store.insert("orders", row)["id"]


def config_for(server: Any, **extra: Any) -> dict[str, Any]:
    """A fast budget and small pages, so the window takes several pages."""
    return {
        "access_token": TOKEN,
        "api_url": server.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "page_size": PAGE,
        **extra,
    }


def ids_of(run: dict[str, Any]) -> list[int]:
    """Order ids a run emitted, in order; fails on a tap error."""
    assert run["error"] is None, run["stderr"][-2000:]
    return [r["id"] for r in run["records"].get("orders", [])]


def order_calls(server: Any) -> list[Any]:
    return [c for c in server.calls if c.path == "/api/v1/orders"]


# -- the scenario, in process ----------------------------------------------------------------
def test_late_eligible_orders_are_imported_once_and_nothing_else(server):
    """Issue 13's scenario: each order of the window imported once, however late.

    Run 1: the window's Processing orders; run 2: the 1- and 12-day-old late ones only; run 3:
    nothing, for exactly the calls the window's pages cost; later runs forget old days.
    """
    scenario = Scenario.build(server)
    config = config_for(server, order_status_names=["Processing"], orders_created_within_days=30)
    now1 = scenario.now
    first = run_tap(config, streams=("orders",), now=now1)
    expected1 = scenario.eligible({"Processing"}, 30, now1)
    assert sorted(ids_of(first)) == sorted(expected1)
    assert scenario.parts["reshipped"] in expected1
    assert not {scenario.parts[k] for k in ("one_day", "twelve_days", "old")} & expected1
    ledger = EmittedOrders.from_state(first["state"]["bookmarks"]["orders"][STATE_KEY])
    assert len(ledger) == len(expected1)

    scenario.change()
    now2 = now1 + timedelta(minutes=15)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    # In created_at order: the 12-day-old order first.
    assert ids_of(second) == [scenario.parts["twelve_days"], scenario.parts["one_day"]]

    server.calls.clear()
    now3 = now2 + timedelta(minutes=15)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3)
    assert ids_of(third) == []
    eligible3 = scenario.eligible({"Processing"}, 30, now3)
    assert scenario.parts["old"] not in eligible3  # Processing, but created 45 days ago
    pages = max(1, math.ceil(len(eligible3) / PAGE))
    # One status lookup, the window's order pages, no address read (nothing new), and one
    # read of the orders without a created_at (none: the first page holds keyed orders).
    assert [c.path for c in server.calls] == [
        "/api/v1/order_statuses",
        *["/api/v1/orders"] * (pages + 1),
    ]
    assert "fields=id,created_at,order_status_id" in server.calls[-1].query
    query = order_calls(server)[0].query
    floor = _z(now3 - timedelta(days=30))
    assert f"created_at=gte:{floor}+AND+lt:{_z(now3)}" in query
    assert f"order_status_id={scenario.status['Processing']}" in query

    # Twenty days on: the days that left the window are forgotten, the rest kept.
    now4 = now3 + timedelta(days=20)
    fourth = run_tap(config, state=third["state"], streams=("orders",), now=now4)
    assert ids_of(fourth) == []
    days = fourth["state"]["bookmarks"]["orders"][STATE_KEY]
    floor_day = _z(now4 - timedelta(days=30))[:10]
    assert min(third["state"]["bookmarks"]["orders"][STATE_KEY]) < floor_day
    assert min(days) >= floor_day
    kept = EmittedOrders.from_state(days)
    assert kept.has(_z(now1 - timedelta(days=1)), scenario.parts["one_day"])
    assert not kept.has(_z(now1 - timedelta(days=12)), scenario.parts["twelve_days"])


# -- a rerun for every Get Orders setting ------------------------------------------------------
#: (settings, what run 2 must emit); the status filter values are status names.
RERUN_CASES = {
    "status_names": (
        {"order_status_names": ["Processing"]},
        {"one_day", "twelve_days", "new_processing"},
    ),
    "status_ids": (
        {"order_status_ids": ["Processing"]},
        {"one_day", "twelve_days", "new_processing"},
    ),
    "created_within_days": ({"orders_created_within_days": 30}, {"new_processing", "new_pending"}),
    "names_and_within_30": (
        {"order_status_names": ["Processing"], "orders_created_within_days": 30},
        {"one_day", "twelve_days", "new_processing"},
    ),
    "ids_and_within_10": (
        {"order_status_ids": ["Processing"], "orders_created_within_days": 10},
        {"one_day", "new_processing"},
    ),
    "names_and_ids": (
        {"order_status_names": ["Processing"], "order_status_ids": ["Partially Shipped"]},
        {"one_day", "twelve_days", "new_processing", "reopened"},
    ),
    "names_ids_and_within_10": (
        {
            "order_status_names": ["Processing"],
            "order_status_ids": ["Partially Shipped"],
            "orders_created_within_days": 10,
        },
        {"one_day", "new_processing", "reopened"},
    ),
}


@pytest.mark.parametrize(("settings", "expected"), RERUN_CASES.values(), ids=RERUN_CASES.keys())
def test_rerun_after_the_store_changed_emits_exactly_the_new_eligible_orders(
    server, settings, expected
):
    """Run, change the store, rerun: run 2 emits exactly ``expected``; run 3 nothing."""
    scenario = Scenario.build(server)
    settings = dict(settings)
    statuses = set(settings.get("order_status_names", []))
    statuses |= set(settings.get("order_status_ids", []))
    if "order_status_ids" in settings:
        settings["order_status_ids"] = [scenario.status[n] for n in settings["order_status_ids"]]
    config = config_for(server, **settings)
    now1 = scenario.now
    first = run_tap(config, streams=("orders",), now=now1)
    days = settings.get("orders_created_within_days", 30)
    if statuses:
        assert sorted(ids_of(first)) == sorted(scenario.eligible(statuses, days, now1))
    else:
        assert sorted(ids_of(first)) == sorted(scenario.created_since(days, now1))

    scenario.change()
    scenario.add_orders(now1 + timedelta(minutes=1))
    now2 = now1 + timedelta(minutes=15)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    assert sorted(ids_of(second)) == sorted(scenario.parts[name] for name in expected)

    now3 = now2 + timedelta(minutes=15)
    third = run_tap(config, state=second["state"], streams=("orders",), now=now3)
    assert ids_of(third) == []


def test_created_within_days_alone_rerun_reads_from_the_bookmark_not_the_whole_window(server):
    """A rerun with `orders_created_within_days` alone emits only the new orders.

    Kills the mutant "the floor always replaces the bookmark window": run 2 would then re-read
    30 days and re-emit every order older than the lookback.
    """
    scenario = Scenario.build(server)
    config = config_for(server, orders_created_within_days=30, lookback_days=3)
    now1 = scenario.now
    first = run_tap(config, streams=("orders",), now=now1)
    assert sorted(ids_of(first)) == sorted(scenario.created_since(30, now1))
    scenario.add_orders(now1 + timedelta(minutes=1))
    server.calls.clear()
    now2 = now1 + timedelta(minutes=15)
    second = run_tap(config, state=first["state"], streams=("orders",), now=now2)
    new = [scenario.parts["new_processing"], scenario.parts["new_pending"]]
    assert ids_of(second) == new
    # The read starts at the bookmark less lookback_days, not at the 30-day floor.
    query = order_calls(server)[0].query
    assert f"created_at=gte:{_z(now1 - timedelta(days=3))}+AND+lt:{_z(now2)}" in query


# -- kill -9 in the middle of run 2, then resume --------------------------------------------------
def _catalog(config: dict[str, Any], tmp_path: Path) -> Path:
    """The tap's catalog with only ``orders`` selected."""
    from tap_cartcom.tap import TapCartcom

    catalog = TapCartcom(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "orders"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def _messages(path: Path) -> list[dict[str, Any]]:
    """Complete Singer lines written so far (a line cut by the kill is ignored)."""
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            out.append(json.loads(line))
    return out


def test_kill_9_in_the_middle_of_run_2_then_resume(server, tmp_path):
    """``kill -9`` mid-run, then resume: nothing lost, nothing repeated.

    A real ``tap-cartcom`` is killed while it waits for a delayed page, after it emitted the
    12-day-old order and checkpointed it: the resume imports the 1-day-old order only.
    """
    scenario = Scenario.build(server)
    # Default window: 30 days. One call at a time, so the delayed call is the page after the
    # 12-day order's (pages read several at once: tests/test_tap_in_flight.py).
    config = config_for(server, order_status_names=["Processing"], max_in_flight=1)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog = _catalog(config, tmp_path)

    def tap(state: dict | None, out: Path) -> subprocess.Popen:
        args = [TAP, "--config", str(config_path), "--catalog", str(catalog)]
        if state is not None:
            (tmp_path / "state.json").write_text(json.dumps(state))
            args += ["--state", str(tmp_path / "state.json")]
        with out.open("w") as stdout, (tmp_path / "stderr.log").open("a") as stderr:
            return subprocess.Popen(args, stdout=stdout, stderr=stderr)

    run1 = tap(None, tmp_path / "run1.singer")
    assert run1.wait(timeout=120) == 0
    messages1 = _messages(tmp_path / "run1.singer")
    got1 = [m["record"]["id"] for m in messages1 if m["type"] == "RECORD"]
    now1 = scenario.now
    assert sorted(got1) == sorted(scenario.eligible({"Processing"}, 30, now1))
    state1 = [m["value"] for m in messages1 if m["type"] == "STATE"][-1]

    scenario.change()
    # Where the two late orders fall in run 2's pages (sorted by created_at, id).
    processing = scenario.status["Processing"]
    window = sorted(
        (o for o in server.store.query("orders") if o["order_status_id"] == processing),
        key=lambda o: (created_utc(o), o["id"]),
    )
    window = [o["id"] for o in window if created_utc(o) >= now1 - timedelta(days=30)]
    page_12 = window.index(scenario.parts["twelve_days"]) // PAGE + 1
    page_1 = window.index(scenario.parts["one_day"]) // PAGE + 1
    assert page_12 < page_1, "the late orders must fall on different pages"
    # The page after the 12-day order's hangs for 60 s: the tap is stuck there, deterministically.
    server.faults.script([{"kind": "delay", "seconds": 60, "path": "/orders", "after": page_12}])
    out2 = tmp_path / "run2.singer"
    run2 = tap(state1, out2)
    deadline = time.monotonic() + 60
    while True:
        assert run2.poll() is None, "run 2 ended before the kill"
        assert time.monotonic() < deadline, "run 2 never reached the delayed page"
        states = [m["value"] for m in _messages(out2) if m["type"] == "STATE"]
        ledger = EmittedOrders.from_state(
            states[-1]["bookmarks"]["orders"].get(STATE_KEY) if states else None
        )
        twelve = server.store.get("orders", scenario.parts["twelve_days"])
        if server.faults.fired and ledger.has(to_utc(twelve["created_at"]), twelve["id"]):
            break
        time.sleep(0.05)
    os.kill(run2.pid, signal.SIGKILL)
    assert run2.wait(timeout=10) == -signal.SIGKILL
    server.faults.clear()

    messages2 = _messages(out2)
    last_state = max(i for i, m in enumerate(messages2) if m["type"] == "STATE")
    committed = [m["record"]["id"] for m in messages2[:last_state] if m["type"] == "RECORD"]
    assert committed == [scenario.parts["twelve_days"]]
    assert [m["record"]["id"] for m in messages2 if m["type"] == "RECORD"] == committed

    resume = tap(messages2[last_state]["value"], tmp_path / "resume.singer")
    assert resume.wait(timeout=120) == 0
    messages3 = _messages(tmp_path / "resume.singer")
    assert [m["record"]["id"] for m in messages3 if m["type"] == "RECORD"] == [
        scenario.parts["one_day"]
    ]
    state3 = [m["value"] for m in messages3 if m["type"] == "STATE"][-1]

    run3 = tap(state3, tmp_path / "run3.singer")
    assert run3.wait(timeout=120) == 0
    assert [m for m in _messages(tmp_path / "run3.singer") if m["type"] == "RECORD"] == []


# -- the state's encoding ------------------------------------------------------------------------
def test_id_ranges_round_trip_and_stay_compact():
    """Runs and gaps encode to ``first:run,gap,run``; a dense day is a few characters."""
    day = DayRanges()
    for order_id in [*range(100231, 100271), *range(100273, 100290)]:
        assert day.add(order_id)
    assert not day.add(100240)
    assert day.encode() == "100231:40,2,17"
    back = DayRanges.decode(day.encode())
    assert (back.starts, back.ends) == (day.starts, day.ends)
    assert 100272 not in back
    assert 100289 in back
    assert 100290 not in back
    with pytest.raises(ValueError, match="bad id ranges"):
        DayRanges.decode("5:1,2")
    # Filling a gap merges both neighbours.
    day.add(100271)
    day.add(100272)
    assert day.encode() == "100231:59"
    ledger = EmittedOrders()
    for n in range(10_000):
        ledger.add(f"2024-05-{1 + n // 400:02d}T10:00:00.000000Z", 500_000 + n)
    state = ledger.to_state()
    assert state == {f"2024-05-{1 + d:02d}": f"{500_000 + 400 * d}:400" for d in range(25)}
    # A day broken into many runs is stored compressed, and reads back the same.
    ledger.add("2024-05-26T10:00:00.000000Z", 600_000)
    for n in range(600_002, 602_000, 3):
        ledger.add("2024-05-26T11:00:00.000000Z", n)
    stored = ledger.to_state()["2024-05-26"]
    assert stored.startswith("z:")
    assert unpack(stored) == "600000:1,1,1" + ",2,1" * 665
    assert len(stored) < len(unpack(stored)) / 5
    back = EmittedOrders.from_state(ledger.to_state())
    assert back.has("2024-05-26T00:00:01.000000Z", 601_997)
    assert not back.has("2024-05-26T00:00:01.000000Z", 601_998)
    assert back.to_state() == ledger.to_state()
    ledger.forget_before("2024-05-20")
    assert min(ledger.to_state()) == "2024-05-20"
    assert len(ledger) == 6 * 400 + 1 + 666


# -- from a state written by the plain incremental mode -------------------------------------------
def test_ids_of_an_older_emitted_map_are_not_imported_again(fake):
    """A state from before Get Orders (an ``emitted`` id map) is carried over, then dropped."""
    from tap_test_support import base_config

    for order in fake.orders:
        order["order_status_id"] = 2  # Processing
    now = datetime(2024, 3, 6, 12, tzinfo=UTC)
    config = base_config(order_status_names=["Processing"], lookback_days=1)
    # The plain mode's state: a bookmark, and the ids emitted in its last day.
    plain = run_tap(base_config(lookback_days=1), streams=("orders",), now=now)
    old = plain["state"]["bookmarks"]["orders"]
    assert len(old["emitted"]) == 24  # created 2024-03-05 12:00 to 2024-03-06 11:00
    run = run_tap(config, state=plain["state"], streams=("orders",), now=now + timedelta(hours=1))
    got = ids_of(run)
    assert sorted(got) == sorted(o["id"] for o in fake.orders if str(o["id"]) not in old["emitted"])
    marks = run["state"]["bookmarks"]["orders"]
    assert "emitted" not in marks
    assert len(EmittedOrders.from_state(marks[STATE_KEY])) == len(fake.orders)


def test_ids_of_an_older_emitted_map_from_before_the_window_are_not_kept(fake):
    """The state keeps the window's days only: an older map's id from before it is dropped.

    The window of a run at 2024-03-06 13:00 starts on 2024-02-05; an id the plain mode emitted
    on 2024-02-03 is not carried into the Get Orders state (the next run cannot read it anyway).
    """
    from tap_test_support import base_config

    for order in fake.orders:
        order["order_status_id"] = 2  # Processing
    now = datetime(2024, 3, 6, 12, tzinfo=UTC)
    plain = run_tap(base_config(lookback_days=1), streams=("orders",), now=now)
    plain["state"]["bookmarks"]["orders"]["emitted"]["999999"] = "2024-02-03T10:00:00Z"
    config = base_config(order_status_names=["Processing"], lookback_days=1)
    run = run_tap(config, state=plain["state"], streams=("orders",), now=now + timedelta(hours=1))
    kept = EmittedOrders.from_state(run["state"]["bookmarks"]["orders"][STATE_KEY])
    assert not kept.has("2024-02-03T10:00:00Z", 999999)
    assert len(kept) == len(fake.orders)


# -- a run that fails part-way, resumed in process (issue 26) -------------------------------------
def _orders_pages(server: Any, status_id: int, since: int) -> int:
    """``GET /orders`` calls for ``status_id`` among the sandbox's calls from index ``since``."""
    return sum(
        1
        for c in server.calls.snapshot()[since:]
        if c.path == "/api/v1/orders" and re.search(rf"order_status_id={status_id}(&|$)", c.query)
    )


@pytest.mark.parametrize(
    "window",
    [{}, {"orders_created_within_days": 45}],
    ids=["default window", "orders_created_within_days"],
)
def test_a_run_failed_part_way_resumes_after_its_last_checkpoint(server, window):
    """Pending and Processing; the run fails on Processing's 3rd page (a 400, never retried).

    From its last STATE the next run reads no Pending page again and starts Processing after
    the last checkpointed page: together the two runs emit each eligible order exactly once.
    With ``orders_created_within_days`` the window starts exactly at that age, and the resumed
    read still starts after the checkpoint, not at the start of the window.
    """
    statuses = order_status_ids(server)
    # One call at a time, so the call the fault is scripted for is Processing's 3rd page (pages
    # read several at once: tests/test_tap_in_flight.py).
    config = config_for(
        server, order_status_names=["Pending", "Processing"], max_in_flight=1, **window
    )
    reference = ids_of(run_tap(config, streams=("orders",)))
    pending_pages = _orders_pages(server, statuses["Pending"], 0)
    processing_pages = _orders_pages(server, statuses["Processing"], 0)
    assert pending_pages >= 2
    assert processing_pages >= 4
    since = len(server.calls)
    fault = {"kind": "status", "status": 400, "path": "/orders", "after": pending_pages + 2}
    server.faults.script([fault])
    failed = run_tap(config, streams=("orders",), expect_error=True)
    server.faults.clear()
    first = [r["id"] for r in failed["records"].get("orders", [])]
    assert first
    assert failed["state"]["bookmarks"]["orders"]["resume"]["status_id"] == statuses["Processing"]
    since = len(server.calls)
    resumed = run_tap(config, state=failed["state"], streams=("orders",))
    second = ids_of(resumed)
    assert _orders_pages(server, statuses["Pending"], since) == 0
    # Processing from its 3rd page, the one that failed: pages 1 and 2 were checkpointed.
    assert _orders_pages(server, statuses["Processing"], since) == processing_pages - 2
    assert sorted(first + second) == sorted(reference)
    assert not set(first) & set(second)
    assert "resume" not in resumed["state"]["bookmarks"]["orders"]


def test_a_resume_point_of_a_status_no_longer_selected_is_dropped(server):
    """The saved position belongs to a status the config no longer reads: the whole window."""
    statuses = order_status_ids(server)
    config = config_for(server, order_status_names=["Processing"])
    reference = ids_of(run_tap(config, streams=("orders",)))
    state = {
        "bookmarks": {
            "orders": {
                "resume": {
                    "replication_key": "created_at",
                    "status_id": statuses["Pending"],
                    "after": ["2020-01-01T00:00:00Z", 1],
                }
            }
        }
    }
    again = run_tap(config, state=state, streams=("orders",))
    assert sorted(ids_of(again)) == sorted(reference)
    assert "resume" not in again["state"]["bookmarks"]["orders"]


def test_get_orders_sends_each_child_streams_schema_before_its_first_record(server):
    """Order items selected with Get Orders: a target reads the items' SCHEMA before any item."""
    config = config_for(server, order_status_names=["Processing"])
    run = run_tap(config, streams=("orders", "order_items"))
    assert run["records"]["order_items"]
    kinds = [(m["type"], m.get("stream")) for m in run["messages"]]
    first_item = kinds.index(("RECORD", "order_items"))
    assert ("SCHEMA", "order_items") in kinds[:first_item]


def test_a_run_failed_between_two_statuses_resumes_at_the_next_one(server):
    """Pending read to its end, then the run fails on Processing's first page.

    Before the next run, Pending's last order moves to Processing: nothing of Pending is left
    after the checkpoint (one empty page), and the run goes on to Processing. Together the two
    runs emit each eligible order exactly once (the moved one is not emitted again).
    """
    statuses = order_status_ids(server)
    config = config_for(server, order_status_names=["Pending", "Processing"])
    reference = ids_of(run_tap(config, streams=("orders",)))
    pending_pages = _orders_pages(server, statuses["Pending"], 0)
    fault = {"kind": "status", "status": 400, "path": "/orders", "after": pending_pages}
    server.faults.script([fault])
    failed = run_tap(config, streams=("orders",), expect_error=True)
    server.faults.clear()
    first = [r["id"] for r in failed["records"].get("orders", [])]
    resume = failed["state"]["bookmarks"]["orders"]["resume"]
    assert resume["status_id"] == statuses["Pending"]
    last_pending = resume["after"][1]
    server.store.update("orders", last_pending, {"order_status_id": statuses["Processing"]})
    since = len(server.calls)
    resumed = run_tap(config, state=failed["state"], streams=("orders",))
    second = ids_of(resumed)
    assert _orders_pages(server, statuses["Pending"], since) == 1
    assert second
    assert last_pending in first
    assert sorted(first + second) == sorted(reference)
    assert "resume" not in resumed["state"]["bookmarks"]["orders"]

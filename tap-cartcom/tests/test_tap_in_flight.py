"""Pages read several at once (``max_in_flight``) at a store's latency, handed over in order.

The sandbox answers each counted call after a latency; its wait is replaced here by ``InFlight``,
which counts the calls waiting at once (the calls in flight, as the store sees them) and makes
the first ``want`` of them after page 1 meet before any is answered: a tap that reads several
pages at once reaches ``want`` calls in flight whatever the machine's speed, and one that reads
them one by one never does (the meeting gives up after ``MEET_SECONDS``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_testing.runs import run_tap
from tap_cartcom._client.pacing import CallBudget

ORDERS_WITH_CHILDREN = ("orders", "order_items", "order_payments")
ORDER_FAMILY = ("orders", "order_items", "order_shipments", "order_payments", "order_addresses")
MEET_SECONDS = 10.0


class InFlight:
    """The sandbox's wait before each answer: counts the calls waiting at once.

    After ``skip`` calls, the next ``want`` calls wait for each other (at most ``MEET_SECONDS``)
    before their answers leave; then every call waits ``seconds`` as the store's latency does.
    """

    def __init__(self, want: int, skip: int = 1) -> None:
        """Meet ``want`` calls after the first ``skip``."""
        self.want, self.skip = want, skip
        self.turn = threading.Condition()
        self.now = self.peak = self.seen = 0
        self.met = False

    def __call__(self, seconds: float) -> None:
        """One call's wait (the sandbox's ``app.sleep``)."""
        with self.turn:
            self.seen += 1
            self.now += 1
            self.peak = max(self.peak, self.now)
            if self.seen > self.skip and not self.met:
                self.turn.notify_all()
                self.turn.wait_for(lambda: self.met or self.now >= self.want, MEET_SECONDS)
                self.met = True  # met, or given up: later calls do not wait for each other
                self.turn.notify_all()
        try:
            time.sleep(seconds)
        finally:
            with self.turn:
                self.now -= 1


def config_for(server, **extra):
    """Tap settings for ``server``: generous pacing unless a test narrows it."""
    return {
        "access_token": server.token,
        "api_url": server.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "start_date": "2024-01-01T00:00:00Z",
        "page_size": 25,
        **extra,
    }


def records_and_states(run):
    """Every RECORD as (stream, record) in output order, and every STATE."""
    records = [(m["stream"], m["record"]) for m in run["messages"] if m["type"] == "RECORD"]
    return records, run["states"]


def order_ids(server):
    """Every order id in the store."""
    return {row[0] for row in server.store.execute("SELECT id FROM r_orders")}


def order_page_calls(server):
    """The store's log of the orders' page reads (the keyless read, with ``fields``, aside)."""
    return [c for c in server.calls if c.path == "/api/v1/orders" and "fields=" not in c.query]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("sandbox_config", "streams", "page_size"),
    [
        (SandboxConfig(plan="unlimited", latency_ms=20), ORDERS_WITH_CHILDREN, 25),
        (SandboxConfig(plan="unlimited", latency_ms=20), ORDER_FAMILY, 25),
        # The store serves 10 rows a page whatever ``count`` asks.
        (SandboxConfig(plan="unlimited", latency_ms=20, max_count=10), ORDER_FAMILY, 40),
        # Old dialect: a page 1 with no row answers 404; the store caps ``count`` at 50.
        (
            SandboxConfig(plan="unlimited", latency_ms=20, empty_page_status=404, max_count=50),
            ORDER_FAMILY,
            120,
        ),
    ],
    ids=["orders-items-payments", "order-family", "count-capped", "old-dialect"],
)
def test_output_is_the_sequential_read_record_for_record(seeded_sandbox, streams, page_size):
    """Four calls in flight write the same records, in the same order, and the same STATEs.

    Compared with ``max_in_flight: 1`` (one page at a time) on the same store; the reads at
    four did have four calls in flight at once, and never more.
    """
    server = seeded_sandbox
    ids = order_ids(server)
    config = config_for(server, page_size=page_size)
    now = datetime.now(UTC).replace(microsecond=0)  # one clock: the STATEs' signposts agree
    one = run_tap({**config, "max_in_flight": 1}, streams=streams, now=now)
    gauge = InFlight(want=4)
    server.app.sleep = gauge
    four = run_tap({**config, "max_in_flight": 4}, streams=streams, now=now)
    assert gauge.peak == 4
    assert records_and_states(four) == records_and_states(one)
    assert {r["id"] for r in four["records"]["orders"]} == ids
    assert len(four["records"]["orders"]) == len(ids)
    if "order_items" in streams:
        items = {r["id"] for r in four["records"]["order_items"]}
        assert items == {row[0] for row in server.store.execute("SELECT id FROM r_order_items")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "sandbox_config",
    [SandboxConfig(plan="unlimited", latency_ms=10, empty_page_status=404)],
)
def test_an_empty_window_ends_on_page_one_in_the_old_dialect(seeded_sandbox):
    """Nothing new (page 1 answers 404): no record, no error, one page read."""
    server = seeded_sandbox
    config = config_for(server, start_date="2030-01-01T00:00:00Z", max_in_flight=4)
    run = run_tap(config, streams=("orders",))
    assert run["records"].get("orders", []) == []
    assert [c.status for c in order_page_calls(server)] == [404]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(plan="steel", rate_window=1.0, latency_ms=50)]
)
def test_calls_in_flight_and_per_window_stay_within_the_setting_and_the_plan(seeded_sandbox):
    """Three in flight at most, five per 1-s window at most, and no 429, at 50 ms per answer."""
    server = seeded_sandbox
    gauge = InFlight(want=3)
    server.app.sleep = gauge
    config = config_for(server, calls_per_window=5, window_seconds=1, max_in_flight=3)
    run = run_tap(config, streams=ORDER_FAMILY)
    assert {r["id"] for r in run["records"]["orders"]} == order_ids(server)
    assert gauge.peak == 3
    calls = [c for c in server.calls if c.path.startswith("/api/v1/")]
    assert all(c.status != 429 for c in calls)
    stamps = sorted(c.ts for c in calls)
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 1.0) <= 5


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="unlimited", latency_ms=500)])
def test_a_429_pauses_every_worker_until_retry_after(seeded_sandbox, monkeypatch):
    """A 429 with ``Retry-After: 2`` on one page: no worker starts a call for 2 s.

    The other workers' pages are answered with it, and have their address reads and the next
    pages to go on with (half a second later): only a pause shared by every worker holds them.
    The store's log is read from the moment the tap took the 429 in (a call already sent then
    may still arrive just after it): nothing arrives until ``Retry-After`` has run out.
    """
    server = seeded_sandbox
    blocked: list[float] = []
    block_for = CallBudget.block_for

    def record(budget, seconds):
        blocked.append(time.time())
        block_for(budget, seconds)

    monkeypatch.setattr(CallBudget, "block_for", record)
    server.faults.script(
        [{"kind": "status", "status": 429, "path": "/orders", "after": 3, "retry_after": "2"}]
    )
    run = run_tap(config_for(server, max_in_flight=4), streams=ORDER_FAMILY)
    assert {r["id"] for r in run["records"]["orders"]} == order_ids(server)
    calls = [c for c in server.calls if c.path.startswith("/api/v1/")]
    assert [c.status for c in calls].count(429) == 1
    assert len(blocked) == 1
    paused = [c for c in calls if blocked[0] + 0.25 < c.ts < blocked[0] + 2.0 - 0.05]
    assert paused == []
    assert any(c.ts >= blocked[0] + 2.0 - 0.05 for c in calls)  # the read went on after it


TAP_SCRIPT = """
import json, sys
from tap_cartcom.tap import TapCartcom
config, streams = json.loads(sys.argv[1]), json.loads(sys.argv[2])
tap = TapCartcom(config=config, parse_env_config=False)
for name, stream in tap.streams.items():
    stream.selected = name in streams
tap.sync_all()
"""


def read_messages(path: Path):
    """The messages a killed tap wrote (a last line cut short by the kill is not one)."""
    messages = []
    for line in path.read_text().splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return messages


def pages_around_the_held_one(server, workers):
    """Every page before the held read and the ``workers - 1`` after it were answered."""
    if not server.faults.fired:
        return False
    answered = {page_number(c.query) for c in order_page_calls(server)}
    held = min(n for n in range(1, len(answered) + 2) if n not in answered)
    return all(n in answered for n in (*range(1, held), *range(held + 1, held + workers)))


def page_number(query):
    """``page=N`` of a read's query (page 1 has none)."""
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "page":
            return int(value)
    return 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="unlimited", latency_ms=20)])
def test_killed_mid_window_with_pages_in_flight_resumes_losing_nothing(seeded_sandbox, tmp_path):
    """SIGKILL while one page is held unanswered and three more are in flight or read ahead.

    The resumed run (from the last STATE the killed one wrote) emits every order the killed one
    did not; orders emitted twice are at most one page; the killed run had read at most
    ``max_in_flight`` pages past its last STATE (what the resume reads again), all counted in
    the store's own log.
    """
    server = seeded_sandbox
    ids = order_ids(server)
    page, workers, held_at = 25, 4, 5
    # The 6th orders read to arrive is held; the tap is killed once every page before it and
    # the three after it were answered (read ahead, never handed over).
    server.faults.script([{"kind": "hold", "path": "/orders", "after": held_at, "seconds": 60}])
    config = config_for(server, page_size=page, max_in_flight=workers)
    out = tmp_path / "run1.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("w") as fh:
        tap = subprocess.Popen(
            [sys.executable, "-c", TAP_SCRIPT, json.dumps(config), json.dumps(ORDER_FAMILY)],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while not pages_around_the_held_one(server, workers):
            assert tap.poll() is None, "the tap ended before it was killed"
            assert time.monotonic() < deadline, "the tap never read the pages after the held one"
            time.sleep(0.02)
        tap.send_signal(signal.SIGKILL)
        tap.wait(30)
        answered = order_page_calls(server)  # the held read is logged only once let go
    finally:
        if tap.poll() is None:
            tap.kill()
        server.faults.clear()  # lets the held read go: its answer reaches nobody
    messages = read_messages(out)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    first = [
        m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "orders"
    ]
    assert states, "the killed run wrote no STATE"
    assert 0 < len(first) < len(ids)
    # The orders written before the last STATE: whole pages, the position the resume starts at.
    last_state = max(i for i, m in enumerate(messages) if m["type"] == "STATE")
    stated = sum(
        1 for m in messages[:last_state] if m["type"] == "RECORD" and m["stream"] == "orders"
    )
    # The killed run had read pages past its last STATE (in flight, or read and not handed
    # over), and never more than ``max_in_flight`` of them: what the resume reads again.
    assert workers - 1 <= len(answered) - math.ceil(stated / page) <= workers
    deadline = time.monotonic() + 30
    while len(order_page_calls(server)) <= len(answered):  # the held read, let go, is logged
        assert time.monotonic() < deadline, "the held read never reached the store's log"
        time.sleep(0.02)
    before = len(order_page_calls(server))
    second = run_tap(config, state=states[-1], streams=ORDER_FAMILY)
    again = [r["id"] for r in second["records"]["orders"]]
    assert set(first) | set(again) == ids
    assert len(set(first) & set(again)) <= page
    assert len(again) == len(set(again))
    # The resume reads from the last STATE's position on, not from the window's start.
    resumed = order_page_calls(server)[before:]
    assert len(resumed) <= math.ceil((len(ids) - stated) / page) + 1

"""Resumable backfills: ``kill -9`` mid-window, then a resume from the last STATE.

A real ``tap-cartcom`` reads 10,000 orders from a paced sandbox in pages of 100. It writes a
STATE after every page with the position it reached (``resume``: the last ``(created_at, id)``
written). Killed part-way, the resumed run starts its read there: it re-emits at most the page
it was writing when killed, and loses nothing. With a status filter (Get Orders) the import
window is rescanned by each complete run (an order may turn eligible late); a resumed run reads
from its position, and the next run rescans.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import created_utc, order_status_ids, set_order_status
from tap_cartcom._client.quirks import to_utc

TOKEN = "test-token"
PAGE = 100
ORDERS = 10_000
TAP = str(Path(sys.executable).with_name("tap-cartcom"))
#: Paced: 40 calls a second, far below what the tap could send, so the kill lands mid-read.
PACE = {"rate_calls": 40, "rate_window": 1.0}


@pytest.fixture(scope="module")
def backfill_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 orders over the 60 days before today, seeded once for the module."""
    path = tmp_path_factory.mktemp("backfill") / "store.db"
    seed_store(str(path), products=20, orders=ORDERS, seed=7, days=60)
    return path


@pytest.fixture
def server(backfill_db: Path, tmp_path: Path) -> Any:
    """A paced sandbox over a private copy of the store."""
    db = tmp_path / "store.db"
    shutil.copyfile(backfill_db, db)
    srv = SandboxServer(str(db), tokens=[TOKEN], config=SandboxConfig(**PACE))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _messages(path: Path) -> list[dict[str, Any]]:
    """Complete Singer lines written so far (a line cut by the kill is ignored)."""
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            out.append(json.loads(line))
    return out


def _records(messages: list[dict[str, Any]]) -> list[int]:
    return [m["record"]["id"] for m in messages if m["type"] == "RECORD"]


def _states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["value"] for m in messages if m["type"] == "STATE"]


class Runner:
    """Starts ``tap-cartcom`` subprocesses with one config and an orders-only catalog."""

    def __init__(self, server: Any, tmp_path: Path, **extra: Any) -> None:
        """Write the config and the catalog."""
        from tap_cartcom.tap import TapCartcom

        self.tmp = tmp_path
        config = {
            "access_token": TOKEN,
            "api_url": server.base_url,
            "calls_per_window": PACE["rate_calls"],
            "window_seconds": PACE["rate_window"],
            "page_size": PAGE,
            **extra,
        }
        self.config = tmp_path / "config.json"
        self.config.write_text(json.dumps(config))
        catalog = TapCartcom(config=config, parse_env_config=False).catalog_dict
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] == "orders"
        self.catalog = tmp_path / "catalog.json"
        self.catalog.write_text(json.dumps(catalog))

    def start(self, name: str, state: dict | None = None) -> tuple[subprocess.Popen, Path]:
        """Start a run writing its Singer output to ``<name>.singer``."""
        args = [TAP, "--config", str(self.config), "--catalog", str(self.catalog)]
        if state is not None:
            state_path = self.tmp / f"{name}.state.json"
            state_path.write_text(json.dumps(state))
            args += ["--state", str(state_path)]
        out = self.tmp / f"{name}.singer"
        with out.open("w") as stdout, (self.tmp / f"{name}.stderr").open("w") as stderr:
            return subprocess.Popen(args, stdout=stdout, stderr=stderr), out

    def kill_after(self, name: str, states: int) -> list[dict[str, Any]]:
        """Start a run, ``kill -9`` it once it wrote ``states`` page checkpoints; its output."""
        process, out = self.start(name)
        deadline = time.monotonic() + 300
        try:
            while sum(1 for m in _messages(out) if m["type"] == "STATE") < states:
                assert process.poll() is None, (self.tmp / f"{name}.stderr").read_text()[-2000:]
                assert time.monotonic() < deadline, "the run never reached the kill point"
                time.sleep(0.02)
        finally:
            os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        return _messages(out)

    def complete(self, name: str, state: dict | None) -> list[dict[str, Any]]:
        """A run to its end; its output."""
        process, out = self.start(name, state)
        assert process.wait(timeout=600) == 0, (self.tmp / f"{name}.stderr").read_text()[-2000:]
        return _messages(out)


#: A page of a list after its first (``page=2`` and on).
LATER_PAGE = re.compile(r"(?:^|&)page=(?!1(?:&|$))\d+")


def _order_calls(server: Any, since: int) -> list[Any]:
    return [c for c in server.calls.snapshot()[since:] if c.path == "/api/v1/orders"]


def test_kill_9_mid_backfill_resumes_at_the_page_it_reached(server, tmp_path):
    """10,000 orders, pages of 100, killed at about 40 %: the resume re-emits at most a page."""
    runner = Runner(server, tmp_path, progress_interval_seconds=1)
    killed = runner.kill_after("killed", states=40)
    emitted = _records(killed)
    # Progress lines (every second): records, pages, calls and the bookmark, moving forward.
    progress = re.findall(
        r"Progress orders: (\d+) records in (\d+) pages, (\d+) calls; bookmark created_at (\S+)",
        (tmp_path / "killed.stderr").read_text(),
    )
    assert len(progress) >= 2
    assert [int(p[1]) for p in progress] == sorted(int(p[1]) for p in progress)
    assert all(int(calls) >= int(pages) for _, pages, calls, _ in progress)
    assert progress[-1][3] > progress[0][3]
    last_state = _states(killed)[-1]
    resume = last_state["bookmarks"]["orders"]["resume"]
    assert resume["replication_key"] == "created_at"
    assert 3_000 <= len(emitted) < ORDERS
    # The position is two values, not a list of ids: it does not grow with the store. The ids
    # kept for the next run's lookback are those of its last 3 days only (about 500 here).
    assert len(json.dumps(resume)) < 120
    assert len(last_state["bookmarks"]["orders"]["emitted"]) < 1_000

    before = len(server.calls)
    resumed = runner.complete("resumed", last_state)
    again = _records(resumed)
    repeated = set(emitted) & set(again)
    assert len(repeated) <= PAGE
    assert len(again) == len(set(again)), "an order was emitted twice by the resumed run"
    every = {o["id"] for o in server.store.query("orders")}
    assert set(emitted) | set(again) == every
    # Its first page starts at the position reached, not at the beginning of the window. Pages
    # the killed run had in flight can still land in the store's log after the kill (always a
    # later page of its window): the resumed run's calls start at its first page.
    calls = _order_calls(server, before)
    start = next(i for i, c in enumerate(calls) if not LATER_PAGE.search(c.query))
    assert all(LATER_PAGE.search(c.query) for c in calls[:start])
    first = calls[start]
    assert f"created_at=gte:{resume['after'][0]}" in first.query
    pages = len(calls) - start
    assert pages <= (ORDERS - len(emitted) + len(repeated)) // PAGE + 2
    final = _states(resumed)[-1]["bookmarks"]["orders"]
    assert "resume" not in final
    assert final["replication_key_value"] >= max(
        to_utc(o["created_at"]) for o in server.store.query("orders")
    )


def test_kill_9_with_get_orders_keeps_each_order_once(server, tmp_path):
    """Get Orders (Processing, 30 days), killed mid-window; statuses change; then a resume.

    The resume reads from the position it reached (status and created_at, id) and imports the
    orders that turned Processing after it; those that turned Processing behind it come with
    the next run's full rescan; orders already imported and moved Shipped then back are never
    imported again; the resume repeats at most the page it was writing.
    """
    status = order_status_ids(server)
    processing, pending = status["Processing"], status["Pending"]
    now = datetime.now(UTC)
    floor = now - timedelta(days=30)

    in_window = sorted(
        (o for o in server.store.query("orders") if floor + timedelta(hours=1) <= created_utc(o)),
        key=lambda o: (created_utc(o), o["id"]),
    )
    # Enough eligible orders for 30+ pages, and Pending ones spread through the window.
    for n, order in enumerate(in_window):
        server.store.update(
            "orders", order["id"], {"order_status_id": pending if n % 5 == 0 else processing}
        )
    runner = Runner(server, tmp_path, order_status_names=["Processing"])
    killed = runner.kill_after("killed", states=15)
    emitted = _records(killed)
    last_state = _states(killed)[-1]
    messages_before_state = killed[: max(i for i, m in enumerate(killed) if m["type"] == "STATE")]
    committed = set(_records(messages_before_state))
    assert committed
    assert len(emitted) < len(in_window)

    # Between the runs: Pending orders from before and after the kill point turn Processing;
    # imported orders go Shipped and back to Processing.
    position = max(in_window.index(o) for o in in_window if o["id"] in committed)
    late_early = [o["id"] for o in in_window[:position:5]][:3]
    late_later = [o["id"] for o in in_window[position + 1 :: 5][5:8]]
    bounced = sorted(committed)[:3]
    for order_id in late_early + late_later:
        set_order_status(server, order_id, processing)
    for order_id in bounced:
        set_order_status(server, order_id, status["Shipped"])
        set_order_status(server, order_id, processing)

    assert last_state["bookmarks"]["orders"]["resume"]["status_id"] == processing
    before = len(server.calls)
    resumed = runner.complete("resumed", last_state)
    again = _records(resumed)
    assert len(again) == len(set(again))
    assert len(set(emitted) & set(again)) <= PAGE
    assert not committed & set(again), "an order checkpointed before the kill came again"
    # The resume reads from the position: the eligible orders after it, plus at most a page.
    after = sum(
        1
        for o in in_window[position + 1 :]
        if server.store.get("orders", o["id"])["order_status_id"] == processing
    )
    assert len(_order_calls(server, before)) <= after // PAGE + 2
    assert set(late_later) <= set(again)
    # Orders that turned eligible behind the position wait for the next run's full rescan.
    assert not set(late_early) & set(again)
    following = _records(runner.complete("next", _states(resumed)[-1]))
    assert sorted(following) == sorted(late_early)
    eligible = {
        o["id"]
        for o in server.store.query("orders")
        if o["order_status_id"] == processing and created_utc(o) >= floor + timedelta(hours=1)
    }
    assert eligible <= set(emitted) | set(again) | set(following)

"""Progress lines on a paced run: done/total, calls, pace and an ETA that holds."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import build_catalog, catalog_listings, run_target
from target_cartcom import progress as progress_module
from target_cartcom.progress import Progress

TOKEN = "test-token"
PRODUCTS = 30
LINE = re.compile(
    r"Progress listings: (\d+)/(\d+) records of the batch \((.*)\); calls: (\d+) reads, "
    r"(\d+) writes; pace ([\d.]+)/(\d+) calls per 1s window; ETA (unknown|[\d.]+s)"
)


@pytest.fixture
def paced():
    """30 products of 3 sizes on a store that allows 10 calls a second."""
    config = SandboxConfig(rate_calls=10, rate_window=1.0)
    server = SandboxServer(":memory:", tokens=[TOKEN], config=config)
    server.start()
    build_catalog(server.store, PRODUCTS)
    try:
        yield server
    finally:
        server.stop()


def test_progress_lines_on_a_paced_run(paced, caplog):
    """Every variant's stock changes: 90 writes at 10 calls/s, one progress line a second."""
    listings = catalog_listings(PRODUCTS)
    for listing in listings:
        for variant in listing["variants"]:
            variant["quantity"] += 1
    caplog.set_level(logging.INFO, logger="target-cartcom")
    started = time.monotonic()
    result = run_target(
        paced.base_url,
        TOKEN,
        listings,
        calls_per_window=10,
        window_seconds=1,
        progress_interval_seconds=1,
    )
    assert result.summary["failed"] == 0
    assert result.summary["calls"]["writes"] == 3 * PRODUCTS
    assert time.monotonic() - started > 5, "the run was not paced"
    lines = [
        (record.created, LINE.search(record.getMessage()))
        for record in caplog.records
        if record.getMessage().startswith("Progress listings")
    ]
    assert len(lines) >= 5
    assert all(match is not None for _, match in lines), [m for _, m in lines]
    done = [int(m.group(1)) for _, m in lines]
    assert done == sorted(done)
    assert {int(m.group(2)) for _, m in lines} == {PRODUCTS}
    assert int(lines[-1][1].group(5)) > int(lines[0][1].group(5))  # writes go up
    assert "updated" in lines[-1][1].group(3)
    assert float(lines[-1][1].group(6)) <= 10 * 1.2  # the pace stays at the plan's
    # How close the ETA comes is pinned without a clock in the next test (a timed assert here
    # would fail on a busy machine, not on wrong code).
    etas = [float(m.group(8).rstrip("s")) for _, m in lines if m.group(8) != "unknown"]
    assert etas
    assert all(eta >= 0 for eta in etas)


@dataclass
class _Settings:
    calls_per_window: int = 10
    window_seconds: float = 1.0


@dataclass
class _Session:
    reads: int = 0
    writes: int = 0
    settings: _Settings = field(default_factory=_Settings)


def test_the_eta_is_calls_left_at_the_plans_rate(monkeypatch):
    """30 listings of 3 writes at 10 calls/s: the ETA is the calls left at the plan's pace.

    A fake clock and session, so the figures are exact: after 10 listings (30 writes) in 3 s,
    20 are left at 3 calls each, 60 calls at 10 per second: 6.0 s. Listings being written at
    once count as half done (their calls are already counted); when the store answers slower
    than the plan, the observed time per listing gives the ETA instead.
    """
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    session = _Session(reads=2)
    progress = Progress(
        logger=logging.getLogger("test-progress"),
        opened_session=lambda: session,
        outcomes=lambda stream: {},
        interval=60,
    )
    progress.begin_batch("listings", 30)  # its timer's first line would come in 60 s
    assert progress.lines()[0]["eta_seconds"] is None  # nothing done: no figure yet
    for _ in range(10):
        progress.begun("listings")
        progress.handled("listings", "updated")
    session.writes = 30
    now[0] += 3.0
    (line,) = progress.lines()
    assert (line["done"], line["total"], line["outcomes"]) == (10, 30, {"updated": 10})
    assert line["eta_seconds"] == pytest.approx(6.0)
    # Two more being written, 3 of their 6 calls made: each counts as half done.
    progress.begun("listings")
    progress.begun("listings")
    session.writes = 33
    assert progress.lines()[0]["eta_seconds"] == pytest.approx(33 / 11 * 19 / 10)
    # A store slower than the plan: 10 listings took 30 s, so 19 left take 57 s, not 5.7.
    now[0] += 27.0
    assert progress.lines()[0]["eta_seconds"] == pytest.approx(30 / 11 * 19)
    progress.stop()


def test_no_progress_lines_when_off(paced, caplog):
    """``progress_interval_seconds: 0`` logs none."""
    caplog.set_level(logging.INFO, logger="target-cartcom")
    listings = catalog_listings(3)
    listings[0]["variants"][0]["quantity"] += 1
    run_target(
        paced.base_url,
        TOKEN,
        listings,
        calls_per_window=10,
        window_seconds=1,
        progress_interval_seconds=0,
    )
    assert not [r for r in caplog.records if r.getMessage().startswith("Progress")]

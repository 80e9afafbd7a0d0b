"""Progress lines on a paced run: done/total, calls, pace and an ETA that holds."""

from __future__ import annotations

import logging
import re
import time

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.listing_scenarios import build_catalog, catalog_listings, run_target

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


def test_progress_lines_with_an_eta_within_30_percent(paced, caplog):
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
    ended = time.time()
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
    # The last ETA given with at least 2 s to go is within 30 % of the time that was left.
    at, match = [(t, m) for t, m in lines if ended - t >= 2 and m.group(8) != "unknown"][-1]
    eta = float(match.group(8).rstrip("s"))
    remaining = ended - at
    assert abs(eta - remaining) <= 0.3 * remaining, (eta, remaining)


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

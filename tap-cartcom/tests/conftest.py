"""Fixtures for tap-cartcom tests; helpers live in ``tap_test_support`` (importable by path)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm
from cartcom_testing.wire import mock_transport

sys.path.insert(0, str(Path(__file__).parent))

from tap_test_support import (
    BASE,
    FakeCartcom,
    reference_tables,
    sample_products,
)


@pytest.fixture
def fake(monkeypatch) -> Any:
    """A fake store with 120 orders (steps of 1 h from 2024-03-01), products and tables.

    The fake answers *under* the tap's pacing adapter (in place of the HTTP transport, as the
    client's ``wire`` fixture does), so pacing, ``X-AC-Call-Limit`` and ``Retry-After`` handling
    run in every test that uses it; a mock mounted over the session would skip them.
    """
    store = FakeCartcom()
    store.seed(120, datetime(2024, 3, 1, 12, tzinfo=UTC), timedelta(hours=1))
    store.products = sample_products(datetime(2024, 3, 1, tzinfo=UTC))
    store.tables = reference_tables()
    transport = mock_transport(monkeypatch)
    transport.register_uri(rm.ANY, re.compile(re.escape(BASE) + r".*"), content=store.handler)
    return store

"""The SDK's standard tap tests, against requests-mock fixtures shaped like the real API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests_mock as rm
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_cartcom.tap import TapCartcom
from tap_test_support import (
    BASE,
    FakeCartcom,
    base_config,
    prune_union_attribute_tests,
    reference_tables,
    sample_products,
)


@pytest.fixture(scope="module", autouse=True)
def _mock_api():
    """One fake store for the whole standard suite (the runner is class-scoped)."""
    store = FakeCartcom(unknown_fields=False)
    store.seed(60, datetime(2024, 3, 1, 12, tzinfo=UTC), timedelta(hours=3))
    store.products = sample_products(datetime(2024, 3, 1, tzinfo=UTC), unknown=False)
    store.tables = reference_tables()
    with rm.Mocker() as mocker:
        mocker.register_uri(rm.ANY, re.compile(re.escape(BASE) + r".*"), content=store.handler)
        yield store


TestTapCartcomMock = prune_union_attribute_tests(
    get_tap_test_class(
        TapCartcom,
        config=base_config(),
        suite_config=SuiteConfig(max_records_limit=150),
        parse_env_config=False,
    ),
)

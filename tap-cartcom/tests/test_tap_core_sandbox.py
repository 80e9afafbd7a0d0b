"""The SDK's standard tap tests, against the live sandbox over HTTP (seeded store)."""

from __future__ import annotations

import shutil

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_cartcom.tap import TapCartcom
from tap_test_support import prune_union_attribute_tests

# Filled in by the module fixture once the sandbox listens (the runner reads this dict).
SANDBOX_CONFIG: dict = {
    "access_token": "test-token",
    "api_url": "http://127.0.0.1:9/api/v1",
    "calls_per_window": 1000,
    "window_seconds": 1,
    "start_date": "2020-01-01T00:00:00Z",
    "page_size": 100,
}


@pytest.fixture(scope="module", autouse=True)
def _sandbox_server(seeded_sandbox_db, tmp_path_factory):
    """A sandbox over a private copy of the seeded store, for the class-scoped runner."""
    source, _ = seeded_sandbox_db
    target = tmp_path_factory.mktemp("tap-core") / "store.db"
    shutil.copyfile(source, target)
    server = SandboxServer(str(target), tokens=["test-token"], config=SandboxConfig())
    server.start()
    SANDBOX_CONFIG["api_url"] = server.base_url
    try:
        yield server
    finally:
        server.stop()


TestTapCartcomSandbox = prune_union_attribute_tests(
    get_tap_test_class(
        TapCartcom,
        config=SANDBOX_CONFIG,
        suite_config=SuiteConfig(max_records_limit=150),
        parse_env_config=False,
    ),
)

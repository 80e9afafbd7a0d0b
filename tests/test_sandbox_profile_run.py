"""The ``--sandbox-profile`` run really serves the profile.

``make test-profile`` reruns the tap's and target's suites with tests/profiles/old-dialect.json
(every list under its resource's name, count capped at 100, an empty page 1 answering 404);
without the option the fixtures serve the defaults (the field evidence's dialect).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import requests
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.profile import load_report
from cartcom_sandbox.resources import list_key
from cartcom_store_probe.rows import list_key_of

PROFILE = Path(__file__).parent / "profiles" / "old-dialect.json"
#: Resources whose list key the field evidence and the spec disagree on.
CHILDREN = ("order_items", "order_payments", "order_shipments", "order_addresses",
            "product_variants", "product_pictures")  # fmt: skip


def _served(sandbox) -> tuple[int, int, str]:
    """(empty page status, rows of count=2000, shipments list key) as the fixture serves them."""
    headers = {"X-AC-Auth-Token": sandbox.token}
    sandbox.store.bulk_insert("order_statuses", [{"id": i, "name": f"s{i}"} for i in range(1, 3)])
    sandbox.store.bulk_insert("orders", [{"id": i, "order_status_id": 1} for i in range(1, 1201)])
    empty = requests.get(f"{sandbox.base_url}/orders?id=lt:1", headers=headers, timeout=10)
    big = requests.get(
        f"{sandbox.base_url}/orders?count=2000&fields=id", headers=headers, timeout=10
    )
    sandbox.store.bulk_insert("order_shipments", [{"id": 1, "order_id": 1}])
    ships = requests.get(f"{sandbox.base_url}/order_shipments", headers=headers, timeout=10)
    return empty.status_code, len(big.json()["orders"]), list_key_of(ships.json())


def test_fixtures_serve_the_profile_or_the_defaults(sandbox, sandbox_profile):
    """With --sandbox-profile the fixtures speak the profile's dialect, else the defaults."""
    status, rows, key = _served(sandbox)
    if sandbox_profile is None:
        default = SandboxConfig()
        assert (status, rows, key) == (default.empty_page_status, 1000, "shipments")
        return
    assert (status, rows, key) == (
        sandbox_profile["empty_page_status"]["value"],
        sandbox_profile["max_count"]["value"],
        sandbox_profile["list_keys"]["value"]["order_shipments"],
    )


def test_the_profile_of_the_make_test_run_differs_from_the_defaults():
    """The profile rerun means something only if the profile is not the defaults."""
    report = load_report(PROFILE)
    default = {f.name: f.default for f in dataclasses.fields(SandboxConfig)}
    assert report["max_count"]["value"] == 100 != default["max_count"]
    assert report["empty_page_status"]["value"] == 404 != default["empty_page_status"]
    keys = report["list_keys"]["value"]
    assert {name: keys[name] for name in CHILDREN} == {name: name for name in CHILDREN}
    assert all(list_key(name) != name for name in CHILDREN)


def test_configs_built_by_tests_start_from_the_profile(sandbox_profile):
    """A test's own SandboxConfig gets the profile's knobs, except those it passes itself."""
    own = SandboxConfig(plan="unlimited", max_count=100)
    assert own.max_count == 100
    assert own.latency_ms == 0  # the answer time stays the test's
    if sandbox_profile is None:
        assert own.empty_page_status == 200
        assert "order_shipments" not in own.list_keys
        return
    assert own.empty_page_status == sandbox_profile["empty_page_status"]["value"]
    assert (
        own.list_keys["order_shipments"]
        == (sandbox_profile["list_keys"]["value"]["order_shipments"])
    )
    assert own.calls_per_window() is None  # the call limit stays the test's

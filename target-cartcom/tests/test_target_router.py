"""The target through the Central API Router (issue 11): writes land on the named site only."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cartcom_sandbox.server import RouterServer
from cartcom_sandbox.store import Store
from cartcom_testing.listing_scenarios import build_catalog, singer_lines
from cartcom_testing.runs import router_sandbox, router_settings
from target_cartcom._client import RouterAuthenticationError
from target_cartcom.target import TargetCartcom

USER, SECRET = "target-partner", "target-SECRET-77"


@pytest.fixture
def router() -> Iterator[RouterServer]:
    """Sites 5 and 6 with the same small catalog (same ids and SKUs), as two brands might."""
    stores = {"5": Store(":memory:"), "6": Store(":memory:")}
    for store in stores.values():
        build_catalog(store, 2)
    with router_sandbox(stores, {USER: SECRET}) as server:
        yield server


def run(server: RouterServer, tmp_path: Path, site: str, records: list[dict], **extra: Any):
    results = tmp_path / f"results-{site}-{len(list(tmp_path.iterdir()))}.jsonl"
    config = router_settings(
        server, site, USER, SECRET, results_path=str(results), operations=["link", "sync"], **extra
    )
    error: Exception | None = None
    try:
        TargetCartcom(config=config, parse_env_config=False).listen(
            io.StringIO(singer_lines(records))
        )
    except Exception as exc:
        error = exc
    lines = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines()]
    return lines, error


def test_a_sync_writes_only_the_named_site(router, tmp_path) -> None:
    before = router.site("5").store.get("products", 1)["price"]
    lines, error = run(router, tmp_path, "6", [{"sku": "CAT-000001", "price": 77.5}])
    assert error is None
    assert lines[0]["outcome"] == "updated"
    assert router.site("6").store.get("products", 1)["price"] == 77.5
    assert router.site("5").store.get("products", 1)["price"] == before
    writes = [c for c in router.calls if c.method != "GET"]
    assert writes
    assert {c.site for c in writes} == {"6"}


def test_a_refused_signature_aborts_naming_the_router_settings(router, tmp_path) -> None:
    lines, error = run(
        router, tmp_path, "5", [{"sku": "CAT-000001", "price": 1.0}], user_secret="wrong-SECRET"
    )
    assert isinstance(error, RouterAuthenticationError)
    summary = lines[-1]
    assert summary["status"] == "aborted"
    for name in ("`user_name`", "`user_secret`", "`site_id`"):
        assert name in summary["reason"]
    assert "wrong-SECRET" not in json.dumps(lines)
    assert router.site("5").store.get("products", 1)["price"] == 20.0


def test_a_token_mode_target_with_the_sdk_defaults_warns_of_nothing() -> None:
    """The SDK fills in `router_url`'s default; a token-mode run must not warn about it."""
    from target_cartcom._client import ConnectionSettings

    target = TargetCartcom(config={"access_token": "tok-1", "api_url": "http://127.0.0.1:9/api/v1"})
    assert target.config["router_url"] == "https://public.americommerce.com/api/v1"
    assert ConnectionSettings.from_config(target.config).notes == ()

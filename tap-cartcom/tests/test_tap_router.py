"""The tap through the Central API Router (issue 11): the SDK's own paging and retry loop signed.

Two sites behind one in-process router sandbox; the tap reads one site with the router's
credentials. The sandbox checks every signature against the raw request line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import tap_cartcom.http as tap_http
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import RouterServer
from cartcom_sandbox.store import Store
from cartcom_testing.runs import router_sandbox, router_settings, run_tap

USER, SECRET = "tap-partner", "tap-SECRET-31"


@pytest.fixture
def router() -> Iterator[RouterServer]:
    stores = {"11": Store(":memory:"), "22": Store(":memory:")}
    seed_store(stores["11"], products=6, orders=25, seed=11)
    seed_store(stores["22"], products=6, orders=9, seed=22)
    with router_sandbox(stores, {USER: SECRET}) as server:
        yield server


def router_config(server: RouterServer, site: str, **extra: object) -> dict[str, object]:
    return router_settings(
        server,
        site,
        USER,
        SECRET,
        window_seconds=1,
        start_date="2000-01-01T00:00:00Z",
        page_size=10,
        **extra,
    )


def order_ids(server: RouterServer, site: str) -> set[int]:
    return {order["id"] for order in server.site(site).store.query("orders")}


def test_each_page_and_each_sdk_retry_is_signed(router, monkeypatch, caplog) -> None:
    """Three pages of site 11, two 503s on the way: the SDK's retries pass the router's check."""
    monkeypatch.setattr(tap_http, "retry_wait_seconds", lambda response, attempt: 0.01)
    router.site("11").faults.script(
        [{"kind": "status", "status": 503, "path": "/orders", "after": 1, "times": 2}]
    )
    with caplog.at_level(logging.DEBUG):
        run = run_tap(router_config(router, "11"), streams=("orders",))
    assert "Retrying" in caplog.text or "503" in caplog.text
    assert SECRET not in caplog.text
    assert {r["id"] for r in run["records"]["orders"]} == order_ids(router, "11")
    orders = [c for c in router.calls if c.path == "/api/v1/orders"]
    assert [c.status for c in orders].count(503) == 2
    # 25 orders, pages of 10, and the read of the orders without a created_at (signed too).
    assert [c.status for c in orders].count(200) == 4
    assert sum("fields=id,created_at" in c.query for c in orders) == 1
    assert {c.site for c in router.calls} == {"11"}
    assert all(c.status != 401 for c in router.calls)
    assert SECRET not in run["stderr"]


def test_the_other_site_is_read_with_the_same_identity(router) -> None:
    run = run_tap(router_config(router, "22"), streams=("orders",))
    assert {r["id"] for r in run["records"]["orders"]} == order_ids(router, "22")
    assert {c.site for c in router.calls} == {"22"}


def test_a_domain_given_in_router_mode_is_named_as_not_used(router, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="tap-cartcom"):
        run_tap(router_config(router, "22", domain="shop.example.com"), streams=("orders",))
    assert any("`domain` is not used" in r.getMessage() for r in caplog.records)
    assert {c.site for c in router.calls} == {"22"}


def test_a_wrong_secret_fails_naming_the_router_settings(router) -> None:
    run = run_tap(
        router_config(router, "11", user_secret="wrong-SECRET-1"),
        streams=("orders",),
        expect_error=True,
    )
    message = str(run["error"])
    assert "`user_secret`" in message
    assert "`site_id`" in message
    assert "`access_token`" not in message
    assert "wrong-SECRET-1" not in message + run["stderr"]


def test_a_token_mode_tap_with_the_sdk_defaults_warns_of_nothing(caplog) -> None:
    """The SDK fills in `router_url`'s default; a token-mode run must not warn about it."""
    from tap_cartcom.tap import TapCartcom

    tap = TapCartcom(config={"access_token": "tok-1", "api_url": "http://127.0.0.1:9/api/v1"})
    assert tap.config["router_url"] == "https://public.americommerce.com/api/v1"
    with caplog.at_level(logging.WARNING):
        assert tap.connection.notes == ()
    assert "router_url" not in caplog.text

"""``latency_ms`` / ``latency_ms_per_kb``: a real store's answer time, served faithfully.

The sandbox's sleep is replaced by a recorder (and, for the concurrency test, by a gate the
test opens), so every check here is exact: no timing, no race.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from cartcom_sandbox import cli
from cartcom_sandbox.config import SandboxConfig


def _get(sandbox, path: str, token: str | None = None) -> requests.Response:
    return requests.get(
        sandbox.base_url + path,
        headers={"X-AC-Auth-Token": token or sandbox.token},
        timeout=30,
    )


@pytest.fixture
def waits(sandbox) -> list[float]:
    """Every wait the sandbox asks for, in seconds (instead of sleeping)."""
    seen: list[float] = []
    sandbox.app.sleep = seen.append
    return seen


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(plan="unlimited", latency_ms=250, latency_ms_per_kb=8)]
)
def test_each_counted_answer_waits_once_by_its_size(sandbox, waits):
    """latency_ms plus latency_ms_per_kb per KiB of the body, once per call, before it is sent."""
    sandbox.store.bulk_insert("manufacturers", [{"id": i, "name": f"M{i}"} for i in range(1, 40)])
    big = _get(sandbox, "/manufacturers?count=39")
    small = _get(sandbox, "/manufacturers/1")
    missing = _get(sandbox, "/manufacturers/999")  # a 404 is the store's work too
    assert [r.status_code for r in (big, small, missing)] == [200, 200, 404]
    assert waits == pytest.approx(
        [(250 + 8 * len(r.content) / 1024) / 1000 for r in (big, small, missing)]
    )
    assert len(big.content) > 2 * len(small.content)  # so the sizes really differ


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(rate_calls=1, rate_window=3600, latency_ms=400)]
)
def test_refusals_answer_at_once(sandbox, waits):
    """A 429, 401 or 414 is refused at the door (it does not count): no wait."""
    assert _get(sandbox, "/orders").status_code == 200
    assert waits == [0.4]
    assert _get(sandbox, "/orders").status_code == 429
    assert _get(sandbox, "/orders", token="not-a-token").status_code == 401
    assert _get(sandbox, "/orders?x=" + "y" * 2100).status_code == 414
    assert waits == [0.4]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="unlimited", latency_ms=400)])
def test_a_delayed_answer_holds_no_other_call_and_counted_on_arrival(sandbox):
    """The first call is held in its wait; a second call is answered meanwhile.

    The held call already counts in the window (the second sees 2 calls used) and is in the
    call log, though its answer has not left yet.
    """
    held, release = threading.Event(), threading.Event()
    waited: list[float] = []

    def gate(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 1:
            held.set()
            release.wait(30)

    sandbox.app.sleep = gate
    first: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: first.update(r=_get(sandbox, "/orders")))
    worker.start()
    try:
        assert held.wait(30), "the first call never reached its wait"
        second = _get(sandbox, "/order_statuses")
        assert second.status_code == 200
        assert second.headers["X-AC-Call-Limit"].startswith("2/")
        assert "r" not in first  # the first answer is still held
        assert [c.path for c in sandbox.calls] == ["/api/v1/orders", "/api/v1/order_statuses"]
    finally:
        release.set()
        worker.join(30)
    assert first["r"].status_code == 200
    assert first["r"].headers["X-AC-Call-Limit"].startswith("1/")
    assert waited == [0.4, 0.4]


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "400", True])
def test_latency_must_be_a_non_negative_number(value):
    """A bad latency is refused when the settings are checked (admin route and serve)."""
    with pytest.raises(ValueError, match="latency_ms"):
        SandboxConfig(latency_ms=value).validate()
    with pytest.raises(ValueError, match="latency_ms_per_kb"):
        SandboxConfig(latency_ms_per_kb=value).validate()


def test_serve_refuses_a_negative_latency(capsys):
    """``serve --latency-ms -5`` stops before serving, with the setting's name."""
    with pytest.raises(SystemExit, match="latency_ms is a number of milliseconds"):
        cli.main(["serve", "--db", ":memory:", "--port", "0", "--latency-ms", "-5"])

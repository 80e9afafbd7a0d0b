"""Fault injection: scripted statuses, dropped connections, truncated bodies, delays, rates."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from cartcom_sandbox.config import SandboxConfig


def _get(sandbox, path: str = "/products", **kw):
    return requests.get(
        sandbox.base_url + path,
        headers={"X-AC-Auth-Token": sandbox.token},
        timeout=kw.pop("timeout", 10),
        **kw,
    )


def test_scripted_503s_then_normal(sandbox):
    sandbox.faults.script([{"kind": "status", "status": 503}, {"kind": "status", "status": 503}])
    first, second, third = _get(sandbox), _get(sandbox), _get(sandbox)
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["status_code"] == 503
    assert "X-AC-Call-Limit" in first.headers
    assert [c.status for c in sandbox.calls] == [503, 503, 200]


def test_fault_after_n_calls_and_path_method_match(sandbox):
    sandbox.faults.script(
        [{"kind": "status", "status": 500, "path": "/orders", "method": "GET", "after": 1}]
    )
    assert _get(sandbox, "/products").status_code == 200  # path does not match
    assert _get(sandbox, "/orders").status_code == 200  # skipped (after=1)
    assert _get(sandbox, "/orders").status_code == 500
    assert _get(sandbox, "/orders").status_code == 200


def test_drop_closes_without_response(sandbox):
    sandbox.faults.script([{"kind": "drop"}])
    with pytest.raises(requests.ConnectionError):
        _get(sandbox)
    assert _get(sandbox).status_code == 200
    assert sandbox.calls[0].status == 0


def test_drop_after_processing_keeps_the_write(sandbox):
    sandbox.faults.script([{"kind": "drop", "method": "POST", "process": True}])
    with pytest.raises(requests.ConnectionError):
        requests.post(
            sandbox.base_url + "/categories",
            json={"name": "Lost reply"},
            headers={"X-AC-Auth-Token": sandbox.token},
            timeout=10,
        )
    found = _get(sandbox, "/categories", params={"name": "Lost reply"}).json()
    assert found["total_count"] == 1


def test_truncate_sends_short_body(sandbox):
    sandbox.faults.script([{"kind": "truncate"}])
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        _get(sandbox).json()
    assert _get(sandbox).status_code == 200


def test_delay_then_timeout(sandbox):
    sandbox.faults.script([{"kind": "delay", "seconds": 0.6}])
    began = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        _get(sandbox, timeout=0.2)
    time.sleep(max(0.0, 0.7 - (time.monotonic() - began)))
    assert _get(sandbox).status_code == 200


def test_random_rate_faults_are_seeded(sandbox):
    sandbox.faults.rate("status", probability=0.5, seed=7, status=502)
    first = [_get(sandbox).status_code for _ in range(12)]
    sandbox.faults.clear()
    sandbox.faults.rate("status", probability=0.5, seed=7, status=502)
    second = [_get(sandbox).status_code for _ in range(12)]
    assert first == second
    assert set(first) == {200, 502}


def test_faults_admin_routes(sandbox):
    resp = requests.post(
        sandbox.root_url + "/_sandbox/faults",
        json=[{"kind": "status", "status": 504}],
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert resp.status_code == 200
    assert len(resp.json()["script"]) == 1
    assert _get(sandbox).status_code == 504
    requests.post(
        sandbox.root_url + "/_sandbox/faults",
        json={"script": [{"kind": "status", "status": 503}]},
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert (
        requests.delete(
            sandbox.root_url + "/_sandbox/faults",
            timeout=10,
            headers={"X-AC-Auth-Token": sandbox.token},
        ).status_code
        == 204
    )
    assert _get(sandbox).status_code == 200
    bad = requests.post(
        sandbox.root_url + "/_sandbox/faults",
        json=[{"kind": "nope"}],
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert bad.status_code == 400


def test_scripted_429_carries_retry_after(sandbox):
    sandbox.faults.script(
        [{"kind": "status", "status": 429, "retry_after": 2}, {"kind": "status", "status": 429}]
    )
    first, second = _get(sandbox), _get(sandbox)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert second.headers["Retry-After"] == "10"  # the default window


# ------------------------------------------- order: auth, then the limiter, then faults
def test_tokenless_request_gets_401_and_leaves_the_fault_pending(sandbox):
    sandbox.faults.script([{"kind": "status", "status": 503}])
    tokenless = requests.get(sandbox.base_url + "/products", timeout=10)
    assert tokenless.status_code == 401
    bad = requests.get(
        sandbox.base_url + "/products", headers={"X-AC-Auth-Token": "nope"}, timeout=10
    )
    assert bad.status_code == 401
    assert _get(sandbox).status_code == 503  # the first authenticated call meets the fault
    assert _get(sandbox).status_code == 200


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="steel", rate_window=60)])
def test_injected_faults_count_against_the_call_limit(sandbox):
    sandbox.faults.script(
        [{"kind": "status", "status": 503}, {"kind": "drop"}, {"kind": "truncate"}]
    )
    first = _get(sandbox)
    assert first.status_code == 503
    assert first.headers["X-AC-Call-Limit"] == "1/5"
    with pytest.raises(requests.ConnectionError):
        _get(sandbox)
    truncated = _get(sandbox, stream=True)
    assert truncated.headers["X-AC-Call-Limit"] == "3/5"
    truncated.close()
    assert _get(sandbox).headers["X-AC-Call-Limit"] == "4/5"
    assert _get(sandbox).status_code == 200
    assert _get(sandbox).status_code == 429  # 5 calls used, 3 of them faulted


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(plan="steel", rate_calls=1, rate_window=60)]
)
def test_rate_limit_answers_before_a_fault(sandbox):
    assert _get(sandbox).status_code == 200
    sandbox.faults.script([{"kind": "status", "status": 500}])
    limited = _get(sandbox)
    assert limited.status_code == 429
    assert len(sandbox.faults.state()["script"]) == 1  # not consumed by the refused call


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(cache_seconds=30)])
def test_truncate_with_server_cache_sends_the_real_status(sandbox):
    sandbox.faults.script([{"kind": "truncate"}])
    resp = _get(sandbox, stream=True)
    assert resp.status_code == 200
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        resp.json()


def test_hold_keeps_a_write_waiting_until_released_then_applies_it(sandbox):
    """A held POST is neither answered nor applied until ``release``; then it lands as usual."""
    sandbox.faults.script([{"kind": "hold", "method": "POST", "path": "/categories"}])
    answers: list[int] = []

    def post() -> None:
        answers.append(
            requests.post(
                sandbox.base_url + "/categories",
                json={"name": "Held"},
                headers={"X-AC-Auth-Token": sandbox.token},
                timeout=30,
            ).status_code
        )

    worker = threading.Thread(target=post)
    worker.start()
    deadline = time.monotonic() + 20
    while not sandbox.faults.state()["fired"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.faults.state()["fired"] == [
        {"kind": "hold", "method": "POST", "path": "/api/v1/categories"}
    ]
    # Held: reads go on, and the write has not happened.
    assert _get(sandbox, "/categories", params={"name": "Held"}).json()["total_count"] == 0
    assert answers == []
    released = requests.post(
        sandbox.root_url + "/_sandbox/faults/release",
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert released.status_code == 200
    worker.join(timeout=20)
    assert answers == [201]
    assert _get(sandbox, "/categories", params={"name": "Held"}).json()["total_count"] == 1

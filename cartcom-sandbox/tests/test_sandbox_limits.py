"""Auth, the call limit (X-AC-Call-Limit, 429, Retry-After), URL length and the call log."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
from cartcom_sandbox.config import SandboxConfig

TOKEN = "test-token"


def _get(sandbox, path: str = "/products", token: str | None = TOKEN, **kw):
    headers = {} if token is None else {"X-AC-Auth-Token": token}
    return requests.get(sandbox.base_url + path, headers=headers, timeout=10, **kw)


# ------------------------------------------------------------------------- auth
@pytest.mark.parametrize("token", [None, "wrong-secret-value"])
def test_missing_or_bad_token_is_401_envelope_without_echo(sandbox, token):
    resp = _get(sandbox, token=token)
    assert resp.status_code == 401
    body = resp.json()
    assert body["status_code"] == 401
    assert body["message"] == "Unauthorized"
    assert body["details"]
    assert "X-AC-Call-Limit" in resp.headers
    if token:
        assert token not in resp.text
        assert all(token not in v for v in resp.headers.values())
    assert "test-token" not in resp.text


def test_configured_tokens_are_accepted(sandbox):
    assert _get(sandbox).status_code == 200


def test_admin_routes_are_not_under_api(sandbox):
    assert _get(sandbox, "/_sandbox/calls").status_code == 404
    assert (
        requests.get(
            sandbox.root_url + "/_sandbox/health",
            timeout=10,
            headers={"X-AC-Auth-Token": sandbox.token},
        ).status_code
        == 200
    )


# ----------------------------------------------------------------------- scopes
def _scoped(tokens, **cfg):
    from cartcom_sandbox.server import SandboxServer

    return SandboxServer(tokens=tokens, config=SandboxConfig(**cfg))


def _scope_denied(resp, scope: str) -> None:
    assert resp.status_code == 401, resp.text
    body = resp.json()
    assert (body["status_code"], body["message"]) == (401, "Unauthorized")
    assert f"'{scope}'" in body["details"]


def test_read_scopes_allow_get_only_and_only_their_resources():
    with _scoped(["ro:read_catalog,read_orders"]) as srv:
        assert _get(srv, "/products", token="ro").status_code == 200
        assert _get(srv, "/orders", token="ro").status_code == 200
        assert _get(srv, "/order_shipments.json", token="ro").status_code == 200
        _scope_denied(_get(srv, "/customers", token="ro"), "read_people")
        _scope_denied(_get(srv, "/stores", token="ro"), "system")
        _scope_denied(_get(srv, "/custom_shipping_methods", token="ro"), "settings")
        _scope_denied(_get(srv, "/webhooks", token="ro"), "system")  # DOC: webhooks need system
        write = requests.post(
            srv.base_url + "/categories",
            json={"name": "A"},
            headers={"X-AC-Auth-Token": "ro"},
            timeout=10,
        )
        _scope_denied(write, "catalog")
        assert "read-only" in write.json()["details"]
        assert "ro" not in write.json()["details"].split()  # the token is not echoed
        _scope_denied(
            requests.post(
                srv.base_url + "/inventory/set",
                json={"product_id": 1, "quantity": 1},
                headers={"X-AC-Auth-Token": "ro"},
                timeout=10,
            ),
            "catalog",
        )
        assert srv.store.count("categories") == 0  # refused before any handling


def test_write_scopes_cover_reads_and_writes():
    with _scoped({"rw": ["catalog", "system"], "all": None}) as srv:
        hdr = {"X-AC-Auth-Token": "rw"}
        made = requests.post(
            srv.base_url + "/categories", json={"name": "A"}, headers=hdr, timeout=10
        )
        assert made.status_code == 201
        assert _get(srv, f"/categories/{made.json()['id']}", token="rw").status_code == 200
        files = [
            ("json", (None, '{"destination": "/x.jpg"}', "application/json")),
            ("file", ("x.jpg", b"abc", "image/jpeg")),
        ]
        assert (
            requests.post(
                srv.base_url + "/upload", files=files, headers=hdr, timeout=10
            ).status_code
            == 204
        )
        _scope_denied(
            requests.put(
                srv.base_url + "/orders/1/status",
                json={"order_status_id": 1},
                headers=hdr,
                timeout=10,
            ),
            "orders",
        )
        assert _get(srv, "/customers", token="all").status_code == 200  # no scopes given: all


def test_scope_refusals_count_against_the_call_limit():
    with _scoped(["ro:read_orders"], plan="steel") as srv:
        assert _get(srv, "/orders", token="ro").headers["X-AC-Call-Limit"] == "1/5"
        denied = _get(srv, "/products", token="ro")
        assert denied.status_code == 401
        assert denied.headers["X-AC-Call-Limit"] == "2/5"


def test_token_specs_are_validated():
    from cartcom_sandbox.server import SandboxServer

    with pytest.raises(ValueError, match="unknown token scope"):
        SandboxServer(tokens=["t:read_everything"])
    srv = SandboxServer(tokens=["t:read_catalog", "u"])
    assert srv.token == "t"
    assert srv.scopes == {"t": frozenset({"read_catalog"}), "u": None}
    srv.stop()


def test_every_served_resource_has_a_documented_scope():
    from cartcom_sandbox import resources, scopes

    unmapped = sorted(set(resources.catalogue()) - set(scopes.RESOURCE_SCOPE))
    assert unmapped == []


# ------------------------------------------------------------------- rate limit
@pytest.fixture
def sandbox_config():
    """Steel plan (5 calls) in a short window."""
    return SandboxConfig(plan="steel", rate_window=0.8)


def test_call_limit_header_on_every_response(sandbox):
    seen = [_get(sandbox).headers["X-AC-Call-Limit"] for _ in range(3)]
    assert seen == ["1/5", "2/5", "3/5"]
    assert _get(sandbox, "/products/999").headers["X-AC-Call-Limit"] == "4/5"  # 404 counts
    assert _get(sandbox, token=None).headers["X-AC-Call-Limit"] == "0/5"  # 401 does not


class _Clock:
    """A controllable monotonic clock for the limiter (no sleeping, exact arithmetic)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_429_after_limit_with_retry_after_seconds_then_reset(sandbox):
    sandbox.ratelimit.configure(window=10.0)
    clock = sandbox.ratelimit.clock = _Clock()
    for _ in range(5):
        assert _get(sandbox).status_code == 200
    clock.now += 3.2  # 6.8 s of the window left
    resp = _get(sandbox)
    assert resp.status_code == 429
    assert resp.json()["status_code"] == 429
    assert resp.headers["X-AC-Call-Limit"] == "5/5"
    assert resp.headers["Retry-After"] == "7"  # ceil(6.8)
    clock.now += 6.0  # 0.8 s left
    again = _get(sandbox)  # a rejected call does not count, and still carries the header
    assert again.status_code == 429
    assert again.headers["X-AC-Call-Limit"] == "5/5"
    assert again.headers["Retry-After"] == "1"
    clock.now += 0.8  # the window has ended
    fresh = _get(sandbox)
    assert fresh.status_code == 200
    assert fresh.headers["X-AC-Call-Limit"] == "1/5"


def test_retry_after_http_date_mode(sandbox):
    sandbox.ratelimit.configure(calls=2, window=3.0, retry_after_format="http-date")
    _get(sandbox)
    _get(sandbox)
    resp = _get(sandbox)
    assert resp.status_code == 429
    when = email.utils.parsedate_to_datetime(resp.headers["Retry-After"]).timestamp()
    assert time.time() - 1 <= when <= time.time() + 4
    assert resp.headers["Retry-After"].endswith("GMT")


def test_windows_are_per_token():
    from cartcom_sandbox.server import SandboxServer

    cfg = SandboxConfig(plan="steel", rate_calls=1, rate_window=5)
    with SandboxServer(tokens=["a-token", "b-token"], config=cfg) as srv:
        assert _get(srv, token="a-token").status_code == 200
        assert _get(srv, token="a-token").status_code == 429
        assert _get(srv, token="b-token").status_code == 200


def test_ratelimit_admin_route(sandbox):
    resp = requests.post(
        sandbox.root_url + "/_sandbox/ratelimit",
        json={"plan": "bronze", "window": 10},
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert resp.json()["calls"] == 10
    assert _get(sandbox).headers["X-AC-Call-Limit"] == "1/10"


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(plan="unlimited")])
def test_unlimited_plan_never_429s(sandbox):
    for _ in range(12):
        assert _get(sandbox).status_code == 200


# ------------------------------------------------------------------- URL length
@pytest.mark.parametrize("sandbox_config", [SandboxConfig()])
def test_url_too_long_is_414_envelope(sandbox):
    ids = ",".join(str(100000 + i) for i in range(400))  # ~2.8k characters
    resp = _get(sandbox, "/orders/select_many", params={"ids": ids})
    assert resp.status_code == 414
    assert resp.json()["status_code"] == 414
    short = _get(sandbox, "/orders/select_many", params={"ids": ids[:1500]})
    assert short.status_code == 200


# --------------------------------------------------------------------- call log
@pytest.mark.parametrize("sandbox_config", [SandboxConfig()])
def test_call_log_records_every_request(sandbox):
    sandbox.calls.clear()
    _get(sandbox, params={"count": 5})
    requests.post(
        sandbox.base_url + "/categories",
        json={"name": "A"},
        headers={"X-AC-Auth-Token": "test-token"},
        timeout=10,
    )
    _get(sandbox, token=None)
    assert len(sandbox.calls) == 3
    first, post, unauth = sandbox.calls[0], sandbox.calls[1], sandbox.calls[2]
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/api/v1/products",
        "count=5",
        200,
    )
    assert first.bytes > 0
    assert first.ts <= time.time()
    assert first.request_json is None
    assert post.status == 201
    assert post.request_json == {"name": "A"}
    assert post.token_hash
    assert "test-token" not in repr(post)
    assert unauth.status == 401
    assert sandbox.calls.count(method="GET") == 2
    assert sandbox.calls.count(path_prefix="/categories") == 1
    assert sandbox.calls.count(status=401) == 1
    over_http = requests.get(
        sandbox.root_url + "/_sandbox/calls", timeout=10, headers={"X-AC-Auth-Token": sandbox.token}
    ).json()["calls"]
    assert [c["status"] for c in over_http] == [200, 201, 401]
    assert (
        requests.delete(
            sandbox.root_url + "/_sandbox/calls",
            timeout=10,
            headers={"X-AC-Auth-Token": sandbox.token},
        ).status_code
        == 204
    )
    assert len(sandbox.calls) == 0


# ---------------------------------------------------------------- server cache
@pytest.mark.parametrize("sandbox_config", [SandboxConfig(cache_seconds=30)])
def test_cached_gets_are_stale_unless_no_cache(sandbox):
    headers = {"X-AC-Auth-Token": TOKEN}
    url = sandbox.base_url + "/categories"
    first = requests.get(url, headers=headers, timeout=10)
    assert first.json()["total_count"] == 0
    assert first.headers["Cache-Control"] == "private, max-age=30"
    assert "Last-Modified" in first.headers
    assert "Expires" in first.headers
    made = requests.post(url, json={"name": "New"}, headers=headers, timeout=10)
    assert made.status_code == 201
    stale = requests.get(url, headers=headers, timeout=10)
    assert stale.content == first.content  # served from the server-side cache
    assert stale.headers["X-AC-Call-Limit"] == "3/1000000"  # a cached answer is still a call
    fresh = requests.get(url, headers={**headers, "Cache-Control": "no-cache"}, timeout=10)
    assert fresh.json()["total_count"] == 1
    # The revalidated body replaced the cached one.
    assert requests.get(url, headers=headers, timeout=10).json()["total_count"] == 1


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(cache_seconds=30)])
def test_cached_single_record_is_stale_until_it_expires(sandbox):
    headers = {"X-AC-Auth-Token": TOKEN}
    clock = sandbox.app.clock = _Clock()
    made = requests.post(
        sandbox.base_url + "/categories", json={"name": "Old"}, headers=headers, timeout=10
    ).json()
    url = sandbox.base_url + f"/categories/{made['id']}"
    assert requests.get(url, headers=headers, timeout=10).json()["name"] == "Old"
    assert (
        requests.put(url, json={"name": "New"}, headers=headers, timeout=10).json()["name"] == "New"
    )
    clock.now += 29.9
    assert requests.get(url, headers=headers, timeout=10).json()["name"] == "Old"
    assert (
        requests.get(
            url + "?fields=id,name",
            headers=headers,  # another URL, not cached
            timeout=10,
        ).json()["name"]
        == "New"
    )
    clock.now += 0.1  # 30 s after it was stored: expired
    assert requests.get(url, headers=headers, timeout=10).json()["name"] == "New"


def test_no_server_cache_by_default(sandbox):
    sandbox.ratelimit.configure(calls=None)
    headers = {"X-AC-Auth-Token": TOKEN}
    url = sandbox.base_url + "/categories"
    assert requests.get(url, headers=headers, timeout=10).json()["total_count"] == 0
    requests.post(url, json={"name": "New"}, headers=headers, timeout=10)
    again = requests.get(url, headers=headers, timeout=10)
    assert again.json()["total_count"] == 1
    assert "Cache-Control" not in again.headers


@pytest.mark.parametrize("sandbox_config", [SandboxConfig()])
def test_config_admin_route_changes_list_keys(sandbox):
    resp = requests.post(
        sandbox.root_url + "/_sandbox/config",
        json={"list_keys": {"order_items": "order_items"}},
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert resp.status_code == 200
    body = _get(sandbox, "/order_items").json()
    assert "order_items" in body
    assert "items" not in body
    bad = requests.post(
        sandbox.root_url + "/_sandbox/config",
        json={"nope": 1},
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert bad.status_code == 400
    wrong = requests.post(
        sandbox.root_url + "/_sandbox/config",
        json={"cache_seconds": 5, "external_images": "fetch"},
        timeout=10,
        headers={"X-AC-Auth-Token": sandbox.token},
    )
    assert wrong.status_code == 400
    assert sandbox.config.external_images == "keep"  # nothing of a refused change applies
    assert sandbox.config.cache_seconds == 0


def test_retry_after_seconds_is_ceil_of_time_to_reset(sandbox):
    sandbox.ratelimit.configure(calls=1, window=3.0, retry_after_format="seconds")
    assert _get(sandbox).status_code == 200
    resp = _get(sandbox)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.headers["X-AC-Call-Limit"] == "1/1"

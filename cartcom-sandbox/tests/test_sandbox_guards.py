"""The sandbox's own guards (issue 14).

Admin routes need the token, bodies have a size limit, and nothing of a request body is read,
parsed or logged before the token is accepted.
"""

from __future__ import annotations

import io
import json

import pytest
import requests
from cartcom_sandbox.config import SandboxConfig

ADMIN_ROUTES = [
    ("GET", "/_sandbox"),
    ("GET", "/_sandbox/health"),
    ("GET", "/_sandbox/calls"),
    ("DELETE", "/_sandbox/calls"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("POST", "/_sandbox/ratelimit"),
    ("GET", "/_sandbox/config"),
    ("POST", "/_sandbox/config"),
]
LIMIT = 2000


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """A small body limit, so tests need no megabytes."""
    return SandboxConfig(plan="unlimited", max_body_bytes=LIMIT)


def _headers(token: str | None) -> dict[str, str]:
    return {} if token is None else {"X-AC-Auth-Token": token}


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
@pytest.mark.parametrize("token", [None, "wrong-admin-token"])
def test_admin_routes_need_a_valid_token(sandbox, method, route, token):
    """401 with the envelope, the wrong token not echoed, and nothing changed."""
    body = [{"kind": "status", "status": 503}] if route.endswith("faults") else None
    if route.endswith("config"):
        body = {"cache_seconds": 30}
    resp = requests.request(
        method, sandbox.root_url + route, json=body, headers=_headers(token), timeout=10
    )
    assert resp.status_code == 401
    assert resp.json()["status_code"] == 401
    assert "X-AC-Auth-Token" in resp.json()["details"]
    if token:
        assert token not in resp.text
    assert sandbox.store.path not in resp.text
    assert sandbox.faults.state()["script"] == []
    assert sandbox.config.cache_seconds == 0


def test_admin_routes_answer_with_the_token(sandbox):
    """Any configured token opens the admin routes."""
    headers = _headers(sandbox.token)
    assert requests.get(sandbox.root_url + "/_sandbox/health", headers=headers, timeout=10).ok
    resp = requests.post(
        sandbox.root_url + "/_sandbox/faults",
        json=[{"kind": "status", "status": 503}],
        headers=headers,
        timeout=10,
    )
    assert resp.status_code == 200
    assert len(sandbox.faults.state()["script"]) == 1


def _post_product(sandbox, payload: bytes, token: str | None, **kw):
    return requests.post(
        sandbox.base_url + "/products",
        data=payload,
        headers={"Content-Type": "application/json", **_headers(token)},
        timeout=10,
        **kw,
    )


def _product_body(size: int) -> bytes:
    doc = {"item_number": "BIG-1", "item_name": "Big", "long_description_1": ""}
    pad = size - len(json.dumps(doc).encode())
    doc["long_description_1"] = "x" * pad
    body = json.dumps(doc).encode()
    assert len(body) == size
    return body


@pytest.mark.parametrize("chunked", [False, True])
def test_body_at_the_limit_is_read(sandbox, chunked):
    """Exactly ``max_body_bytes`` is read and parsed: the store's own validation answers."""
    body = _product_body(LIMIT)
    payload = (body[i : i + 500] for i in range(0, len(body), 500)) if chunked else body
    resp = _post_product(sandbox, payload, sandbox.token)
    assert resp.status_code == 400, resp.text
    assert "Missing required field" in resp.json()["details"]
    assert sandbox.calls[-1].request_json["item_number"] == "BIG-1"


@pytest.mark.parametrize("token", ["test-token", None])
def test_body_over_the_limit_is_413_before_anything_is_read(sandbox, token):
    """A declared body one byte over gets the 413 envelope; nothing is stored or logged."""
    resp = _post_product(sandbox, _product_body(LIMIT + 1), token)
    assert resp.status_code == 413
    assert resp.json() == {
        "status_code": 413,
        "message": "Request Entity Too Large",
        "details": f"The request body is {LIMIT + 1} bytes; the limit is {LIMIT} bytes.",
    }
    assert sandbox.store.execute("SELECT COUNT(*) FROM r_products")[0][0] == 0
    (call,) = sandbox.calls
    assert (call.status, call.request_json) == (413, None)


def test_chunked_body_over_the_limit_is_cut_off(sandbox):
    """A body with no Content-Length is counted while it is read (after auth): 413."""
    body = _product_body(LIMIT * 3)
    chunks = (body[i : i + 500] for i in range(0, len(body), 500))
    resp = _post_product(sandbox, chunks, sandbox.token)  # a generator: chunked encoding
    assert resp.status_code == 413
    assert resp.json()["status_code"] == 413
    assert sandbox.store.execute("SELECT COUNT(*) FROM r_products")[0][0] == 0


def test_admin_body_over_the_limit_is_413(sandbox):
    """The admin routes share the limit."""
    resp = requests.post(
        sandbox.root_url + "/_sandbox/config",
        data=b"[" + b" " * LIMIT + b"]",
        headers={"Content-Type": "application/json", **_headers(sandbox.token)},
        timeout=10,
    )
    assert resp.status_code == 413


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_unauthenticated_bodies_are_neither_parsed_nor_logged(sandbox, token):
    """Without a valid token: 401 (not a 400 for the bad JSON), and no body in the call log."""
    for payload in (b'{"item_number": "CARD-4111111111111111"}', b"{not json"):
        resp = _post_product(sandbox, payload, token)
        assert resp.status_code == 401
    assert [(c.status, c.request_json) for c in sandbox.calls] == [(401, None), (401, None)]
    assert all("4111" not in json.dumps(c.as_dict()) for c in sandbox.calls)


class _Untouchable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read before auth")


@pytest.mark.parametrize("path", ["/api/v1/products", "/_sandbox/faults"])
def test_the_body_is_not_even_read_before_auth(sandbox, path):
    """At the WSGI level: a 401 is answered without touching ``wsgi.input``."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "20",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(_Untouchable()),
        "wsgi.errors": io.StringIO(),
    }
    statuses: list[str] = []
    body = b"".join(sandbox.app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["401 Unauthorized"]
    assert json.loads(body)["status_code"] == 401


def test_max_body_bytes_must_be_positive(sandbox):
    """A bad limit is refused at run time, nothing applied."""
    resp = requests.post(
        sandbox.root_url + "/_sandbox/config",
        json={"max_body_bytes": 0},
        headers=_headers(sandbox.token),
        timeout=10,
    )
    assert resp.status_code == 400
    assert sandbox.config.max_body_bytes == LIMIT

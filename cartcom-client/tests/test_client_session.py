"""CartcomSession and PacedAdapter over requests-mock: retries, POST safety, paging, errors."""

from __future__ import annotations

import itertools
import time

import pytest
import requests
import requests_mock
from cartcom_client import (
    AuthenticationError,
    CallBudget,
    CartcomSession,
    ConnectionSettings,
    NotFoundError,
    PacedAdapter,
    TransientAPIError,
)
from cartcom_client import session as session_module
from cartcom_testing.wire import mock_transport

TOKEN = "tok-very-secret-123"
BASE = "https://shop.example.com/api/v1"


@pytest.fixture
def wire(monkeypatch):
    """A requests-mock adapter *under* the pacing adapter (so pacing really runs)."""
    mock = mock_transport(monkeypatch)
    monkeypatch.setattr(session_module.random, "uniform", lambda a, b: 0.0)
    sleeps: list[float] = []
    monkeypatch.setattr(session_module.time, "sleep", sleeps.append)
    mock.sleeps = sleeps
    return mock


def make_session(**extra) -> CartcomSession:
    """A session for a fake store with a large budget."""
    config = {
        "access_token": TOKEN,
        "domain": "shop.example.com",
        "calls_per_window": 1000,
        "window_seconds": 1,
        **extra,
    }
    return CartcomSession(ConnectionSettings.from_config(config), max_tries=4)


def envelope(status, message="x", details=""):
    """Cart.com's error body."""
    return {"status_code": status, "message": message, "details": details}


def test_headers_token_cache_control_and_call_limit_learned(wire):
    """Every call carries the token header and no-cache; X-AC-Call-Limit tightens the budget."""
    wire.register_uri(
        "GET",
        f"{BASE}/stores",
        json={"total_count": 1, "stores": [{"id": 1}]},
        headers={"X-AC-Call-Limit": "1/20"},
    )
    session = make_session()
    assert session.get("/stores")["stores"] == [{"id": 1}]
    sent = wire.last_request
    assert sent.headers["X-AC-Auth-Token"] == TOKEN
    assert sent.headers["Cache-Control"] == "no-cache"
    assert TOKEN not in sent.url
    assert session.adapter.budget.calls == 20
    assert session.reads == 1
    assert session.writes == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_get_retries_5xx(wire, status):
    """5xx answers are retried with backoff, then the answer is returned."""
    wire.register_uri(
        "GET",
        f"{BASE}/products",
        [
            {"status_code": status, "json": envelope(status)},
            {"status_code": status, "json": envelope(status)},
            {"json": {"total_count": 0, "products": []}},
        ],
    )
    session = make_session()
    assert session.get("/products") == {"total_count": 0, "products": []}
    assert wire.call_count == 3
    assert session.retries == 2
    assert wire.sleeps == [0.5, 1.0]


def test_get_retries_dropped_connection_and_truncated_body(wire):
    """A dropped connection and a truncated body are retried; the truncated body is not parsed."""
    wire.register_uri(
        "GET",
        f"{BASE}/orders",
        [
            {"exc": requests.exceptions.ConnectionError("Connection aborted")},
            {"status_code": 200, "content": b'{"total_count": 2, "orders": [{"id": 1'},
            {"exc": requests.exceptions.ChunkedEncodingError("IncompleteRead")},
            {"json": {"total_count": 1, "orders": [{"id": 1}]}},
        ],
    )
    session = make_session()
    assert session.get("/orders")["orders"] == [{"id": 1}]
    assert wire.call_count == 4


def test_retries_give_up_with_transient_error(wire):
    """After max_tries the last error is raised (typed, with the path, without the query)."""
    wire.register_uri("GET", f"{BASE}/orders", status_code=503, json=envelope(503, "Busy"))
    session = make_session()
    with pytest.raises(TransientAPIError) as info:
        session.get("/orders", params={"customer_email": "ada@example.com"})
    assert wire.call_count == 4
    assert "/api/v1/orders" in str(info.value)
    assert "ada@example.com" not in str(info.value)


def test_429_blocks_for_retry_after_seconds(wire, monkeypatch):
    """A 429 blocks the budget for Retry-After; the retry starts no sooner."""
    clock = {"now": 100.0}
    budget = CallBudget(
        1000,
        1.0,
        clock=lambda: clock["now"],
        sleep=lambda s: clock.__setitem__("now", clock["now"] + s),
    )
    starts = []
    wire.register_uri(
        "GET",
        f"{BASE}/orders",
        [
            {"status_code": 429, "json": envelope(429), "headers": {"Retry-After": "3"}},
            {"json": {"total_count": 0, "orders": []}},
        ],
    )
    session = make_session()
    adapter = PacedAdapter(budget)
    session.http.mount("https://", adapter)
    session.adapter = adapter
    original = budget.acquire

    def acquire():
        waited = original()
        starts.append(clock["now"])
        return waited

    monkeypatch.setattr(budget, "acquire", acquire)
    session.get("/orders")
    assert len(starts) == 2
    assert starts[1] - starts[0] == pytest.approx(3.0)  # no sooner, and no later either
    assert adapter.rate_limited == 1
    assert wire.sleeps == []  # the wait is the budget's, not a second sleep


def test_writes_to_other_ids_start_one_window_after_the_last_one_left(wire, monkeypatch):
    """A store that answers each variant write in 0.6 s, 1 call per 1-s window: a sync's pace.

    Every write names another variant (``PUT /product_variants/{id}``). Once one write has come
    back in 0.6 s, the next, as quick, was counted when it left: the one after it starts one
    window after it left, not one window after its answer (which would take 1.6 s a write).
    """
    clock = {"now": 100.0}
    budget = CallBudget(
        1,
        1.0,
        margin=0.0,
        clock=lambda: clock["now"],
        sleep=lambda s: clock.__setitem__("now", clock["now"] + s),
    )
    starts = []

    def answer(request, context):
        starts.append(clock["now"])
        clock["now"] += 0.6  # the store's work on it
        return {"id": int(request.path.rsplit("/", 1)[-1])}

    wire.register_uri("PUT", requests_mock.ANY, json=answer)
    session = make_session()
    adapter = PacedAdapter(budget)
    session.http.mount("https://", adapter)
    session.adapter = adapter
    for variant in (11, 12, 13, 14):
        session.put(f"/product_variants/{variant}", {"inventory": 1})
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(starts)]
    # The run's first answer counts when it came back; the others when they left.
    assert gaps == [1.6, 1.0, 1.0]


@pytest.mark.parametrize(
    ("header", "minimum"),
    [
        ("2", 2.0),
        ("Wed, 21 Oct 2099 07:28:00 GMT", session_module.MAX_WAIT_SECONDS),
        ("garbage", 10.0),
        (None, 10.0),
    ],
)
def test_retry_wait_seconds_forms(header, minimum):
    """Retry-After seconds or HTTP-date (capped), else the documented 10-s fallback."""
    response = requests.Response()
    response.status_code = 429
    if header is not None:
        response.headers["Retry-After"] = header
    assert session_module.retry_wait_seconds(response, 1) == pytest.approx(minimum)


def test_retry_wait_http_date_in_near_future():
    """An HTTP-date a few seconds ahead gives about that many seconds."""
    from email.utils import formatdate

    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = formatdate(time.time() + 5, usegmt=True)
    assert 3.5 <= session_module.retry_wait_seconds(response, 1) <= 5.0


def test_post_not_retried_after_5xx_or_lost_answer(wire):
    """A POST that may have been applied is never replayed blindly."""
    wire.register_uri(
        "POST",
        f"{BASE}/products",
        [
            {"status_code": 503, "json": envelope(503)},
            {"status_code": 201, "json": {"id": 9}},
        ],
    )
    session = make_session()
    with pytest.raises(TransientAPIError):
        session.post("/products", json={"item_name": "Tee"})
    assert wire.call_count == 1
    wire.register_uri(
        "POST",
        f"{BASE}/orders",
        [
            {"exc": requests.exceptions.ReadTimeout("read timed out")},
            {"status_code": 201, "json": {"id": 9}},
        ],
    )
    with pytest.raises(TransientAPIError):
        session.post("/orders", json={})
    wire.register_uri(
        "POST",
        f"{BASE}/categories",
        [
            {"exc": requests.exceptions.ConnectionError("Connection aborted")},
            {"status_code": 201, "json": {"id": 9}},
        ],
    )
    with pytest.raises(TransientAPIError):
        session.post("/categories", json={})


def test_post_retried_when_it_cannot_have_applied(wire):
    """429, a connect timeout (never sent), or an explicit retry_unsafe are retried."""
    wire.register_uri(
        "POST",
        f"{BASE}/products",
        [
            {"status_code": 429, "json": envelope(429), "headers": {"Retry-After": "0"}},
            {"exc": requests.exceptions.ConnectTimeout("connect timed out")},
            {"status_code": 201, "json": {"id": 9}},
        ],
    )
    session = make_session()
    assert session.post("/products", json={"item_name": "Tee"}) == {"id": 9}
    wire.register_uri(
        "POST",
        f"{BASE}/variant_groups",
        [
            {"status_code": 503, "json": envelope(503)},
            {"status_code": 201, "json": {"id": 3}},
        ],
    )
    assert session.post("/variant_groups", json={}, retry_unsafe=True) == {"id": 3}
    wire.register_uri(
        "PUT",
        f"{BASE}/products/9",
        [
            {"status_code": 503, "json": envelope(503)},
            {"json": {"id": 9, "price": 5}},
        ],
    )
    assert session.put("/products/9", json={"price": 5})["price"] == 5
    assert session.writes == 7


def test_401_names_setting_never_token(wire):
    """AuthenticationError: not retried, names access_token, never shows the token."""
    wire.register_uri(
        "GET",
        f"{BASE}/orders",
        status_code=401,
        json=envelope(401, "Unauthorized", "The X-AC-Auth-Token is not valid."),
    )
    session = make_session()
    with pytest.raises(AuthenticationError) as info:
        session.get("/orders")
    text = str(info.value)
    assert "`access_token`" in text
    assert "401" in text
    assert TOKEN not in text
    assert TOKEN not in repr(info.value)
    assert wire.call_count == 1


def test_delete_204_and_validation_error(wire):
    """204 gives None; a 409 is a ValidationError carrying the envelope's details."""
    from cartcom_client import ValidationError

    wire.register_uri("DELETE", f"{BASE}/products/9", status_code=204)
    wire.register_uri(
        "POST",
        f"{BASE}/products",
        status_code=409,
        json=envelope(409, "Conflict", "item_name is required"),
    )
    session = make_session()
    assert session.delete("/products/9") is None
    with pytest.raises(ValidationError, match="item_name is required"):
        session.post("/products", json={})


def test_iter_pages_follows_next_page_and_404_past_end(wire):
    """next_page links are followed (re-rooted on our base); a 404 past the end stops paging."""
    wire.register_uri(
        "GET",
        f"{BASE}/order_items",
        [
            {
                "json": {
                    "total_count": 5,
                    "items": [{"id": 1}, {"id": 2}],
                    "next_page": "https://internal.host/api/v1/order_items?count=2&page=2",
                }
            },
            {
                "json": {
                    "total_count": 5,
                    "items": [{"id": 3}, {"id": 4}],
                    "next_page": "https://internal.host/api/v1/order_items?count=2&page=3",
                }
            },
            {"status_code": 404, "json": envelope(404, "Not Found")},
        ],
    )
    session = make_session()
    pages = list(session.iter_pages("/order_items", {"count": 2}))
    assert pages == [[{"id": 1}, {"id": 2}], [{"id": 3}, {"id": 4}]]
    urls = [r.url for r in wire.request_history]
    assert all(u.startswith(BASE) for u in urls)
    assert urls[1].endswith("page=2")
    assert urls[2].endswith("page=3")


def test_iter_records_null_collection_and_missing_next(wire):
    """A null list is an empty page; no next_page (key absent or null) ends the read."""
    wire.register_uri(
        "GET",
        f"{BASE}/order_payments",
        [
            {"json": {"total_count": 1, "payments": [{"id": 7}], "next_page": None}},
        ],
    )
    wire.register_uri("GET", f"{BASE}/product_pictures", json={"total_count": 0, "pictures": None})
    session = make_session()
    assert list(session.iter_records("/order_payments")) == [{"id": 7}]
    assert list(session.iter_records("/product_pictures")) == []


def test_404_on_first_unfiltered_page_is_an_error(wire):
    """A 404 on an unfiltered first page is a wrong path, not an empty list."""
    wire.register_uri("GET", f"{BASE}/nothing", status_code=404, json=envelope(404))
    session = make_session()
    with pytest.raises(NotFoundError):
        list(session.iter_pages("/nothing"))
    wire.register_uri("GET", f"{BASE}/orders", status_code=404, json=envelope(404))
    assert list(session.iter_pages("/orders", {"order_number": "X1"})) == []


def test_filter_params_spaces_become_cartcom_plus(wire):
    """Filters passed as params use spaces: requests sends them as ``+`` (Cart.com's AND/OR).

    A literal ``+`` in a params value is sent as ``%2B``, which Cart.com reads as a plus sign,
    so callers write ``"gte:A AND lt:B"`` (the tap builds its own query strings instead).
    """
    wire.register_uri("GET", f"{BASE}/orders", json={"total_count": 0, "orders": []})
    session = make_session()
    session.get("/orders", params={"created_at": "gte:2024-01-01T00:00:00Z AND lt:2024-02-01"})
    query = wire.last_request.url.split("?", 1)[1]
    assert "+AND+" in query
    assert "%2B" not in query
    assert wire.last_request.qs["created_at"] == ["gte:2024-01-01t00:00:00z and lt:2024-02-01"]

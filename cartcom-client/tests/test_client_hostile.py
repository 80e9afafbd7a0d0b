"""Hostile URLs and redirects over real sockets: nothing reaches a host that is not the store's.

Two local HTTP servers stand for the store and for somewhere else; each records what it got.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cartcom_client import (
    CartcomAPIError,
    CartcomSession,
    ConfigurationError,
    ConnectionSettings,
    TransientAPIError,
)
from cartcom_client.errors import Disposition, classify_status
from cartcom_client.urls import UnsafeURLError

TOKEN = "secret-token-123"


class _Host(BaseHTTPRequestHandler):
    """Answers with ``self.answer(handler)``: (status, headers, body)."""

    seen: list[dict[str, Any]]
    answer: Any

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, headers, payload = self.answer(self)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _handle  # noqa: N815 - http.server's handler names

    def log_message(self, *args: object) -> None:
        """Quiet."""


class Host:
    """A local server and what it saw."""

    def __init__(self, answer: Any) -> None:
        self.seen: list[dict[str, Any]] = []
        handler = type("Handler", (_Host,), {"seen": self.seen, "answer": staticmethod(answer)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


@pytest.fixture
def elsewhere() -> Iterator[Host]:
    """The host nothing may reach."""
    host = Host(lambda h: _json({"total_count": 0, "orders": []}))
    yield host
    host.close()


def _session(port: int) -> CartcomSession:
    settings = ConnectionSettings(
        base_url=f"http://127.0.0.1:{port}/api/v1", access_token=TOKEN, calls_per_window=50
    )
    return CartcomSession(settings, max_tries=3)


def test_backslash_api_url_reaches_no_host(elsewhere) -> None:
    """The issue's ``localhost:PORT`` backslash-at ``127.0.0.1:PORT2`` URL: refused, no call."""
    store = Host(lambda h: _json({"total_count": 0, "orders": []}))
    try:
        api_url = f"http://localhost:{store.port}\\@127.0.0.1:{elsewhere.port}/api/v1"
        with pytest.raises(ConfigurationError, match="backslash"):
            ConnectionSettings.from_config({"access_token": TOKEN, "api_url": api_url})
        assert store.seen == []
        assert elsewhere.seen == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "link",
    [
        "@127.0.0.1:{port}/api/v1/orders?page=2",
        "//127.0.0.1:{port}/api/v1/orders?page=2",
        "http://x\\@127.0.0.1:{port}/api/v1/orders?page=2",
        "http://u@127.0.0.1:{port}/api/v1/orders?page=2",
    ],
)
def test_hostile_next_page_stops_paging_before_any_call_elsewhere(elsewhere, link) -> None:
    """A next_page link that would leave the store ends the read with an error; no call leaves."""
    next_page = link.format(port=elsewhere.port)
    store = Host(lambda h: _json({"total_count": 2, "orders": [{"id": 1}], "next_page": next_page}))
    session = _session(store.port)
    try:
        rows: list[dict[str, Any]] = []
        with pytest.raises(UnsafeURLError, match="`next_page`"):
            rows.extend(session.iter_records("/orders", {"count": 1}))
        assert rows == [{"id": 1}]
        assert len(store.seen) == 1
        assert elsewhere.seen == []
    finally:
        store.close()


def test_next_page_on_another_host_is_rerooted_on_the_store(elsewhere) -> None:
    """An absolute link naming another host is followed on the store's own origin."""

    def answer(handler: Any) -> tuple[int, dict[str, str], bytes]:
        if "page=2" in handler.path:
            return _json({"total_count": 2, "orders": [{"id": 2}]})
        link = f"http://127.0.0.1:{elsewhere.port}/api/v1/orders?count=1&page=2"
        return _json({"total_count": 2, "orders": [{"id": 1}], "next_page": link})

    store = Host(answer)
    try:
        rows = list(_session(store.port).iter_records("/orders", {"count": 1}))
        assert rows == [{"id": 1}, {"id": 2}]
        assert [c["path"] for c in store.seen] == [
            "/api/v1/orders?count=1",
            "/api/v1/orders?count=1&page=2",
        ]
        assert elsewhere.seen == []
    finally:
        store.close()


@pytest.mark.parametrize(("method", "status"), [("POST", 307), ("PUT", 308), ("POST", 302)])
def test_writes_never_follow_a_redirect(elsewhere, method, status) -> None:
    """A 3xx to a write is a fatal error: the body is not re-sent anywhere, not even retried."""
    location = f"http://127.0.0.1:{elsewhere.port}/api/v1/orders"
    store = Host(lambda h: (status, {"Location": location}, b""))
    session = _session(store.port)
    try:
        with pytest.raises(CartcomAPIError) as caught:
            session.request(method, "/orders", json={"order_number": "A-1", "secret": "x"})
        assert caught.value.status_code == status
        assert caught.value.disposition is Disposition.FATAL
        assert "not followed" in str(caught.value)
        assert len(store.seen) == 1
        assert elsewhere.seen == []
        assert session.writes == 1
    finally:
        store.close()


def test_reads_follow_a_redirect_without_the_token(elsewhere) -> None:
    """Reads follow (a moved store still answers); the token stays on the store's origin."""
    location = f"http://localhost:{elsewhere.port}/api/v1/orders"
    store = Host(lambda h: (302, {"Location": location}, b""))
    try:
        assert _session(store.port).get("/orders") == {"total_count": 0, "orders": []}
        assert store.seen[0]["headers"].get("X-AC-Auth-Token") == TOKEN
        assert len(elsewhere.seen) == 1
        assert all(TOKEN not in v for v in elsewhere.seen[0]["headers"].values())
    finally:
        store.close()


@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (500, Disposition.RETRY),
        (502, Disposition.RETRY),
        (503, Disposition.RETRY),
        (429, Disposition.WAIT),
        (401, Disposition.FATAL),
        (302, Disposition.FATAL),
        (307, Disposition.FATAL),
        (400, Disposition.RECORD),
        (404, Disposition.RECORD),
        (409, Disposition.RECORD),
        (413, Disposition.RECORD),
        (414, Disposition.RECORD),
        (422, Disposition.RECORD),
    ],
)
def test_one_classification_of_error_statuses(status, disposition) -> None:
    """Retry, wait, stop, or fail only the record: decided in one place."""
    assert classify_status(status) is disposition
    assert CartcomAPIError(status, "x").disposition is disposition


def test_no_answer_is_retried_only_when_transient() -> None:
    """Status 0: a dropped connection is retried; anything else without a status stops."""
    assert TransientAPIError(0, "connection failed").disposition is Disposition.RETRY
    assert CartcomAPIError(0, "loop").disposition is Disposition.FATAL


def test_a_next_page_loop_ends_with_an_error() -> None:
    """A store repeating one link would page forever: the second visit is refused."""

    def answer(handler: Any) -> tuple[int, dict[str, str], bytes]:
        link = "/api/v1/orders?count=1&page=2"
        return _json({"total_count": 9, "orders": [{"id": len(handler.seen)}], "next_page": link})

    store = Host(answer)
    try:
        with pytest.raises(CartcomAPIError, match="already read") as caught:
            list(_session(store.port).iter_records("/orders", {"count": 1}))
        assert caught.value.disposition is Disposition.FATAL
        assert len(store.seen) == 2
    finally:
        store.close()

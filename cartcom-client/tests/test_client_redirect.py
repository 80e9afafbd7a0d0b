"""The access token never follows a redirect to another origin."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cartcom_client import CartcomSession, ConnectionSettings

TOKEN = "secret-token-123"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    redirect_to: str | None = None

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"total_count": 0, "orders": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


def _serve(redirect_to: str | None) -> tuple[ThreadingHTTPServer, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "redirect_to": redirect_to})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, list[dict[str, str]], list[dict[str, str]]]]:
    """A store origin that redirects every call to a second origin."""
    other, other_seen = _serve(None)
    other_url = f"http://localhost:{other.server_address[1]}"
    store, store_seen = _serve(other_url)
    yield f"http://127.0.0.1:{store.server_address[1]}/api/v1", store_seen, other_seen
    store.shutdown()
    other.shutdown()


def test_token_is_dropped_on_redirect_to_another_origin(two_hosts) -> None:
    base_url, store_seen, other_seen = two_hosts
    settings = ConnectionSettings(base_url=base_url, access_token=TOKEN, calls_per_window=50)
    session = CartcomSession(settings)
    session.get("/orders")
    assert store_seen[0].get("X-AC-Auth-Token") == TOKEN
    assert len(other_seen) == 1, "the redirect was followed"
    assert "X-AC-Auth-Token" not in other_seen[0]
    assert all(TOKEN not in value for value in other_seen[0].values())

"""``cartcom-webhooks``: the receiver of Cart.com's webhook deliveries, which only records hints.

A delivery's URL is ``<receiver_url>/<store>/<secret>`` (webhook_settings.py). Cart.com signs
nothing, so the secret in the path is the only proof a delivery comes from the store's
subscription, and even then the body is never read as data: an accepted delivery only records a
hint (hints.py) that makes the store's Get Orders run sooner, and that run re-reads through the
API. So the receiver answers in milliseconds (Cart.com waits 3 s), and a forged delivery can at
worst cause one early run that finds nothing new.

Refused alike, with the same 404 and no word on whether the store exists: any method but POST,
any other path, an unknown store, a wrong secret (compared in constant time, also for an unknown
store). A body over ``MAX_BODY`` gets 413 unread. Log lines name the store, never the path or
the secret.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cartcom_orchestration.hints import Hints, hints_path
from cartcom_orchestration.project import find_root, load_project
from cartcom_orchestration.stores import StoresConfig, default_path, load_stores
from cartcom_orchestration.webhook_settings import SECRET

log = logging.getLogger("cartcom_orchestration.receiver")

#: Cart.com's payloads are one resource model (an order with its lines is tens of KB).
MAX_BODY = 256 * 1024
_CHUNK = 64 * 1024
#: Compared against when the store is unknown, so the answer takes as long as for a known one.
_NO_SECRET = "x" * 32

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class ReceiverSetupError(RuntimeError):
    """The receiver cannot start (no webhooks in the stores file, a secret variable not set)."""


def store_secrets(config: StoresConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Each webhook store's secret, from its ``secret_env``; refuses a missing or weak one."""
    if config.webhooks is None:
        msg = f"{config.path}: no top-level `webhooks` section: no store has webhooks to receive."
        raise ReceiverSetupError(msg)
    secrets = {}
    for store in config.stores:
        if store.webhooks is None:
            continue
        var = store.webhooks.secret_env
        value = environ.get(var, "")
        if not SECRET.fullmatch(value):
            msg = (
                f"store {store.name}: the environment variable {var} (webhooks.secret_env) is "
                "not set to a secret of 16 or more URL-safe characters (A-Z a-z 0-9 . _ ~ -)."
            )
            raise ReceiverSetupError(msg)
        secrets[store.name] = value
    if not secrets:
        msg = f"{config.path}: no store has a `webhooks` section."
        raise ReceiverSetupError(msg)
    return secrets


class Receiver:
    """The WSGI application: POST ``<prefix>/<store>/<secret>`` records a hint for the store."""

    def __init__(self, secrets: Mapping[str, str], hints: Hints, prefix: str = "") -> None:
        self._secrets = dict(secrets)
        self.hints = hints
        self.prefix = prefix.rstrip("/")

    @property
    def stores(self) -> list[str]:
        """The stores it receives for (names only)."""
        return sorted(self._secrets)

    def _store(self, method: str, path: str) -> str | None:
        """The store the delivery is for, or None (wrong method, path or secret)."""
        if method != "POST" or not path.startswith(self.prefix + "/"):
            return None
        parts = path[len(self.prefix) + 1 :].split("/")
        if len(parts) != 2:
            return None
        store, given = parts
        expected = self._secrets.get(store)
        same = hmac.compare_digest(given.encode(), (expected or _NO_SECRET).encode())
        return store if same and expected is not None else None

    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        store = self._store(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if store is None:
            log.info("delivery refused: 404 (not a store's webhook address)")
            return _answer(start_response, "404 Not Found", b'{"error": "not found"}')
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            log.warning(
                "store %s: delivery refused: 413 (body of %s bytes, limit %d)",
                store,
                environ.get("CONTENT_LENGTH"),
                MAX_BODY,
            )
            return _answer(start_response, "413 Content Too Large", b'{"error": "too large"}')
        body = environ["wsgi.input"]
        while length > 0:  # drained, never parsed: a delivery is a hint, not data
            got = body.read(min(length, _CHUNK))
            if not got:
                break
            length -= len(got)
        self.hints.record(store)
        log.info("store %s: webhook delivery recorded as a hint for Get Orders", store)
        return _answer(start_response, "202 Accepted", b'{"ok": true}')


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    """No access log: its request line holds the secret (the application logs the store)."""

    timeout = 10  # a sender that stalls mid-request frees its thread

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(app: Receiver, host: str, port: int) -> _Server:
    """A threaded HTTP server for ``app`` (call ``serve_forever``; ``server_port`` if 0)."""
    return make_server(host, port, app, server_class=_Server, handler_class=_Handler)


def build_receiver(
    stores_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Receiver:
    """The receiver for the project's stores file, sharing the hints file with Dagster."""
    root = find_root()
    project = load_project(root)
    config = load_stores(stores_file or default_path(root), project.jobs)
    secrets = store_secrets(config, os.environ if environ is None else environ)
    assert config.webhooks is not None
    prefix = urlsplit(config.webhooks.receiver_url).path
    return Receiver(secrets, Hints(hints_path(config, project)), prefix)


def main(argv: list[str] | None = None) -> int:
    """Serve the receiver (behind the reverse proxy that answers at ``receiver_url``)."""
    parser = argparse.ArgumentParser(
        prog="cartcom-webhooks",
        description="Receive Cart.com webhook deliveries as hints for each store's Get Orders.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on")
    parser.add_argument("--stores-file", type=Path, help="default: $CARTCOM_STORES_FILE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = build_receiver(args.stores_file)
    except (ReceiverSetupError, ValueError) as err:
        print(f"cartcom-webhooks: {err}", file=sys.stderr)
        return 2
    server = serve(app, args.host, args.port)
    log.info(
        "listening on %s:%d for stores %s (path prefix %r); hints in %s",
        args.host,
        server.server_port,
        ", ".join(app.stores),
        app.prefix or "/",
        app.hints.path,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

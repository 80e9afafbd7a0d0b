"""SandboxServer: the emulator on a threaded werkzeug server, in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from cartcom_sandbox.app import API, SandboxApp
from cartcom_sandbox.calllog import CallLog
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.delivery import Deliverer, DeliveryLog
from cartcom_sandbox.faults import FaultInjector
from cartcom_sandbox.ratelimit import RateLimiter
from cartcom_sandbox.router import RouterApp, RouterUser, Site, build_sites, parse_users
from cartcom_sandbox.scopes import parse_tokens
from cartcom_sandbox.store import Store


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines (tokens never reach a log anyway)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


class SandboxServer:
    """A running (or startable) emulator: ``base_url``, ``calls``, ``faults``, ``ratelimit``.

    Webhooks: ``deliveries`` (the delivery log) and ``deliverer`` (``wait_idle()``).
    """

    def __init__(
        self,
        store_or_path: Store | str | Path = ":memory:",
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | Mapping[str, Iterable[str] | None] = ("test-token",),
        config: SandboxConfig | None = None,
    ) -> None:
        """Prepare a server over a Store (or a path to open one at).

        ``tokens``: strings ``"T"`` (every scope) or ``"T:read_catalog,orders"``, or a mapping
        ``{token: scopes or None}`` (see scopes.py).
        """
        self.config = config or SandboxConfig()
        self.config.validate()
        if isinstance(store_or_path, Store):
            self.store, self._owns_store = store_or_path, False
        else:
            self.store = Store(store_or_path, timezone=self.config.timezone)
            self._owns_store = True
        self.scopes = parse_tokens(tokens)  # token -> scopes (None: every scope)
        self.tokens = list(self.scopes)
        if not self.tokens:
            raise ValueError("at least one API token is required")
        self.token = self.tokens[0]
        self.calls = CallLog()
        self.deliveries = DeliveryLog()
        self.faults = FaultInjector()
        self.ratelimit = RateLimiter(
            self.config.calls_per_window(), self.config.rate_window, self.config.retry_after_format
        )
        app = SandboxApp(
            self.store,
            self.config,
            self.scopes,
            ratelimit=self.ratelimit,
            faults=self.faults,
            calls=self.calls,
            deliveries=self.deliveries,
        )
        self.app: SandboxApp | RouterApp = app
        self._deliverer = app.deliverer
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def deliverer(self) -> Deliverer:
        """The webhook sender (``wait_idle()`` waits for every queued delivery)."""
        return self._deliverer

    @property
    def root_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/api/v1``."""
        return self.root_url + API

    def _bind(self) -> None:
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.port = self._server.server_port

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self."""
        if self._server is None:
            self._bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="cartcom-sandbox",
            daemon=True,
        )
        self._serving.set()
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop``."""
        if self._server is None:
            self._bind()
        assert self._server is not None
        self._serving.set()
        self._server.serve_forever(poll_interval=0.2)

    def request_stop(self) -> None:
        """Ask a ``serve_forever`` loop to end (safe from a signal handler)."""
        server = self._server
        if server is not None and self._serving.is_set():
            self._serving.clear()
            threading.Thread(target=server.shutdown, daemon=True).start()

    def stop(self) -> None:
        """Stop serving and close the store if this server opened it."""
        server = self._server
        if server is not None:
            if self._serving.is_set():
                server.shutdown()
                self._serving.clear()
            if self._thread is not None:
                self._thread.join(timeout=5)
                self._thread = None
            server.server_close()
            self._server = None
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> SandboxServer:
        """Start."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()


class RouterServer(SandboxServer):
    """Router mode: many sites (stores) behind one Central API Router host.

    ``sites`` maps a site id to a Store (or a path to open one at); ``users`` maps a router
    user to its secret, or to ``(secret, sites)`` for a user provisioned for those sites only
    (or gives ``"NAME:SECRET"`` / ``"NAME:SECRET@SITE,SITE"`` strings). Each site has its own
    store, call budget (``site(id).ratelimit``), faults and settings (a copy of ``config``);
    ``calls`` is one log for all, each record naming its ``site``; ``store``, ``faults`` and
    ``ratelimit`` of the single-store server raise, naming ``site(id)``. ``tokens`` are admin
    tokens only: the API routes take no ``X-AC-Auth-Token`` in router mode.
    """

    def __init__(
        self,
        sites: Mapping[str, Store | str | Path],
        users: Mapping[str, str | RouterUser | tuple[str, Iterable[str] | None]] | Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | Mapping[str, Iterable[str] | None] = ("test-token",),
        config: SandboxConfig | None = None,
    ) -> None:
        """Prepare the sites; nothing is served until ``start``."""
        self.config = config or SandboxConfig()
        self.config.validate()
        self.users = parse_users(users)
        self.scopes = parse_tokens(tokens)
        self.tokens = list(self.scopes)
        self.token = self.tokens[0] if self.tokens else ""
        self.calls = CallLog()
        self.deliveries = DeliveryLog()
        self.sites: dict[str, Site] = build_sites(
            sites, self.users, self.config, self.scopes, self.calls, deliveries=self.deliveries
        )
        self.app = RouterApp(self.sites, self.calls)
        self._owns_store = False
        self.host = host
        self.port = port
        self._server = None
        self._thread = None
        self._serving = threading.Event()

    @property
    def store(self) -> Store:  # type: ignore[override]
        """No single store in router mode: each site has its own."""
        raise AttributeError("a RouterServer has one store per site: use .site(SITE_ID).store")

    @property
    def faults(self) -> FaultInjector:  # type: ignore[override]
        """No single fault injector in router mode."""
        raise AttributeError("a RouterServer has faults per site: use .site(SITE_ID).faults")

    @property
    def ratelimit(self) -> RateLimiter:  # type: ignore[override]
        """No single call budget in router mode."""
        raise AttributeError(
            "a RouterServer has one call budget per site: use .site(SITE_ID).ratelimit"
        )

    @property
    def deliverer(self) -> Deliverer:  # type: ignore[override]
        """No single webhook sender in router mode."""
        raise AttributeError("a RouterServer sends webhooks per site: use .site(SITE_ID).deliverer")

    def site(self, site_id: str | int) -> Site:
        """One site's store, ratelimit, faults and config."""
        return self.sites[str(site_id)]

    def stop(self) -> None:
        """Stop serving and close the stores this server opened."""
        super().stop()
        for site in self.sites.values():
            if site.owns_store:
                site.store.close()

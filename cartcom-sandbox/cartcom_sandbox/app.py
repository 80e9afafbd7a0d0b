"""The WSGI application: auth, rate limit, faults, routing to the engine, call log, admin routes."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from cartcom_sandbox import jsonio, scopes
from cartcom_sandbox.calllog import CallLog, CallRecord
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.engine import Engine
from cartcom_sandbox.errors import ApiError, envelope
from cartcom_sandbox.faults import Fault, FaultInjector
from cartcom_sandbox.ratelimit import Decision, RateLimiter
from cartcom_sandbox.store import Store

API = "/api/v1"
ADMIN = "/_sandbox"
_JSON_SUFFIX = re.compile(r"\.json(?=/|$)")


class DroppedConnectionError(ConnectionError):
    """Raised after the app closed the socket itself (werkzeug then stays silent)."""


def token_hash(token: str) -> str:
    """A short, non-reversible tag of a token for logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


#: Decides who an API request is: ``(principal, None)`` when accepted, else ``(None, why)``.
Authenticator = Callable[[dict[str, Any]], tuple[str | None, str | None]]


class SandboxApp:
    """WSGI callable serving /api/v1 and /_sandbox.

    ``authenticate`` replaces the access-token check of API routes (the router mode passes its
    signature check, see router.py); admin routes always take an admin ``X-AC-Auth-Token``.
    ``site`` is the router site this app serves, recorded in the call log.
    """

    def __init__(
        self,
        store: Store,
        config: SandboxConfig,
        tokens: Iterable[str] | Mapping[str, Iterable[str] | None],
        *,
        ratelimit: RateLimiter,
        faults: FaultInjector,
        calls: CallLog,
        authenticate: Authenticator | None = None,
        site: str | None = None,
    ) -> None:
        """Wire the parts together."""
        self.authenticate = authenticate or self._token_auth
        self.site = site
        self.store = store
        self.config = config
        self.tokens = scopes.parse_tokens(tokens)  # token -> scopes (None: every scope)
        self.ratelimit = ratelimit
        self.faults = faults
        self.calls = calls
        self.engine = Engine(store, config)
        self._cache: dict[tuple, tuple[float, bytes]] = {}
        self._cache_lock = threading.Lock()
        self.clock = time.monotonic  # the cache's clock (tests may replace it)
        self.sleep = time.sleep  # waits out the store's latency (tests may replace it)

    def _cached(
        self, environ: dict[str, Any], method: str, token: str | None, path: str, query: str
    ) -> tuple[float, bytes] | None:
        """A cached GET ``(stored_at, body)`` (``cache_seconds`` > 0) unless ``no-cache``."""
        if method != "GET" or self.config.cache_seconds <= 0:
            return None
        if "no-cache" in environ.get("HTTP_CACHE_CONTROL", "").lower():
            return None
        with self._cache_lock:
            hit = self._cache.get((token, path, query))
        if hit is None or self.clock() - hit[0] >= self.config.cache_seconds:
            return None
        return hit

    def _prune_cache(self, now: float) -> None:
        """Drop expired entries (call with the cache lock held)."""
        ttl = self.config.cache_seconds
        for key in [k for k, (at, _) in self._cache.items() if now - at >= ttl]:
            del self._cache[key]

    def _cache_headers(self, stored_at: float) -> dict[str, str]:
        """DOC §1.10 headers of a cacheable GET (values INF)."""
        ttl = self.config.cache_seconds
        produced = time.time() - (self.clock() - stored_at)
        return {
            "Cache-Control": f"private, max-age={max(0, math.ceil(ttl))}",
            "Last-Modified": formatdate(produced, usegmt=True),
            "Expires": formatdate(produced + ttl, usegmt=True),
        }

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Serve one request."""
        path = environ.get("PATH_INFO", "") or "/"
        if path == ADMIN or path.startswith(ADMIN + "/"):
            request = self._request(environ)
            try:
                self._check_declared_size(request)
                token = environ.get("HTTP_X_AC_AUTH_TOKEN")
                if token is None or token not in self.tokens:
                    raise ApiError(401, "The sandbox admin routes need a valid X-AC-Auth-Token.")
                status, body = self._admin(request, path[len(ADMIN) :])
            except ApiError as err:
                status, body = err.status, err.body()
            return self._respond(start_response, status, body, {})
        return self._api(environ, start_response, path)

    def _token_auth(self, environ: dict[str, Any]) -> tuple[str | None, str | None]:
        """A store's own token (``X-AC-Auth-Token``): the token is the principal."""
        token = environ.get("HTTP_X_AC_AUTH_TOKEN")
        if token is not None and token in self.tokens:
            return token, None
        if token is None:
            return None, "A valid X-AC-Auth-Token header is required."
        return None, "The X-AC-Auth-Token is not valid."

    def _check_declared_size(self, request: Request) -> None:
        """413 for a declared body over ``max_body_bytes``, before reading (or parsing) any of it.

        Only the ``Content-Length`` header is looked at here, as IIS request filtering does
        before authentication; a chunked body is cut off while it is read, after auth.
        """
        declared = request.content_length
        if declared is not None and declared > self.config.max_body_bytes:
            raise ApiError(413, _too_large(declared, self.config.max_body_bytes))

    def _request(self, environ: dict[str, Any]) -> Request:
        """A request whose body reads stop one byte past ``max_body_bytes`` (chunked bodies)."""
        request = Request(environ)
        request.max_content_length = self.config.max_body_bytes + 1
        return request

    def _read_body(self, request: Request) -> None:
        """Read (and cache) the body within ``max_body_bytes``; 413 past it. Only after auth."""
        try:
            data = request.get_data(cache=True)
        except RequestEntityTooLarge:
            data = None
        if data is None or len(data) > self.config.max_body_bytes:
            raise ApiError(413, _too_large(None, self.config.max_body_bytes))

    def _read_json(self, request: Request) -> Any:
        """The request's JSON body, read within ``max_body_bytes`` (only ever after auth)."""
        if (request.mimetype or "").startswith("multipart/"):
            return None  # parsed by the upload route (form parsing honours the same limit)
        self._read_body(request)
        return _parse_json_quietly(request)

    def _api(self, environ: dict[str, Any], start_response: Any, path: str) -> Iterable[bytes]:
        arrived = time.time()
        request = self._request(environ)
        method = request.method.upper()
        query = environ.get("QUERY_STRING", "")
        sent_token = environ.get("HTTP_X_AC_AUTH_TOKEN")
        try:
            token, refusal = self.authenticate(environ)
        except Exception:  # any failure to check a caller is a refusal, answered and logged
            token, refusal = None, "Not authorized."
        valid = token is not None
        # A router site has one call budget, whoever calls it (docs/sandbox.md, router mode).
        rate_key = None if token is None else token if self.site is None else f"site:{self.site}"
        # The body is read and parsed only once the caller is accepted (then logged).
        request_json: Any = None
        record = {
            "method": method,
            "path": path,
            "query": query,
            "ts": arrived,
            "request_json": None,
            "token_hash": token_hash(sent_token) if sent_token else None,
            "site": self.site,
        }
        headers: dict[str, str] = {}
        fault: Fault | None = None
        decision: Decision = self.ratelimit.peek(rate_key)
        counted = False  # in the call window: the store works on it, so it takes its latency
        try:
            raw_uri = (
                environ.get("REQUEST_URI")
                or environ.get("RAW_URI")
                or (path + ("?" + query if query else ""))
            )
            if len(raw_uri) > self.config.max_url_length:
                raise ApiError(
                    414,
                    f"The request URL is {len(raw_uri)} characters long; "
                    f"the limit is {self.config.max_url_length}.",
                )
            self._check_declared_size(request)
            if not (path == API or path.startswith(API + "/")):
                raise ApiError(404, "Not an API route.")
            if not valid:
                raise ApiError(401, refusal or "Not authorized.")
            decision = self.ratelimit.hit(rate_key)  # type: ignore[arg-type]
            counted = decision.allowed
            if not decision.allowed:
                headers["Retry-After"] = decision.retry_after or "10"
                # INF: Cart.com's text is not documented; a router site's budget is the site's
                whose = "token" if self.site is None else "site"
                raise ApiError(
                    429,
                    f"The call limit for this {whose} has been reached; retry "
                    "after the window resets.",
                )
            request_json = self._read_json(request)
            record["request_json"] = None if request_json is _INVALID else request_json
            sub = _JSON_SUFFIX.sub("", path[len(API) :])
            self._check_scope(token, sub, method)  # type: ignore[arg-type]
            # Faults stand for failures behind auth and the limiter: they count as calls.
            fault = self.faults.pick(method, path)
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
                fault = None
            if fault is not None and fault.kind == "hold":
                fault.hold()
                fault = None
            if fault is not None and fault.kind == "status":
                if fault.status == 429:
                    headers["Retry-After"] = str(
                        fault.retry_after or max(1, math.ceil(self.ratelimit.window))
                    )
                raise ApiError(fault.status, "Injected fault.")
            if fault is not None and fault.kind == "drop" and not fault.process:
                raise ApiError(0)
            _check_body(request, method, sub, request_json)
            cached = self._cached(environ, method, token, path, query)
            if cached is not None:
                status, body = 200, cached[1]
                headers.update(self._cache_headers(cached[0]))
            else:
                status, body = self._route(request, method, sub, request_json)
                if status == 200 and method == "GET" and self.config.cache_seconds > 0:
                    payload = jsonio.dumps(body)
                    now = self.clock()
                    with self._cache_lock:
                        self._prune_cache(now)
                        self._cache[(token, path, query)] = (now, payload)
                    body = payload
                    headers.update(self._cache_headers(now))
        except ApiError as err:
            status, body = err.status, err.body()
        except RequestEntityTooLarge:  # a multipart upload past the limit, seen while parsing
            err = ApiError(413, _too_large(None, self.config.max_body_bytes))
            status, body = err.status, err.body()
        except Exception as err:  # the real API leaks server text in 500s, we keep it short
            status, body = 500, envelope(500, f"Sandbox error: {type(err).__name__}: {err}")
        headers["X-AC-Call-Limit"] = decision.header
        payload = body if isinstance(body, bytes) else b"" if body is None else jsonio.dumps(body)
        if fault is not None and fault.kind in ("drop", "truncate"):
            if counted:
                self.sleep(self.config.answer_delay(len(payload)))
            return self._sabotage(environ, fault, status, body, headers=headers, record=record)
        self.calls.append(CallRecord(status=status, bytes=len(payload), **record))
        if counted:
            # The store's latency, after the call was counted (on arrival) and logged, before
            # the answer leaves; each request has its own thread, so others are not held.
            self.sleep(self.config.answer_delay(len(payload)))
        return self._respond(start_response, status, payload, headers)

    def _check_scope(self, token: str, sub: str, method: str) -> None:
        """401 (INF) when the token's scopes do not cover this route and method."""
        granted = self.tokens.get(token)
        if granted is None:
            return
        first = next((p for p in sub.split("/") if p), "")
        need = scopes.missing_scope(granted, unquote_plus(first), method)
        if need is not None:
            raise ApiError(401, f"The token lacks the {need} scope required for {method} /{first}.")

    def _respond(
        self, start_response: Any, status: int, body: Any, headers: dict[str, str]
    ) -> Iterable[bytes]:
        payload = body if isinstance(body, bytes) else (b"" if body is None else jsonio.dumps(body))
        hdrs = list(headers.items())
        if status != 204:
            hdrs.append(("Content-Type", "application/json; charset=utf-8"))
            hdrs.append(("Content-Length", str(len(payload))))
        else:
            payload = b""
        start_response(f"{status} {_reason(status)}", hdrs)
        return [payload]

    def _sabotage(
        self,
        environ: dict[str, Any],
        fault: Fault,
        status: int,
        body: Any,
        *,
        headers: dict[str, str],
        record: dict[str, Any],
    ) -> Iterable[bytes]:
        sock: socket.socket | None = environ.get("werkzeug.socket")
        sent = 0
        logged = False

        def log() -> None:
            # Before the socket closes: a client retrying at once must find this call first.
            nonlocal logged
            if not logged:
                logged = True
                self.calls.append(
                    CallRecord(
                        status=status if fault.kind == "truncate" else 0, bytes=sent, **record
                    )
                )

        if sock is not None:
            try:
                if fault.kind == "truncate":
                    payload = (
                        body
                        if isinstance(body, bytes)
                        else b"{}"
                        if body is None
                        else jsonio.dumps(body)
                    )
                    head = [f"HTTP/1.1 {status} {_reason(status)}"]
                    head += [f"{k}: {v}" for k, v in headers.items()]
                    head += [
                        "Content-Type: application/json; charset=utf-8",
                        f"Content-Length: {len(payload)}",
                        "Connection: close",
                        "",
                        "",
                    ]
                    part = payload[: max(1, len(payload) // 2)]
                    sock.sendall("\r\n".join(head).encode() + part)
                    sent = len(part)
                log()
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        log()
        raise DroppedConnectionError(f"injected {fault.kind}")

    # --------------------------------------------------------------- routing
    def _route(self, request: Request, method: str, sub: str, body: Any) -> tuple[int, Any]:
        parts = [unquote_plus(p) for p in sub.strip("/").split("/") if p]
        if not parts:
            raise ApiError(404, "No resource given.")
        args = request.args
        first = {k: args.get(k, "") for k in args}
        eng = self.engine
        name = parts[0]

        def need(*methods: str) -> None:
            if method not in methods:
                raise ApiError(405, f"{method} is not allowed on this route.")

        def json_body() -> Any:
            if body is _INVALID:
                raise ApiError(400, "The request body is not valid JSON.")
            if body is None:
                raise ApiError(400, "A JSON request body is required.")
            return body

        if name == "inventory":
            if len(parts) == 1:
                need("GET")
                return 200, eng.inventory(first)
            if len(parts) == 2 and parts[1] == "settings":
                need("GET", "PUT")
                return 200, eng.inventory_settings(json_body() if method == "PUT" else None)
            if len(parts) == 2:
                need("POST")
                return 200, eng.inventory_change(parts[1], json_body())
            raise ApiError(404, "Unknown inventory route.")
        if name == "upload" and len(parts) == 1:
            need("POST")
            meta, content, ctype = _multipart(request)
            eng.upload(meta, content, ctype)
            return 204, None
        if len(parts) == 1:
            need("GET", "POST")
            if method == "GET":
                return 200, eng.list(
                    name, list(args.items(multi=True)), lambda p: _page_url(request, p)
                )
            return eng.create_or_update(name, json_body())
        if len(parts) == 2 and parts[1] == "select_many":
            need("GET")
            return 200, eng.select_many(name, first)
        if len(parts) == 2 and name == "products" and parts[1].lower() == "importmany":
            need("POST")
            return 200, eng.import_many(json_body())
        if len(parts) == 2 and name == "categories" and parts[1] == "rebuild_tree":
            need("POST")
            eng.rebuild_tree()
            return 204, None
        try:
            id_ = int(parts[1])
        except ValueError:
            raise ApiError(404, f"'{parts[1]}' is not a record id.") from None
        if len(parts) == 2:
            need("GET", "PUT", "DELETE")
            if method == "GET":
                return 200, eng.get(name, id_, first)
            if method == "PUT":
                return 200, eng.update(name, id_, json_body())
            eng.delete(name, id_)
            return 204, None
        if len(parts) == 3:
            if name == "orders" and parts[2] == "status":
                need("PUT")
                return 200, eng.set_order_status(id_, json_body())
            need("GET")
            if parts[2] == "filled":
                return 200, eng.filled(name, id_, first)
            return 200, eng.nested(name, id_, parts[2], first)
        raise ApiError(404, "Unknown route.")

    # ----------------------------------------------------------------- admin
    def _admin(self, request: Request, sub: str) -> tuple[int, Any]:
        method = request.method.upper()
        try:
            self._read_body(request)
            body = request.get_json(silent=True) if request.get_data() else None
            if sub in ("", "/", "/health"):
                return 200, {"ok": True, "store": self.store.path}
            if sub == "/calls":
                if method == "DELETE":
                    self.calls.clear()
                    return 204, None
                return 200, {"calls": [c.as_dict() for c in self.calls]}
            if sub == "/faults/release" and method == "POST":
                self.faults.release()
                return 200, self.faults.state()
            if sub == "/faults":
                if method == "DELETE":
                    self.faults.clear()
                    return 204, None
                if method == "POST":
                    specs = body if isinstance(body, list) else (body or {}).get("script", [])
                    self.faults.script(specs)
                    for r in [] if isinstance(body, list) else (body or {}).get("rates", []):
                        self.faults.rate(**r)
                    if isinstance(body, dict) and isinstance(body.get("rate"), dict):
                        self.faults.rate(**body["rate"])
                return 200, self.faults.state()
            if sub == "/ratelimit":
                if method == "POST":
                    opts = dict(body or {})
                    kwargs: dict[str, Any] = {
                        k: opts[k] for k in ("window", "retry_after_format", "plan") if k in opts
                    }
                    if "calls" in opts:
                        kwargs["calls"] = opts["calls"]
                    self.ratelimit.configure(**kwargs)
                return 200, self.ratelimit.state()
            if sub == "/config":
                if method == "POST":
                    before = dict(self.config.__dict__)
                    try:
                        for k, v in (body or {}).items():
                            if not hasattr(self.config, k):
                                raise ValueError(f"unknown setting {k!r}")
                            setattr(self.config, k, v)
                        self.config.validate()
                    except ValueError:
                        self.config.__dict__.update(before)
                        raise
                return 200, dict(self.config.__dict__)
        except (ValueError, TypeError) as err:
            return 400, envelope(400, str(err))
        return 404, envelope(404, "Unknown sandbox admin route.")


_INVALID = object()


def _parse_json_quietly(request: Request) -> Any:
    ctype = request.mimetype or ""
    if ctype.startswith("multipart/") or request.method in ("GET", "HEAD"):
        return None
    data = request.get_data(cache=True)
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except ValueError:
        return _INVALID


_JSON_TYPES = ("application/json", "text/json")


def _check_body(request: Request, method: str, sub: str, parsed: Any) -> None:
    """400 for a POST/PUT body that is not JSON (multipart only on /upload), or malformed."""
    if method not in ("POST", "PUT") or sub.strip("/") == "upload":
        return  # _multipart answers a non-multipart upload
    if not request.get_data(cache=True).strip():
        return
    ctype = (request.mimetype or "").lower()
    if ctype not in _JSON_TYPES and not (
        ctype.startswith("application/") and ctype.endswith("+json")
    ):
        raise ApiError(
            400,
            f"The request body must be JSON (Content-Type: application/json), "
            f"not '{ctype or 'none'}'.",
        )
    if parsed is _INVALID:
        raise ApiError(400, "The request body is not valid JSON.")


def _multipart(request: Request) -> tuple[Any, bytes, str | None]:
    """The JSON part and the file part of an /upload request."""
    if not (request.mimetype or "").startswith("multipart/"):
        raise ApiError(400, "The upload must be multipart/form-data.")
    meta: Any = None
    content: bytes | None = None
    ctype = None
    for value in request.form.values():
        try:
            meta = json.loads(value)
            break
        except ValueError:
            continue
    for storage in request.files.values():
        raw = storage.read()
        if (storage.mimetype or "") == "application/json" and meta is None:
            try:
                meta = json.loads(raw)
                continue
            except ValueError:
                pass
        if content is None:
            enc = (storage.headers.get("Content-Transfer-Encoding") or "").lower()
            content = base64.b64decode(raw) if enc == "base64" else raw
            ctype = storage.mimetype
    if content is None:
        raise ApiError(400, "The upload has no file part.")
    return meta, content, ctype


def _page_url(request: Request, page: int) -> str:
    """The absolute URL of ``page`` keeping every other query parameter as sent."""
    raw = request.environ.get("QUERY_STRING", "")
    pairs = [p for p in raw.split("&") if p]
    out, done = [], False
    for p in pairs:
        if unquote_plus(p.split("=", 1)[0]) == "page":
            if not done:
                out.append(f"page={page}")
                done = True
            continue
        out.append(p)
    if not done:
        out.append(f"page={page}")
    return f"{request.host_url.rstrip('/')}{request.path}?{'&'.join(out)}"


def _too_large(declared: int | None, limit: int) -> str:
    size = f"The request body is {declared} bytes" if declared else "The request body is too long"
    return f"{size}; the limit is {limit} bytes."


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

"""Webhooks: subscriptions (CRUD, scopes, budget) and deliveries to a real HTTP receiver.

Every delivery test waits on conditions (a delivery arrived, the sender is idle), never on
sleeps; a receiver "hold" keeps a delivery unanswered until the test releases it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import RouterServer, SandboxServer

WAIT = 20.0  # the longest any condition is waited for (a safety net, never a pace)


# --------------------------------------------------------------------------- receiver
class Receiver:
    """A small HTTP server recording each POST; per-path status and holds."""

    def __init__(self) -> None:
        self.arrived: list[dict[str, Any]] = []  # in arrival order
        self.statuses: dict[str, int] = {}  # path -> status to answer (default 200)
        self.hold_first = threading.Event()  # set: the first delivery is answered
        self.holding = False
        self.on_arrival: Callable[[dict[str, Any]], Any] | None = None
        self._cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hit = {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "raw": body,
                    "json": json.loads(body),
                }
                if owner.on_arrival is not None:
                    hit["seen"] = owner.on_arrival(hit)
                with owner._cond:
                    first = not owner.arrived
                    owner.arrived.append(hit)
                    owner._cond.notify_all()
                if first and owner.holding:
                    owner.hold_first.wait(WAIT)
                try:
                    self.send_response(owner.statuses.get(self.path.split("?")[0], 200))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sandbox gave up (timeout) and closed its end

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def wait_for(self, n: int) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.arrived) >= n, WAIT), self.arrived
            return list(self.arrived)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [h["json"] for h in self.arrived if path is None or h["path"] == path]

    def close(self) -> None:
        self.hold_first.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


# ---------------------------------------------------------------------------- helpers
def _seed(store) -> None:
    store.bulk_insert("stores", [{"id": 1, "name": "Main"}, {"id": 2, "name": "Outlet"}])
    store.bulk_insert(
        "order_statuses",
        [
            {"id": 1, "name": "Pending", "is_open": True},
            {"id": 2, "name": "Processing", "is_open": True},
            {"id": 3, "name": "Shipped", "is_shipped": True},
            {"id": 4, "name": "Cancelled", "is_cancelled": True},
        ],
    )
    store.bulk_insert(
        "product_statuses", [{"id": 1, "name": "In Stock"}, {"id": 2, "name": "Out of Stock"}]
    )
    store.bulk_insert("categories", [{"id": 1, "name": "Tees", "parent_category_id": 0}])
    store.bulk_insert(
        "products",
        [
            {
                "id": 1,
                "item_number": "TEE",
                "item_name": "Tee",
                "product_status_id": 1,
                "primary_category_id": 1,
                "quantity_on_hand": 5,
            }
        ],
    )
    store.bulk_insert(
        "variant_inventory",
        [
            {
                "id": 7,
                "product_id": 1,
                "item_number": "TEE-S",
                "inventory": 3,
                "product_status_id": 1,
            }
        ],
    )


def _call(srv, method: str, path: str, body: Any = None, token: str | None = None, **kw):
    return requests.request(
        method,
        srv.base_url + path,
        json=body,
        headers={"X-AC-Auth-Token": token or srv.token},
        timeout=kw.pop("timeout", 10),
        **kw,
    )


def _subscribe(srv, event_type: str, url: str, **fields: Any) -> dict[str, Any]:
    made = _call(srv, "POST", "/webhooks", {"event_type": event_type, "url": url, **fields})
    assert made.status_code == 201, made.text
    return made.json()


def _new_order(srv, status: int = 1, store_id: int = 1) -> int:
    made = _call(
        srv,
        "POST",
        "/orders",
        {
            "customer_id": 0,
            "order_status_id": status,
            "order_shipping_address_id": 0,
            "order_billing_address_id": 0,
            "store_id": store_id,
        },
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _idle(srv) -> None:
    assert srv.deliverer.wait_idle(WAIT)


@pytest.fixture
def srv(sandbox):
    _seed(sandbox.store)
    return sandbox


# ---------------------------------------------------------------------- subscriptions
def test_subscription_crud_paging_and_errors(srv, receiver):
    made = _subscribe(srv, "orderplaced", receiver.url("/a"), store_id=1, cache_length="short")
    assert made == {
        "id": made["id"],
        "event_type": "OrderPlaced",  # the documented spelling, whatever case was sent
        "url": receiver.url("/a"),
        "failure_type": "Ignore",  # DOC default
        "store_id": 1,
        "cache_length": "Short",
        "fallback_url": None,
    }
    second = _subscribe(srv, "OrderShipped", receiver.url("/b"), failure_type="Fallback")
    assert _call(srv, "GET", f"/webhooks/{made['id']}").json() == made
    page1 = _call(srv, "GET", "/webhooks", params={"count": 1}).json()
    assert page1["total_count"] == 2
    assert [w["id"] for w in page1["webhooks"]] == [made["id"]]
    assert "page=2" in page1["next_page"]
    by_event = _call(srv, "GET", "/webhooks", params={"event_type": "OrderShipped"}).json()
    assert [w["id"] for w in by_event["webhooks"]] == [second["id"]]
    moved = _call(srv, "PUT", f"/webhooks/{made['id']}", {"url": receiver.url("/c")})
    assert moved.status_code == 200
    assert (moved.json()["url"], moved.json()["event_type"]) == (receiver.url("/c"), "OrderPlaced")
    assert _call(srv, "DELETE", f"/webhooks/{made['id']}").status_code == 204
    assert _call(srv, "GET", f"/webhooks/{made['id']}").status_code == 404
    assert srv.store.count("webhooks") == 1

    def refused(body: dict[str, Any], status: int, field: str) -> None:
        resp = _call(srv, "POST", "/webhooks", body)
        assert resp.status_code == status, resp.text
        assert field in resp.json()["details"]

    url = receiver.url("/x")
    refused({"url": url}, 400, "event_type")
    refused({"event_type": "OrderPlaced"}, 400, "url")
    refused({"event_type": "OrderPlace", "url": url}, 409, "event_type")  # the docs' typo
    refused({"event_type": "OrderPlaced", "url": url, "failure_type": "Retry"}, 409, "failure_type")
    refused({"event_type": "OrderPlaced", "url": "ftp://x/y"}, 409, "url")
    refused({"event_type": "OrderPlaced", "url": url, "fallback_url": "nope"}, 409, "fallback_url")
    refused({"event_type": "OrderPlaced", "url": url, "store_id": 99}, 409, "store_id")
    refused({"event_type": "OrderPlaced", "url": url, "cache_length": "Forever"}, 409, "cache")
    assert srv.store.count("webhooks") == 1


@pytest.mark.parametrize(
    ("token", "method", "body", "need"),
    [
        ("sys", "POST", {"event_type": "OrderPlaced"}, "'orders'"),  # DOC: orders + system
        ("sysro", "POST", {"event_type": "OrderPlaced"}, "read-only"),
        ("ord", "POST", {"event_type": "OrderPlaced"}, "'system'"),
        ("ord", "GET", None, "'system'"),
        ("sysord", "POST", {"event_type": "ProductUpdated"}, "'catalog'"),
        ("sysord", "POST", {"event_type": "customercreated"}, "'people'"),
    ],
)
def test_scopes_refuse(token, method, body, need):
    tokens = {
        "sys": ["system"],
        "sysro": ["system", "read_orders"],
        "ord": ["orders"],
        "sysord": ["system", "orders"],
    }
    with SandboxServer(tokens=tokens) as srv:
        if body is not None:
            body = {**body, "url": "http://127.0.0.1:9/x"}
        resp = _call(srv, method, "/webhooks", body, token=token)
        assert resp.status_code == 401, resp.text
        assert need in resp.json()["details"]
        assert srv.store.count("webhooks") == 0


def test_scopes_allow():
    tokens = {"sysord": ["system", "orders"], "all": ["system", "catalog"]}
    with SandboxServer(tokens=tokens) as srv:
        body = {"event_type": "OrderPlaced", "url": "http://127.0.0.1:9/x"}
        assert _call(srv, "POST", "/webhooks", body, token="sysord").status_code == 201
        assert _call(srv, "GET", "/webhooks", token="sysord").json()["total_count"] == 1
        body = {"event_type": "ProductUpdated", "url": "http://127.0.0.1:9/x"}
        assert _call(srv, "POST", "/webhooks", body, token="all").status_code == 201


def test_subscription_calls_count_and_deliveries_do_not(receiver):
    config = SandboxConfig(plan="steel", rate_window=3600)  # 5 calls, one long window
    with SandboxServer(config=config) as srv:
        _seed(srv.store)
        first = _call(
            srv, "POST", "/webhooks", {"event_type": "NewOrder", "url": receiver.url("/n")}
        )
        assert first.headers["X-AC-Call-Limit"] == "1/5"
        listed = _call(srv, "GET", "/webhooks")
        assert listed.headers["X-AC-Call-Limit"] == "2/5"
        _new_order(srv)  # call 3, and one delivery
        receiver.wait_for(1)
        _idle(srv)
        fourth = _call(srv, "GET", f"/webhooks/{first.json()['id']}")
        assert fourth.headers["X-AC-Call-Limit"] == "4/5"  # the delivery spent nothing
        assert _call(srv, "DELETE", f"/webhooks/{first.json()['id']}").status_code == 204
        assert _call(srv, "GET", "/webhooks").status_code == 429
        assert srv.calls.count(path_prefix="/webhooks") == 5
        assert len(srv.deliveries) == 1


# ------------------------------------------------------------------------ payloads
def test_new_order_events_carry_the_order_model(srv, receiver):
    for event in ("NewOrder", "NewValidOrder", "OrderPlaced"):
        _subscribe(srv, event, receiver.url(f"/{event}"))
    oid = _new_order(srv)
    cancelled = _new_order(srv, status=4)
    _idle(srv)
    model = _call(srv, "GET", f"/orders/{oid}").json()
    assert receiver.bodies("/NewOrder")[0] == {"order": model}
    assert receiver.bodies("/OrderPlaced")[0] == {"order": model}
    assert [b["order"]["id"] for b in receiver.bodies("/NewOrder")] == [oid, cancelled]
    # NewValidOrder: not for an order created cancelled or declined (DOC)
    assert [b["order"]["id"] for b in receiver.bodies("/NewValidOrder")] == [oid]
    hit = receiver.arrived[0]
    assert hit["headers"]["Content-Type"].startswith("application/json")
    # No signature (Cart.com signs nothing) and never the caller's token
    assert not [h for h in hit["headers"] if "sign" in h.lower() or h.lower().startswith("x-ac")]
    assert srv.token.encode() not in b"".join(h["raw"] for h in receiver.arrived)


def test_order_placed_on_create_is_a_switch(srv, receiver):
    srv.config.webhook_order_placed_on_create = False
    _subscribe(srv, "OrderPlaced", receiver.url("/p"))
    _subscribe(srv, "NewOrder", receiver.url("/n"))
    _new_order(srv)
    receiver.wait_for(1)
    _idle(srv)
    assert [h["path"] for h in receiver.arrived] == ["/n"]


def test_status_change_events(srv, receiver):
    for event in ("OrderStatusChanged", "OrderShipped", "OrderCanceled", "OrderUpdated"):
        _subscribe(srv, event, receiver.url(f"/{event}"))
    oid = _new_order(srv)
    assert _call(srv, "PUT", f"/orders/{oid}/status", {"order_status_id": 2}).status_code == 200
    assert _call(srv, "PUT", f"/orders/{oid}/status", {"order_status_id": 2}).status_code == 200
    assert _call(srv, "PUT", f"/orders/{oid}/status", {"order_status_id": 3}).status_code == 200
    _idle(srv)
    changed = receiver.bodies("/OrderStatusChanged")
    statuses = {s["id"]: s for s in _call(srv, "GET", "/order_statuses").json()["order_statuses"]}
    assert [(b["old_status"], b["new_status"]) for b in changed] == [
        (statuses[1], statuses[2]),
        (statuses[2], statuses[3]),  # the repeated status 2 changed nothing: no event
    ]
    assert changed[-1]["order"] == _call(srv, "GET", f"/orders/{oid}").json()
    assert [b["order"]["order_status_id"] for b in receiver.bodies("/OrderShipped")] == [3]
    assert receiver.bodies("/OrderCanceled") == []
    assert len(receiver.bodies("/OrderUpdated")) == 2


def test_plain_put_changes_the_status_silently_unless_switched(srv, receiver):
    _subscribe(srv, "OrderStatusChanged", receiver.url("/changed"))
    _subscribe(srv, "OrderUpdated", receiver.url("/updated"))
    oid = _new_order(srv)
    assert _call(srv, "PUT", f"/orders/{oid}", {"order_status_id": 2}).status_code == 200
    _idle(srv)
    assert [h["path"] for h in receiver.arrived] == ["/updated"]
    srv.config.webhook_status_events_on_put = True
    assert _call(srv, "PUT", f"/orders/{oid}", {"order_status_id": 3}).status_code == 200
    _idle(srv)
    assert sorted(h["path"] for h in receiver.arrived) == ["/changed", "/updated", "/updated"]
    assert receiver.bodies("/changed")[0]["new_status"]["id"] == 3


def test_store_id_limits_who_hears_an_order(srv, receiver):
    _subscribe(srv, "NewOrder", receiver.url("/main"), store_id=1)
    _subscribe(srv, "NewOrder", receiver.url("/outlet"), store_id=2)
    _subscribe(srv, "NewOrder", receiver.url("/any"))
    _new_order(srv, store_id=2)
    receiver.wait_for(2)
    _idle(srv)
    assert sorted(h["path"] for h in receiver.arrived) == ["/any", "/outlet"]


def test_product_and_stock_events(srv, receiver):
    for event in ("ProductCreated", "ProductUpdated", "ProductStatusChanged"):
        _subscribe(srv, event, receiver.url(f"/{event}"))
    made = _call(
        srv,
        "POST",
        "/products",
        {"item_name": "Cap", "product_status_id": 1, "primary_category_id": 1},
    ).json()
    assert _call(srv, "PUT", "/products/1", {"product_status_id": 2}).status_code == 200
    stock = _call(srv, "POST", "/inventory/set", {"product_id": 1, "quantity": 9})
    assert stock.status_code == 200
    variant = _call(srv, "PUT", "/variant_inventory/7", {"product_status_id": 2})
    assert variant.status_code == 200
    assert _call(srv, "POST", "/inventory/add", {"variant_inventory_id": 7, "quantity": 2}).ok
    _idle(srv)
    assert receiver.bodies("/ProductCreated") == [{"product": made}]
    updated = receiver.bodies("/ProductUpdated")
    # the status PUT, the product's stock, the variant's stock (INF: its product's update)
    assert [b["product"]["id"] for b in updated] == [1, 1, 1]
    assert updated[1]["product"]["quantity_on_hand"] == 9
    assert updated[1]["product"] == updated[2]["product"] == _call(srv, "GET", "/products/1").json()
    items = [b["item"] for b in receiver.bodies("/ProductStatusChanged")]
    product_statuses = _call(srv, "GET", "/product_statuses").json()["product_statuses"]
    out_of_stock = next(s for s in product_statuses if s["id"] == 2)
    assert items[0]["product_id"] == 1
    assert items[0]["variant_inventory_id"] is None
    assert (items[0]["product_status_id"], items[0]["product_status"]) == (2, out_of_stock)
    assert items[0]["item_number"] == "TEE"
    assert items[1]["variant_inventory_id"] == 7
    assert (items[1]["inventory"], items[1]["item_number"]) == (3, "TEE-S")
    assert items[1]["variant_inventory"]["product_status_id"] == 2
    assert set(items[0]) == {
        "product_id",
        "variant_inventory_id",
        "product_status_id",
        "product",
        "variant_inventory",
        "product_status",
        "inventory",
        "item_number",
        "manufacturer_item_number",
    }
    assert len(items) == 2


def test_customer_events(srv, receiver):
    for event in ("CustomerCreated", "CustomerEmailUpdated"):
        _subscribe(srv, event, receiver.url(f"/{event}"))
    made = _call(srv, "POST", "/customers", {"email": "a@example.com", "store_id": 1}).json()
    _call(srv, "PUT", f"/customers/{made['id']}", {"email": "b@example.com"})
    _idle(srv)
    assert receiver.bodies("/CustomerCreated")[0]["customer"]["email"] == "a@example.com"
    moved = receiver.bodies("/CustomerEmailUpdated")[0]
    assert (moved["old_email"], moved["new_email"]) == ("a@example.com", "b@example.com")


# ------------------------------------------------------------------------ delivery
def test_the_api_answer_does_not_wait_for_the_receiver(srv, receiver):
    srv.config.webhook_timeout = 60.0
    receiver.holding = True
    _subscribe(srv, "NewOrder", receiver.url("/slow"))
    oid = _new_order(srv)  # answered while the receiver holds the delivery
    assert receiver.wait_for(1)[0]["json"]["order"]["id"] == oid
    assert srv.deliverer.pending() == 1
    receiver.hold_first.set()
    _idle(srv)
    assert [d.outcome for d in srv.deliveries] == ["delivered"]


def test_timeout_with_ignore_calls_nothing_else(srv, receiver):
    srv.config.webhook_timeout = 0.5
    receiver.holding = True  # held until the test ends: the sandbox must give up
    _subscribe(srv, "NewOrder", receiver.url("/slow"), fallback_url=receiver.url("/fb"))
    _new_order(srv)
    _idle(srv)
    [record] = srv.deliveries
    assert (record.outcome, record.status, record.failure_type) == ("timeout", 0, "Ignore")
    assert (record.error_shown, record.attempt) == (False, 1)
    assert [h["path"] for h in receiver.arrived] == ["/slow"]  # no fallback, no retry


def test_default_timeout_is_three_seconds():
    assert SandboxConfig().webhook_timeout == 3.0
    assert SandboxConfig().webhook_retries == 0  # none documented


def test_error_status_with_failure_type_error_shows_an_error(srv, receiver):
    receiver.statuses["/broken"] = 500
    _subscribe(
        srv,
        "NewOrder",
        receiver.url("/broken"),
        failure_type="error",
        fallback_url=receiver.url("/fb"),
    )
    _new_order(srv)
    _idle(srv)
    [record] = srv.deliveries
    assert (record.outcome, record.status) == ("failed", 500)
    assert (record.failure_type, record.error_shown) == ("Error", True)
    assert [h["path"] for h in receiver.arrived] == ["/broken"]  # Error never calls the fallback


def test_fallback_gets_the_same_payload(srv, receiver):
    receiver.statuses["/down"] = 503
    _subscribe(
        srv,
        "NewOrder",
        receiver.url("/down"),
        failure_type="Fallback",
        fallback_url=receiver.url("/fb"),
    )
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    dead_url = f"http://127.0.0.1:{closed.server_port}/gone"
    closed.server_close()  # nothing listens there any more
    _subscribe(
        srv, "NewOrder", dead_url, failure_type="Fallback", fallback_url=receiver.url("/fb2")
    )
    oid = _new_order(srv)
    _idle(srv)
    raw = {h["path"]: h["raw"] for h in receiver.arrived}
    assert set(raw) == {"/down", "/fb", "/fb2"}
    assert raw["/fb"] == raw["/down"] == raw["/fb2"]
    assert json.loads(raw["/fb"])["order"]["id"] == oid
    outcomes = sorted((d.subscription_id, d.target, d.outcome, d.status) for d in srv.deliveries)
    assert [o[1:] for o in outcomes] == [
        ("fallback_url", "delivered", 200),
        ("url", "failed", 503),
        ("fallback_url", "delivered", 200),
        ("url", "unreachable", 0),
    ]


def test_retries_switch(srv, receiver):
    receiver.statuses["/flaky"] = 502
    srv.config.webhook_retries = 2
    srv.config.webhook_retry_seconds = 0.0
    _subscribe(
        srv,
        "NewOrder",
        receiver.url("/flaky"),
        failure_type="Fallback",
        fallback_url=receiver.url("/fb"),
    )
    _new_order(srv)
    _idle(srv)
    assert [h["path"] for h in receiver.arrived] == ["/flaky"] * 3 + ["/fb"]
    assert [(d.target, d.attempt) for d in srv.deliveries] == [
        ("url", 1),
        ("url", 2),
        ("url", 3),
        ("fallback_url", 1),
    ]


@pytest.mark.parametrize(("order", "logged_before_second"), [("ordered", 1), ("concurrent", 0)])
def test_ordering_switch(srv, receiver, order, logged_before_second):
    """The second delivery arrives after the first is over, or while the first is held.

    "ordered": after; "concurrent": while the receiver still holds the first.
    """
    srv.config.webhook_order = order
    srv.config.webhook_timeout = 0.5 if order == "ordered" else 60.0
    receiver.holding = True  # the first delivery is held until the second has arrived
    receiver.on_arrival = lambda hit: len(srv.deliveries)
    _subscribe(srv, "NewOrder", receiver.url("/n"))
    first, second = _new_order(srv), _new_order(srv)
    hits = receiver.wait_for(2)
    receiver.hold_first.set()
    _idle(srv)
    assert [h["json"]["order"]["id"] for h in hits] == [first, second]
    assert hits[1]["seen"] == logged_before_second


def _burst(faults: dict[str, Any], receiver: Receiver, n: int = 30) -> tuple[list, SandboxServer]:
    srv = SandboxServer(config=SandboxConfig(**faults)).start()
    _seed(srv.store)
    _subscribe(srv, "ProductUpdated", receiver.url("/burst"))
    for price in range(n):
        assert _call(srv, "PUT", "/products/1", {"price": price}).status_code == 200
    _idle(srv)
    srv.stop()
    return list(srv.deliveries), srv


def test_drop_share_is_seeded(receiver):
    runs = []
    for seed in (5, 5, 6):
        before = len(receiver.arrived)
        log, _ = _burst({"webhook_drop_share": 0.3, "webhook_fault_seed": seed}, receiver)
        prices = [h["json"]["product"]["price"] for h in receiver.arrived[before:]]
        dropped = [d for d in log if d.outcome == "dropped"]
        assert len(prices) + len(dropped) == 30
        assert 0 < len(dropped) < 30
        assert prices == sorted(prices)  # "ordered": in event order
        runs.append(prices)
    assert runs[0] == runs[1]  # the same seed drops the same deliveries
    assert runs[0] != runs[2]


def test_duplicate_share_sends_copies(receiver):
    log, _ = _burst({"webhook_duplicate_share": 0.4, "webhook_fault_seed": 3}, receiver)
    prices = [h["json"]["product"]["price"] for h in receiver.arrived]
    copies = [d for d in log if d.copy == 2]
    assert 0 < len(copies) < 30
    assert len(prices) == 30 + len(copies)
    assert sorted(set(prices)) == list(range(30))  # each event at least once
    twice = sorted(p for p in set(prices) if prices.count(p) == 2)
    assert len(twice) == len(copies)
    assert prices == sorted(prices)  # a copy follows its original


def test_delivery_log_keeps_no_secret(srv, receiver):
    secret_url = receiver.url("/hooks/s3cr3t-path?key=qu3ry-s3cr3t")
    _subscribe(srv, "NewOrder", secret_url)
    _new_order(srv)
    _idle(srv)
    assert receiver.arrived[0]["path"] == "/hooks/s3cr3t-path?key=qu3ry-s3cr3t"
    admin = requests.get(
        srv.root_url + "/_sandbox/deliveries", headers={"X-AC-Auth-Token": srv.token}, timeout=10
    )
    text = admin.text
    assert "s3cr3t" not in text
    assert json.loads(text)["deliveries"][0]["host"] == receiver.url("")
    assert json.loads(text)["deliveries"][0]["event_type"] == "NewOrder"
    assert "s3cr3t" not in repr(srv.deliveries.snapshot())


def test_router_sites_send_their_own_deliveries(receiver):
    secret = "router-s3cret"

    def call(server: RouterServer, site: str, path: str, body: dict[str, Any]) -> Any:
        message = f"POST&/api/v1{path}&agency".encode()
        digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
        headers = {
            "X-AC-PUB-Site-ID": site,
            "X-AC-PUB-User": "agency",
            "X-AC-PUB-Auth-Signature": base64.b64encode(digest).decode(),
        }
        resp = requests.post(server.base_url + path, json=body, headers=headers, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()

    with RouterServer({"101": ":memory:", "202": ":memory:"}, [f"agency:{secret}"]) as server:
        for site in ("101", "202"):
            server.site(site).store.bulk_insert("order_statuses", [{"id": 1, "name": "New"}])
        call(server, "101", "/webhooks", {"event_type": "NewOrder", "url": receiver.url("/101")})
        order = {"order_status_id": 1, "customer_id": 0}
        order |= {"order_shipping_address_id": 0, "order_billing_address_id": 0}
        call(server, "202", "/orders", order)  # no subscription on site 202
        made = call(server, "101", "/orders", order)
        for site in ("101", "202"):
            assert server.site(site).deliverer.wait_idle(WAIT)
        assert [(d.site, d.event_type, d.resource_id) for d in server.deliveries] == [
            ("101", "NewOrder", made["id"])
        ]
        assert [h["path"] for h in receiver.arrived] == ["/101"]
        assert "agency" not in repr(server.deliveries.snapshot())


def test_config_refuses_bad_webhook_switches():
    for bad in (
        {"webhook_timeout": 0},
        {"webhook_retries": -1},
        {"webhook_order": "random"},
        {"webhook_drop_share": 1.5},
        {"webhook_drop_share": 0.6, "webhook_duplicate_share": 0.6},
        {"webhook_status_events_on_put": "yes"},
    ):
        with pytest.raises(ValueError, match="webhook"):
            SandboxConfig(**bad).validate()


def test_served_process_takes_the_switches_and_delivers(tmp_path, receiver):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cartcom_sandbox",
            "serve",
            "--db",
            str(tmp_path / "w.db"),
            "--port",
            "0",
            "--plan",
            "gold",
            "--webhook-timeout",
            "1.5",
            "--webhook-retries",
            "2",
            "--webhook-order",
            "concurrent",
            "--webhook-status-events-on-put",
            "--webhook-duplicate-share",
            "1",
            "--webhook-fault-seed",
            "9",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        root = base.removesuffix("/api/v1")
        hdr = {"X-AC-Auth-Token": "test-token"}
        config = requests.get(root + "/_sandbox/config", headers=hdr, timeout=10).json()
        assert {k: v for k, v in config.items() if k.startswith("webhook_")} == {
            "webhook_timeout": 1.5,
            "webhook_retries": 2,
            "webhook_retry_seconds": 1.0,
            "webhook_order": "concurrent",
            "webhook_status_events_on_put": True,
            "webhook_order_placed_on_create": True,
            "webhook_drop_share": 0.0,
            "webhook_duplicate_share": 1.0,
            "webhook_fault_seed": 9,
        }
        made = requests.post(
            base + "/webhooks",
            json={"event_type": "CustomerCreated", "url": receiver.url("/proc")},
            headers=hdr,
            timeout=10,
        )
        assert made.status_code == 201
        requests.post(
            base + "/customers",
            json={"email": "p@example.com", "store_id": 1},
            headers=hdr,
            timeout=10,
        )
        assert len(receiver.wait_for(2)) == 2  # duplicate share 1: every delivery twice
        waited = requests.post(
            root + "/_sandbox/deliveries/wait", json={"timeout": WAIT}, headers=hdr, timeout=30
        ).json()
        assert waited == {"idle": True, "pending": 0}
        logged = requests.get(root + "/_sandbox/deliveries", headers=hdr, timeout=10).json()
        assert sorted(d["copy"] for d in logged["deliveries"]) == [1, 2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)

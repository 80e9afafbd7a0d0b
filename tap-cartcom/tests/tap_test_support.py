"""Test support for tap-cartcom: requests-mock fixtures shaped like the real API.

See docs/api.md §1, §9 and §13.

``FakeCartcom`` answers list reads the way the notes describe them: a wrapper with
``total_count``, absolute ``next_page`` links that are omitted on the last page, ``404`` past the
last page, the ``+AND+``/``+OR+`` query syntax, store-local timestamps with 0 to 7 fractional
digits, ``""`` dates, integer 0/1 flags, string dimensions and null nested collections.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

# The one shared tap runner, importable from here too (it raises unless a test expects an error).
from cartcom_testing.runs import run_tap  # noqa: F401

BASE = "https://teststore.example.com/api/v1"
TOKEN = "tok-SECRET-0123456789abcdef"
CST = timezone(timedelta(hours=-6))
CDT = timezone(timedelta(hours=-5))
OPS = ("gte", "gt", "lte", "lt", "not", "like", "startwith", "eq")


def local_stamp(moment: datetime, digits: int, zone: timezone | None = None) -> str:
    """Format like Cart.com: store-local time, offset, 0-7 fractional digits.

    Without ``zone``, CDT from April to October and CST otherwise (no exact DST dates).
    """
    zone = zone or (CDT if moment.month in range(4, 11) else CST)
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        frac = f"{local.microsecond:06d}0"[:digits]
        text += "." + frac
    return text + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def _parse_dt(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cmp_value(field_name: str, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if field_name.endswith("_at"):
        return _parse_dt(str(raw))
    return raw


def _match(record: dict[str, Any], name: str, expr: str) -> bool:
    """Evaluate one field's condition string (already URL-decoded: spaces are separators)."""
    ors = expr.split(" OR ")
    for alternative in ors:
        ok = True
        for term in alternative.split(" AND "):
            op, _, value = term.partition(":")
            if op not in OPS:
                op, value = "eq", term
            left = _cmp_value(name, record.get(name))
            right: Any = _parse_dt(value) if name.endswith("_at") else value
            if not name.endswith("_at") and isinstance(record.get(name), int):
                right = int(value)
            if left is None:
                ok = False
            elif op == "eq":
                ok = ok and left == right
            elif op == "gte":
                ok = ok and left >= right
            elif op == "gt":
                ok = ok and left > right
            elif op == "lte":
                ok = ok and left <= right
            elif op == "lt":
                ok = ok and left < right
            elif op == "not":
                ok = ok and left != right
        if ok:
            return True
    return False


@dataclass
class Call:
    """One request seen by the fake."""

    method: str
    path: str
    query: str
    status: int
    at: float
    headers: dict[str, str]
    wall: float = 0.0


@dataclass
class FakeCartcom:
    """An in-memory store answering the list endpoints the tap reads."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    addresses: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    max_count: int = 1000
    #: Send fields no schema knows (a new API field); the SDK's standard suite expects none.
    unknown_fields: bool = True
    #: Scripted answers consumed before normal handling: (status, headers, body or None).
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    #: Scripted answers for the n-th /orders call (1-based): a (status, headers, body) or an
    #: exception to raise (a dropped connection).
    order_faults: dict[int, Any] = field(default_factory=dict)
    #: Keep a ``next_page`` link on the last page too (a stale link must end with a 404).
    stale_next: bool = False

    #: X-AC-Call-Limit as Cart.com counts it: calls in a fixed window that starts at the first
    #: call counted in it (the sandbox's rule), out of ``call_limit``.
    call_limit: int = 100_000
    call_window: float = 10.0
    _window: tuple[float, int] = (float("-inf"), 0)

    def _count_call(self, now: float) -> str:
        start, used = self._window
        if now - start >= self.call_window:
            start, used = now, 0
        self._window = (start, used + 1)
        return f"{used + 1}/{self.call_limit}"

    # -- data --------------------------------------------------------------------------------
    def add_order(self, created: datetime, status: int = 1, **extra: Any) -> dict[str, Any]:
        """Add an order with items, a shipment, a payment and two addresses."""
        n = len(self.orders)
        oid = 100001 + n
        digits = n % 8
        bill, ship = 5000 + 2 * n, 5001 + 2 * n
        created_s = local_stamp(created, digits)
        items = [
            {
                "id": oid * 10 + k,
                "order_id": oid,
                "product_id": 7 + k,
                "item_number": f"SKU-{k}",
                "item_name": "Widget",
                "price": 10 if k else 12.5,
                "cost": 4,
                "quantity": 1 + k,
                "weight": 1.5,
                "height": None,
                "length": "4",
                "width": 2.0,
                "is_taxable": True,
                "delivery_date": "",
                "variants": [{"id": 3, "description": "Size: M", "variant_group_id": 1}],
                "personalizations": None,
                "created_at": created_s,
                "updated_at": created_s,
            }
            for k in range(1 + n % 3)
        ]
        order = {
            "id": oid,
            "customer_id": 40 + n % 5,
            "order_number": "",
            "ordered_at": created_s,
            "created_at": created_s,
            "updated_at": local_stamp(created + timedelta(minutes=5), (digits + 3) % 8),
            "order_status_id": status,
            "order_status_last_changed_at": "",
            "subtotal": 30 if n % 2 else 30.75,
            "tax_total": 2.1,
            "grand_total": 32,
            "exported_to_accounting_system": n % 2,
            "is_gift": False,
            "due_date": "",
            "expires_at": None,
            "order_billing_address_id": bill,
            "order_shipping_address_id": ship,
            "_items": items,
            "_payments": [
                {
                    "id": oid * 10,
                    "order_id": oid,
                    "amount": 32,
                    "is_approved": True,
                    "paid_at": created_s,
                    "approved_at": "",
                    "payment_type": "CreditCard",
                    "created_at": created_s,
                    "updated_at": created_s,
                }
            ],
            "_shipments": []
            if n % 4
            else [
                {
                    "id": oid * 10,
                    "order_id": oid,
                    "shipped_at": created_s,
                    "tracking_numbers": "1Z999",
                    "provider_base_shipping_cost": "4.10",
                    "number_of_packages": None,
                    "created_at": created_s,
                    "updated_at": created_s,
                    "items": [
                        {
                            "id": items[0]["id"],
                            "product_id": 7,
                            "item_name": "Widget",
                            "item_nr": "SKU-0",
                            "quantity_shipped": 1,
                        }
                    ],
                }
            ],
            **extra,
        }
        if self.unknown_fields:
            order["brand_new_field"] = {"nested": n}
            items[0]["new_item_field"] = "x"
        self.orders.append(order)
        for aid in (bill, ship):
            self.addresses[aid] = {
                "id": aid,
                "customer_id": order["customer_id"],
                "first_name": "Ada",
                "last_name": "Lovelace",
                "city": "Austin",
                "state_code": "TX",
                "postal_code": 78701 if aid % 2 else "78701-1234",
                "country_code": "US",
                "created_at": created_s,
                "updated_at": "",
            }
        return order

    def seed(self, count: int, start: datetime, step: timedelta, status: int = 1) -> None:
        """Add ``count`` orders created ``step`` apart from ``start``."""
        for i in range(count):
            self.add_order(start + i * step, status=status)

    # -- answers ----------------------------------------------------------------------------
    def handler(self, request: Any, context: Any) -> Any:
        """requests-mock callback for every URL under BASE."""
        parts = urlsplit(request.url)
        path = parts.path[len("/api/v1") :]
        call = Call(
            request.method,
            path,
            parts.query,
            200,
            time.monotonic(),
            dict(request.headers),
            time.time(),
        )
        self.calls.append(call)
        answer = self._answer(request, path, parts.query)
        if isinstance(answer, BaseException):
            call.status = 0
            raise answer
        status, headers, body = answer
        call.status = status
        context.status_code = status
        context.headers.update(headers)
        context.headers["X-AC-Call-Limit"] = self._count_call(call.at)
        if isinstance(body, bytes):
            return body
        return json.dumps(body).encode() if body is not None else b""

    def _answer(self, request: Any, path: str, raw_query: str) -> Any:
        if request.headers.get("X-AC-Auth-Token") != TOKEN:
            return 401, {}, {"status_code": 401, "message": "Unauthorized", "details": ""}
        if self.script:
            return self.script.pop(0)
        if path == "/orders":
            n = sum(1 for c in self.calls if c.path == "/orders")
            if n in self.order_faults:
                return self.order_faults[n]
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        if path == "/order_addresses/select_many":
            ids = [int(i) for i in query.get("ids", "").split(",") if i]
            if not ids:
                return (
                    400,
                    {},
                    {
                        "status_code": 400,
                        "message": "Bad Request",
                        "details": "requires one or more resource IDs",
                    },
                )
            rows = [self.addresses[i] for i in ids if i in self.addresses]
            return 200, {}, {"total_count": len(rows), "order_addresses": rows}
        if path in ("/orders/select_many", "/products/select_many"):
            ids = {int(i) for i in query.get("ids", "").split(",") if i}
            if path == "/orders/select_many":
                rows = [self._order_view(o, query.get("expand", "")) for o in self.orders]
                key = "orders"
            else:
                rows, key = copy.deepcopy(self.products), "products"
            rows = [r for r in rows if r.get("id") in ids]
            return 200, {}, {"total_count": len(rows), key: rows}
        if path == "/orders":
            rows = [self._order_view(o, query.get("expand", "")) for o in self.orders]
            return self._list("orders", path, rows, query)
        if path == "/order_addresses":
            return self._list("order_addresses", path, list(self.addresses.values()), query)
        if path == "/products":
            return self._list("products", path, copy.deepcopy(self.products), query)
        name = path.strip("/")
        if name in self.tables:
            return self._list(name, path, copy.deepcopy(self.tables[name]), query)
        return 404, {}, {"status_code": 404, "message": "Not Found", "details": ""}

    @staticmethod
    def _order_view(order: dict[str, Any], expand: str) -> dict[str, Any]:
        view = {k: copy.deepcopy(v) for k, v in order.items() if not k.startswith("_")}
        wanted = set(expand.split(",")) if expand else set()
        for name in ("items", "payments", "shipments"):
            view[name] = copy.deepcopy(order[f"_{name}"]) if name in wanted else None
        return view

    def _list(
        self, key: str, path: str, rows: list[dict[str, Any]], query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        for name, expr in query.items():
            if name in ("count", "page", "sort", "expand", "fields"):
                continue
            rows = [r for r in rows if _match(r, name, expr)]
        for spec in reversed((query.get("sort") or "id").split(",")):
            desc = spec.startswith("-")
            name = spec.lstrip("-")
            # SQL Server's order: null (and "") below every value, first ascending.
            rows.sort(
                key=lambda r, n=name: (
                    _cmp_value(n, r.get(n)) is not None,
                    _cmp_value(n, r.get(n)) or 0,
                ),
                reverse=desc,
            )
        if "fields" in query:
            keep = query["fields"].split(",")
            rows = [{k: r[k] for k in keep if k in r} for r in rows]
        count = min(int(query.get("count", "100")), self.max_count)
        page = int(query.get("page", "1"))
        total = len(rows)
        last = max(1, -(-total // count))
        if page > last:
            return 404, {}, {"status_code": 404, "message": "Not Found", "details": ""}
        body: dict[str, Any] = {"total_count": total, key: rows[(page - 1) * count : page * count]}
        rest = "&".join(
            f"{k}={quote(v, safe=':,').replace('%20', '+')}"
            for k, v in query.items()
            if k != "page"
        )
        if page < last or self.stale_next:
            body["next_page"] = f"{BASE}{path}?{rest}&page={page + 1}"
        if page > 1:
            body["previous_page"] = f"{BASE}{path}?{rest}&page={page - 1}"
        return 200, {}, body

    # -- call-log helpers -------------------------------------------------------------------
    def paths(self) -> list[str]:
        """The path of every call, in order."""
        return [c.path for c in self.calls]


def base_config(**extra: Any) -> dict[str, Any]:
    """A config pointing at the fake store, with a budget that never slows the tests."""
    config = {
        "access_token": TOKEN,
        "domain": "teststore.example.com",
        "calls_per_window": 10000,
        "window_seconds": 1,
        "start_date": "2024-01-01T00:00:00Z",
        "page_size": 50,
    }
    config.update(extra)
    return config


def reference_tables() -> dict[str, list[dict[str, Any]]]:
    """Small reference tables with the quirks they carry live."""
    stamp = "2023-06-01T09:30:00.12-05:00"
    return {
        "order_statuses": [
            {
                "id": 1,
                "name": "Pending",
                "is_open": True,
                "is_shipped": False,
                "email_template_id": None,
                "created_at": stamp,
                "updated_at": "",
            },
            {
                "id": 2,
                "name": "Processing",
                "is_open": True,
                "is_shipped": False,
                "email_template_id": None,
                "created_at": stamp,
                "updated_at": stamp,
            },
            {
                "id": 3,
                "name": "Shipped",
                "is_open": False,
                "is_shipped": True,
                "email_template_id": 4,
                "created_at": stamp,
                "updated_at": stamp,
            },
        ],
        "product_statuses": [
            {
                "id": 1,
                "name": "In Stock",
                "is_unavailable": False,
                "created_at": stamp,
                "updated_at": stamp,
            }
        ],
        "categories": [
            {
                "id": 1,
                "name": "Shirts",
                "parent_category_id": 0,
                "lookup_path": "Shirts",
                "is_hidden": False,
                "created_at": stamp,
                "updated_at": stamp,
            }
        ],
        "manufacturers": [
            {"id": 1, "name": "Acme", "sort_order": None, "created_at": stamp, "updated_at": stamp}
        ],
        "variant_groups": [
            {
                "id": 1,
                "name": "Size",
                "display_type": "DropDown",
                "created_at": stamp,
                "updated_at": stamp,
            }
        ],
        "customers": [
            {
                "id": 40,
                "email": "ada@example.com",
                "first_name": "Ada",
                "created_at": stamp,
                "updated_at": stamp,
            }
        ],
    }


def sample_products(
    start: datetime, count: int = 3, *, unknown: bool = True
) -> list[dict[str, Any]]:
    """Products with int 0/1 flags, string dimensions and expanded children."""
    out = []
    for i in range(count):
        pid = 7 + i
        stamp = local_stamp(start + timedelta(hours=i), i % 8)
        out.append(
            {
                "id": pid,
                "item_number": f"TEE-{i}",
                "item_name": "Tee",
                "price": 19 if i else 19.5,
                "is_hidden": i % 2,
                "is_spotlight_item": 0,
                "height": "2.5",
                "length": "",
                "width": "1",
                "use_variant_inventory": True,
                "eta_date": None,
                "ext_update_date": "",
                "created_at": stamp,
                "updated_at": stamp,
                "variants": [
                    {
                        "id": pid * 10,
                        "product_id": pid,
                        "variant_group_id": 1,
                        "description": "S",
                        "price_adjustment": 1,
                        "created_at": None,
                        "updated_at": None,
                    }
                ],
                "variant_inventory": [
                    {
                        "id": pid * 100,
                        "product_id": pid,
                        "inventory": 5,
                        "item_number": f"TEE-{i}-S",
                        "gtin": "012345678905",
                        "height": 1,
                        "created_at": stamp,
                        "updated_at": stamp,
                        "variants": None,
                        "pricing": None,
                    }
                ],
                "pictures": [
                    {
                        "id": pid * 1000,
                        "product_id": pid,
                        "image_file": "/i/x.jpg",
                        "is_primary": True,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                ],
                **({"mystery": [1, 2]} if unknown else {}),
                "categories": [{"id": 1, "is_primary": True, "name": "Shirts"}],
                "pricing": None
                if i == 2
                else [
                    {
                        "id": pid,
                        "product_id": pid,
                        "price": 18,
                        "variant_inventory_id": pid * 100,
                        "start_date": "",
                        "end_date": None,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                ],
            }
        )
    return out

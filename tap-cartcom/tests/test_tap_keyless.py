"""Rows whose replication key is null or ``""``: every one emitted, once (issue 20, point 1).

Every check compares the ids the tap emits with the ids the sandbox's store holds (read from
its SQLite tables, never from the tap's state), on the seeded store with rows made keyless
through the store itself.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cartcom_sandbox.clock import normalise_input
from cartcom_sandbox.config import SandboxConfig
from cartcom_testing.runs import run_tap, tap_config

WINDOWED = {
    "orders": ("order_items", "order_payments", "order_shipments", "order_addresses"),
    "products": ("product_variants", "variant_inventory", "product_pictures", "product_pricing"),
}
FULL_TABLE = (
    "order_statuses",
    "product_statuses",
    "categories",
    "manufacturers",
    "variant_groups",
    "customers",
)
STREAMS = (*WINDOWED, *(c for children in WINDOWED.values() for c in children), *FULL_TABLE)
#: Emitted once per order that uses it: an address shared by orders comes once per order.
PER_PARENT = {"order_addresses"}
KEYS = ("created_at", "updated_at")


# -- the store -------------------------------------------------------------------------------
def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def local(server: Any, moment: datetime) -> str:
    """``moment`` as the store writes a datetime (store-local, with offset)."""
    return normalise_input(_z(moment), server.store.timezone)


def store_ids(server: Any, stream: str) -> set[int]:
    """The ids the store holds for ``stream`` (order_addresses: those the orders use)."""
    if stream == "order_addresses":
        used = set()
        for order in server.store.query("orders"):
            for key in ("order_billing_address_id", "order_shipping_address_id"):
                if isinstance(order.get(key), int) and order[key] > 0:
                    used.add(order[key])
        return used
    return {row[0] for row in server.store.execute(f"SELECT id FROM r_{stream}")}


def store_snapshot(server: Any) -> dict[str, set[int]]:
    return {stream: store_ids(server, stream) for stream in STREAMS}


def set_dates(server: Any, resource: str, record_id: int, **dates: Any) -> None:
    """Write ``created_at``/``updated_at`` as given (None, "" or a value), nothing else."""
    current = server.store.get(resource, record_id)
    fields = {"updated_at": current["updated_at"], **dates}
    server.store.update(resource, record_id, fields)


def make_keyless(server: Any) -> dict[str, dict[str, list[int]]]:
    """On the seeded store: orders and products with null and "" keys, both keys.

    Returns ``{resource: {"created_at": ids, "updated_at": ids}}`` of the rows made keyless
    (the seeder's own null-``created_at`` products included).
    """
    made: dict[str, dict[str, list[int]]] = {}
    for resource in WINDOWED:
        ids = sorted(store_ids(server, resource))
        picks = iter(ids[5::7])
        made[resource] = {key: [] for key in KEYS}
        for key in KEYS:
            for value in (None, None, "", ""):
                record_id = next(picks)
                set_dates(server, resource, record_id, **{key: value})
                made[resource][key].append(record_id)
        seeded_null = server.store.execute(
            f"SELECT id FROM r_{resource} WHERE c_created_at IS NULL"
        )
        made[resource]["created_at"] = sorted({r[0] for r in seeded_null})
    assert len(made["products"]["created_at"]) >= 5  # 4 made + the seeder's own
    return made


def _new_ids(server: Any, resource: str, count: int) -> list[int]:
    first = server.store.next_id(resource)
    return list(range(first, first + count))


def _renumber(server: Any, resource: str, rows: list[dict[str, Any]]) -> dict[int, int]:
    """New ids for copies of ``rows``: old id to new id."""
    new = _new_ids(server, resource, len(rows))
    return dict(zip((r["id"] for r in rows), new, strict=True))


def _copy(doc: dict[str, Any], new_id: int, stamp: str, **fields: Any) -> dict[str, Any]:
    return {**doc, "id": new_id, "created_at": stamp, "updated_at": stamp, **fields}


def add_order(server: Any, template_id: int, **dates: Any) -> int:
    """A copy of an order with its items, payments, shipments and two new addresses."""
    store = server.store
    stamp = dates.pop("stamp")
    order = store.get("orders", template_id)
    (order_id,) = _new_ids(server, "orders", 1)
    bill, ship = _new_ids(server, "order_addresses", 2)
    store.bulk_insert(
        "order_addresses",
        [
            _copy(store.get("order_addresses", order[key]), new, stamp)
            for key, new in (
                ("order_billing_address_id", bill),
                ("order_shipping_address_id", ship),
            )
        ],
    )
    items = store.query("order_items", {"order_id": template_id})
    new_items = _renumber(server, "order_items", items)
    store.bulk_insert(
        "order_items",
        [_copy(i, new_items[i["id"]], stamp, order_id=order_id) for i in items],
    )
    payments = store.query("order_payments", {"order_id": template_id})
    new_payments = _renumber(server, "order_payments", payments)
    store.bulk_insert(
        "order_payments",
        [_copy(p, new_payments[p["id"]], stamp, order_id=order_id) for p in payments],
    )
    shipments = store.query("order_shipments", {"order_id": template_id})
    new_shipments = _renumber(server, "order_shipments", shipments)
    lines = store.shipment_items(list(new_shipments))
    store.bulk_insert(
        "order_shipments",
        [
            _copy(
                s,
                new_shipments[s["id"]],
                stamp,
                order_id=order_id,
                items=[
                    {"id": new_items[line["id"]], "quantity_shipped": line["quantity_shipped"]}
                    for line in lines[s["id"]]
                ],
            )
            for s in shipments
        ],
    )
    store.bulk_insert(
        "orders",
        [
            _copy(
                order,
                order_id,
                stamp,
                order_billing_address_id=bill,
                order_shipping_address_id=ship,
                **dates,
            )
        ],
    )
    return order_id


def add_product(server: Any, template_id: int, **dates: Any) -> int:
    """A copy of a product with its variants, variant inventory, pictures and pricing."""
    store = server.store
    stamp = dates.pop("stamp")
    (product_id,) = _new_ids(server, "products", 1)
    variants = store.query("product_variants", {"product_id": template_id})
    new_variants = _renumber(server, "product_variants", variants)
    store.bulk_insert(
        "product_variants",
        [_copy(v, new_variants[v["id"]], stamp, product_id=product_id) for v in variants],
    )
    inventory = store.query("variant_inventory", {"product_id": template_id})
    new_inventory = _renumber(server, "variant_inventory", inventory)
    links = store.vi_variants(list(new_inventory))
    store.bulk_insert(
        "variant_inventory",
        [
            _copy(
                row,
                new_inventory[row["id"]],
                stamp,
                product_id=product_id,
                variants=[{"id": new_variants[v["id"]]} for v in links[row["id"]]],
            )
            for row in inventory
        ],
    )
    pictures = store.query("product_pictures", {"product_id": template_id})
    new_pictures = _renumber(server, "product_pictures", pictures)
    store.bulk_insert(
        "product_pictures",
        [_copy(p, new_pictures[p["id"]], stamp, product_id=product_id) for p in pictures],
    )
    pricing = store.query("product_pricing", {"product_id": template_id})
    new_pricing = _renumber(server, "product_pricing", pricing)
    store.bulk_insert(
        "product_pricing",
        [
            _copy(
                p,
                new_pricing[p["id"]],
                stamp,
                product_id=product_id,
                variant_inventory_id=new_inventory.get(p.get("variant_inventory_id")),
            )
            for p in pricing
        ],
    )
    template = store.get("products", template_id)
    store.bulk_insert("products", [_copy(template, product_id, stamp, **dates)])
    return product_id


def add_rows(server: Any, key: str, stamp: str) -> dict[str, list[int]]:
    """Between two runs: per windowed family two keyed rows, one null key, one "" key."""
    added: dict[str, list[int]] = {}
    variant_product = server.store.query("variant_inventory", limit=1)[0]["product_id"]
    for resource, add, template in (
        ("orders", add_order, min(store_ids(server, "orders"))),
        ("products", add_product, variant_product),
    ):
        added[resource] = [
            add(server, template, stamp=stamp, **dates)
            for dates in ({}, {}, {key: None}, {key: ""})
        ]
    customer = server.store.get("customers", min(store_ids(server, "customers")))
    (customer_id,) = _new_ids(server, "customers", 1)
    server.store.bulk_insert(
        "customers", [{**customer, "id": customer_id, "created_at": None, "updated_at": ""}]
    )
    return added


# -- the runs --------------------------------------------------------------------------------
def config_for(server: Any, key: str, **extra: Any) -> dict[str, Any]:
    """Every stream's first run reads the whole store: no start_date."""
    config = tap_config(server, **{"replication_key": key, "page_size": 50, **extra})
    config.pop("start_date")
    return config


def emitted(run: dict[str, Any]) -> dict[str, list[int]]:
    return {stream: [r["id"] for r in run["records"].get(stream, [])] for stream in STREAMS}


def assert_emitted(got: dict[str, list[int]], expected: dict[str, set[int]]) -> None:
    """Each stream emitted exactly the expected ids, each once (per order for addresses)."""
    for stream in STREAMS:
        assert set(got[stream]) == expected[stream], stream
        if stream not in PER_PARENT:
            duplicates = [i for i, n in Counter(got[stream]).items() if n > 1]
            assert not duplicates, (stream, duplicates[:5])


@pytest.mark.parametrize("key", KEYS)
def test_every_row_once_whatever_its_key_value(seeded_sandbox, key):
    """First run: every id of the store; second: every id added since, once; third: none new.

    The store has orders and products whose ``created_at`` or ``updated_at`` is null or "",
    and rows with null and "" keys are added between the runs (with their children).
    """
    server = seeded_sandbox
    made = make_keyless(server)
    config = config_for(server, key)
    now1 = datetime.now(UTC).replace(microsecond=0)

    first = run_tap(config, now=now1)
    before = store_snapshot(server)
    assert_emitted(emitted(first), before)
    for resource in WINDOWED:
        assert set(made[resource][key]) <= set(emitted(first)[resource])

    added = add_rows(server, key, local(server, now1 + timedelta(minutes=30)))
    after = store_snapshot(server)
    now2 = now1 + timedelta(hours=1)
    second = run_tap(config, state=first["state"], now=now2)
    new = {s: after[s] - before[s] for s in STREAMS} | {s: after[s] for s in FULL_TABLE}
    assert new["orders"] == set(added["orders"])
    assert new["products"] == set(added["products"])
    assert all(new[child] for children in WINDOWED.values() for child in children)
    assert_emitted(emitted(second), new)

    now3 = now2 + timedelta(hours=1)
    third = run_tap(config, state=second["state"], now=now3)
    assert_emitted(emitted(third), {s: set() for s in STREAMS} | {s: after[s] for s in FULL_TABLE})


def test_the_keyless_rows_count_in_the_metrics_and_are_logged_once(seeded_sandbox, caplog):
    """The SDK's record_count counts them; one line per stream says how many, in how many calls."""
    server = seeded_sandbox
    made = make_keyless(server)
    with caplog.at_level(logging.INFO):
        run_tap(config_for(server, "created_at"), streams=("products",))
    messages = [r.getMessage() for r in caplog.records]
    counts = [
        json.loads(m.split("METRIC: ", 1)[1])
        for m in messages
        if "METRIC: " in m and '"record_count"' in m
    ]
    products = [c["value"] for c in counts if c["tags"].get("stream") == "products"]
    assert products == [len(store_ids(server, "products"))]
    lines = [m for m in messages if "read apart" in m]
    keyless = len(made["products"]["created_at"])
    assert lines == [
        f"products: {keyless} rows without a created_at read apart, {keyless} emitted (2 calls)"
    ]
    assert not [m for m in messages if "New replication value is null" in m]


# -- Get Orders ------------------------------------------------------------------------------
def test_get_orders_imports_a_keyless_order_once_in_a_selected_status(seeded_sandbox):
    """An order without a created_at: imported once, when (and only when) it is in a status."""
    server = seeded_sandbox
    statuses = {r["name"]: r["id"] for r in server.store.query("order_statuses")}
    processing, pending, shipped = (statuses[n] for n in ("Processing", "Pending", "Shipped"))
    ids = sorted(store_ids(server, "orders"))
    null_paid, blank_paid, null_unpaid = ids[3], ids[10], ids[17]
    for record_id, value, status in (
        (null_paid, None, processing),
        (blank_paid, "", processing),
        (null_unpaid, None, pending),
    ):
        set_dates(server, "orders", record_id, created_at=value)
        server.store.update("orders", record_id, {"order_status_id": status})
    config = config_for(server, "created_at", order_status_names=["Processing"])
    now1 = datetime.now(UTC).replace(microsecond=0)

    first = run_tap(config, streams=("orders", "order_items"), now=now1)
    got = [r["id"] for r in first["records"]["orders"]]
    assert {null_paid, blank_paid} <= set(got)
    assert null_unpaid not in got
    items = {r["id"] for r in first["records"]["order_items"]}
    assert {i["id"] for i in server.store.query("order_items", {"order_id": null_paid})} <= items

    # Between runs 1 and 2 the unpaid one is paid and an imported one ships; it is back in
    # Processing (reopened) before run 3: imported once all the same.
    server.store.update("orders", null_unpaid, {"order_status_id": processing})
    server.store.update("orders", null_paid, {"order_status_id": shipped})
    second = run_tap(config, state=first["state"], streams=("orders",), now=now1 + timedelta(1))
    assert [r["id"] for r in second["records"]["orders"]] == [null_unpaid]

    server.store.update("orders", null_paid, {"order_status_id": processing})
    third = run_tap(config, state=second["state"], streams=("orders",), now=now1 + timedelta(2))
    assert "orders" not in third["records"]


# -- calls -----------------------------------------------------------------------------------
def _api_calls(server: Any) -> list[Any]:
    return [c for c in server.calls.snapshot() if c.path.startswith("/api/v1/")]


def test_an_incremental_run_spends_one_extra_call_per_windowed_stream(seeded_sandbox):
    """Nothing new without a key: the rerun's calls are the window's pages plus one per stream."""
    server = seeded_sandbox
    make_keyless(server)
    config = config_for(server, "created_at")
    now1 = datetime.now(UTC).replace(microsecond=0)
    first = run_tap(config, streams=("orders", "products"), now=now1)
    server.calls.clear()
    second = run_tap(config, state=first["state"], streams=("orders", "products"), now=now1)
    assert second["records"] == {}
    calls = _api_calls(server)
    window = [c for c in calls if "fields=" not in c.query]
    keyless = [c for c in calls if "fields=" in c.query]
    assert [c.path for c in window] == ["/api/v1/orders", "/api/v1/products"]
    assert [(c.path, c.status) for c in keyless] == [
        ("/api/v1/orders", 200),
        ("/api/v1/products", 200),
    ]
    assert all("sort=created_at,id" in c.query for c in keyless)
    assert "select_many" not in " ".join(c.path for c in calls)


class TestAStoreCappingCountAt100:
    """A store that answers at most 100 rows a page (silently, INF): the tap asks 1000."""

    @pytest.fixture
    def sandbox_config(self) -> SandboxConfig:
        """Unlimited calls, pages capped at 100 rows."""
        return SandboxConfig(plan="unlimited", max_count=100)

    def test_many_keyless_rows_are_paged_then_read_in_url_sized_batches(self, seeded_sandbox):
        """300 orders without a created_at: the list is paged to its end, then 2 select_many."""
        server = seeded_sandbox
        ids = sorted(store_ids(server, "orders"))
        for record_id in ids:
            set_dates(server, "orders", record_id, created_at=None)
        config = config_for(server, "created_at", page_size=100)
        run = run_tap(config, streams=("orders", "order_items"))
        assert sorted(r["id"] for r in run["records"]["orders"]) == ids
        assert {r["id"] for r in run["records"]["order_items"]} == store_ids(server, "order_items")
        calls = [c for c in _api_calls(server) if "fields=" in c.query or "select_many" in c.path]
        lists = [c for c in calls if c.path == "/api/v1/orders"]
        batches = [c for c in calls if c.path == "/api/v1/orders/select_many"]
        assert all("count=1000&" in c.query for c in lists)  # small rows: the biggest page
        assert len(lists) == math.ceil(len(ids) / 100)  # every page keyless: followed to the end
        assert len(batches) == 2  # 300 six-digit ids do not fit one 2,048-character URL
        assert all(len(f"{c.path}?{c.query}") <= 2048 for c in batches)
        assert all(c.status == 200 for c in calls)


def test_a_run_that_fails_in_the_keyless_part_loses_nothing(seeded_sandbox):
    """The batch after a checkpoint fails: the next run emits exactly the rows not written."""
    server = seeded_sandbox
    ids = sorted(store_ids(server, "orders"))
    for record_id in ids:
        set_dates(server, "orders", record_id, created_at="")
    server.faults.script(
        [{"kind": "status", "status": 400, "path": "/orders/select_many", "after": 1}]
    )
    config = config_for(server, "created_at", page_size=100)
    failed = run_tap(config, streams=("orders",), expect_error=True)
    written = [r["id"] for r in failed["records"]["orders"]]
    assert 0 < len(written) < len(ids)
    rerun = run_tap(config, state=failed["state"], streams=("orders",))
    again = [r["id"] for r in rerun["records"]["orders"]]
    assert sorted(written + again) == ids  # each order once across the two runs

    last = run_tap(config, state=rerun["state"], streams=("orders",))
    assert "orders" not in last["records"]


def test_a_row_that_gets_a_key_leaves_the_memory_and_is_read_as_a_change(seeded_sandbox):
    """updated_at mode: a keyless row that is edited comes through the window, once."""
    server = seeded_sandbox
    ids = sorted(store_ids(server, "products"))
    target = ids[4]
    set_dates(server, "products", target, updated_at=None)
    config = config_for(server, "updated_at")
    now1 = datetime.now(UTC).replace(microsecond=0)
    first = run_tap(config, streams=("products",), now=now1)
    assert target in [r["id"] for r in first["records"]["products"]]
    keyless_state = first["state"]["bookmarks"]["products"]["keyless"]

    set_dates(server, "products", target, updated_at=local(server, now1 + timedelta(minutes=5)))
    second = run_tap(
        config, state=first["state"], streams=("products",), now=now1 + timedelta(hours=1)
    )
    assert [r["id"] for r in second["records"]["products"]] == [target]
    assert second["state"]["bookmarks"]["products"].get("keyless") != keyless_state
    third = run_tap(
        config, state=second["state"], streams=("products",), now=now1 + timedelta(hours=2)
    )
    assert "products" not in third["records"]


# -- the memory ------------------------------------------------------------------------------
def test_the_keyless_memory_is_compact_trimmed_and_survives_a_damaged_state(caplog):
    """Id runs in the state; trimmed to the ids still keyless; damaged text: start empty."""
    from tap_cartcom.keyless import KeylessIds

    memory = KeylessIds()
    for record_id in (9, 29, 39, 40, 41, 100000):
        memory.add(record_id)
    memory.add("7")  # not an id: not kept
    text = memory.to_state()
    assert text == "9:1,19,1,9,3,99958,1"
    loaded = KeylessIds.from_state(text)
    assert [i for i in range(100001) if i in loaded] == [9, 29, 39, 40, 41, 100000]
    loaded.keep_only([39, 41, 100000, 5])  # 5 was never emitted: it is not added
    assert KeylessIds.from_state(loaded.to_state()).to_state() == "39:1,1,1,99958,1"
    with caplog.at_level(logging.WARNING, logger="tap-cartcom"):
        damaged = KeylessIds.from_state("z:not-base64!", "orders")
    assert len(damaged) == 0
    assert "orders: the state's `keyless` memory is unreadable" in caplog.text

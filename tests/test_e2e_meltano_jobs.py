"""End to end: every job of meltano.yml, run with `meltano run` against a sandbox, offline.

One seeded store (the demo's: seed 42, 300 products, 1,000 orders, which the sample feeds in
demo/data/ were built from) serves the whole module, and the jobs run in a merchant's order:
extract-store, get-orders, publish-listings, sync-listings, push-tracking, extract-store again.
Each test checks the job's effect in the sandbox (over HTTP and in its call log), in the
results file and in the database. Plugin venvs are installed once into .meltano/ (network only
the first time); the runs themselves make no call outside 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
from cartcom_client.quirks import records_from_page, to_utc
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer

#: The first run installs the Meltano plugins into .meltano/ (minutes on a fresh clone). The
#: jobs are one merchant's day in the order above, each on what the ones before it left in the
#: store: `make test-shuffled` moves the module among the others, never its tests.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.random_order(disabled=True),
]

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demo" / "data"
TOKEN = "test-token"


@dataclass
class Pipeline:
    """The sandbox, the meltano environment and where the jobs write."""

    server: SandboxServer
    env: dict[str, str]
    out: Path
    states: tuple[dict[str, Any], dict[str, Any]] | None = None
    #: When the no-change extract-store run started and ended (UTC text, as in the state).
    no_change_run: tuple[str, str] | None = None
    runs: int = 0

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET from the sandbox (not counted against anything the tests check)."""
        r = requests.get(
            self.server.base_url + path,
            params=params,
            headers={"X-AC-Auth-Token": TOKEN},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def run(self, job: str) -> str:
        """``meltano run JOB``; returns its log, fails the test with the log's tail on error."""
        proc = subprocess.run(
            [demo.meltano_bin(), "run", job],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        log = proc.stdout + proc.stderr
        self.runs += 1
        (self.out / f"{self.runs:02d}-{job}.log").write_text(log)
        errors = [
            ln
            for ln in log.splitlines()
            if not ln.startswith(("│", "╭", "╰")) and ("rror" in ln or "xception" in ln)
        ]
        assert proc.returncode == 0, f"meltano run {job} failed:\n" + "\n".join(errors[-30:])
        return log

    def calls(self, method: str, path_prefix: str) -> int:
        """Calls the sandbox logged so far."""
        return self.server.calls.count(method=method, path_prefix=path_prefix)

    def results(self, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Per-record results and the summary of the last run of a target-cartcom plugin."""
        return demo.results(self.out / "results" / f"{name}.jsonl")

    def duck(self, *sql: str) -> list[list[list[Any]]]:
        """Query the DuckDB file the loader wrote."""
        return demo.duck(self.out / "warehouse.duckdb", *sql)

    def state(self) -> dict[str, Any]:
        """extract-store's Singer state as Meltano keeps it."""
        proc = subprocess.run(
            [demo.meltano_bin(), "state", "get", "dev:tap-cartcom-to-target-duckdb"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(proc.stdout)["singer_state"]["bookmarks"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The demo's store on a fast plan (1,000 calls per 1 s window), plugins installed."""
    tmp = tmp_path_factory.mktemp("meltano")
    demo.ensure_plugins(tmp / "install.log")
    db = tmp / "store.db"
    seed_store(str(db), products=demo.PRODUCTS, orders=demo.ORDERS, seed=demo.SEED)
    server = SandboxServer(
        str(db), tokens=[TOKEN], config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0)
    )
    server.start()
    out = tmp / "out"
    out.mkdir()
    env = demo.meltano_env(
        server.base_url, out, tmp / "meltano.db", window_seconds=1, calls_per_window=1000
    )
    try:
        yield Pipeline(server, env, out)
    finally:
        server.stop()


def _z(moment: datetime) -> str:
    """A UTC datetime as the tap writes it (sortable text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def loaded_rows(log: str, table: str) -> int:
    """Rows target-duckdb loaded into ``table`` during one run."""
    return demo.JobRun("x", 0, 0, log).loaded().get(table, 0)


def feed(name: str) -> list[dict[str, Any]]:
    """A sample feed."""
    return demo.read_jsonl(DATA / name)


def test_extract_store_loads_the_store_into_duckdb(pipeline: Pipeline) -> None:
    """extract-store: every order, line, product and variant row lands in DuckDB, once."""
    pipeline.run("extract-store")
    expected = {
        "orders": pipeline.get("/orders", count=1, fields="id")["total_count"],
        "order_items": pipeline.get("/order_items", count=1, fields="id")["total_count"],
        "products": pipeline.get("/products", count=1, fields="id")["total_count"],
        "variant_inventory": pipeline.get("/variant_inventory", count=1, fields="id")[
            "total_count"
        ],
        "order_statuses": pipeline.get("/order_statuses", count=1, fields="id")["total_count"],
    }
    sql = [f"SELECT count(*), count(DISTINCT id) FROM cartcom.{t}" for t in expected]
    got = {t: tuple(rows[0]) for t, rows in zip(expected, pipeline.duck(*sql), strict=True)}
    assert got == {t: (n, n) for t, n in expected.items()}
    marks = pipeline.state()
    assert marks["orders"]["replication_key"] == "updated_at"
    assert marks["orders"]["replication_key_value"]


def test_get_orders_imports_processing_orders_and_acknowledges_them(pipeline: Pipeline) -> None:
    """get-orders: the Processing orders of the last 30 days go to JSONL, then move status."""
    statuses = {
        s["name"]: s["id"] for s in pipeline.get("/order_statuses", count=100)["order_statuses"]
    }
    since = (datetime.now(UTC) - timedelta(days=29, hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    eligible = pipeline.get(
        "/orders",
        count=1000,
        fields="id",
        order_status_id=statuses["Processing"],
        created_at=f"gte:{since}",
    )["orders"]
    expected = {o["id"] for o in eligible}
    assert expected, "the seeded store should have recent Processing orders"
    created = requests.post(
        pipeline.server.base_url + "/order_statuses",
        json={"name": demo.ACK_STATUS, "is_open": True},
        headers={"X-AC-Auth-Token": TOKEN},
        timeout=30,
    )
    assert created.status_code == 201
    statuses[demo.ACK_STATUS] = created.json()["id"]
    puts_before = pipeline.calls("PUT", "/orders/")

    pipeline.run("get-orders")

    imported = [o["id"] for o in demo.read_jsonl(pipeline.out / "orders" / "orders.jsonl")]
    # The 30-day window is computed at run time, so an order right at the edge may differ.
    assert len(imported) == len(set(imported))
    assert len(set(imported) ^ expected) <= 2
    assert set(imported) <= {
        o["id"]
        for o in pipeline.get(
            "/orders", count=1000, fields="id", order_status_id=statuses[demo.ACK_STATUS]
        )["orders"]
    }
    items = demo.read_jsonl(pipeline.out / "orders" / "order_items.jsonl")
    assert {i["order_id"] for i in items} == set(imported)
    _rows, summary = pipeline.results("ack")
    assert summary["outcomes"] == {"order_acknowledgements": {"updated": len(imported)}}
    assert summary["failed"] == 0
    assert pipeline.calls("PUT", "/orders/") - puts_before == len(imported)
    moved = pipeline.get(
        "/orders/select_many",
        ids=",".join(map(str, imported[:5])),
        fields="id,order_status_id,previous_order_status_id",
    )["orders"]
    assert {(o["order_status_id"], o["previous_order_status_id"]) for o in moved} == {
        (statuses[demo.ACK_STATUS], statuses["Processing"])
    }


def test_get_orders_again_imports_and_writes_nothing(pipeline: Pipeline) -> None:
    """A second get-orders: no order imported twice; the acknowledgement reads nothing back.

    It sees only what the import appended since its last run: nothing, so it makes no call.
    """
    imported = pipeline.out / "orders" / "orders.jsonl"
    lines = len(demo.read_jsonl(imported))
    puts_before = pipeline.calls("PUT", "/orders/")

    pipeline.run("get-orders")

    assert len(demo.read_jsonl(imported)) == lines
    rows, summary = pipeline.results("ack")
    assert (rows, summary["outcomes"], summary["failed"]) == ([], {}, 0)
    assert summary["calls"] == {"reads": 0, "writes": 0, "planned_writes": 0}
    assert pipeline.calls("PUT", "/orders/") == puts_before


def test_publish_listings_creates_what_is_missing_and_links_the_rest(pipeline: Pipeline) -> None:
    """publish-listings: new listings become products (variants, pictures); others are linked."""
    listings = feed("listings.jsonl")
    before = pipeline.get("/products", count=1, fields="id")["total_count"]
    known = {
        p["item_number"]
        for p in pipeline.get("/products", count=1000, fields="item_number")["products"]
    }
    known |= {
        r["item_number"]
        for r in pipeline.get("/variant_inventory", count=1000, fields="item_number")[
            "variant_inventory"
        ]
    }
    known_upc = {
        p["gtin"]
        for p in pipeline.get("/products", count=1000, fields="gtin")["products"]
        if p["gtin"]
    }
    new = [r for r in listings if r["sku"] not in known and r.get("upc") not in known_upc]

    pipeline.run("publish-listings")

    rows, summary = pipeline.results("publish")
    assert summary["failed"] == 0
    assert summary["outcomes"]["listings"] == {
        "created": len(new),
        "unchanged": len(listings) - len(new),
    }
    assert pipeline.get("/products", count=1, fields="id")["total_count"] == before + len(new)
    simple = next(r for r in new if not r.get("variants") and len(r.get("images") or []) > 1)
    product = pipeline.get("/products", item_number=simple["sku"])["products"][0]
    assert product["item_name"] == simple["title"]
    assert float(product["price"]) == pytest.approx(simple["price"])
    pictures = records_from_page(pipeline.get("/product_pictures", product_id=product["id"]))
    assert len(pictures) == len(simple["images"])
    variant = next(r for r in new if r.get("variants"))
    rows_ = pipeline.get(
        "/variant_inventory", count=100, item_number="startwith:" + variant["sku"] + "-"
    )["variant_inventory"]
    assert {r["item_number"] for r in rows_} == {v["sku"] for v in variant["variants"]}
    linked = [r for r in rows if (r.get("ids") or {}).get("matched_by") == "upc"]
    assert len(linked) == sum(1 for r in listings if r["sku"].startswith("NWS-7"))


def _changed_skus() -> dict[str, dict[str, Any]]:
    """Listings whose quantity or price differs between the two feeds, with the new values."""
    before = {r["sku"]: r for r in feed("listings.jsonl")}
    out = {}
    for rec in feed("listings-changed.jsonl"):
        old = before[rec["sku"]]
        pairs = [
            (old, rec),
            *zip(old.get("variants") or [], rec.get("variants") or [], strict=True),
        ]
        for a, b in pairs:
            if a.get("quantity") != b.get("quantity") or a.get("price") != b.get("price"):
                out[b["sku"]] = b
    return out


def test_sync_listings_writes_only_what_changed(pipeline: Pipeline) -> None:
    """sync-listings: only the listings whose stock or price changed cost a write."""
    changed = _changed_skus()
    parents = {
        r["sku"]
        for r in feed("listings-changed.jsonl")
        if r["sku"] in changed or any(v["sku"] in changed for v in r.get("variants") or [])
    }
    writes_before = sum(pipeline.calls(m, "/") for m in ("PUT", "POST", "DELETE"))

    pipeline.run("sync-listings")

    rows, summary = pipeline.results("sync")
    assert summary["failed"] == 0
    assert summary["outcomes"]["listings"]["updated"] == len(parents)
    assert {r["key"] for r in rows if r["outcome"] == "updated"} == parents
    writes = sum(pipeline.calls(m, "/") for m in ("PUT", "POST", "DELETE")) - writes_before
    assert writes == summary["calls"]["writes"] == len(changed)
    # Read back every changed simple listing through the product its result line names (a
    # listing linked by UPC has another item_number, so the SKU alone may not find it).
    by_key = {r["key"]: r for r in rows}
    simples = [r for s, r in changed.items() if s in parents and not r.get("variants")]
    assert simples, "the changed feed should change at least one simple listing"
    for listing in simples:
        product_id = by_key[listing["sku"]]["ids"]["product_id"]
        product = pipeline.get(f"/products/{product_id}")
        assert product["quantity_on_hand"] == listing["quantity"]
        assert float(product["price"]) == pytest.approx(listing["price"])


def test_push_tracking_upserts_shipments_and_marks_orders_shipped(pipeline: Pipeline) -> None:
    """push-tracking: one shipment per feed record, keyed by shipment_name; orders shipped."""
    shipments = feed("shipments.jsonl")
    statuses = {
        s["id"]: s["name"] for s in pipeline.get("/order_statuses", count=100)["order_statuses"]
    }

    pipeline.run("push-tracking")

    _rows, summary = pipeline.results("tracking")
    assert summary["failed"] == 0
    assert summary["outcomes"] == {"order_shipments": {"created": len(shipments)}}
    for rec in shipments:
        found = records_from_page(
            pipeline.get(
                "/order_shipments", order_id=rec["order_id"], shipment_name=rec["shipment_id"]
            )
        )
        assert len(found) == 1
        assert rec["tracking_numbers"][0] in found[0]["tracking_numbers"]
        order = pipeline.get(f"/orders/{rec['order_id']}", fields="order_status_id")
        wanted = "Partially Shipped" if rec.get("items") else "Shipped"
        assert statuses[order["order_status_id"]] == wanted


def test_extract_store_again_loads_only_the_changed_orders(pipeline: Pipeline) -> None:
    """extract-store re-run: only orders changed since (acknowledged, shipped) are loaded."""
    acked = {o["id"] for o in demo.read_jsonl(pipeline.out / "orders" / "orders.jsonl")}
    log = pipeline.run("extract-store")
    assert loaded_rows(log, "orders") == len(acked)
    assert loaded_rows(log, "order_shipments") == len(feed("shipments.jsonl"))
    shipped = [r["order_id"] for r in feed("shipments.jsonl")]
    ids = ",".join(map(str, shipped))
    got = pipeline.duck(
        "SELECT s.name, count(*) FROM cartcom.orders o JOIN cartcom.order_statuses s "
        f"ON s.id = o.order_status_id WHERE o.id IN ({ids}) GROUP BY 1 ORDER BY 1"
    )[0]
    partial = sum(1 for r in feed("shipments.jsonl") if r.get("items"))
    assert got == [["Partially Shipped", partial], ["Shipped", len(shipped) - partial]]
    assert pipeline.duck("SELECT count(*), count(DISTINCT id) FROM cartcom.orders")[0] == [
        [demo.ORDERS, demo.ORDERS]
    ]


def test_extract_store_with_no_change_emits_no_order(pipeline: Pipeline) -> None:
    """A further run with nothing changed in the store emits zero orders; state is kept."""
    before = pipeline.state()
    started = datetime.now(UTC).replace(microsecond=0)  # the tap's clock is ms-truncated
    log = pipeline.run("extract-store")
    pipeline.no_change_run = (_z(started), _z(datetime.now(UTC)))
    assert loaded_rows(log, "orders") == 0
    assert loaded_rows(log, "order_items") == 0
    assert loaded_rows(log, "products") == 0
    after = pipeline.state()
    pipeline.states = (before, after)
    for stream in ("orders", "products"):
        assert after[stream]["replication_key_value"] >= before[stream]["replication_key_value"]
        assert set(after[stream]["emitted"]) >= set(before[stream]["emitted"])


def test_extract_store_state_moves_on_without_new_records(pipeline: Pipeline) -> None:
    """Issue 6: a run with no change still moves the bookmarks forward, to its window's end."""
    assert pipeline.states, "runs after test_extract_store_with_no_change_emits_no_order"
    assert pipeline.no_change_run
    before, after = pipeline.states
    started, ended = pipeline.no_change_run
    newest = {
        "orders": pipeline.get("/orders", count=1, sort="-updated_at,id", fields="id,updated_at")[
            "orders"
        ][0]["updated_at"],
        "products": pipeline.get(
            "/products", count=1, sort="-updated_at,id", fields="id,updated_at"
        )["products"][0]["updated_at"],
    }
    for stream in ("orders", "products"):
        mark = after[stream]["replication_key_value"]
        assert mark > before[stream]["replication_key_value"]
        # The window's end is the run's start, later than any change in the store: the old
        # rule (bookmark = newest record emitted) would have left it at or before `newest`.
        assert started <= mark <= ended
        assert mark > to_utc(newest[stream])

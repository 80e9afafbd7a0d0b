"""End to end through the Central API Router (issue 11): two stores behind one sandbox process.

``cartcom-sandbox serve --router`` serves sites 101 and 202, each from its own seeded store. The
tap's and the target's CLIs reach each site with one partner identity (user and secret) and the
site's id: the tap extracts each site's orders and only them; the target publishes, syncs and
pushes shipments on each site, and the other site stays untouched. Every line the three
processes print is kept, and no line holds the secret or any signature sent.

Signatures for the test's own reads are computed here, from the stdlib.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cartcom_sandbox.seed import seed_store
from cartcom_testing.listing_scenarios import singer_lines
from cartcom_testing.runs import order_singer_lines

pytestmark = [pytest.mark.slow]

BIN = Path(sys.executable).parent
USER, SECRET = "agency-partner", "pub-SECRET-5b7c9d"
ADMIN = "test-token"  # the sandbox's admin token (its API takes no token in router mode)
SITES = {
    "101": {"products": 12, "orders": 30, "seed": 7},
    "202": {"products": 9, "orders": 18, "seed": 8},
}


def sign(method: str, path_and_query: str, user: str = USER, secret: str = SECRET) -> str:
    message = f"{method}&{path_and_query}&{user}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass
class Router:
    """The router process, its stores and every line printed by the processes of the test."""

    process: subprocess.Popen[str]
    base_url: str
    seeded: dict[str, dict[str, Any]]
    #: The sandbox's stdout and stderr files.
    logs: tuple[Path, Path]
    outputs: list[str] = field(default_factory=list)

    def get(self, site: str, path_and_query: str) -> Any:
        """A signed GET of the test's own (not through the client)."""
        resp = requests.get(
            self.base_url.removesuffix("/api/v1") + path_and_query,
            headers={
                "X-AC-PUB-Site-ID": site,
                "X-AC-PUB-User": USER,
                "X-AC-PUB-Auth-Signature": sign("GET", path_and_query),
            },
            timeout=30,
        )
        resp.raise_for_status()
        return resp.json()

    def calls(self) -> list[dict[str, Any]]:
        """The sandbox's call log (one log for every site, each call naming its site)."""
        resp = requests.get(
            self.base_url.removesuffix("/api/v1") + "/_sandbox/calls",
            headers={"X-AC-Auth-Token": ADMIN, "X-AC-PUB-Site-ID": "101"},
            timeout=30,
        )
        resp.raise_for_status()
        return resp.json()["calls"]

    def config(self, site: str, **extra: Any) -> dict[str, Any]:
        """A plugin config for ``site`` through the router (no token, no domain)."""
        return {
            "auth_type": "central_api_router",
            "router_url": self.base_url,
            "site_id": site,
            "user_name": USER,
            "user_secret": SECRET,
            "calls_per_window": 1000,
            "window_seconds": 1,
            **extra,
        }

    def run(
        self, plugin: str, config: dict[str, Any], tmp: Path, stdin: str = "", *, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a plugin's CLI; keep its output; fail with the tail unless it may fail."""
        path = tmp / f"{plugin}-{len(self.outputs)}.json"
        path.write_text(json.dumps(config))
        proc = subprocess.run(
            [str(BIN / plugin), "--config", str(path)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.outputs += [proc.stdout, proc.stderr]
        if ok:
            assert proc.returncode == 0, proc.stderr[-3000:]
        return proc


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    tmp = tmp_path_factory.mktemp("router")
    seeded, args = {}, []
    for site, sizes in SITES.items():
        db = tmp / f"site-{site}.db"
        seeded[site] = seed_store(str(db), **sizes)
        args += ["--site", f"{site}={db}"]
    logs = (tmp / "sandbox.out", tmp / "sandbox.err")
    with logs[0].open("w") as out, logs[1].open("w") as err:
        process = subprocess.Popen(
            [
                str(BIN / "cartcom-sandbox"),
                *("serve", "--router", "--port", "0", *args),
                *("--pub-user", f"{USER}:{SECRET}", "--calls", "1000", "--window", "1"),
            ],
            stdout=out,
            stderr=err,
            text=True,
        )
    deadline = time.monotonic() + 60
    while not logs[0].read_text().endswith("\n") and process.poll() is None:
        assert time.monotonic() < deadline, "the router sandbox did not start"
        time.sleep(0.05)
    base_url = logs[0].read_text().strip()
    assert base_url.startswith("http://127.0.0.1:"), logs[1].read_text()
    router = Router(process, base_url, seeded, logs)
    try:
        yield router
    finally:
        process.terminate()
        process.wait(timeout=30)


def all_orders(router: Router, site: str) -> dict[int, str]:
    """Every order of ``site``: id -> grand total, read by the test itself."""
    page = router.get(site, "/api/v1/orders?count=500&fields=id,grand_total")
    assert page.get("next_page") in (None, "")
    return {o["id"]: str(o["grand_total"]) for o in page["orders"]}


def test_the_tap_extracts_each_sites_orders_and_only_them(router: Router, tmp_path: Path) -> None:
    expected = {site: all_orders(router, site) for site in SITES}
    assert expected["101"] != expected["202"]
    before = len(router.calls())
    for site in SITES:
        config = router.config(site, start_date="2000-01-01T00:00:00Z", page_size=7)
        proc = router.run("tap-cartcom", config, tmp_path)
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        orders = {
            r["record"]["id"]: str(r["record"]["grand_total"])
            for r in records
            if r["type"] == "RECORD" and r["stream"] == "orders"
        }
        assert {k: float(v) for k, v in orders.items()} == {
            k: float(v) for k, v in expected[site].items()
        }
    calls = router.calls()[before:]
    assert {c["site"] for c in calls} == set(SITES)
    assert all(c["status"] == 200 for c in calls if c["path"].endswith("/orders"))
    # page_size 7: more than one page per site, each signed for its own query
    assert sum(1 for c in calls if c["path"] == "/api/v1/orders" and "page=" in c["query"]) >= 2


def listing(sku: str, price: float, quantity: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": f"Router listing {sku}",
        "brand": "Router Brand",
        "categories": ["Router > Listings"],
        "price": price,
        "quantity": quantity,
    }


def product_by_sku(router: Router, site: str, sku: str) -> list[dict[str, Any]]:
    page = router.get(site, f"/api/v1/products?item_number=eq:{sku}&count=10")
    return page["products"]


def test_the_target_publishes_syncs_and_ships_on_each_site(router: Router, tmp_path: Path) -> None:
    for site in SITES:
        sku = f"RT-{site}-1"
        results = tmp_path / f"publish-{site}.jsonl"
        config = router.config(site, operations=["link", "publish"], results_path=str(results))
        router.run("target-cartcom", config, tmp_path, singer_lines([listing(sku, 19.5, 4)]))
        other = next(s for s in SITES if s != site)
        assert [p["price"] for p in product_by_sku(router, site, sku)] == [19.5]
        assert product_by_sku(router, other, sku) == []

        synced = tmp_path / f"sync-{site}.jsonl"
        config = router.config(site, operations=["link", "sync"], results_path=str(synced))
        router.run("target-cartcom", config, tmp_path, singer_lines([listing(sku, 21.0, 4)]))
        assert [p["price"] for p in product_by_sku(router, site, sku)] == [21.0]

    for site, seeded in router.seeded.items():
        other = next(s for s in SITES if s != site)
        order_id = seeded["processing_order_ids"][0]
        other_before = router.get(other, "/api/v1/order_shipments?count=1")["total_count"]
        shipment = {
            "order_id": order_id,
            "shipment_id": f"RT-{site}-SHIP",
            "carrier": "UPS",
            "service": "Ground",
            "tracking_numbers": [f"1Z{site}0001"],
        }
        results = tmp_path / f"ship-{site}.jsonl"
        config = router.config(site, mark_shipped=True, results_path=str(results))
        router.run(
            "target-cartcom",
            config,
            tmp_path,
            order_singer_lines("order_shipments", [shipment]),
        )
        mine = router.get(site, f"/api/v1/order_shipments?order_id={order_id}&count=50")
        assert f"1Z{site}0001" in json.dumps(mine)
        assert router.get(other, "/api/v1/order_shipments?count=1")["total_count"] == other_before
        assert f"1Z{site}0001" not in json.dumps(
            router.get(other, "/api/v1/order_shipments?count=500")
        )


def test_a_wrong_secret_stops_the_run_naming_the_router_settings(
    router: Router, tmp_path: Path
) -> None:
    wrong = "wrong-SECRET-000"
    config = {**router.config("101", start_date="2000-01-01T00:00:00Z"), "user_secret": wrong}
    proc = router.run("tap-cartcom", config, tmp_path, ok=False)
    assert proc.returncode != 0
    assert "`user_secret`" in proc.stderr
    assert "`site_id`" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr


def test_no_output_line_holds_the_secret_or_a_signature(router: Router) -> None:
    """Every call's signature, recomputed from the call log, appears in no line printed."""
    calls = router.calls()
    assert len(calls) > 20
    signatures = {
        sign(c["method"], c["path"] + (f"?{c['query']}" if c["query"] else "")) for c in calls
    }
    sandbox = [path.read_text() for path in router.logs]
    assert router.base_url in sandbox[0]
    assert "site 101=" in sandbox[1]  # the sandbox's own start line
    text = "\n".join(router.outputs + sandbox)
    assert text.strip()
    assert SECRET not in text
    leaked = [s for s in signatures if s in text]
    assert leaked == []

"""Webhooks end to end on a sandbox store: real deliveries, the receiver, the sensor, real runs.

The sandbox drops 20% of its deliveries (its fault switch, a fixed seed). Orders turn Processing
through the API in bursts; each burst's deliveries reach the receiver, the trigger sensor is
ticked (as the daemon would) and the runs it asks for are executed (real ``meltano run
get-orders`` on a test instance with pools of 1). Then the receiver goes down, more orders turn
Processing, and the schedule's run (started explicitly) imports them. Spoofed deliveries (a
wrong secret; the right address with a payload naming an order that is not Processing) import
nothing and change nothing. Every guarantee is read in the store (its SQLite rows, its delivery
log) and in the store's orders output.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
import yaml
from cartcom_orchestration import subscriptions
from cartcom_orchestration.factory import build
from cartcom_orchestration.hints import Hints, hints_path
from cartcom_orchestration.project import load_project
from cartcom_orchestration.receiver import Receiver, serve, store_secrets
from cartcom_orchestration.sensors import TRIGGER_SENSOR
from cartcom_orchestration.stores import load_stores
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from dagster import DagsterInstance, build_sensor_context, instance_for_test

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-acme"
SECRET = "acme-hook-0123456789abcdef"
PACE = {
    "TAP_CARTCOM_WINDOW_SECONDS": 1,
    "TAP_CARTCOM_CALLS_PER_WINDOW": 10,
    "TARGET_CARTCOM_WINDOW_SECONDS": 1,
    "TARGET_CARTCOM_CALLS_PER_WINDOW": 10,
}
BURSTS = (4, 4, 4)  # orders turned Processing per burst, while the receiver is up
WHILE_DOWN = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(server: SandboxServer, method: str, path: str, **kw: Any) -> Any:
    r = requests.request(
        method, server.base_url + path, headers={"X-AC-Auth-Token": TOKEN}, timeout=30, **kw
    )
    r.raise_for_status()
    return r.json()


class Scene:
    """The store, its receiver, the Dagster instance and the definitions."""

    def __init__(self, tmp: Path, server: SandboxServer, instance: DagsterInstance) -> None:
        self.tmp, self.server, self.instance = tmp, server, instance
        port = _free_port()
        self.receiver_url = f"http://127.0.0.1:{port}/hooks"
        stores_file = tmp / "stores.yml"
        stores_file.write_text(
            yaml.safe_dump(
                {
                    "output_dir": str(tmp / "out"),
                    "work_dir": str(tmp / "work"),
                    "retries": {"max_retries": 0, "delay_seconds": 1},
                    "webhooks": {"receiver_url": self.receiver_url},
                    "stores": [
                        {
                            "name": "acme",
                            "api_url": server.base_url,
                            "token_env": "TEST_ACME_TOKEN",
                            "plan": "gold",
                            "jobs": ["get-orders"],
                            "env": PACE,
                            "webhooks": {"secret_env": "TEST_ACME_HOOK"},
                        }
                    ],
                }
            )
        )
        project = load_project(ROOT)
        self.config = load_stores(stores_file, project.jobs)
        self.hints = Hints(hints_path(self.config, project))
        app = Receiver(store_secrets(self.config, {"TEST_ACME_HOOK": SECRET}), self.hints, "/hooks")
        self.http = serve(app, "127.0.0.1", port)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.defs = build(ROOT, stores_file)
        self.job = self.defs.resolve_job_def("acme__get_orders")
        self.orders_file = tmp / "out" / "acme" / "orders" / "orders.jsonl"
        #: Order ids each run imported, and how it was started.
        self.imports: list[tuple[str, list[int]]] = []

    def imported(self) -> list[int]:
        if not self.orders_file.is_file():
            return []
        return [json.loads(line)["id"] for line in self.orders_file.read_text().splitlines()]

    def run(self, how: str, tags: dict[str, str] | None = None) -> None:
        before = len(self.imported())
        result = self.job.execute_in_process(instance=self.instance, tags=tags or {})
        assert result.success, how
        self.imports.append((how, self.imported()[before:]))

    def settle(self) -> int:
        """Deliveries sent, then ticks and the runs they ask for until none: the runs made."""
        for made in range(6):
            assert self.server.deliverer.wait_idle(60)
            sensor = self.defs.get_sensor_def(TRIGGER_SENSOR)
            data = sensor.evaluate_tick(build_sensor_context(instance=self.instance))
            requests_ = list(data.run_requests or [])
            if not requests_:
                return made
            assert [r.job_name for r in requests_] == ["acme__get_orders"]
            self.run("webhook", dict(requests_[0].tags))
        raise AssertionError("the hints never settled")

    def status_ids(self) -> dict[str, int]:
        return {s["name"]: s["id"] for s in self.server.store.query("order_statuses")}

    def statuses(self) -> dict[int, int]:
        return {o["id"]: o["order_status_id"] for o in self.server.store.query("orders")}


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    demo.ensure_plugins(tmp_path / "install.log")
    db = tmp_path / "acme.db"
    seed_store(str(db), products=10, orders=40, seed=7, days=20)
    config = SandboxConfig(
        rate_calls=10, rate_window=1.0, webhook_drop_share=0.2, webhook_fault_seed=3
    )
    server = SandboxServer(str(db), tokens=[TOKEN], config=config).start()
    _api(server, "POST", "/order_statuses", json={"name": demo.ACK_STATUS, "is_open": True})
    ids = {s["name"]: s["id"] for s in server.store.query("order_statuses")}
    # Every order Pending but three (written in the store: the seed's doing, no event).
    for i, order in enumerate(server.store.query("orders")):
        status = ids["Processing"] if i < 3 else ids["Pending"]
        server.store.update("orders", order["id"], {"order_status_id": status})
    monkeypatch.setenv("TEST_ACME_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_ACME_HOOK", SECRET)
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp_path / 'meltano.db'}")
    (tmp_path / "dagster").mkdir()
    with instance_for_test(
        temp_dir=str(tmp_path / "dagster"),
        overrides={"concurrency": {"pools": {"default_limit": 1}}},
    ) as instance:
        s = Scene(tmp_path, server, instance)
        yield s
        s.http.shutdown()
        s.http.server_close()
    server.stop()


def test_webhooks_import_every_order_once_with_drops_spoofs_and_the_receiver_down(
    scene: Scene,
) -> None:
    """Each order turned Processing is imported exactly once, by a hinted run or the schedule."""
    server = scene.server
    ids = scene.status_ids()
    (outcome,) = subscriptions.reconcile(
        scene.config, environ={"TEST_ACME_TOKEN": TOKEN, "TEST_ACME_HOOK": SECRET}
    )
    assert outcome.error is None
    subs = server.store.query("webhooks")
    assert {s["event_type"] for s in subs} == {"NewOrder", "OrderStatusChanged"}
    assert all(s["url"] == f"{scene.receiver_url}/acme/{SECRET}" for s in subs)

    baseline = {o for o, st in scene.statuses().items() if st == ids["Processing"]}
    scene.run("schedule")  # the first scheduled run imports what is Processing already
    scene.settle()  # its acknowledgements are status changes too: their hints, one more run
    assert sorted(scene.imported()) == sorted(baseline)

    # Spoofs: a wrong secret is refused; the right address with a forged payload naming an
    # order that is not Processing causes one run that imports nothing and changes nothing.
    pending = sorted(o for o, st in scene.statuses().items() if st == ids["Pending"])
    forged_id = pending[-1]
    forged = {"order": {"id": forged_id, "order_status_id": ids["Processing"]}}
    seq = scene.hints.seq("acme")
    wrong = requests.post(f"{scene.receiver_url}/acme/{'x' * 24}", json=forged, timeout=10)
    assert wrong.status_code == 404
    assert scene.hints.seq("acme") == seq
    assert scene.settle() == 0
    store_before, output_before = scene.statuses(), scene.imported()
    right = requests.post(f"{scene.receiver_url}/acme/{SECRET}", json=forged, timeout=10)
    assert right.status_code == 202
    assert scene.settle() == 1
    assert scene.statuses() == store_before
    assert scene.imported() == output_before
    assert scene.statuses()[forged_id] == ids["Pending"]

    # Bursts of orders turning Processing through the API, 20% of deliveries dropped.
    turned: list[int] = []
    heard: set[int] = set()  # orders of a burst of which one delivery at least got through
    for size in BURSTS:
        burst, pending = pending[:size], pending[size:]
        sent = len(server.deliveries.snapshot())
        for order_id in burst:
            _api(server, "PUT", f"/orders/{order_id}/status", json={"order_status_id": 2})
            turned.append(order_id)
        assert server.deliverer.wait_idle(60)
        outcomes = {
            d.outcome
            for d in server.deliveries.snapshot()[sent:]
            if d.event_type == "OrderStatusChanged" and d.resource_id in burst
        }
        if "delivered" in outcomes:
            heard |= set(burst)
        scene.settle()
    log = server.deliveries.snapshot()
    changes = [d for d in log if d.event_type == "OrderStatusChanged"]
    assert {d.outcome for d in changes if d.resource_id in turned} == {"delivered", "dropped"}
    # What the bursts' hinted runs did not import (every delivery of a burst dropped), the
    # schedule imports below.
    missing = set(turned) - set(scene.imported())

    # The receiver goes down: deliveries fail, no hint; the schedule's run imports them.
    scene.http.shutdown()
    scene.http.server_close()
    down = pending[:WHILE_DOWN]
    seq = scene.hints.seq("acme")
    for order_id in down:
        _api(server, "PUT", f"/orders/{order_id}/status", json={"order_status_id": 2})
        turned.append(order_id)
    assert scene.settle() == 0
    assert scene.hints.seq("acme") == seq
    lost = [
        d
        for d in server.deliveries.snapshot()[len(log) :]
        if d.event_type == "OrderStatusChanged" and d.resource_id in down
    ]
    assert {d.outcome for d in lost} <= {"unreachable", "dropped"}
    scene.run("schedule")
    assert sorted(scene.imports[-1][1]) == sorted([*down, *missing])

    # Every order: imported exactly once (its id once in the output), and acknowledged in the
    # store; nothing else imported (the forged order is still Pending, not in the output).
    out = scene.imported()
    assert len(out) == len(set(out))
    assert set(out) == baseline | set(turned)
    final = scene.statuses()
    assert {o for o, st in final.items() if st == ids[demo.ACK_STATUS]} == set(out)
    assert final[forged_id] == ids["Pending"]
    window = (datetime.now(UTC) - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%S")
    body = _api(
        server,
        "GET",
        "/orders",
        params={"order_status_id": ids["Processing"], "created_at": f"gte:{window}", "count": 1},
    )
    assert body["total_count"] == 0
    # The webhook path imported every order of a burst that had a delivery through.
    by_webhook = {o for how, got in scene.imports if how == "webhook" for o in got}
    assert heard
    assert heard <= by_webhook

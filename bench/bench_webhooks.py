"""Benchmark of Get Orders started by webhooks (issue 25): latency, calls, exactly once.

Everything as in production, on this machine: two sandbox stores on the gold plan's budget (50
calls per 10 s) with webhooks, their subscriptions made by ``cartcom-subscriptions``'
reconcile, the receiver served by the ``cartcom-webhooks`` console script, and ``dagster-daemon
run`` (the project's dagster.yaml: pools of 1, the queued run coordinator) evaluating the trigger
sensor and launching each run in its own process.

1. Latency (store ``acme``, no delivery lost): ``--orders`` orders turn Processing through the
   API (``PUT /orders/{id}/status``), one every ``--gap`` seconds; for each, the time from the
   PUT to its line in the store's orders output (``output/stores/acme/orders/orders.jsonl``):
   p50, p95, max; the calls the runs spent per imported order; the runs. Polling every 15
   minutes would take up to 900 s (450 s on average) whatever the load.
2. Drops (store ``brand``, the sandbox dropping 20% of deliveries): the same, then ``--tail``
   orders one at a time, each once the store is quiet (an order whose own delivery is dropped
   has no other hint to ride on), then the schedule's run started explicitly (``dagster job
   execute``, as the schedule would at its next tick); every order turned Processing must be
   in the output exactly once and acknowledged in the store, imported by a webhook run where a
   hint got through, by the schedule for the rest (only orders whose delivery was dropped).
   Last, ``--down`` orders while the receiver is stopped: the schedule's run imports them.
3. Answer time (between the two): ``--deliveries`` deliveries POSTed to the receiver, each on
   its own connection; p50, p95 and max of its answer, against Cart.com's 3-s timeout.

Run: ``.venv/bin/python bench/bench_webhooks.py [--orders 50 --gap 3 --tail 5 --down 5
--deliveries 200]``. Results:
bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from cartcom_orchestration import subscriptions
from cartcom_orchestration.factory import LATENCY
from cartcom_orchestration.project import load_project
from cartcom_orchestration.stores import load_stores
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "demo"))
import run_demo as demo  # noqa: E402
from bench_tap import _commit  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "webhooks.json"
BIN = Path(sys.executable).parent
CALLS, WINDOW = 50, 10.0  # gold
DROP = 0.2
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


class Store:
    """A sandbox store for the bench: every order Pending, the acknowledgement status made."""

    def __init__(self, name: str, work: Path, orders: int, drop: float) -> None:
        self.name = name
        self.token = f"tok-{name}"
        db = work / f"{name}.db"
        seed_store(str(db), products=10, orders=orders + 5, seed=len(name), days=20)
        config = SandboxConfig(
            rate_calls=CALLS, rate_window=WINDOW, webhook_drop_share=drop, webhook_fault_seed=3
        )
        self.server = SandboxServer(str(db), tokens=[self.token], config=config).start()
        self.api("POST", "/order_statuses", json={"name": demo.ACK_STATUS, "is_open": True})
        self.ids = {s["name"]: s["id"] for s in self.server.store.query("order_statuses")}
        for order in self.server.store.query("orders"):  # the seed's own write: no event
            self.server.store.update(
                "orders", order["id"], {"order_status_id": self.ids["Pending"]}
            )
        self.pending = sorted(o["id"] for o in self.server.store.query("orders"))
        self.output = work / "out" / name / "orders" / "orders.jsonl"

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = requests.request(
            method,
            self.server.base_url + path,
            headers={"X-AC-Auth-Token": self.token},
            timeout=30,
            **kw,
        )
        r.raise_for_status()
        return r.json()

    def imported(self) -> list[int]:
        if not self.output.is_file():
            return []
        return [json.loads(line)["id"] for line in self.output.read_text().splitlines() if line]


class Watcher(threading.Thread):
    """Notes when each order's line first appears in the store's orders output."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store, self.seen, self.stop = store, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            for order_id in self.store.imported():
                self.seen.setdefault(order_id, now)
            time.sleep(0.1)


def _instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _runs(home: Path, job: str) -> list[Any]:
    with _instance(home) as instance:
        return list(instance.get_runs(RunsFilter(job_name=job)))


def _wait_quiet(home: Path, store: Store, job: str, timeout: float) -> None:
    """Until deliveries are sent and no run of ``job`` is in flight across two sensor ticks."""
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        store.server.deliverer.wait_idle(30)
        with _instance(home) as instance:
            busy = instance.get_runs(RunsFilter(job_name=job, statuses=IN_FLIGHT))
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 15:  # three trigger ticks without a new run
            return
        time.sleep(1)
    raise TimeoutError(f"{job}: runs still going after {timeout} s")


def turn_processing(store: Store, n: int, gap: float) -> tuple[list[int], dict[int, float]]:
    """``n`` orders turned Processing, one every ``gap`` s: their ids and when each PUT began."""
    turned, put_at = store.pending[:n], {}
    store.pending = store.pending[n:]
    for order_id in turned:
        put_at[order_id] = time.time()
        store.api(
            "PUT", f"/orders/{order_id}/status", json={"order_status_id": store.ids["Processing"]}
        )
        time.sleep(gap)
    return turned, put_at


def _calls(store: Store, since: float, turned: list[int]) -> int:
    """Calls the runs made since ``since`` (not the bench's own PUTs to Processing)."""
    own = {f"/api/v1/orders/{i}/status" for i in turned}
    return sum(
        1
        for c in store.server.calls.snapshot()
        if c.ts >= since
        and not (
            c.method == "PUT"
            and c.path in own
            and (c.request_json or {}).get("order_status_id") == store.ids["Processing"]
        )
    )


def _hint_latencies(home: Path, job: str) -> list[float]:
    """The latency each webhook run's metadata shows (hint to orders landed)."""
    out = []
    with _instance(home) as instance:
        for run in instance.get_runs(RunsFilter(job_name=job)):
            for rec in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_OUTPUT):
                value = rec.dagster_event.step_output_data.metadata.get(LATENCY)
                if value is not None and isinstance(value.value, float):
                    out.append(value.value)
    return out


def latency_phase(home: Path, store: Store, n: int, gap: float) -> dict[str, Any]:
    job = f"{store.name}__get_orders"
    watcher = Watcher(store)
    watcher.start()
    began = time.time()
    turned, put_at = turn_processing(store, n, gap)
    deadline = time.time() + 300
    while time.time() < deadline and not set(turned) <= set(watcher.seen):
        time.sleep(0.5)
    _wait_quiet(home, store, job, 300)
    watcher.stop.set()
    watcher.join()
    latencies = [watcher.seen[i] - put_at[i] for i in turned if i in watcher.seen]
    out = store.imported()
    calls = _calls(store, began, turned)
    runs = _runs(home, job)
    return {
        "orders": n,
        "gap_seconds": gap,
        "imported": len(set(out) & set(turned)),
        "each_once": len(out) == len(set(out)),
        "latency_p50_s": round(_pct(latencies, 0.5), 1),
        "latency_p95_s": round(_pct(latencies, 0.95), 1),
        "latency_max_s": round(max(latencies), 1),
        "goal_p95_s": 30,
        "p95_vs_goal": round(_pct(latencies, 0.95) / 30, 2),
        "p95_vs_polling_worst_900s": round(_pct(latencies, 0.95) / 900, 3),
        "runs": len(runs),
        "runs_succeeded": sum(r.status == DagsterRunStatus.SUCCESS for r in runs),
        "calls_by_runs": calls,
        "calls_per_imported_order": round(calls / max(1, n), 2),
        "metadata_latency_p50_s": round(statistics.median(_hint_latencies(home, job)), 1),
    }


def answer_phase(url: str, n: int) -> dict[str, Any]:
    """How long the receiver takes to answer a delivery (Cart.com gives up after 3 s).

    ``n`` POSTs of a delivery-sized body, each on its own connection as a store's delivery
    comes, while the daemon runs; the hints they record start one run that finds nothing new.
    """
    order = {"id": 1, "order_status_id": 2, "items": [{"sku": f"SKU-{i}"} for i in range(20)]}
    body = json.dumps({"event_type": "OrderStatusChanged", "order": order}).encode()
    took = []
    for _ in range(n):
        start = time.perf_counter()
        answer = requests.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        took.append((time.perf_counter() - start) * 1000)
        assert answer.ok, answer.status_code
    return {
        "deliveries": n,
        "body_bytes": len(body),
        "answer_ms_p50": round(_pct(took, 0.5), 1),
        "answer_ms_p95": round(_pct(took, 0.95), 1),
        "answer_ms_max": round(max(took), 1),
        "within_3_s": sum(t < 3000 for t in took),
    }


def drops_phase(  # noqa: PLR0917 - the bench's pieces
    home: Path,
    env: dict[str, str],
    work: Path,
    store: Store,
    args: argparse.Namespace,
    stop_receiver: Any,
) -> dict[str, Any]:
    job = f"{store.name}__get_orders"
    watcher = Watcher(store)
    watcher.start()
    turned, _put_at = turn_processing(store, args.orders, args.gap)
    _wait_quiet(home, store, job, 300)
    # Then orders one at a time, each once the store is quiet: one whose own delivery is dropped
    # waits for the next order's hint (or the schedule, for the last one).
    alone: list[int] = []
    alone_put: dict[int, float] = {}
    for _ in range(args.tail):
        one, put = turn_processing(store, 1, 0)
        alone += one
        alone_put.update(put)
        _wait_quiet(home, store, job, 300)
    turned += alone
    # Then the receiver goes down: every delivery fails, no hint; the schedule imports these.
    stop_receiver()
    down, _ = turn_processing(store, args.down, 1.0)
    _wait_quiet(home, store, job, 300)
    turned += down
    by_webhook = store.imported()
    first_change: dict[int, str] = {}
    for d in sorted(store.server.deliveries.snapshot(), key=lambda d: d.ts):
        if d.event_type == "OrderStatusChanged" and d.resource_id in turned:
            first_change.setdefault(d.resource_id, d.outcome)  # the PUT's, before the ack's
    dropped = {i for i, outcome in first_change.items() if outcome == "dropped"}
    # The schedule's run, as at its next tick (schedules are stopped in this bench).
    subprocess.run(
        [
            *(str(BIN / "dagster"), "job", "execute", "-m", "cartcom_orchestration.definitions"),
            *("-j", job, "--tags", json.dumps({"bench/run": "schedule"})),
        ],
        cwd=work,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=(work / "schedule-run.log").open("w"),
    )
    time.sleep(1)
    watcher.stop.set()
    watcher.join()
    out = store.imported()
    by_schedule = (set(out) - set(by_webhook)) & set(turned)
    acked = {
        o["id"]
        for o in store.server.store.query("orders")
        if o["order_status_id"] == store.ids[demo.ACK_STATUS]
    }
    alone_latency = [
        watcher.seen[i] - alone_put[i] for i in alone if i in watcher.seen and i not in by_schedule
    ]
    return {
        "orders": len(turned),
        "pattern": f"{args.orders} orders {args.gap} s apart, then {args.tail} orders one at "
        f"a time, each once no run is left, then {args.down} with the receiver down",
        "drop_share": DROP,
        "orders_whose_own_delivery_was_dropped": len(dropped),
        "imported_by_webhook_runs": len(set(by_webhook) & set(turned)),
        "imported_by_the_schedule_run": len(by_schedule),
        "orders_while_the_receiver_was_down": len(down),
        "schedule_imported_exactly_those_left": by_schedule
        == (dropped - set(by_webhook)) | set(down),
        "every_order_exactly_once": sorted(out) == sorted(set(turned))
        and len(out) == len(set(out)),
        "acknowledged_in_store_equals_output": acked == set(out),
        "runs": len(_runs(home, job)),
        "alone_orders_by_webhook_latency_p50_s": round(_pct(alone_latency, 0.5), 1)
        if alone_latency
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between two orders")
    parser.add_argument("--tail", type=int, default=5, help="drops: orders turned one by one")
    parser.add_argument("--down", type=int, default=5, help="drops: orders, the receiver down")
    parser.add_argument("--deliveries", type=int, default=200, help="answer time: deliveries")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    demo.ensure_plugins(work / "install.log")
    acme = Store("acme", work, args.orders, drop=0.0)
    brand = Store("brand", work, args.orders + args.tail + args.down, drop=DROP)
    port = _free_port()
    receiver_url = f"http://127.0.0.1:{port}/hooks"
    secrets = {"acme": "acme-hook-" + "a" * 20, "brand": "brand-hook-" + "b" * 20}
    stores_file = work / "stores.yml"
    stores_file.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(work / "out"),
                "work_dir": str(work / "work"),
                "schedules": "stopped",
                "webhooks": {"receiver_url": receiver_url},
                "stores": [
                    {
                        "name": s.name,
                        "api_url": s.server.base_url,
                        "token_env": f"BENCH_{s.name.upper()}_TOKEN",
                        "plan": "gold",
                        "jobs": ["get-orders"],
                        "webhooks": {"secret_env": f"BENCH_{s.name.upper()}_HOOK"},
                    }
                    for s in (acme, brand)
                ],
            }
        )
    )
    home = work / "dagster"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    _instance(home).dispose()  # storage created once, before the daemon and the runs
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CARTCOM_STORES_FILE": str(stores_file),
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "MELTANO_DATABASE_URI": f"sqlite:///{work / 'meltano.db'}",
    }
    for s in (acme, brand):
        env[f"BENCH_{s.name.upper()}_TOKEN"] = s.token
        env[f"BENCH_{s.name.upper()}_HOOK"] = secrets[s.name]
    config = load_stores(stores_file, load_project(ROOT).jobs)
    for outcome in subscriptions.reconcile(config, environ=env, out=lambda _line: None):
        assert outcome.error is None, outcome.error
    procs = [
        subprocess.Popen(
            [str(BIN / "cartcom-webhooks"), "--port", str(port), "--stores-file", str(stores_file)],
            cwd=work,
            env=env,
            stderr=(work / "receiver.log").open("w"),
            start_new_session=True,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-m", "cartcom_orchestration.definitions"],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "daemon.log").open("w"),
            start_new_session=True,
        ),
    ]
    try:
        time.sleep(20)  # the daemon loads the definitions and starts its first sensor ticks
        latency = latency_phase(home, acme, args.orders, args.gap)
        print(json.dumps(latency, indent=2))
        answers = answer_phase(f"{receiver_url}/acme/{secrets['acme']}", args.deliveries)
        print(json.dumps(answers, indent=2))
        _wait_quiet(home, acme, "acme__get_orders", 300)

        def stop_receiver() -> None:
            procs[0].terminate()
            procs[0].wait(30)

        drops = drops_phase(home, env, work, brand, args, stop_receiver)
        print(json.dumps(drops, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for s in (acme, brand):
            s.server.stop()
    receiver_log = (work / "receiver.log").read_text()
    result = {
        "what": "Get Orders started by Cart.com webhooks through the receiver and the "
        "Dagster sensor (dagster-daemon), sandbox stores on the gold budget",
        "machine": "2 cores, shared",
        "command": f"python bench/bench_webhooks.py --orders {args.orders} --gap {args.gap} "
        f"--tail {args.tail} --down {args.down} --deliveries {args.deliveries}",
        "commit": _commit(ROOT),
        "latency": latency,
        "receiver_answer": answers,
        "drops": drops,
        "secrets_in_receiver_log": any(v in receiver_log for v in secrets.values()),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {RESULTS} (work folder {work})")


if __name__ == "__main__":
    main()

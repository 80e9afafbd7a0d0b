"""get-orders for three sandbox stores through Dagster's multiprocess executor, in-process.

Three sandboxes, one per store; the third store's token is wrong. Four runs are requested at
once: acme twice, brand once, bad once. The good stores import and acknowledge their orders with
their own state; the bad one fails alone with an error naming the setting; acme's two runs take
turns (pool ``cartcom/acme``, and the store's turn when the pool lets both through), shown by
their Meltano logs and the sandbox's call log; brand runs alongside acme.
"""

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
import yaml
from cartcom_orchestration.report import RunReport, parse_log
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

# Four runs on a loaded 2-core machine take minutes (up to about 6 measured); no hang either way.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PACE = {
    "TAP_CARTCOM_WINDOW_SECONDS": 1,
    "TAP_CARTCOM_CALLS_PER_WINDOW": 10,
    "TARGET_CARTCOM_WINDOW_SECONDS": 1,
    "TARGET_CARTCOM_CALLS_PER_WINDOW": 10,
}
#: name, seed, orders, the token the sandbox accepts, the token the store's variable holds.
STORES = (
    ("acme", 11, 120, "tok-acme", "tok-acme"),
    ("brand", 22, 160, "tok-brand", "tok-brand"),
    ("bad", 33, 40, "tok-bad", "not-the-token"),
)


def _get(server: SandboxServer, token: str, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(
        server.base_url + path, params=params, headers={"X-AC-Auth-Token": token}, timeout=30
    )
    r.raise_for_status()
    return r.json()


def _processing_in_window(server: SandboxServer, token: str) -> int:
    """Orders created in get-orders' 30-day window that are still Processing."""
    statuses = _get(server, token, "/order_statuses", count=100)["order_statuses"]
    processing = next(s["id"] for s in statuses if s["name"] == "Processing")
    since = (datetime.now(UTC) - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%S")
    body = _get(
        server, token, "/orders", order_status_id=processing, created_at=f"gte:{since}", count=1
    )
    return int(body["total_count"])


def _acknowledged(server: SandboxServer, token: str) -> set[int]:
    """Ids of the orders in the acknowledgement status."""
    statuses = _get(server, token, "/order_statuses", count=100)["order_statuses"]
    ack = next(s["id"] for s in statuses if s["name"] == demo.ACK_STATUS)
    body = _get(server, token, "/orders", order_status_id=ack, count=500, fields="id")
    assert body["total_count"] <= 500
    return {o["id"] for o in body["orders"]}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Three served stores and a stores file pointing at them."""
    tmp = tmp_path_factory.mktemp("many")
    demo.ensure_plugins(tmp / "install.log")
    servers: dict[str, SandboxServer] = {}
    entries = []
    for name, seed, orders, accepted, _given in STORES:
        db = tmp / f"{name}.db"
        seed_store(str(db), products=10, orders=orders, seed=seed)
        server = SandboxServer(
            str(db), tokens=[accepted], config=SandboxConfig(rate_calls=10, rate_window=1.0)
        ).start()
        servers[name] = server
        requests.post(
            server.base_url + "/order_statuses",
            json={"name": demo.ACK_STATUS, "is_open": True},
            headers={"X-AC-Auth-Token": accepted},
            timeout=30,
        ).raise_for_status()
        entries.append(
            {
                "name": name,
                "api_url": server.base_url,
                "token_env": f"TEST_{name.upper()}_TOKEN",
                "plan": "gold",
                "jobs": ["get-orders"],
                "env": PLUGIN_PACE,
            }
        )
    stores_file = tmp / "stores.yml"
    stores_file.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp / "out"),
                "work_dir": str(tmp / "work"),
                "retries": {"max_retries": 1, "delay_seconds": 1},
                "stores": entries,
            }
        )
    )
    yield tmp, stores_file, servers
    for server in servers.values():
        server.stop()


@dataclass(frozen=True, order=True)
class Turn:
    """One try of a store's run, from its Meltano log: when it ran and the orders it imported."""

    start: float
    end: float
    orders: int
    log: str


def _turn(log: Path) -> Turn:
    lines = log.read_text(encoding="utf-8").splitlines()
    stamps = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "timestamp" in entry:
            stamps.append(datetime.fromisoformat(entry["timestamp"]).timestamp())
    report = RunReport(returncode=0)
    parse_log(lines, report)
    return Turn(min(stamps), max(stamps), report.records.get("tap-get-orders/orders", 0), str(log))


def test_get_orders_for_three_stores(stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Good stores import with their own state, the bad one fails alone, one run per store."""
    tmp, stores_file, servers = stores
    for name, _seed, _orders, _accepted, given in STORES:
        monkeypatch.setenv(f"TEST_{name.upper()}_TOKEN", given)
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp / 'meltano.db'}")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    accepted = {x[0]: x[3] for x in STORES}
    before = {n: _processing_in_window(s, accepted[n]) for n, s in servers.items()}
    assert before["acme"] > 0
    assert before["brand"] > 0

    requested = ["acme", "brand", "bad", "acme"]
    home = tmp / "dagster"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the project's instance settings
    DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).dispose()  # storage created once
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CARTCOM_STORES_FILE": str(stores_file),
        "MELTANO_PROJECT_ROOT": str(ROOT),
    }
    dagster = Path(sys.executable).parent / "dagster"
    launched = time.time()
    procs = [
        subprocess.Popen(
            [
                *(str(dagster), "job", "execute", "-m", "cartcom_orchestration.definitions"),
                *("-j", f"{store}__get_orders", "--tags", json.dumps({"test/slot": str(i)})),
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"dagster-{i}.log").open("w"),
            start_new_session=True,
        )
        for i, store in enumerate(requested)
    ]
    try:
        for proc in procs:
            proc.wait(timeout=600)
    finally:  # a failed or timed-out test leaves no run behind to load the rest of the suite
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    ended = time.time()

    def calls(store: str) -> list[Any]:
        """The calls the runs made (not the test's own reads before and after)."""
        return [c for c in servers[store].calls.snapshot() if launched <= c.ts <= ended]

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = {r.tags["test/slot"]: r for r in instance.get_runs()}
        runs = [runs[str(i)] for i in range(len(requested))]
        ok = {i: r.status == DagsterRunStatus.SUCCESS for i, r in enumerate(runs)}
        events = [
            [rec.dagster_event for rec in instance.all_logs(r.run_id) if rec.dagster_event]
            for r in runs
        ]
    failure = [e for e in events[2] if e.event_type == DagsterEventType.STEP_FAILURE]
    outputs = [
        {
            k: v.value
            for e in evs
            if e.event_type == DagsterEventType.STEP_OUTPUT
            for k, v in e.step_output_data.metadata.items()
        }
        for evs in events
    ]
    # Each run went through the multiprocess executor.
    assert all(any("multiprocess" in (e.message or "") for e in evs) for evs in events), (
        "not run by the multiprocess executor"
    )

    # The bad store fails alone, naming the setting and the variable it came from.
    assert ok == {0: True, 1: True, 2: False, 3: True}
    message = failure[-1].step_failure_data.error.message
    assert "access_token" in message
    assert "TEST_BAD_TOKEN" in message
    assert "not-the-token" not in message
    bad_calls = calls("bad")
    assert bad_calls
    assert {c.status for c in bad_calls} == {401}
    # No retry for a bad token: one try, so one step start.
    assert len([c for c in bad_calls if c.path.endswith("/order_statuses")]) == 1

    # The good stores imported and acknowledged every order of the window, each with its state.
    imported = {}
    for name in ("acme", "brand"):
        token = accepted[name]
        lines = (tmp / "out" / name / "orders" / "orders.jsonl").read_text().splitlines()
        imported[name] = {json.loads(ln)["id"] for ln in lines}
        assert len(imported[name]) == len(lines)  # each order once
        assert len(lines) >= before[name]
        assert _processing_in_window(servers[name], token) == 0
        assert _acknowledged(servers[name], token) == imported[name]
    records = "records per stream"
    assert outputs[1][records]["tap-get-orders/orders"] == len(imported["brand"])
    assert outputs[1]["outcomes"]["order_acknowledgements"]["updated"] == len(imported["brand"])
    state_ids = subprocess.run(
        [demo.meltano_bin(), "state", "list"],
        cwd=ROOT,
        env={**demo.meltano_env("http://127.0.0.1:9/api/v1", tmp, tmp / "meltano.db")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "dev:tap-get-orders-to-target-jsonl:acme" in state_ids
    assert "dev:tap-get-orders-to-target-jsonl:brand" in state_ids
    assert "dev:tap-get-orders-to-target-jsonl" not in state_ids

    # acme's runs took turns at the store, whichever Dagster started first: each try's Meltano
    # log spans its turn; the turns never overlap and every acme call falls in one. The first
    # turn imported every order, each later one none (acme's state kept).
    turns = sorted(_turn(p) for p in (tmp / "out" / "acme" / "logs").glob("*.log"))
    assert len(turns) >= 2
    assert all(a.end <= b.start for a, b in itertools.pairwise(turns)), turns
    assert [t.orders for t in turns] == [len(imported["acme"])] + [0] * (len(turns) - 1)
    acme_calls = [c.ts for c in calls("acme")]
    per_turn = [[ts for ts in acme_calls if t.start <= ts <= t.end] for t in turns]
    assert all(per_turn)
    assert sum(map(len, per_turn)) == len(acme_calls)
    for run in (0, 3):  # each acme run's metadata is its own last try's
        (turn,) = [t for t in turns if t.log == outputs[run]["log"]]
        assert outputs[run][records]["tap-get-orders/orders"] == turn.orders
    # Different stores ran at the same time: brand's calls overlap acme's first turn's calls.
    brand_calls = [c.ts for c in calls("brand")]
    assert min(brand_calls) < max(per_turn[0])
    assert min(per_turn[0]) < max(brand_calls)

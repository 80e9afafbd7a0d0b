"""A store's run: its environment, what its log says, retries of transient failures only."""

import json
import sqlite3
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cartcom_orchestration.factory import build
from cartcom_orchestration.meltano_run import run_meltano_job
from cartcom_orchestration.project import load_project
from cartcom_orchestration.report import RunReport, parse_log
from cartcom_orchestration.store_run import RunSetupError, StoreRun
from cartcom_orchestration.stores import load_stores
from dagster import DagsterEventType, instance_for_test

ROOT = Path(__file__).resolve().parents[2]
TWO = """\
output_dir: {tmp}/out
work_dir: {tmp}/work
retries: {{max_retries: 2, delay_seconds: 0}}
stores:
  - {{name: acme, api_url: 'http://127.0.0.1:1/api/v1', token_env: ACME_TOKEN, plan: silver,
     jobs: [get-orders], env: {{TAP_CARTCOM_WINDOW_SECONDS: 1}}}}
  - name: brand
    domain: shop.brand.com
    router: {{site_id: 12, user_name_env: PUB_USER, user_secret_env: PUB_SECRET}}
    plan: steel
    jobs: [get-orders]
"""


def store_env(cfg: Any, project: Any, store: Any, parent: dict[str, str]) -> dict[str, str]:
    """The environment of the store's get-orders run."""
    return StoreRun.build(cfg, project, store, "get-orders", attempt="t", environ=parent).env


@pytest.fixture
def config(tmp_path: Path):
    """Two stores, one with a token, one through the router."""
    path = tmp_path / "stores.yml"
    path.write_text(TWO.format(tmp=tmp_path))
    project = load_project(ROOT)
    return load_stores(path, project.jobs), project


def test_each_store_gets_its_own_credentials_outputs_and_system_folder(
    config, tmp_path: Path
) -> None:
    """Only the store's own secret reaches its run; the parent's plugin variables never do."""
    cfg, project = config
    parent = {
        "PATH": "/usr/bin",
        "ACME_TOKEN": "acme-secret",
        "PUB_USER": "agency",
        "PUB_SECRET": "router-secret",
        "TAP_CARTCOM_ACCESS_TOKEN": "from-the-shell",
        "TARGET_JSONL_DESTINATION_PATH": "/somewhere/else",
        "CARTCOM_ACCESS_TOKEN": "prod-token",
        "MELTANO_DATABASE_URI": "sqlite:////tmp/x.db",
    }
    acme = store_env(cfg, project, cfg.stores[0], parent)
    assert acme["TAP_CARTCOM_ACCESS_TOKEN"] == "acme-secret"
    assert acme["TARGET_CARTCOM_ACCESS_TOKEN"] == "acme-secret"
    assert acme["TAP_CARTCOM_API_URL"] == "http://127.0.0.1:1/api/v1"
    assert acme["TAP_CARTCOM_DOMAIN"] == ""
    assert acme["TAP_CARTCOM_PLAN"] == "silver"
    assert acme["TAP_CARTCOM_WINDOW_SECONDS"] == "1"
    assert "router-secret" not in acme.values()
    assert "prod-token" not in acme.values()
    assert "ACME_TOKEN" not in acme
    assert acme["TARGET_JSONL_DESTINATION_PATH"] == str(tmp_path / "out" / "acme" / "orders")
    assert acme["IMPORTED_ORDERS_PATH"] == str(
        tmp_path / "out" / "acme" / "orders" / "orders.jsonl"
    )
    assert acme["TARGET_CARTCOM_ACK_RESULTS_PATH"] == str(
        tmp_path / "out" / "acme" / "results" / "ack.jsonl"
    )
    assert acme["MELTANO_SYS_DIR_ROOT"] == str(tmp_path / "work" / "acme")
    assert (tmp_path / "work" / "acme" / "extractors").is_symlink()
    assert acme["MELTANO_DATABASE_URI"] == "sqlite:////tmp/x.db"
    assert acme["MELTANO_ENVIRONMENT"] == "dev"

    brand = store_env(cfg, project, cfg.stores[1], parent)
    assert brand["TAP_CARTCOM_AUTH_TYPE"] == "central_api_router"
    assert brand["TAP_CARTCOM_SITE_ID"] == "12"
    assert brand["TARGET_CARTCOM_USER_SECRET"] == "router-secret"
    # The names the plugins' settings take (TAP_CARTCOM_<SETTING>), on both plugins.
    for plugin in ("TAP_CARTCOM", "TARGET_CARTCOM"):
        assert brand[f"{plugin}_AUTH_TYPE"] == "central_api_router"
        assert brand[f"{plugin}_SITE_ID"] == "12"
        assert brand[f"{plugin}_USER_NAME"] == "agency"
        assert brand[f"{plugin}_USER_SECRET"] == "router-secret"
        assert brand[f"{plugin}_ROUTER_URL"] == ""  # the plugins' default router
        assert brand[f"{plugin}_DOMAIN"] == ""  # a label only: calls go to the router
        assert brand[f"{plugin}_API_URL"] == ""
        assert f"{plugin}_ACCESS_TOKEN" not in brand or brand[f"{plugin}_ACCESS_TOKEN"] == ""
    assert "acme-secret" not in brand.values()
    assert brand["TARGET_JSONL_DESTINATION_PATH"] == str(tmp_path / "out" / "brand" / "orders")

    with pytest.raises(RunSetupError, match=r"store acme: the environment variable ACME_TOKEN"):
        store_env(cfg, project, cfg.stores[0], {"PATH": "/usr/bin"})


def test_a_router_store_needs_no_domain_and_its_api_url_is_the_router(tmp_path: Path) -> None:
    """Through the router the site id picks the store; `api_url` overrides the router's URL."""
    path = tmp_path / "stores.yml"
    path.write_text(
        "stores:\n"
        "  - name: agency_site\n"
        "    api_url: 'http://127.0.0.1:8700/api/v1'\n"
        "    router: {site_id: 77, user_name_env: PUB_USER, user_secret_env: PUB_SECRET}\n"
        "    plan: bronze\n"
        "    jobs: [get-orders]\n"
        "  - name: agency_default\n"
        "    router: {site_id: 78, user_name_env: PUB_USER, user_secret_env: PUB_SECRET}\n"
        "    plan: bronze\n"
        "    jobs: [get-orders]\n"
    )
    project = load_project(ROOT)
    cfg = load_stores(path, project.jobs)
    parent = {"PATH": "/usr/bin", "PUB_USER": "agency", "PUB_SECRET": "router-secret"}
    env = store_env(cfg, project, cfg.stores[0], parent)
    assert env["TAP_CARTCOM_ROUTER_URL"] == "http://127.0.0.1:8700/api/v1"
    assert env["TARGET_CARTCOM_SITE_ID"] == "77"
    assert env["TAP_CARTCOM_API_URL"] == ""
    assert store_env(cfg, project, cfg.stores[1], parent)["TAP_CARTCOM_ROUTER_URL"] == ""


def _line(name: str | None, event: str, **extra: object) -> str:
    return json.dumps({"name": name, "event": event, "level": "info", **extra})


def test_the_log_gives_records_calls_and_errors() -> None:
    """Records per stream from the tap's counters, calls per status, the error lines."""
    duration = {"metric": "http_request_duration", "value": 0.1}
    lines = [
        _line(None, "Meltano 4.4.1"),
        _line(
            "tap-get-orders",
            "METRIC: "
            + json.dumps({"metric": "record_count", "value": 7, "tags": {"stream": "orders"}}),
            producer=True,
        ),
        _line(
            "tap-get-orders",
            "METRIC: " + json.dumps({**duration, "tags": {"http_status_code": 200}}),
        ),
        _line(
            "tap-get-orders",
            "METRIC: " + json.dumps({**duration, "tags": {"http_status_code": 200}}),
        ),
        _line(
            "imported-orders",
            "METRIC: "
            + json.dumps({"metric": "record_count", "value": 7, "tags": {"stream": "orders"}}),
            producer=True,
        ),
        _line(
            "target-cartcom-ack",
            "METRIC: "
            + json.dumps({"metric": "record_count", "value": 7, "tags": {"stream": "x"}}),
            consumer=True,
        ),
        _line(
            "tap-get-orders",
            "Cart.com answered 401 Unauthorized on GET /api/v1/x: check the `access_token` setting",
        ),
        "not json",
    ]
    report = RunReport(returncode=1)
    parse_log(lines, report)
    assert report.records == {"tap-get-orders/orders": 7, "imported-orders/orders": 7}
    assert report.calls == {"tap-get-orders/200": 2}
    assert len(report.errors) == 1
    assert report.permanent
    transient = RunReport(returncode=1)
    parse_log([_line(None, "Extractor failed", level="error")], transient)
    assert transient.errors == ["Extractor failed"]
    assert not transient.permanent


FAKE_MELTANO = """#!/bin/sh
# Stands in for meltano: fails with a dropped connection until its counter reaches {ok_at}.
n=$(cat "{counter}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{counter}"
if [ "$n" -lt {ok_at} ]; then
  echo '{{"event": "{error}", "level": "error"}}'
  exit 1
fi
echo '{metric}'
"""
METRIC = json.dumps(
    {
        "name": "tap-get-orders",
        "producer": True,
        "event": "METRIC: "
        + json.dumps({"metric": "record_count", "value": 3, "tags": {"stream": "orders"}}),
    }
)


@pytest.mark.parametrize(
    ("error", "ok_at", "tries", "success"),
    [
        ("Connection reset by peer; Extractor failed", 2, 2, True),
        ("Cart.com answered 401 Unauthorized: check the `access_token` setting", 9, 1, False),
        ("Connection reset by peer; Extractor failed", 9, 3, False),
    ],
)
def test_transient_failures_are_retried_and_bad_credentials_are_not(
    config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    error: str,
    ok_at: int,
    tries: int,
    success: bool,
) -> None:
    """A dropped connection is tried again (up to max_retries); a 401 fails at once."""
    cfg, _project = config
    counter = tmp_path / "count"
    fake = tmp_path / "meltano"
    fake.write_text(FAKE_MELTANO.format(counter=counter, ok_at=ok_at, error=error, metric=METRIC))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CARTCOM_MELTANO_BIN", str(fake))
    monkeypatch.setenv("ACME_TOKEN", "acme-secret")
    db = tmp_path / "meltano.db"  # an existing system database: no `meltano upgrade database`
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{db}")
    job = build(ROOT, cfg.path).resolve_job_def("acme__get_orders")
    (tmp_path / "dagster").mkdir()
    with instance_for_test(
        temp_dir=str(tmp_path / "dagster"),
        overrides={"concurrency": {"pools": {"default_limit": 1}}},
    ) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        starts = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_RESTARTED]
    assert result.success is success
    assert int(counter.read_text()) == tries
    assert len(starts) == tries - 1
    if success:
        (out,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
        assert out.step_output_data.metadata["records per stream"].value == {
            "tap-get-orders/orders": 3
        }


TURNS_MELTANO = """#!/bin/sh
# Stands in for meltano: notes when a store's run starts and ends; acme's runs end only once
# the file {go} exists (the test creates it when acme's second run finds the turn taken).
store=$(basename "$MELTANO_SYS_DIR_ROOT")
echo "start $store" >> "{events}"
i=0
while [ "$store" = acme ] && [ ! -e "{go}" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "end $store" >> "{events}"
"""


def test_a_stores_runs_take_turns_and_other_stores_do_not_wait(
    config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """acme's second run starts meltano only after its first has ended; brand runs meanwhile.

    Dagster's pool can let two runs of a store through at once (its claim is check-then-act),
    so the turn is also held on the store's system folder.
    """
    cfg, project = config
    events, go = tmp_path / "events", tmp_path / "go"
    fake = tmp_path / "meltano"
    fake.write_text(TURNS_MELTANO.format(events=events, go=go))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CARTCOM_MELTANO_BIN", str(fake))
    for var in ("ACME_TOKEN", "PUB_USER", "PUB_SECRET"):
        monkeypatch.setenv(var, "x")
    db = tmp_path / "meltano.db"  # an existing system database: no `meltano upgrade database`
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{db}")
    acme, brand = cfg.stores

    def run(store: Any, name: str, on_wait: Any) -> RunReport:
        run = StoreRun.build(cfg, project, store, "get-orders", attempt=name)
        return run_meltano_job(run, on_wait=on_wait)

    def seen() -> list[str]:
        return events.read_text().splitlines() if events.exists() else []

    brand_waited: list[bool] = []
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run, acme, "acme-1", None)
        deadline = time.monotonic() + 120
        while "start acme" not in seen():  # the first run is in meltano, holding acme's turn
            assert not first.done(), first.result()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run(brand, "brand", lambda: brand_waited.append(True))
        second = pool.submit(run, acme, "acme-2", go.touch)
        first.result(timeout=120)
        second.result(timeout=120)
    assert brand_waited == []
    assert seen() == [
        "start acme",
        "start brand",
        "end brand",
        "end acme",
        "start acme",
        "end acme",
    ]


def test_a_pool_without_a_limit_refuses_to_run(config, tmp_path: Path, monkeypatch) -> None:
    """No limit of 1 on the store's pool: the op fails before starting meltano."""
    cfg, _project = config
    monkeypatch.setenv("CARTCOM_MELTANO_BIN", str(tmp_path / "never-run"))
    job = build(ROOT, cfg.path).resolve_job_def("acme__get_orders")
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "cartcom/acme has no limit of 1" in failure.step_failure_data.error.message


def test_the_system_database_is_created_once_for_stores_starting_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four stores start at once on a new database: one `meltano upgrade database`, not four."""
    from cartcom_orchestration.meltano_run import ensure_system_db

    db = tmp_path / "state" / "meltano.db"
    calls = tmp_path / "calls"
    fake = tmp_path / "meltano"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nsleep 0.5\necho x > "{db}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CARTCOM_MELTANO_BIN", str(fake))
    project = load_project(ROOT)
    env = {"MELTANO_DATABASE_URI": f"sqlite:///{db}"}
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: ensure_system_db(project, env), range(4)))
    assert calls.read_text().splitlines() == ["upgrade database"]
    ensure_system_db(project, env)  # exists now: nothing to do
    assert calls.read_text().splitlines() == ["upgrade database"]

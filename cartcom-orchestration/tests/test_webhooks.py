"""The webhook receiver and the Dagster sensors: hints only, refused alike, coalesced, healthy.

Runs are real Dagster runs on a test instance (a stand-in meltano where a run must execute), or
runs created in the instance in the states the daemon would put them in; nothing here sleeps.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cartcom_orchestration import receiver as receiver_module
from cartcom_orchestration.factory import LATENCY, STORE_TAG, build, pool_name
from cartcom_orchestration.hints import Hints, hints_path
from cartcom_orchestration.project import load_project
from cartcom_orchestration.receiver import MAX_BODY, Receiver, serve, store_secrets
from cartcom_orchestration.sensors import (
    HEALTH_SENSOR,
    TRIGGER_SENSOR,
    TRIGGER_TAG,
    Watched,
    store_health,
)
from cartcom_orchestration.stores import load_stores
from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    build_sensor_context,
    instance_for_test,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "acme-hook-0123456789abcdef"
OTHER_SECRET = "brand-hook-0123456789abcdef"
STORES = """\
output_dir: {tmp}/out
work_dir: {tmp}/work
retries: {{max_retries: 0, delay_seconds: 0}}
webhooks: {{receiver_url: 'https://hooks.example.com/cartcom'}}
stores:
  - {{name: acme, api_url: 'http://127.0.0.1:1/api/v1', token_env: ACME_TOKEN, plan: gold,
     jobs: [get-orders], webhooks: {{secret_env: ACME_HOOK}}}}
  - {{name: brand, api_url: 'http://127.0.0.1:2/api/v1', token_env: BRAND_TOKEN, plan: gold,
     jobs: [get-orders], webhooks: {{secret_env: BRAND_HOOK}}}}
  - {{name: plain, api_url: 'http://127.0.0.1:3/api/v1', token_env: PLAIN_TOKEN, plan: gold,
     jobs: [get-orders]}}
"""
ENV = {"ACME_HOOK": SECRET, "BRAND_HOOK": OTHER_SECRET}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Any, Any, Receiver]:
    path = tmp_path / "stores.yml"
    path.write_text(STORES.format(tmp=tmp_path))
    project = load_project(ROOT)
    config = load_stores(path, project.jobs)
    app = Receiver(store_secrets(config, ENV), Hints(hints_path(config, project)), "/cartcom")
    return config, project, app


def _call(app: Receiver, method: str, path: str, body: bytes = b"{}", length: Any = None):
    """The app's answer (status line, body) to one request."""
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"] = status

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body) if length is None else length),
        "wsgi.input": io.BytesIO(body),
    }
    out = b"".join(app(environ, start_response))
    return got["status"], out


def test_a_delivery_with_the_store_secret_records_one_hint(setup) -> None:
    """The right path records a hint for that store only; answered 202."""
    _config, _project, app = setup
    status, _ = _call(app, "POST", f"/cartcom/acme/{SECRET}", b'{"order": {"id": 1}}')
    assert status.startswith("202")
    assert app.hints.seq("acme") == 1
    assert app.hints.seq("brand") == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/cartcom/acme/acme-hook-0123456789abcdeX"),  # wrong secret
        ("POST", f"/cartcom/acme/{OTHER_SECRET}"),  # another store's secret
        ("POST", f"/cartcom/nosuch/{SECRET}"),  # unknown store
        ("POST", f"/cartcom/plain/{SECRET}"),  # a store without webhooks
        ("POST", "/cartcom/acme"),  # no secret
        ("POST", f"/cartcom/acme/{SECRET}/more"),
        ("POST", f"/other/acme/{SECRET}"),  # outside the prefix
        ("GET", f"/cartcom/acme/{SECRET}"),  # wrong method
        ("PUT", f"/cartcom/acme/{SECRET}"),
    ],
)
def test_wrong_secret_path_or_method_is_refused_alike_and_records_nothing(
    setup, method: str, path: str
) -> None:
    """404 with one body whatever was wrong (it never tells whether the store exists)."""
    _config, _project, app = setup
    status, body = _call(app, method, path)
    assert (status, body) == ("404 Not Found", b'{"error": "not found"}')
    assert app.hints.seq("acme") == 0
    assert app.hints.seq("brand") == 0
    assert app.hints.seq("plain") == 0


class _Unreadable(io.RawIOBase):
    def read(self, *_args: Any) -> bytes:
        raise AssertionError("an oversized body was read")


def test_an_oversized_body_is_refused_unread(setup) -> None:
    """413 before reading a byte of it, and no hint; a body at the limit is fine."""
    _config, _project, app = setup
    status, _ = _call(app, "POST", f"/cartcom/acme/{SECRET}", length=MAX_BODY + 1)
    assert status.startswith("413")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/cartcom/acme/{SECRET}",
        "CONTENT_LENGTH": str(10 * MAX_BODY),
        "wsgi.input": _Unreadable(),
    }
    statuses = []
    list(app(environ, lambda s, _h: statuses.append(s)))
    assert statuses[0].startswith("413")
    assert app.hints.seq("acme") == 0
    status, _ = _call(app, "POST", f"/cartcom/acme/{SECRET}", b"x" * MAX_BODY)
    assert status.startswith("202")
    assert app.hints.seq("acme") == 1


@pytest.fixture
def served(setup) -> Iterator[tuple[Receiver, str]]:
    """The receiver on a real socket, as ``cartcom-webhooks`` serves it."""
    _config, _project, app = setup
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_secret_is_never_in_a_log_line(served, caplog, capfd) -> None:
    """Accepted, refused, oversized and malformed requests: the store is named, never the secret."""
    app, base = served
    caplog.set_level(logging.WARNING, logger="urllib3")  # the test's own client logs its URLs
    caplog.set_level(logging.DEBUG)  # last: it sets the capture's level too
    url = f"{base}/cartcom/acme/{SECRET}"
    assert requests.post(url, json={"order": {"id": 1}}, timeout=10).status_code == 202
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.post(url + "x", json={}, timeout=10).status_code == 404
    assert requests.post(url, data=b"x" * (MAX_BODY + 1), timeout=10).status_code == 413
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(f"BROKEN /cartcom/acme/{SECRET} HTTP/9\r\n\r\n".encode())
        s.recv(1024)
    assert app.hints.seq("acme") == 1
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "store acme: webhook delivery recorded" in caplog.text
    assert "delivery refused: 404" in caplog.text
    assert SECRET not in logged
    assert SECRET[: len(SECRET) // 2] not in logged


def _defs(config: Any) -> Definitions:
    return build(ROOT, config.path)


def _tick(defs: Definitions, instance: DagsterInstance) -> list[Any]:
    """One evaluation of the trigger sensor: the run requests it makes."""
    sensor = defs.get_sensor_def(TRIGGER_SENSOR)
    return list(sensor.evaluate_tick(build_sensor_context(instance=instance)).run_requests or [])


def _launch(defs: Definitions, instance: DagsterInstance, request: Any) -> str:
    """What the daemon does with a request: the run, created (not started)."""
    job = defs.resolve_job_def(request.job_name)
    run = instance.create_run_for_job(
        job, status=DagsterRunStatus.NOT_STARTED, tags={**job.tags, **request.tags}
    )
    return run.run_id


def _finish(instance: DagsterInstance, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    event = DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
    instance.report_dagster_event(event, run_id)


def test_a_burst_causes_one_run_and_at_most_one_follow_up(setup, tmp_path: Path) -> None:
    """100 deliveries: one run; more while it waits: none; more while it reads: one follow-up."""
    config, _project, app = setup
    defs = _defs(config)
    hints = app.hints
    with _pools(tmp_path / "dagster") as instance:
        assert _tick(defs, instance) == []
        for _ in range(100):
            assert _call(app, "POST", f"/cartcom/acme/{SECRET}")[0].startswith("202")
        (first,) = _tick(defs, instance)
        assert first.job_name == "acme__get_orders"
        assert first.tags[TRIGGER_TAG] == "webhook"
        run1 = _launch(defs, instance, first)
        # More deliveries while run 1 is queued: it has not read yet, so it covers them.
        for _ in range(50):
            _call(app, "POST", f"/cartcom/acme/{SECRET}")
        assert _tick(defs, instance) == []
        hints.begin_read("acme", run1)  # run 1's turn: it reads now, after 150 hints
        assert _tick(defs, instance) == []
        # Deliveries while run 1 reads: one follow-up, however many, and however many ticks.
        for _ in range(30):
            _call(app, "POST", f"/cartcom/acme/{SECRET}")
        (follow,) = _tick(defs, instance)
        assert follow.job_name == "acme__get_orders"
        assert follow.run_key != first.run_key
        run2 = _launch(defs, instance, follow)
        for _ in range(30):
            _call(app, "POST", f"/cartcom/acme/{SECRET}")
            assert _tick(defs, instance) == []
        _finish(instance, run1)
        assert _tick(defs, instance) == []  # run 2 is still waiting: it covers them
        hints.begin_read("acme", run2)
        _finish(instance, run2)
        assert _tick(defs, instance) == []
        # Brand's hint is brand's own run, whatever acme does.
        _call(app, "POST", f"/cartcom/brand/{OTHER_SECRET}")
        (brand,) = _tick(defs, instance)
        assert brand.job_name == "brand__get_orders"


STAND_IN = """#!/bin/sh
# Stands in for meltano get-orders: one order's line lands; the acknowledgement's results.
echo '{{"id": 7}}' >> "$IMPORTED_ORDERS_PATH"
echo '{{"type": "summary", "failed": {failed}, "outcomes": {{}}}}' >> \
  "$TARGET_CARTCOM_ACK_RESULTS_PATH"
echo '{{"event": "done"}}'
"""


def _stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failed: int) -> None:
    fake = tmp_path / "meltano"
    fake.write_text(STAND_IN.format(failed=failed))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CARTCOM_MELTANO_BIN", str(fake))
    for var in ("ACME_TOKEN", "BRAND_TOKEN", "PLAIN_TOKEN"):
        monkeypatch.setenv(var, "tok")
    db = tmp_path / "meltano.db"  # an existing system database: no `meltano upgrade database`
    if not db.exists():
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{db}")


def _pools(instance_dir: Path):
    instance_dir.mkdir(exist_ok=True)
    return instance_for_test(
        temp_dir=str(instance_dir), overrides={"concurrency": {"pools": {"default_limit": 1}}}
    )


def test_the_sensor_starts_the_stores_get_orders_in_its_pool_and_the_run_takes_the_hints(
    setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requested job is the store's Get Orders, in its pool of 1; its run takes the hints.

    The run marks the hints read, so the next tick asks nothing; its metadata shows the latency.
    """
    config, _project, app = setup
    _stand_in(tmp_path, monkeypatch, failed=0)
    defs = _defs(config)
    with _pools(tmp_path / "dagster") as instance:
        for _ in range(3):
            _call(app, "POST", f"/cartcom/acme/{SECRET}")
        (request,) = _tick(defs, instance)
        job = defs.resolve_job_def(request.job_name)
        assert job.name == "acme__get_orders"
        (node,) = job.graph.node_defs
        assert node.pool == pool_name("acme")
        assert job.tags[STORE_TAG] == "acme"
        result = job.execute_in_process(instance=instance, tags=request.tags)
        assert result.success
        assert app.hints.read_seq("acme") == 3
        assert _tick(defs, instance) == []
        (out,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
        latency = out.step_output_data.metadata[LATENCY].value
        assert isinstance(latency, float)
        assert latency >= 0
        # A scheduled run with no hint since: no latency to show, and no request after it.
        again = job.execute_in_process(instance=instance)
        (out,) = [e for e in again.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
        assert out.step_output_data.metadata[LATENCY].value == "no hint since the last read"
        assert _tick(defs, instance) == []


def test_health_warns_after_two_intervals_without_success_and_on_failed_records(
    setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warnings after two schedule intervals without a success, and for failed records.

    Get Orders every 15 min: quiet within 30 min of a success, a warning after; "never
    succeeded" once watched 30 min; a warning for a run whose results count failed records.
    """
    config, _project, _app = setup
    defs = _defs(config)
    watched = Watched("acme", "acme__get_orders", 900.0)
    brand = Watched("brand", "brand__get_orders", 900.0)
    with _pools(tmp_path / "dagster") as instance:
        _stand_in(tmp_path, monkeypatch, failed=0)
        assert (
            defs.resolve_job_def("acme__get_orders").execute_in_process(instance=instance).success
        )
        (record,) = instance.get_run_records()
        done = record.end_time
        assert store_health(instance, watched, now=done + 1700, since=done - 5000) == []
        (late,) = store_health(instance, watched, now=done + 1900, since=done - 5000)
        assert "store acme: Get Orders has not succeeded for 32 min" in late
        assert store_health(instance, brand, now=done + 1700, since=done) == []
        (never,) = store_health(instance, brand, now=done + 1900, since=done)
        assert "store brand: Get Orders has never succeeded" in never

        _stand_in(tmp_path, monkeypatch, failed=2)
        assert (
            defs.resolve_job_def("acme__get_orders").execute_in_process(instance=instance).success
        )
        done = max(r.end_time for r in instance.get_run_records())
        (failed,) = store_health(instance, watched, now=done + 60, since=done)
        assert "has 2 failed records" in failed
        # The sensor names it (its tick's reason, shown in the UI).
        sensor = defs.get_sensor_def(HEALTH_SENSOR)
        data = sensor.evaluate_tick(build_sensor_context(instance=instance))
        assert "store acme: its last Get Orders" in (data.skip_message or "")
        assert json.loads(data.cursor)["acme"] > 0


def test_the_receiver_refuses_to_start_without_a_good_secret(setup) -> None:
    """A store's secret variable unset or short: no receiver, the variable named."""
    config, _project, _app = setup
    with pytest.raises(receiver_module.ReceiverSetupError, match="BRAND_HOOK"):
        store_secrets(config, {"ACME_HOOK": SECRET})
    with pytest.raises(receiver_module.ReceiverSetupError, match="ACME_HOOK"):
        store_secrets(config, {"ACME_HOOK": "short", "BRAND_HOOK": OTHER_SECRET})

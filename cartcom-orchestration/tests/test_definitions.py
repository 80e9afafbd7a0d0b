"""The definitions built from meltano.yml and a stores file, and `dagster definitions validate`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cartcom_orchestration.factory import STORE_TAG, build, pool_name
from cartcom_orchestration.project import load_project
from dagster import Backoff

ROOT = Path(__file__).resolve().parents[2]
THREE = """\
stores:
  - {name: acme, domain: acme.americommerce.com, token_env: ACME_TOKEN, plan: silver}
  - name: brand_two
    domain: shop.brandtwo.com
    router: {site_id: 12, user_name_env: PUB_USER, user_secret_env: PUB_SECRET}
    plan: steel
  - name: outlet
    api_url: http://127.0.0.1:8600/api/v1
    token_env: OUTLET_TOKEN
    plan: gold
    jobs: [get-orders, push-tracking]
"""


@pytest.fixture
def three(tmp_path: Path) -> Path:
    """A stores file of three stores."""
    path = tmp_path / "stores.yml"
    path.write_text(THREE)
    return path


def test_one_job_per_store_and_meltano_job(three: Path) -> None:
    """Names are <store>__<job> with - turned into _, each job in its store's pool."""
    project = load_project(ROOT)
    defs = build(ROOT, three)
    names = sorted(j.name for j in defs.jobs)
    expected = sorted(
        [f"{s}__{j.replace('-', '_')}" for s in ("acme", "brand_two") for j in project.jobs]
        + ["outlet__get_orders", "outlet__push_tracking"]
    )
    assert names == expected
    job = defs.resolve_job_def("acme__get_orders")
    assert job.tags[STORE_TAG] == "acme"
    (node,) = job.graph.node_defs
    assert node.pool == pool_name("acme") == "cartcom/acme"
    assert node.retry_policy is not None
    assert node.retry_policy.backoff == Backoff.EXPONENTIAL
    assert node.retry_policy.max_retries == 3
    other = defs.resolve_job_def("outlet__get_orders").graph.node_defs[0]
    assert other.pool == "cartcom/outlet"


def test_a_schedule_per_job_from_meltano_yml(three: Path) -> None:
    """Every Meltano job schedule becomes one schedule per store that runs the job."""
    project = load_project(ROOT)
    defs = build(ROOT, three)
    by_name = {s.name: s for s in defs.schedules}
    meltano = {s.name: s for s in project.schedules}
    assert meltano["get-orders-every-15-minutes"].cron == "*/15 * * * *"
    sched = by_name["outlet__get_orders_every_15_minutes"]
    assert sched.cron_schedule == "*/15 * * * *"
    assert sched.job_name == "outlet__get_orders"
    assert sched.execution_timezone == "UTC"
    assert by_name["acme__extract_store_hourly"].cron_schedule == "0 * * * *"  # @hourly
    assert "outlet__extract_store_hourly" not in by_name  # outlet does not run extract-store
    assert len(defs.schedules) == 2 * len(project.schedules) + 2


def _validate(env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CARTCOM_STORES_FILE",)}
    env.update(env_extra)
    dagster = Path(sys.executable).parent / "dagster"
    return subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "cartcom_orchestration.definitions"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_dagster_definitions_validate(three: Path, tmp_path: Path) -> None:
    """The CLI passes with three stores, and fails saying what to create without a file."""
    ok = _validate({"CARTCOM_STORES_FILE": str(three)}, ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Validation successful" in ok.stdout + ok.stderr
    missing = tmp_path / "nowhere" / "stores.yml"
    bad = _validate({"CARTCOM_STORES_FILE": str(missing)}, ROOT)
    assert bad.returncode != 0
    out = bad.stdout + bad.stderr
    assert f"No stores file at {missing}" in out
    assert "stores.example.yml" in out

"""meltano.yml is offline-safe and complete: no Hub, no telemetry, every job scheduled."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
import run_demo as demo
import yaml

ROOT = Path(__file__).resolve().parent.parent
JOBS = {"extract-store", "get-orders", "publish-listings", "sync-listings", "push-tracking"}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    """meltano.yml, parsed."""
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def _plugins(project: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for kind in ("extractors", "loaders", "mappers", "utilities")
        for p in project["plugins"].get(kind) or []
    ]


def test_offline_switches(project: dict[str, Any]) -> None:
    """Telemetry and the version check are off, and the project id is committed."""
    assert project["send_anonymous_usage_stats"] is False
    assert project["cli"]["disable_version_check"] is True
    assert len(str(project["project_id"])) == 36
    assert "version" not in project


def test_every_plugin_is_inline(project: dict[str, Any]) -> None:
    """No plugin needs the Meltano Hub: each is custom, or inherits from one that is."""
    plugins = _plugins(project)
    by_name = {p["name"]: p for p in plugins}
    for p in plugins:
        assert "variant" not in p, p["name"]
        if "inherit_from" in p:
            assert p["inherit_from"] in by_name, p["name"]
            continue
        assert {"namespace", "pip_url", "executable"} <= set(p), p["name"]
    ours = [by_name["tap-cartcom"], by_name["target-cartcom"]]
    for p in ours:
        # The plugin alone: the shared client ships inside it (docs/architecture.md).
        assert p["pip_url"] == f"-e ${{MELTANO_PROJECT_ROOT}}/{p['name']}"


def test_jobs_and_schedules(project: dict[str, Any]) -> None:
    """The five jobs exist, each has a schedule, and job names never shadow a plugin name."""
    jobs = {j["name"]: j["tasks"] for j in project["jobs"]}
    assert set(jobs) == JOBS
    assert {s["job"] for s in project["schedules"]} == JOBS
    names = {p["name"] for p in _plugins(project)}
    assert not names & set(jobs)
    for tasks in jobs.values():
        for task in tasks:
            assert set(task.split()) <= names, task


def test_environments(project: dict[str, Any]) -> None:
    """dev points at the sandbox; prod takes the domain and token from the environment."""
    envs = {e["name"]: e for e in project["environments"]}
    dev = envs["dev"]["config"]["plugins"]
    prod = envs["prod"]["config"]["plugins"]
    for kind, name in (("extractors", "tap-cartcom"), ("loaders", "target-cartcom")):
        d = next(p for p in dev[kind] if p["name"] == name)["config"]
        assert d["api_url"] == "http://127.0.0.1:8600/api/v1"
        p = next(p for p in prod[kind] if p["name"] == name)["config"]
        assert p["domain"] == "${CARTCOM_DOMAIN}"
        assert p["access_token"] == "${CARTCOM_ACCESS_TOKEN}"


def test_meltano_resolves_the_prod_config_from_env(tmp_path: Path) -> None:
    """Meltano reads prod's domain and token from the environment and redacts the token."""
    env = demo.meltano_env("http://127.0.0.1:1/api/v1", tmp_path, tmp_path / "m.db")
    for key in [k for k in env if k.startswith(("TAP_CARTCOM_", "TARGET_CARTCOM_"))]:
        del env[key]
    env.update(
        MELTANO_ENVIRONMENT="prod",
        CARTCOM_DOMAIN="shop.example.com",
        CARTCOM_ACCESS_TOKEN="s3cr3t-value",
    )
    out = subprocess.run(
        [demo.meltano_bin(), "config", "list", "tap-cartcom"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "shop.example.com" in out.stdout
    assert "s3cr3t-value" not in out.stdout + out.stderr


def test_sample_feeds_match_the_demo_store() -> None:
    """demo/data/ refers to real SKUs and order lines of the demo's seeded store.

    The seed is deterministic for a given seeder; when the seeder changes, this fails first
    (fast), instead of the demo and the end-to-end jobs: run `.venv/bin/python demo/make_feeds.py`.
    """
    spec = importlib.util.spec_from_file_location("make_feeds", ROOT / "demo" / "make_feeds.py")
    assert spec is not None
    assert spec.loader is not None
    make_feeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_feeds)
    assert (make_feeds.SEED, make_feeds.PRODUCTS, make_feeds.ORDERS) == (
        demo.SEED,
        demo.PRODUCTS,
        demo.ORDERS,
    )
    for name, records in make_feeds.generate().items():
        committed = demo.read_jsonl(ROOT / "demo" / "data" / name)
        assert committed == records, (
            f"demo/data/{name} is stale for the current seeder; run: "
            ".venv/bin/python demo/make_feeds.py"
        )
    assert len(committed) > 0

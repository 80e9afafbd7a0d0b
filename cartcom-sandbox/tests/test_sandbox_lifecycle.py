"""Persistence across restarts, the Store API contract, and the CLI (serve, signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests
from cartcom_sandbox.server import SandboxServer
from cartcom_sandbox.store import Store

HEADERS = {"X-AC-Auth-Token": "test-token"}


def test_file_store_survives_restart(tmp_path):
    db = tmp_path / "store.db"
    with SandboxServer(db) as srv:
        made = requests.post(
            srv.base_url + "/categories", json={"name": "Kept"}, headers=HEADERS, timeout=10
        )
        assert made.status_code == 201
    with SandboxServer(db) as srv:
        got = requests.get(
            srv.base_url + f"/categories/{made.json()['id']}", headers=HEADERS, timeout=10
        )
        assert got.status_code == 200
        assert got.json()["name"] == "Kept"


def test_store_api_contract(tmp_path):
    store = Store(tmp_path / "s.db")
    n = store.bulk_insert(
        "orders",
        (
            {"id": 100000 + i, "order_status_id": 1, "updated_at": "2024-03-10T01:00:00-06:00"}
            for i in range(50)
        ),
    )
    assert n == 50
    order = store.get("orders", 100003)
    assert order["grand_total"] is None
    assert order["is_gift"] is False
    assert order["exported_to_accounting_system"] == 0
    made = store.insert("categories", {"name": "X"})
    assert made["id"] == 1
    assert made["created_at"]
    assert made["created_at"] == made["updated_at"]
    moved = store.update("categories", 1, {"name": "Y"})
    assert moved["name"] == "Y"
    assert moved["updated_at"] >= made["updated_at"]
    assert store.delete("categories", 1) is True
    assert store.delete("categories", 1) is False
    assert store.get("categories", 1) is None
    assert [
        o["id"] for o in store.query("orders", {"order_status_id": 1}, sort=["-id"], limit=2)
    ] == [100049, 100048]
    store.close()
    again = Store(tmp_path / "s.db")
    assert again.count("orders") == 50
    assert again.timezone == "America/Chicago"
    again.close()


def test_cli_serve_prints_base_url_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cartcom_sandbox",
            "serve",
            "--db",
            str(tmp_path / "c.db"),
            "--port",
            "0",
            "--plan",
            "gold",
            "--token",
            "cli-token",
            "--token",
            "ro-token:read_catalog,read_orders",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/api/v1")
        resp = requests.get(url + "/products", headers={"X-AC-Auth-Token": "cli-token"}, timeout=10)
        assert resp.status_code == 200
        assert resp.headers["X-AC-Call-Limit"] == "1/50"
        ro = {"X-AC-Auth-Token": "ro-token"}
        assert requests.get(url + "/orders", headers=ro, timeout=10).status_code == 200
        denied = requests.post(url + "/categories", json={"name": "A"}, headers=ro, timeout=10)
        assert denied.status_code == 401
        assert "'catalog'" in denied.json()["details"]
        assert (
            requests.post(
                url + "/categories",
                json={"name": "A"},
                timeout=10,
                headers={"X-AC-Auth-Token": "cli-token"},
            ).status_code
            == 201
        )
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_help_and_seed_delegation():
    out = subprocess.run(
        [sys.executable, "-m", "cartcom_sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0
    assert "serve" in out.stdout
    assert "seed" in out.stdout
    seed = subprocess.run(
        [sys.executable, "-m", "cartcom_sandbox", "seed", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seed.returncode == 0, seed.stderr  # seed.py's own argparse handled --help
    assert seed.stdout.startswith("usage: cartcom-sandbox seed")
    assert "--db" in seed.stdout


def test_bulk_loading_block_then_wal_again(tmp_path):
    store = Store(tmp_path / "b.db")
    with store.bulk_loading():
        store.bulk_insert("categories", [{"id": i, "name": f"C{i}"} for i in range(1, 1001)])
    assert store.execute("PRAGMA journal_mode")[0][0] == "wal"
    store.close()
    again = Store(tmp_path / "b.db")
    assert again.count("categories") == 1000
    assert again.get("categories", 1000)["name"] == "C1000"
    again.close()

"""Webhook subscriptions as code, against sandbox stores: only ours change, only what differs.

Each store's subscriptions are checked in the sandbox's own store (its SQLite rows), and the
calls it took in the sandbox's call log, never in what the command says it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cartcom_orchestration import subscriptions
from cartcom_orchestration.project import load_project
from cartcom_orchestration.store_run import StoreRun
from cartcom_orchestration.stores import StoresFileError, load_stores
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import RouterServer, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
JOBS = {"get-orders": []}
RECEIVER = "http://127.0.0.1:9/cartcom-hooks"
SECRET = "acme-SECRET-0123456789"
OLD_SECRET = "acme-OLD-secret-000000"
ENV = {"ACME_T": "token-a", "OUTLET_T": "token-o", "ACME_HOOK": SECRET}
STORES = """\
webhooks: {{receiver_url: '{receiver}'}}
stores:
  - name: acme
    api_url: '{acme}'
    token_env: ACME_T
    plan: gold
    webhooks: {{secret_env: ACME_HOOK}}
    env: {{TAP_CARTCOM_CALLS_PER_WINDOW: {calls}, TAP_CARTCOM_WINDOW_SECONDS: {window}}}
  - name: outlet
    api_url: '{outlet}'
    token_env: OUTLET_T
    plan: gold
"""


@pytest.fixture
def sandboxes() -> Iterator[dict[str, SandboxServer]]:
    servers = {
        "acme": SandboxServer(tokens=["token-a"]).start(),
        "outlet": SandboxServer(tokens=["token-o"]).start(),
    }
    yield servers
    for server in servers.values():
        server.stop()


def _config(tmp_path: Path, servers: dict[str, SandboxServer], calls: int = 50, window: int = 10):
    path = tmp_path / "stores.yml"
    path.write_text(
        STORES.format(
            receiver=RECEIVER,
            acme=servers["acme"].base_url,
            outlet=servers["outlet"].base_url,
            calls=calls,
            window=window,
        )
    )
    return load_stores(path, JOBS)


def _rows(server: SandboxServer) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in server.store.query("webhooks")}


def _hook(id_: int, event: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "event_type": event, "url": url, "failure_type": "Ignore", **extra}


def _writes(server: SandboxServer) -> list[str]:
    return [f"{c.method} {c.path}" for c in server.calls if c.method != "GET"]


def test_reconcile_changes_only_ours_and_only_what_differs(tmp_path, sandboxes):
    acme, outlet = sandboxes["acme"], sandboxes["outlet"]
    ours = f"{RECEIVER}/acme/"
    acme.store.bulk_insert(
        "webhooks",
        [
            _hook(1, "NewOrder", "https://partner.example.com/hook"),  # not ours
            _hook(2, "NewOrder", ours + OLD_SECRET),  # ours, old secret: updated in place
            _hook(3, "OrderShipped", ours + SECRET),  # ours, no longer wanted: deleted
            _hook(4, "NewOrder", ours + SECRET),  # ours, a second copy: deleted
            _hook(5, "OrderShipped", f"{RECEIVER}/acme2/{SECRET}"),  # another store's mark
            _hook(6, "OrderStatusChanged", RECEIVER + "/acme"),  # no trailing slash: not ours
        ],
    )
    outlet.store.bulk_insert(
        "webhooks",
        [
            _hook(1, "NewOrder", f"{RECEIVER}/outlet/{OLD_SECRET}"),  # ours, store wants none
            _hook(2, "NewOrder", "https://merchant.example.com/x"),
        ],
    )
    before = {"acme": _rows(acme), "outlet": _rows(outlet)}
    lines: list[str] = []
    config = _config(tmp_path, sandboxes)
    outcomes = subscriptions.reconcile(config, environ=ENV, out=lines.append)
    assert [o.error for o in outcomes] == [None, None]

    after = _rows(acme)
    for untouched in (1, 5, 6):
        assert after[untouched] == before["acme"][untouched]
    assert set(after) == {1, 2, 5, 6, 7}
    assert after[2] == {**before["acme"][2], "url": ours + SECRET}
    assert (after[7]["event_type"], after[7]["url"], after[7]["failure_type"]) == (
        "OrderStatusChanged",
        ours + SECRET,
        "Ignore",
    )
    assert _writes(acme) == [
        "PUT /api/v1/webhooks/2",
        "DELETE /api/v1/webhooks/4",
        "POST /api/v1/webhooks",
        "DELETE /api/v1/webhooks/3",
    ]
    [put] = [c for c in acme.calls if c.method == "PUT"]
    assert put.request_json == {"url": ours + SECRET}  # only the field that differs
    assert _rows(outlet) == {2: before["outlet"][2]}
    assert SECRET not in "\n".join(lines)
    assert OLD_SECRET not in "\n".join(lines)

    # A second run finds nothing to change: one read per store, no write.
    acme.calls.clear()
    outlet.calls.clear()
    again = subscriptions.reconcile(config, environ=ENV, out=lines.append)
    assert [o.steps for o in again] == [[], []]
    assert [f"{c.method} {c.path}" for c in acme.calls] == ["GET /api/v1/webhooks"]
    assert [f"{c.method} {c.path}" for c in outlet.calls] == ["GET /api/v1/webhooks"]
    assert [o.calls for o in again] == [1, 1]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, sandboxes, capsys, monkeypatch):
    acme = sandboxes["acme"]
    acme.store.bulk_insert("webhooks", [_hook(1, "OrderShipped", f"{RECEIVER}/acme/{SECRET}")])
    before = _rows(acme)
    path = tmp_path / "stores.yml"
    _config(tmp_path, sandboxes)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(ROOT)
    assert subscriptions.main(["--stores-file", str(path), "--dry-run", "--store", "acme"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"acme: would create NewOrder (url={RECEIVER}/acme/***, failure_type=Ignore)",
        f"acme: would create OrderStatusChanged (url={RECEIVER}/acme/***, failure_type=Ignore)",
        "acme: would delete #1 OrderShipped",
    ]
    assert _rows(acme) == before
    assert _writes(acme) == []
    assert sandboxes["outlet"].calls.count() == 0  # --store acme only


def test_store_id_and_events_per_store(tmp_path, sandboxes):
    acme = sandboxes["acme"]
    acme.store.bulk_insert("stores", [{"id": 3, "name": "Acme EU"}])
    path = tmp_path / "stores.yml"
    text = STORES.format(
        receiver=RECEIVER,
        acme=acme.base_url,
        outlet=sandboxes["outlet"].base_url,
        calls=50,
        window=10,
    ).replace(
        "webhooks: {secret_env: ACME_HOOK}",
        "webhooks: {secret_env: ACME_HOOK, store_id: 3, events: [OrderPlaced]}",
    )
    path.write_text(text.replace("receiver_url:", "failure_type: Error, receiver_url:"))
    config = load_stores(path, JOBS)
    subscriptions.reconcile(config, environ=ENV, only=["acme"], out=lambda line: None)
    [row] = _rows(acme).values()
    assert (row["event_type"], row["store_id"], row["failure_type"]) == ("OrderPlaced", 3, "Error")


def test_calls_are_paced_by_the_shared_client(tmp_path):
    """Six writes on a store allowing 2 calls a second: never refused with 429."""
    limited = SandboxConfig(plan="unlimited", rate_calls=2, rate_window=1.0)
    servers = {
        "acme": SandboxServer(tokens=["token-a"], config=limited).start(),
        "outlet": SandboxServer(tokens=["token-o"]).start(),
    }
    try:
        ours = f"{RECEIVER}/acme/{OLD_SECRET}"
        servers["acme"].store.bulk_insert(
            "webhooks", [_hook(i, "OrderShipped", ours) for i in range(1, 5)]
        )
        config = _config(tmp_path, servers, calls=2, window=1)
        [outcome] = subscriptions.reconcile(
            config, environ=ENV, only=["acme"], out=lambda line: None
        )
        statuses = [c.status for c in servers["acme"].calls]
        assert 429 not in statuses
        assert len(statuses) == 7  # the read, four deletes, two creates
        assert outcome.calls == 7
        events = sorted(r["event_type"] for r in _rows(servers["acme"]).values())
        assert events == ["NewOrder", "OrderStatusChanged"]
    finally:
        for server in servers.values():
            server.stop()


def test_a_router_store_is_reconciled_through_the_router(tmp_path):
    with RouterServer({"101": ":memory:"}, ["agency:router-s3cret"]) as router:
        router.site("101").store.bulk_insert(
            "webhooks", [_hook(1, "NewOrder", "https://partner.example.com/hook")]
        )
        path = tmp_path / "stores.yml"
        path.write_text(
            f"webhooks: {{receiver_url: '{RECEIVER}'}}\n"
            "stores:\n"
            f"  - {{name: brand, api_url: '{router.base_url}', plan: steel,\n"
            "     router: {site_id: 101, user_name_env: PUB_USER, user_secret_env: PUB_SECRET},\n"
            "     webhooks: {secret_env: BRAND_HOOK, events: [OrderShipped]}}\n"
        )
        env = {"PUB_USER": "agency", "PUB_SECRET": "router-s3cret", "BRAND_HOOK": SECRET}
        [outcome] = subscriptions.reconcile(load_stores(path, JOBS), environ=env, out=print)
        assert outcome.error is None
        rows = _rows(router.site("101"))
        assert rows[1]["url"] == "https://partner.example.com/hook"
        assert [(r["event_type"], r["url"]) for i, r in rows.items() if i != 1] == [
            ("OrderShipped", f"{RECEIVER}/brand/{SECRET}")
        ]
        assert {c.site for c in router.calls} == {"101"}
        assert {c.status for c in router.calls} == {200, 201}


def test_a_missing_or_weak_secret_stops_only_that_store(tmp_path, sandboxes):
    sandboxes["outlet"].store.bulk_insert(
        "webhooks", [_hook(1, "NewOrder", f"{RECEIVER}/outlet/{OLD_SECRET}")]
    )
    config = _config(tmp_path, sandboxes)
    for env in ({**ENV, "ACME_HOOK": ""}, {**ENV, "ACME_HOOK": "short"}):
        lines: list[str] = []
        acme, outlet = subscriptions.reconcile(config, environ=env, out=lines.append)
        assert acme.error is not None
        assert "ACME_HOOK" in acme.error
        assert "short" not in "\n".join(lines)
        assert sandboxes["acme"].calls.count() == 0  # refused before any call
        assert outlet.error is None
    assert _rows(sandboxes["outlet"]) == {}


def test_the_webhook_secret_never_reaches_a_meltano_run(tmp_path, sandboxes):
    config = _config(tmp_path, sandboxes)
    project = load_project(ROOT)
    parent = {**ENV, "PATH": "/usr/bin", "MELTANO_DATABASE_URI": "sqlite:////tmp/x.db"}
    run = StoreRun.build(
        config, project, config.stores[0], "get-orders", attempt="t", environ=parent
    )
    assert SECRET not in run.env.values()
    assert "ACME_HOOK" not in run.env


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold, "
            "webhooks: {secret_env: S}}]",
            "(a), `webhooks`",
        ),
        (
            "webhooks: {receiver_url: 'http://hooks.example.com/x'}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold}]",
            "`webhooks.receiver_url`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com/x?k=1'}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold}]",
            "`webhooks.receiver_url`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com', events: [OrderPlace]}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold}]",
            "`webhooks.events`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com', failure_type: Fallback}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold}]",
            "`webhooks.failure_type`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com'}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold, "
            "webhooks: {secret_env: 'MY-SECRET'}}]",
            "(a), `webhooks.secret_env`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com'}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold, "
            "webhooks: {secret: abc}}]",
            "(a), `webhooks.secret`",
        ),
        (
            "webhooks: {receiver_url: 'https://h.example.com'}\n"
            "stores: [{name: a, domain: a.com, token_env: T, plan: gold, "
            "webhooks: {secret_env: S, store_id: true}}]",
            "(a), `webhooks.store_id`",
        ),
    ],
)
def test_the_stores_file_webhooks_sections_are_checked(tmp_path, text, where):
    path = tmp_path / "stores.yml"
    path.write_text(text)
    with pytest.raises(StoresFileError, match=None) as err:
        load_stores(path, JOBS)
    assert where in str(err.value)
    assert "abc" not in str(err.value)


def test_without_a_receiver_there_is_nothing_to_reconcile(tmp_path):
    path = tmp_path / "stores.yml"
    path.write_text("stores: [{name: a, domain: a.com, token_env: T, plan: gold}]")
    with pytest.raises(StoresFileError, match="receiver_url"):
        subscriptions.reconcile(load_stores(path, JOBS), environ={})

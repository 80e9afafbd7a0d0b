"""Webhook subscriptions as code: make each store's Cart.com subscriptions match the stores file.

``cartcom-subscriptions [--dry-run] [--store NAME]`` reads each store's subscriptions (one
``GET /webhooks``), then creates, updates (only the fields that differ) and deletes only what
differs from the stores file; ``--dry-run`` prints the plan and writes nothing. A store whose
subscriptions already match costs that one read.

Ours, and only ours: a subscription is the orchestration's when its URL starts with
``<receiver_url>/<store name>/`` (webhook_settings.py). Any other subscription of the store (an
app's, the merchant's, another receiver's) is never updated or deleted, whatever its event.

Calls go through the plugins' shared client (``_client``): the store's call budget from its
``plan`` (paced as the tap and the target pace), its retries, its errors. Nothing printed holds a
secret: a URL is shown up to its mark, the secret as ``***``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartcom_orchestration._client.errors import CartcomAPIError, ConfigurationError
from cartcom_orchestration._client.session import CartcomSession
from cartcom_orchestration._client.settings import ConnectionSettings
from cartcom_orchestration.project import ProjectError, find_root, load_project
from cartcom_orchestration.store_run import RunSetupError, connection_settings
from cartcom_orchestration.stores import Store, StoresConfig, StoresFileError, default_path
from cartcom_orchestration.stores import load_stores as _load_stores
from cartcom_orchestration.webhook_settings import SECRET

USER_AGENT = "cartcom-orchestration-subscriptions"
#: The budget's settings a loopback store (a local sandbox) may set in its ``env``.
_BUDGET = {"_CALLS_PER_WINDOW": "calls_per_window", "_WINDOW_SECONDS": "window_seconds"}


@dataclass(frozen=True)
class Step:
    """One change to a store's subscriptions."""

    action: str  # create | update | delete
    event_type: str
    subscription_id: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the url holds a secret


def mark(receiver_url: str, store: Store) -> str:
    """The URL prefix of every subscription the orchestration made for ``store``."""
    return f"{receiver_url}/{store.name}/"


def plan(
    existing: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any], prefix: str
) -> list[Step]:
    """The steps from ``existing`` subscriptions to ``wanted`` ones, touching only ours.

    ``wanted`` is ``{"events": [...], "fields": {url, failure_type, store_id?}}``. For each wanted
    event the oldest of ours is kept (updated in the fields that differ); other copies of ours,
    and ours for events no longer wanted, are deleted.
    """
    mine: dict[str, list[Mapping[str, Any]]] = {}
    for sub in sorted(existing, key=lambda s: s.get("id") or 0):
        if isinstance(sub.get("url"), str) and sub["url"].startswith(prefix):
            mine.setdefault(str(sub.get("event_type")), []).append(sub)
    want = dict(wanted["fields"])
    steps: list[Step] = []
    for event in wanted["events"]:
        subs = mine.pop(event, [])
        if not subs:
            steps.append(Step("create", event, None, {"event_type": event, **want}))
            continue
        keep, *extra = subs
        diff = {k: v for k, v in want.items() if keep.get(k) != v}
        if diff:
            steps.append(Step("update", event, keep["id"], diff))
        steps += [Step("delete", event, s["id"]) for s in extra]
    for event, subs in mine.items():
        steps += [Step("delete", event, s["id"]) for s in subs]
    return steps


def describe(step: Step, prefix: str) -> str:
    """One plan line, without the secret."""
    if step.action == "delete":
        return f"delete #{step.subscription_id} {step.event_type}"
    shown = {
        k: (f"{prefix}***" if k == "url" else v)
        for k, v in step.fields.items()
        if k != "event_type"
    }
    what = ", ".join(f"{k}={v}" for k, v in shown.items())
    if step.action == "create":
        return f"create {step.event_type} ({what})"
    return f"update #{step.subscription_id} {step.event_type} ({what})"


def settings_for(store: Store, environ: Mapping[str, str]) -> ConnectionSettings:
    """The client's connection settings for ``store``: its entry, its secrets, its plan."""
    conn = {k.lower(): v for k, v in connection_settings(store, environ).items() if v != ""}
    for key, value in store.env.items():  # only a loopback store may set these (stores.py)
        for suffix, name in _BUDGET.items():
            if key.upper().endswith(suffix):
                conn[name] = float(value) if name == "window_seconds" else int(value)
    return ConnectionSettings.from_config(conn, user_agent=USER_AGENT)


def wanted_for(config: StoresConfig, store: Store, environ: Mapping[str, str]) -> dict[str, Any]:
    """What ``store`` should have: its events and the fields of each subscription."""
    assert config.webhooks is not None
    if store.webhooks is None:
        return {"events": (), "fields": {}}
    var = store.webhooks.secret_env
    secret = environ.get(var, "")
    if not SECRET.fullmatch(secret):
        msg = (
            f"store {store.name}: the environment variable {var} (webhooks.secret_env) must "
            "hold at least 16 of A-Z a-z 0-9 . _ ~ - (it ends the receiver's URL); its value is "
            "not shown"
        )
        raise RunSetupError(msg)
    fields: dict[str, Any] = {
        "url": mark(config.webhooks.receiver_url, store) + secret,
        "failure_type": config.webhooks.failure_type,
    }
    if store.webhooks.store_id is not None:
        fields["store_id"] = store.webhooks.store_id
    return {"events": store.webhooks.events or config.webhooks.events, "fields": fields}


@dataclass
class Outcome:
    """What reconciling one store did."""

    store: str
    steps: list[Step]
    calls: int = 0
    error: str | None = None


def reconcile_store(
    config: StoresConfig,
    store: Store,
    *,
    dry_run: bool,
    environ: Mapping[str, str],
    out: Callable[[str], None],
    session_factory: Callable[[ConnectionSettings], CartcomSession] = CartcomSession,
) -> Outcome:
    """Read ``store``'s subscriptions, print the plan, apply it unless ``dry_run``."""
    assert config.webhooks is not None
    prefix = mark(config.webhooks.receiver_url, store)
    try:
        wanted = wanted_for(config, store, environ)
        session = session_factory(settings_for(store, environ))
    except (RunSetupError, ConfigurationError) as err:
        said = str(err)  # a RunSetupError names the store already
        out(said if said.startswith(f"store {store.name}:") else f"{store.name}: {said}")
        return Outcome(store.name, [], error=said)
    outcome = Outcome(store.name, [])
    try:
        existing = list(session.iter_records("/webhooks"))
        outcome.steps = plan(existing, wanted, prefix)
        if not outcome.steps:
            out(f"{store.name}: up to date ({len(wanted['events'])} subscriptions of ours)")
        for step in outcome.steps:
            out(f"{store.name}: {'would ' if dry_run else ''}{describe(step, prefix)}")
            if dry_run:
                continue
            if step.action == "create":
                session.post("/webhooks", json=dict(step.fields))
            elif step.action == "update":
                session.put(f"/webhooks/{step.subscription_id}", json=dict(step.fields))
            else:
                session.delete(f"/webhooks/{step.subscription_id}")
    except CartcomAPIError as err:
        # The client's messages name the call, never a secret; a re-run finishes the plan.
        outcome.error = str(err)
        out(f"{store.name}: stopped: {err}")
    finally:
        outcome.calls = session.reads + session.writes
        session.close()
    return outcome


def reconcile(
    config: StoresConfig,
    *,
    dry_run: bool = False,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    out: Callable[[str], None] = print,
    session_factory: Callable[[ConnectionSettings], CartcomSession] = CartcomSession,
) -> list[Outcome]:
    """Reconcile every store (or those named in ``only``), one after the other."""
    if config.webhooks is None:
        msg = f"{config.path}: no top-level `webhooks` (receiver_url): nothing to reconcile"
        raise StoresFileError(msg)
    unknown = sorted(set(only) - {s.name for s in config.stores})
    if unknown:
        msg = f"{config.path}: no store named {', '.join(unknown)}"
        raise StoresFileError(msg)
    env = os.environ if environ is None else environ
    return [
        reconcile_store(
            config, store, dry_run=dry_run, environ=env, out=out, session_factory=session_factory
        )
        for store in config.stores
        if not only or store.name in only
    ]


def load_stores(path: Path | None = None) -> StoresConfig:
    """The stores file beside meltano.yml (or ``path``), checked against meltano.yml's jobs."""
    root = find_root()
    project = load_project(root)
    return _load_stores(path or default_path(root), project.jobs)


def main(argv: Sequence[str] | None = None) -> int:
    """``cartcom-subscriptions``: 0 when every store matches (or would), 1 when one failed."""
    parser = argparse.ArgumentParser(
        prog="cartcom-subscriptions",
        description="Make each store's Cart.com webhook subscriptions match the stores file "
        "(only those whose URL starts with <receiver_url>/<store>/ are ever changed).",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--store", action="append", default=[], metavar="NAME", help="only this store (repeatable)"
    )
    parser.add_argument(
        "--stores-file", type=Path, default=None, help="default: $CARTCOM_STORES_FILE or stores.yml"
    )
    args = parser.parse_args(argv)
    try:
        outcomes = reconcile(load_stores(args.stores_file), dry_run=args.dry_run, only=args.store)
    except (StoresFileError, ProjectError) as err:
        print(err, file=sys.stderr)
        return 2
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())

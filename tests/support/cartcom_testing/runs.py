"""One set of run helpers for every test folder: the tap and the target in-process, and the calls.

``run_tap`` raises the tap's exception unless the test says it expects one (``expect_error``),
so no test can miss a failed run. ``run_listings`` and ``run_orders`` run the target against a
sandbox and return the calls it made from the sandbox's call log; ``reads``, ``writes`` and
``write_routes`` slice such call lists.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

API_PREFIX = "/api/v1"


# -- the tap ---------------------------------------------------------------------------------
def tap_config(server: Any, **extra: Any) -> dict[str, Any]:
    """A tap config for a sandbox (``server``); pacing generous unless a test narrows it."""
    return {
        "access_token": server.token,
        "api_url": server.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "start_date": "2024-01-01T00:00:00Z",
        "page_size": 100,
        **extra,
    }


# -- the Central API Router ------------------------------------------------------------------
@contextmanager
def router_sandbox(stores: Mapping[str, Any], users: Any) -> Iterator[Any]:
    """An unthrottled router sandbox serving ``stores`` (site id -> Store); stores closed after."""
    from cartcom_sandbox.config import SandboxConfig
    from cartcom_sandbox.server import RouterServer

    server = RouterServer(dict(stores), users, config=SandboxConfig(plan="unlimited"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for store in stores.values():
            store.close()


def router_settings(server: Any, site: str, user: str, secret: str, **extra: Any) -> dict[str, Any]:
    """Plugin settings reaching ``site`` through the router sandbox, with generous pacing."""
    return {
        "auth_type": "central_api_router",
        "router_url": server.base_url,
        "site_id": site,
        "user_name": user,
        "user_secret": secret,
        "calls_per_window": 1000,
        **extra,
    }


def run_tap(
    config: dict[str, Any],
    state: dict | None = None,
    catalog: dict | None = None,
    streams: tuple[str, ...] | None = None,
    now: datetime | None = None,
    *,
    expect_error: bool = False,
) -> dict[str, Any]:
    """Run the tap in-process; return messages by type, records by stream, final state, logs.

    A failed run raises its exception (with the tap's stderr in a note) unless
    ``expect_error``; then a run that does *not* fail is an ``AssertionError``, and the
    exception is in ``["error"]``. ``now`` pins the run's clock (``sync_started_at``, the end
    of every window) so a test can place its run just after its data, as on a live store.
    """
    from tap_cartcom.tap import TapCartcom

    out, err = io.StringIO(), io.StringIO()
    error: Exception | None = None
    with redirect_stdout(out), redirect_stderr(err):
        tap = TapCartcom(config=config, state=state, catalog=catalog, parse_env_config=False)
        if now is not None:
            if now.tzinfo is None or now.microsecond % 1000:
                msg = "run_tap(now=...) needs an aware datetime in whole milliseconds"
                raise ValueError(msg)
            tap.__dict__["sync_started_at"] = now.astimezone(UTC)  # a cached_property
        if streams is not None:
            for name, stream in tap.streams.items():
                stream.selected = name in streams
        try:
            tap.sync_all()
        except Exception as exc:
            error = exc
    if error is not None and not expect_error:
        error.add_note(f"tap stderr (tail):\n{err.getvalue()[-4000:]}")
        raise error
    if error is None and expect_error:
        msg = "the tap run was expected to fail, and it did not"
        raise AssertionError(msg)
    messages = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    records: dict[str, list[dict[str, Any]]] = {}
    schemas: dict[str, dict[str, Any]] = {}
    states = []
    for message in messages:
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "STATE":
            states.append(message["value"])
    return {
        "messages": messages,
        "records": records,
        "schemas": schemas,
        "states": states,
        "state": states[-1] if states else None,
        "stderr": err.getvalue(),
        "error": error,
        "tap": tap,
    }


# -- the target ------------------------------------------------------------------------------
def run_listings(sb: Any, records: list[dict[str, Any]] | str, **settings: Any):
    """Run the target's listings stream on ``records``; return the run and the calls it made."""
    from cartcom_testing.listing_scenarios import run_target

    before = len(sb.calls)
    result = run_target(sb.base_url, sb.token, records, **settings)
    return result, sb.calls.snapshot()[before:]


def order_schema(stream: str) -> dict[str, Any]:
    """The documented schema of an order stream (shipments or acknowledgements)."""
    name = {"order_shipments": "order_shipment", "order_acknowledgements": "order_acknowledgement"}
    text = (
        resources.files("target_cartcom") / "schemas" / f"{name[stream]}.schema.json"
    ).read_text()
    return json.loads(text)


def order_singer_lines(stream: str, records: list[dict[str, Any]]) -> str:
    """A SCHEMA message of an order stream, then one RECORD message per record."""
    lines = [
        {"type": "SCHEMA", "stream": stream, "schema": order_schema(stream), "key_properties": []}
    ]
    lines += [{"type": "RECORD", "stream": stream, "record": r} for r in records]
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def run_orders(
    sandbox: Any, tmp_path: Path, stream: str, records: list[dict[str, Any]], **config: Any
):
    """Run the target's order stream in-process; return (results, summary, calls made)."""
    from target_cartcom.target import TargetCartcom

    results = tmp_path / f"results-{len(list(tmp_path.iterdir()))}.jsonl"
    cfg = {
        "api_url": sandbox.base_url,
        "access_token": sandbox.token,
        "calls_per_window": 100_000,
        "results_path": str(results),
        "fail_on_record_errors": False,
        **config,
    }
    before = len(sandbox.calls)
    target = TargetCartcom(config=cfg, parse_env_config=False)
    target.listen(io.StringIO(order_singer_lines(stream, records)))
    calls = sandbox.calls.snapshot()[before:]
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    return [x for x in lines if x.get("type") != "summary"], lines[-1], calls


# -- call lists ------------------------------------------------------------------------------
def reads(calls: Iterable[Any]) -> list[Any]:
    """The read calls."""
    return [c for c in calls if c.method == "GET"]


def writes(calls: Iterable[Any]) -> list[Any]:
    """The write calls."""
    return [c for c in calls if c.method != "GET"]


def routes(calls: Iterable[Any]) -> list[tuple[str, str]]:
    """(method, path without /api/v1) of every call."""
    return [(c.method, c.path.removeprefix(API_PREFIX)) for c in calls]


def write_routes(calls: Iterable[Any]) -> list[tuple[str, str]]:
    """(method, path without /api/v1) of every write call."""
    return routes(writes(calls))


def api_calls(server: Any) -> list[Any]:
    """Calls a sandbox logged on the API (its admin routes are not API calls)."""
    return [c for c in server.calls if c.path.startswith(f"{API_PREFIX}/")]


def longest_gap(stamps: Iterable[float]) -> float:
    """The longest time between two consecutive stamps (0 for fewer than two): a wait's bound."""
    ordered = sorted(stamps)
    return max((b - a for a, b in itertools.pairwise(ordered)), default=0.0)


def order_status_ids(server: Any) -> dict[str, int]:
    """The store's order statuses, name to id, read as a client would."""
    import requests

    rows = requests.get(
        f"{server.base_url}/order_statuses",
        params={"count": 100},
        headers={"X-AC-Auth-Token": server.token},
        timeout=10,
    ).json()["order_statuses"]
    return {row["name"]: row["id"] for row in rows}


def set_order_status(server: Any, order_id: int, status_id: int) -> None:
    """Move an order the way the admin console does (``PUT /orders/{id}/status``).

    The token is the one the plugins under test use, so a call right after their run can meet
    their calls still in the store's window: a 429 is waited out as its ``Retry-After`` says,
    as any client of the store would.
    """
    import time

    import requests

    for _ in range(5):
        response = requests.put(
            f"{server.base_url}/orders/{order_id}/status",
            json={"order_status_id": status_id},
            headers={"X-AC-Auth-Token": server.token},
            timeout=10,
        )
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    assert response.status_code == 200, response.text


def utc_datetime(stamp: str) -> datetime:
    """A Cart.com timestamp (any offset, 0-7 fractional digits) as an aware UTC datetime."""
    from cartcom_client.quirks import to_utc

    return datetime.fromisoformat(to_utc(stamp).replace("Z", "+00:00"))


def created_utc(record: dict[str, Any]) -> datetime:
    """When an order or product was created, in UTC."""
    return utc_datetime(record["created_at"])

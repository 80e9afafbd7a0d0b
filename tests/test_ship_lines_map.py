"""The line-shipping pipeline of meltano.yml: the tap's order_items become shipments.

A real ``tap-cartcom`` reads the lines of the Processing orders (``quantity`` as it emits them:
Cart.com's decimals, ``1.0``); target-cartcom, with ``target-cartcom-ship-lines``' config and
stream map as meltano.yml defines them, turns each line into a shipment. Every shipment lands and
every order ends Shipped or Partially Shipped; a replay writes nothing.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from target_cartcom.target import TargetCartcom

ROOT = Path(__file__).resolve().parent.parent
TAP = str(Path(sys.executable).with_name("tap-cartcom"))


def plugin_config(kind: str, name: str) -> dict[str, Any]:
    """A plugin's ``config`` (and ``select``) as meltano.yml defines it."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"][kind] if p["name"] == name)


def tap_lines(sandbox: Any, tmp_path: Path) -> str:
    """The Singer output of ``tap-processing-lines`` on the sandbox."""
    from tap_cartcom.tap import TapCartcom

    plugin = plugin_config("extractors", "tap-processing-lines")
    assert plugin["select"] == ["order_items.*"]
    config = {
        "access_token": sandbox.token,
        "api_url": sandbox.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        **plugin["config"],
        # The seeded store's orders are older than the default 30-day Get Orders window.
        "orders_created_within_days": 36500,
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    catalog = TapCartcom(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "order_items"
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "tap.json"), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def run_target(sandbox: Any, tmp_path: Path, lines: str, name: str) -> list[dict[str, Any]]:
    """target-cartcom with ``target-cartcom-ship-lines``' config; its result lines."""
    results = tmp_path / f"{name}.jsonl"
    config = {
        **plugin_config("loaders", "target-cartcom-ship-lines")["config"],
        "access_token": sandbox.token,
        "api_url": sandbox.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "results_path": str(results),
    }
    TargetCartcom(config=config, parse_env_config=False).listen(io.StringIO(lines))
    return [json.loads(x) for x in results.read_text().splitlines()]


def test_processing_order_lines_all_ship(seeded_sandbox, tmp_path: Path) -> None:
    """Every line of every Processing order ships; every such order ends (partially) shipped."""
    sb = seeded_sandbox
    processing = set(sb.order_ids("Processing"))
    lines = tap_lines(sb, tmp_path)
    items = [
        json.loads(x)["record"]
        for x in lines.splitlines()
        if x.startswith("{") and json.loads(x).get("type") == "RECORD"
    ]
    assert items
    assert {i["order_id"] for i in items} == processing
    assert any(isinstance(i["quantity"], float) for i in items)  # 1.0: as Cart.com sends it
    shippable = [
        i for i in items if not i.get("is_discount_item") and not i.get("is_non_shipping_item")
    ]

    before = len(sb.calls)
    results = run_target(sb, tmp_path, lines, "first")
    calls = sb.calls.snapshot()[before:]
    records = [r for r in results if r.get("type") != "summary"]
    summary = results[-1]
    assert summary["failed"] == 0, [r for r in records if r["outcome"] == "failed"][:3]
    assert len(records) == len(shippable)
    assert {r["outcome"] for r in records} == {"created"}
    assert {r["shipment_id"] for r in records} == {f"LINE-{i['id']}" for i in shippable}
    posts = [c for c in calls if c.method == "POST" and c.path.endswith("/order_shipments")]
    assert len(posts) == len(shippable)
    shipped = {sb.order_status_ids["Shipped"], sb.order_status_ids["Partially Shipped"]}
    for order_id in processing:
        assert sb.store.get("orders", order_id)["order_status_id"] in shipped

    before = len(sb.calls)
    again = run_target(sb, tmp_path, lines, "replay")
    assert [c for c in sb.calls.snapshot()[before:] if c.method != "GET"] == []
    assert {r["outcome"] for r in again if r.get("type") != "summary"} == {"unchanged"}

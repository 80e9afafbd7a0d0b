"""Hostile and malformed input, end to end on the sandbox (issue 14).

Each test runs the target on one batch mixing a bad record with good ones. The bad record fails
with an error naming its field, the good records of the same batch are applied (read back from
the sandbox's store), and the summary counts what happened.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cartcom_testing.listing_scenarios import build_catalog
from target_cartcom._client import AuthenticationError
from target_cartcom.target import TargetCartcom

SCHEMAS = resources.files("target_cartcom") / "schemas"
SCHEMA_FILES = {
    "listings": "listing",
    "order_shipments": "order_shipment",
    "order_acknowledgements": "order_acknowledgement",
}


def schema_line(stream: str) -> str:
    """The stream's SCHEMA message (the documented schema)."""
    schema = json.loads((SCHEMAS / f"{SCHEMA_FILES[stream]}.schema.json").read_text())
    for key in ("examples", "$id", "$schema"):
        schema.pop(key, None)
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": []})


def record_line(stream: str, record: dict[str, Any]) -> str:
    """A RECORD message; ``json.dumps`` writes NaN as the bare ``NaN`` a Python tap would."""
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def run(sb: Any, tmp_path: Path, lines: list[str], **config: Any) -> dict[str, Any]:
    """Run the target in-process on raw Singer lines; results, summary, calls and the error."""
    results = tmp_path / f"results-{len(list(tmp_path.iterdir()))}.jsonl"
    cfg = {
        "api_url": sb.base_url,
        "access_token": sb.token,
        "calls_per_window": 100_000,
        "results_path": str(results),
        "fail_on_record_errors": False,
        **config,
    }
    before = len(sb.calls)
    error: Exception | None = None
    try:
        TargetCartcom(config=cfg, parse_env_config=False).listen(io.StringIO("\n".join(lines)))
    except Exception as exc:
        error = exc
    out = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines()]
    return {
        "results": [x for x in out if x.get("type") != "summary"],
        "summary": out[-1] if out and out[-1].get("type") == "summary" else None,
        "calls": sb.calls.snapshot()[before:],
        "error": error,
    }


def by_key(run_: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Result lines by record key."""
    return {r.get("key"): r for r in run_["results"]}


def shipments(sb: Any, order_id: int) -> list[str]:
    """The shipment names the store holds for an order."""
    return [s["shipment_name"] for s in sb.store.query("order_shipments", {"order_id": order_id})]


def price_listings(*skus_prices: tuple[str, float]) -> list[dict[str, Any]]:
    """Parent-only listings that set a product's price (a sync PUT when it differs)."""
    return [{"sku": sku, "price": price} for sku, price in skus_prices]


# -- 1. per-record isolation ------------------------------------------------------------------
def test_nan_shipment_quantity_fails_alone(seeded_sandbox, tmp_path):
    """``quantity: NaN`` fails its record (``items[0].quantity``); the two good ones ship."""
    a, b, c = seeded_sandbox.processing_order_ids[:3]
    item_b = seeded_sandbox.store.query("order_items", {"order_id": b})[0]["id"]
    lines = [
        schema_line("order_shipments"),
        record_line("order_shipments", {"order_id": a, "shipment_id": "OK-A"}),
        record_line(
            "order_shipments",
            {
                "order_id": b,
                "shipment_id": "BAD-B",
                "items": [{"order_item_id": item_b, "quantity": float("nan")}],
            },
        ),
        record_line("order_shipments", {"order_id": c, "shipment_id": "OK-C"}),
    ]
    assert "NaN" in lines[2]
    result = run(seeded_sandbox, tmp_path, lines)
    assert result["error"] is None
    bad = by_key(result)["BAD-B"]
    assert (bad["outcome"], bad["field"]) == ("failed", "items[0].quantity")
    assert "whole number" in bad["error"]
    assert [by_key(result)[k]["outcome"] for k in ("OK-A", "OK-C")] == ["created", "created"]
    assert (shipments(seeded_sandbox, a), shipments(seeded_sandbox, b)) == (["OK-A"], [])
    assert shipments(seeded_sandbox, c) == ["OK-C"]
    summary = result["summary"]
    assert summary["outcomes"] == {"order_shipments": {"created": 2, "failed": 1}}
    assert (summary["failed"], summary["status"]) == (1, "completed")


def _label(sb: Any, status: str, count: int) -> list[int]:
    ids = sb.order_ids(status)[:count]
    for n, oid in enumerate(ids):
        sb.store.update("orders", oid, {"order_number": f"HOSTILE-{n}"})
    return ids


@pytest.mark.parametrize(
    ("bad_number", "reason"),
    [
        ("N" * 3000, "characters long once URL-encoded"),
        ("NOPE OR not:zzz", "connector"),
        ("NOPE AND id:gt:0", "connector"),
    ],
    ids=["3000-characters", "or-widening", "and-widening"],
)
def test_order_number_that_cannot_be_looked_up_exactly_fails_alone(
    seeded_sandbox, tmp_path, bad_number, reason
):
    """A too-long or widening ``order_number`` never reaches a query; the others are applied."""
    first, second = _label(seeded_sandbox, "Pending", 2)
    processing = seeded_sandbox.order_status_ids["Processing"]
    lines = [
        schema_line("order_acknowledgements"),
        record_line(
            "order_acknowledgements", {"order_number": "HOSTILE-0", "status": "Processing"}
        ),
        record_line("order_acknowledgements", {"order_number": bad_number, "status": "Processing"}),
        record_line("order_acknowledgements", {"order_id": second, "status": "Processing"}),
    ]
    result = run(seeded_sandbox, tmp_path, lines)
    assert result["error"] is None
    outcomes = [(r["outcome"], r.get("field")) for r in result["results"]]
    assert outcomes == [("updated", None), ("failed", "order_number"), ("updated", None)]
    assert reason in result["results"][1]["error"]
    assert all(bad_number[:8] not in c.query for c in result["calls"])
    orders = [seeded_sandbox.store.get("orders", oid) for oid in (first, second)]
    assert [o["order_status_id"] for o in orders] == [processing, processing]
    assert result["summary"]["outcomes"] == {"order_acknowledgements": {"failed": 1, "updated": 2}}
    assert result["summary"]["failed"] == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"sku": "CAT-000002\ud800", "price": 31.0}, "sku"),
        (
            {"sku": "CAT-000002", "variants": [{"sku": "X-\ud800", "options": {"Size": "S"}}]},
            "variants[0].sku",
        ),
    ],
    ids=["sku", "variant-sku"],
)
def test_lone_surrogate_fails_alone(sandbox, tmp_path, bad, field):
    """Invalid UTF-8 text fails its record with the field; the other listings sync."""
    build_catalog(sandbox.store, 3)
    lines = [
        schema_line("listings"),
        record_line("listings", {"sku": "CAT-000001", "price": 31.0}),
        record_line("listings", bad),
        record_line("listings", {"sku": "CAT-000003", "price": 33.0}),
    ]
    assert "\\ud800" in lines[2]
    result = run(sandbox, tmp_path, lines)
    assert result["error"] is None
    failed = result["results"][0]
    assert (failed["outcome"], failed["field"]) == ("failed", field)
    assert "lone surrogate" in failed["error"]
    assert [r["outcome"] for r in result["results"][1:]] == ["updated", "updated"]
    prices = [sandbox.store.get("products", pid)["price"] for pid in (1, 2, 3)]
    assert prices == [31.0, 20.0, 33.0]
    assert result["summary"]["outcomes"] == {"listings": {"failed": 1, "updated": 2}}


def test_deep_nesting_and_broken_lines_fail_alone(sandbox, tmp_path):
    """100,000 levels of nesting, and a line that is not JSON: each fails as one record."""
    build_catalog(sandbox.store, 3)
    depth = 100_000
    deep = (
        '{"type": "RECORD", "stream": "listings", "record": {"sku": "DEEP-1", "extra": '
        + "[" * depth
        + "]" * depth
        + "}}"
    )
    broken = '{"type": "RECORD", "stream": "listings", "record": {"sku": "BROKEN-1", "price": }}'
    lines = [
        schema_line("listings"),
        record_line("listings", {"sku": "CAT-000001", "price": 31.0}),
        deep,
        broken,
        record_line("listings", {"sku": "CAT-000003", "price": 33.0}),
    ]
    result = run(sandbox, tmp_path, lines)
    assert result["error"] is None
    results = by_key(result)
    assert (results["DEEP-1"]["outcome"], results["DEEP-1"]["field"]) == ("failed", "extra")
    assert "nested" in results["DEEP-1"]["error"]
    assert results["BROKEN-1"]["outcome"] == "failed"
    assert "not valid JSON" in results["BROKEN-1"]["error"]
    assert results["BROKEN-1"]["stream"] == results["DEEP-1"]["stream"] == "listings"
    assert [results[k]["outcome"] for k in ("CAT-000001", "CAT-000003")] == ["updated"] * 2
    prices = [sandbox.store.get("products", pid)["price"] for pid in (1, 2, 3)]
    assert prices == [31.0, 20.0, 33.0]
    assert result["summary"]["outcomes"] == {"listings": {"failed": 2, "updated": 2}}
    assert result["summary"]["failed"] == 2


def test_server_error_outlasting_retries_fails_the_record_in_both_sinks(
    seeded_sandbox, tmp_path, monkeypatch
):
    """A 503 on every try fails that record (listings and orders alike); the run goes on."""
    monkeypatch.setattr("target_cartcom._client.session.retry_wait_seconds", lambda *_: 0.0)
    a, b = seeded_sandbox.processing_order_ids[:2]
    seeded_sandbox.faults.script(
        [
            {
                "kind": "status",
                "status": 503,
                "method": "POST",
                "path": "/order_shipments",
                "times": 6,
            }
        ]
    )
    lines = [
        schema_line("order_shipments"),
        record_line("order_shipments", {"order_id": a, "shipment_id": "FIVE-A"}),
        record_line("order_shipments", {"order_id": b, "shipment_id": "OK-B"}),
    ]
    result = run(seeded_sandbox, tmp_path, lines)
    assert result["error"] is None
    assert [r["outcome"] for r in result["results"]] == ["failed", "created"]
    assert "503" in result["results"][0]["error"]
    assert (shipments(seeded_sandbox, a), shipments(seeded_sandbox, b)) == ([], ["OK-B"])
    assert result["summary"]["status"] == "completed"

    products = [p["id"] for p in seeded_sandbox.store.query("products", None)[:2]]
    skus = [seeded_sandbox.store.get("products", pid)["item_number"] for pid in products]
    seeded_sandbox.faults.script(
        [
            {
                "kind": "status",
                "status": 503,
                "method": "PUT",
                "path": f"/products/{products[0]}",
                "times": 6,
            }
        ]
    )
    lines = [
        schema_line("listings"),
        record_line("listings", {"sku": skus[0], "price": 1234.5}),
        record_line("listings", {"sku": skus[1], "price": 1234.5}),
    ]
    result = run(seeded_sandbox, tmp_path, lines, index_mode="lookup")
    assert result["error"] is None
    assert [r["outcome"] for r in result["results"]] == ["failed", "updated"]
    assert "503" in result["results"][0]["error"]
    assert seeded_sandbox.store.get("products", products[1])["price"] == 1234.5
    assert seeded_sandbox.store.get("products", products[0])["price"] != 1234.5


def test_refused_token_aborts_with_the_reason(sandbox, tmp_path):
    """A 401 cannot get better for the next record: the summary says aborted, and why."""
    build_catalog(sandbox.store, 2)
    lines = [schema_line("listings"), record_line("listings", {"sku": "CAT-000001", "price": 9})]
    result = run(sandbox, tmp_path, lines, access_token="wrong-token")
    assert isinstance(result["error"], AuthenticationError)
    summary = result["summary"]
    assert summary["status"] == "aborted"
    assert "401" in summary["reason"]
    assert "access_token" in summary["reason"]
    assert "wrong-token" not in json.dumps(summary)
    assert sandbox.store.get("products", 1)["price"] == 20.0


def test_refused_token_exits_non_zero(sandbox, tmp_path):
    """Through the CLI: exit code non-zero, and the results file ends with the aborted summary."""
    build_catalog(sandbox.store, 2)
    results = tmp_path / "results.jsonl"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "api_url": sandbox.base_url,
                "access_token": "wrong-token",
                "results_path": str(results),
            }
        )
    )
    text = "\n".join(
        [schema_line("listings"), record_line("listings", {"sku": "CAT-000001", "price": 9})]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "target_cartcom", "--config", str(config)],
        input=text.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    summary = json.loads(results.read_text().splitlines()[-1])
    assert (summary["type"], summary["status"]) == ("summary", "aborted")
    assert "wrong-token" not in proc.stderr.decode() + proc.stdout.decode()


# -- 3. one matching rule ---------------------------------------------------------------------
@pytest.mark.parametrize("index_mode", ["catalog", "lookup"])
def test_lookalike_skus_are_ambiguous_in_every_index_mode(sandbox, tmp_path, index_mode):
    r"""``\u212aBC-1`` and ``straße-1`` match nothing silently; ASCII case still folds."""
    build_catalog(sandbox.store, 3)
    sandbox.store.update("products", 1, {"item_number": "KBC-1"})
    sandbox.store.update("products", 2, {"item_number": "STRASSE-1"})
    lines = [
        schema_line("listings"),
        record_line("listings", {"sku": "\u212aBC-1", "price": 41.0}),
        record_line("listings", {"sku": "straße-1", "price": 42.0}),
        record_line("listings", {"sku": "cat-000003", "price": 43.0}),
    ]
    result = run(sandbox, tmp_path, lines, index_mode=index_mode)
    assert result["error"] is None
    outcomes = [(r["outcome"], r.get("field")) for r in result["results"]]
    assert outcomes == [("failed", "sku"), ("failed", "sku"), ("updated", None)]
    assert "'KBC-1'" in result["results"][0]["error"]
    assert "'STRASSE-1'" in result["results"][1]["error"]
    prices = [sandbox.store.get("products", pid)["price"] for pid in (1, 2, 3)]
    assert prices == [20.0, 20.0, 43.0]
    assert len(sandbox.store.query("products", None)) == 3
    assert result["summary"]["outcomes"] == {"listings": {"failed": 2, "updated": 1}}


# -- 4. a UPC link to another SKU -------------------------------------------------------------
@pytest.mark.parametrize("writes", [True, False])
def test_upc_link_to_another_sku_names_both_skus(sandbox, tmp_path, writes):
    """A new SKU carrying product 1's UPC: the result names both; the setting decides the write."""
    build_catalog(sandbox.store, 2, variants_per_product=0)
    sandbox.store.update("products", 1, {"gtin": "012345678905"})
    lines = [
        schema_line("listings"),
        record_line("listings", {"sku": "NEW-SKU-1", "upc": "012345678905", "price": 55.0}),
        record_line("listings", {"sku": "CAT-000002", "price": 56.0}),
    ]
    result = run(sandbox, tmp_path, lines, upc_link_writes=writes)
    assert result["error"] is None
    linked, plain = result["results"]
    assert linked["ids"]["store_skus"] == {"NEW-SKU-1": "CAT-000001"}
    message = linked.get("warning") if writes else linked.get("error")
    assert "'CAT-000001'" in message
    assert "'NEW-SKU-1'" in message
    assert linked["outcome"] == ("updated" if writes else "skipped")
    assert sandbox.store.get("products", 1)["price"] == (55.0 if writes else 20.0)
    assert plain["outcome"] == "updated"
    assert "warning" not in plain
    assert sandbox.store.get("products", 2)["price"] == 56.0
    expected = {"updated": 2} if writes else {"skipped": 1, "updated": 1}
    assert result["summary"]["outcomes"] == {"listings": expected}


def test_same_listings_catalog_and_lookup_agree(sandbox, tmp_path):
    """Catalog mode and lookup mode give the same outcome per record for one hostile feed."""
    build_catalog(sandbox.store, 3)
    sandbox.store.update("products", 1, {"item_number": "KBC-1"})
    feed = [
        {"sku": "kbc-1", "price": 20.0},
        {"sku": "\u212aBC-1", "price": 1.0},
        {"sku": "eq:CAT-000002", "price": 1.0},
        {"sku": "CAT-000003", "price": 20.0},
    ]
    lines = [schema_line("listings")] + [record_line("listings", r) for r in feed]
    seen = []
    for mode in ("catalog", "lookup"):
        result = run(sandbox, tmp_path, lines, index_mode=mode, operations=["link"])
        seen.append([(r["key"], r["outcome"], r.get("field")) for r in result["results"]])
    assert seen[0] == seen[1]
    assert [x[1] for x in seen[0]] == ["linked", "failed", "skipped", "linked"]


def test_unreachable_store_aborts_with_the_reason(sandbox, tmp_path, monkeypatch):
    """No answer after every retry: the store is lost, the run stops and says why."""
    monkeypatch.setattr("target_cartcom._client.session.retry_wait_seconds", lambda *_: 0.0)
    base = sandbox.base_url
    sandbox.stop()
    lines = [schema_line("listings"), record_line("listings", {"sku": "CAT-000001", "price": 9})]
    result = run(sandbox, tmp_path, lines, api_url=base)
    assert result["error"] is not None
    assert result["summary"]["status"] == "aborted"
    host = base.split("://", 1)[1].split("/", 1)[0]
    reason = result["summary"]["reason"]
    assert f"Cannot reach the store at {host} (from `api_url`): connection refused" in reason
    assert result["results"] == []


def test_an_unexpected_error_fails_only_its_listing(sandbox, tmp_path, monkeypatch):
    """Even a bug while handling one listing fails that listing, with the field in progress."""
    import target_cartcom.listings.batch as batch_module

    real = batch_module.sync_listing

    def flaky(ctx, listing, link, out):
        if listing.sku == "CAT-000002":
            ctx.field = "price"
            raise ZeroDivisionError("division by zero")
        return real(ctx, listing, link, out)

    monkeypatch.setattr(batch_module, "sync_listing", flaky)
    build_catalog(sandbox.store, 3)
    lines = [schema_line("listings")] + [
        record_line("listings", {"sku": f"CAT-00000{n}", "price": 30.0 + n}) for n in (1, 2, 3)
    ]
    result = run(sandbox, tmp_path, lines)
    assert result["error"] is None
    outcomes = [(r["outcome"], r.get("field")) for r in result["results"]]
    assert outcomes == [("updated", None), ("failed", "price"), ("updated", None)]
    assert result["results"][1]["error"] == "unexpected ZeroDivisionError: division by zero"
    prices = [sandbox.store.get("products", pid)["price"] for pid in (1, 2, 3)]
    assert prices == [31.0, 20.0, 33.0]
    assert result["summary"]["outcomes"] == {"listings": {"failed": 1, "updated": 2}}


@pytest.mark.parametrize("order", ["ascii-first", "lookalike-first"])
def test_lookalikes_within_one_input_are_one_sku(sandbox, tmp_path, order):
    r"""``KBC-1`` and ``\u212aBC-1`` in one feed: publish creates one product, the later fails."""
    build_catalog(sandbox.store, 1)
    pair = [{"sku": "KBC-1", "title": "Kay"}, {"sku": "\u212aBC-1", "title": "Kelvin"}]
    if order == "lookalike-first":
        pair.reverse()
    feed = [
        {**r, "price": 10.0, "quantity": 1, "categories": ["Apparel"], "brand": "Northwind"}
        for r in pair
    ]
    lines = [schema_line("listings")] + [record_line("listings", r) for r in feed]
    result = run(sandbox, tmp_path, lines, operations=["link", "sync", "publish"])
    assert result["error"] is None
    outcomes = [(r["key"], r["outcome"], r.get("field")) for r in result["results"]]
    assert outcomes == [(pair[0]["sku"], "created", None), (pair[1]["sku"], "failed", "sku")]
    first = {"ascii-first": "listing KBC-1", "lookalike-first": "listing \u212aBC-1, a look-alike"}
    assert f"earlier in this input ({first[order]})" in result["results"][1]["error"]
    skus = sorted(p["item_number"] for p in sandbox.store.query("products", None))
    assert skus == sorted(["CAT-000001", pair[0]["sku"]])


def _wide(objects: int) -> str:
    """A record holding ``objects`` small objects side by side (many brackets, 4 levels)."""
    inner = ",".join(['{"v":2.50}'] * objects)
    return '{"type":"RECORD","stream":"listings","record":{"sku":"A","x":[' + inner + "]}}"


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"RECORD","stream":"listings","record":{"sku":"A","price":20.50,"w":1e5}}',
        '{"type":"RECORD","stream":"listings","record":{"sku":"\\u00e9","n":123456789012345678901234567890}}',
        _wide(100),  # read by msgspec
        _wide(300),  # more brackets than FAST_BRACKETS: read by json
        '{"type":"RECORD","stream":"listings","record":{"sku":"A","price":NaN}}',
        '{"type":"STATE","value":{"a":1.0}}',
    ],
)
def test_reader_reads_a_line_as_the_sdk_reader_does(line):
    """msgspec reads what it can, json the rest: the same values and types (floats as Decimal)."""
    from singer_sdk.singerlib.json import deserialize_json
    from target_cartcom.reader import RecordReader

    got = RecordReader().deserialize_json(line)
    assert repr(got) == repr(deserialize_json(line))


def test_fewer_collections_restores_the_threshold():
    """The collector's threshold is raised while reading and put back after, even on an error."""
    import gc

    from target_cartcom.reader import YOUNG_COLLECTION_EVERY, fewer_collections

    before = gc.get_threshold()
    inside = []

    def read() -> None:
        with fewer_collections():
            inside.append(gc.get_threshold())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        read()
    assert inside[0][0] >= YOUNG_COLLECTION_EVERY
    assert gc.get_threshold() == before


def test_a_variant_sku_seen_earlier_names_where_it_first_came(sandbox, tmp_path):
    """A variant SKU a previous listing's variant carried: the later variant fails, naming both."""
    build_catalog(sandbox.store, 1)
    feed = [
        {
            "sku": "P-1",
            "variants": [
                {"sku": "V-0", "options": {"S": "0"}},
                {"sku": "V-1", "options": {"S": "1"}},
            ],
        },
        {
            "sku": "P-2",
            "variants": [
                {"sku": "V-2", "options": {"S": "2"}},
                {"sku": "v-1", "options": {"S": "1"}},
            ],
        },
    ]
    lines = [schema_line("listings")] + [record_line("listings", r) for r in feed]
    result = run(sandbox, tmp_path, lines, operations=["link", "sync"])
    failed = result["results"][1]
    assert (failed["key"], failed["outcome"], failed.get("field")) == (
        "P-2",
        "failed",
        "variants[1].sku",
    )
    assert failed["error"] == (
        "'v-1' already came earlier in this input (listing P-1 variants[1].sku); "
        "only the first is applied"
    )

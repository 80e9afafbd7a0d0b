"""The compiled selection + conformance gives exactly what the SDK's two per-record walks give."""

from __future__ import annotations

import copy
import logging

import pytest
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_cartcom.conform import compile_conformer
from tap_test_support import base_config, run_tap

STREAMS = (
    "orders",
    "order_items",
    "order_shipments",
    "order_payments",
    "order_addresses",
    "products",
)


def _sdk(record, stream):
    """What the SDK 0.54 does to a record before writing it (``_generate_record_messages``)."""
    record = copy.deepcopy(record)
    pop_deselected_record_properties(record, stream.schema, stream.mask)
    return conform_record_data_types(
        stream_name=stream.name,
        record=record,
        schema=stream.effective_schema,
        level=TypeConformanceLevel.RECURSIVE,
        logger=logging.getLogger("test"),
    )


def _raw_records(fake, name):
    """Rows shaped as the API sends them (unknown fields, 0/1 flags, nested arrays)."""
    if name == "products":
        return [dict(p) for p in fake.products]
    if name == "order_addresses":
        return list(fake.addresses.values())
    rows = []
    for order in fake.orders:
        if name == "orders":
            row = {key.removeprefix("_"): value for key, value in order.items()}
            row["billing_address"] = fake.addresses[order["order_billing_address_id"]]
            row["shipping_address"] = fake.addresses[order["order_shipping_address_id"]]
            rows.append(row)
        else:
            rows.extend(order["_" + name.removeprefix("order_")])
    return rows


def _tricky(record):
    """Variants the real API sends: numbers in boolean fields, unknown keys, nested oddities."""
    out = copy.deepcopy(record)
    out["a_new_api_field"] = {"x": 1}
    for key, value in list(out.items()):
        if isinstance(value, bool):
            out[key] = int(value) if len(key) % 2 else ("0" if value else 0)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item["unknown_nested"] = [1, 2]
                    for sub, inner in list(item.items()):
                        if isinstance(inner, bool):
                            item[sub] = 1 if inner else 0
        elif isinstance(value, dict):
            value["unknown_nested"] = None
    return out


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("deselect", [(), ("first",), ("first", "nested")])
def test_compiled_conformer_matches_the_sdk(fake, name, deselect):
    """Same keys, order, values and types as the SDK, with and without deselected fields."""
    run = run_tap(base_config(), streams=STREAMS)
    stream = run["tap"].streams[name]
    properties = list(stream.schema["properties"])
    if deselect:
        stream.metadata[("properties", properties[1])].selected = False
        nested = [
            p
            for p, s in stream.schema["properties"].items()
            if "object" in (s.get("type") or []) and s.get("properties")
        ]
        if "nested" in deselect and nested:
            inner = next(iter(stream.schema["properties"][nested[0]]["properties"]))
            stream.metadata[("properties", nested[0], "properties", inner)] = type(
                stream.metadata[("properties", properties[1])]
            )(selected=False)
        stream._mask = stream.metadata.resolve_selection()
    conform = compile_conformer(stream.effective_schema, stream.mask)
    raw = _raw_records(fake, name)
    assert raw
    checked = 0
    for record in raw[:40]:
        for variant in (record, _tricky(record)):
            expected = _sdk(variant, stream)
            got, _ = conform(copy.deepcopy(variant))
            assert got == expected
            assert list(got) == list(expected)
            assert _types(got) == _types(expected)
            checked += 1
    assert checked >= 2


def _types(value):
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["integer", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "either": {"type": ["integer", "boolean", "null"]},
        "flags": {"type": ["array", "null"], "items": {"type": ["boolean"]}},
        "sub": {
            "type": ["object", "null"],
            "properties": {"on": {"type": "boolean"}, "n": {"type": "integer"}},
        },
        "bag": {"type": ["object", "null"], "properties": {}, "additionalProperties": True},
        "rows": {
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"ok": {"type": ["boolean", "null"]}}},
        },
    },
}


def test_closed_schema_drops_and_names_unknown_properties():
    """No additionalProperties: unknown keys dropped and named with their dotted path."""
    from singer_sdk.helpers._typing import _conform_record_data_types
    from singer_sdk.singerlib import SelectionMask

    record = {
        "id": 1,
        "brand_new": 2,
        "flag": 0,
        "either": 1,
        "flags": [1, 0, True, None],
        "sub": {"on": 1, "n": 0, "extra": 5},
        "bag": {"anything": {"x": 1}},
        "rows": [{"ok": 0, "stray": 1}, "not an object"],
    }
    got, unmapped = compile_conformer(SCHEMA, SelectionMask())(copy.deepcopy(record))
    expected, sdk_unmapped = _conform_record_data_types(
        copy.deepcopy(record), SCHEMA, TypeConformanceLevel.RECURSIVE, None
    )
    assert got == expected
    assert _types(got) == _types(expected)
    assert sorted(unmapped) == sorted(sdk_unmapped) == ["brand_new", "rows.stray", "sub.extra"]
    assert got["flag"] is False
    assert got["sub"] == {"on": True, "n": 0}


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T06:00:00-06:00",
        "2024-03-01T06:00:00.1-06:00",
        "2024-03-01T06:00:00.1234567+05:30",
        "2024-03-01T06:00:00.9999999-00:00",
        "2024-03-01 06:00:00",
        "2024-03-01T06:00:00Z",
        "2024-03-01T06:00:00.5z",
        "2024-11-03T01:30:00-05:00",
        "0999-12-31T23:00:00-02:00",
        " 2024-03-01T06:00:00Z ",
        "2024-03-01",
        "",
    ],
)
def test_fast_datetime_path_matches_to_utc(value):
    """The fromisoformat fast path gives exactly the shared client's ``to_utc`` string."""
    from tap_cartcom._client.quirks import to_utc
    from tap_cartcom.normalise import _fast_utc

    assert _fast_utc(value) == to_utc(value)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T06:00:00-06:00",
        "2024-03-01T06:00:00.1-06:00",
        "2024-03-01T06:00:00.1234567+05:30",
        "2024-03-01 06:00:00",
        "2024-03-01T06:00:00Z",
        "2024-11-03T01:30:00-05:00",
        " 2024-03-01T06:00:00-05:00 ",
        "2024-03-01",
        "",
    ],
)
def test_fast_local_path_matches_to_local(value):
    """The fast path of the ``_local`` twin gives exactly the shared client's ``to_local``."""
    from tap_cartcom._client.quirks import to_local
    from tap_cartcom.normalise import _fast_local

    assert _fast_local(value) == to_local(value)


def test_page_with_nan_parses_as_null_and_truncated_page_fails():
    """msgspec refuses NaN: the json fallback reads it as null; a cut body still fails."""
    from tap_cartcom._client.body import decode_page

    assert decode_page(b'{"orders": [{"id": 1, "subtotal": NaN, "tax": Infinity}]}') == {
        "orders": [{"id": 1, "subtotal": None, "tax": None}]
    }
    with pytest.raises(ValueError, match=r"."):
        decode_page(b'{"orders": [{"id": 1, "sub')


def test_open_schema_keeps_unknown_keys_but_drops_deselected_ones():
    """additionalProperties: unknown keys pass, unless the catalog deselects them by name."""
    from singer_sdk.singerlib import SelectionMask

    schema = {**SCHEMA, "additionalProperties": True}
    mask = SelectionMask({(): True, ("properties", "gone"): False, ("properties", "flag"): False})
    record = {"id": 1, "flag": 1, "gone": 2, "kept": 3, "sub": {"on": 0, "x": 1}}
    got, unmapped = compile_conformer(schema, mask)(copy.deepcopy(record))
    expected = copy.deepcopy(record)
    pop_deselected_record_properties(expected, schema, mask)
    expected = conform_record_data_types(
        "s", expected, schema, TypeConformanceLevel.RECURSIVE, logging.getLogger("test")
    )
    assert got == expected == {"id": 1, "kept": 3, "sub": {"on": False}}
    assert unmapped == ["sub.x"]


class _Stdout:
    """A stdout with a binary buffer that logs writes and flushes in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.buffer = self

    def write(self, data: bytes) -> int:
        self.events.append(data.decode())
        return len(data)

    def flush(self) -> None:
        self.events.append("FLUSH")


def test_writer_flushes_after_each_state_not_after_each_record(monkeypatch):
    """RECORD lines stay buffered; a STATE flushes, so it never waits behind its records."""
    import json
    import sys

    from singer_sdk.singerlib import RecordMessage, StateMessage
    from tap_cartcom.writer import CartcomWriter

    out = _Stdout()
    monkeypatch.setattr(sys, "stdout", out)
    writer = CartcomWriter()
    writer.write_message(RecordMessage(stream="orders", record={"id": 1, "ok": True}))
    writer.write_message(RecordMessage(stream="orders", record={"id": 2, "ok": None}))
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    lines = [e for e in out.events if e != "FLUSH"]
    assert [json.loads(x)["type"] for x in lines] == ["RECORD", "RECORD", "STATE"]
    assert json.loads(lines[0])["record"] == {"id": 1, "ok": True}
    assert out.events.index("FLUSH") == 3
    assert out.events.count("FLUSH") == 1

"""Quirk normalisation: timestamps to UTC, "" dates, list keys found by shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cartcom_client import collection_key, records_from_page, to_utc
from cartcom_client.quirks import format_filter_datetime, parse_datetime


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2014-03-19T13:31:47-05:00", "2014-03-19T18:31:47.000000Z"),
        ("2013-11-04T09:36:05.7-06:00", "2013-11-04T15:36:05.700000Z"),
        ("2014-03-19T13:31:47.923-05:00", "2014-03-19T18:31:47.923000Z"),
        ("2021-10-06T14:28:52.971510-05:00", "2021-10-06T19:28:52.971510Z"),
        ("2021-10-06T14:28:52.9715109-05:00", "2021-10-06T19:28:52.971510Z"),
        ("2021-10-06T14:28:52.12+02:00", "2021-10-06T12:28:52.120000Z"),
        ("2021-10-06T14:28:52+0530", "2021-10-06T08:58:52.000000Z"),
        ("2014-05-12T00:00:00.0Z", "2014-05-12T00:00:00.000000Z"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00.000000Z"),
        ("2024-05-01 12:00:00.5", "2024-05-01T12:00:00.500000Z"),
        ("2024-05-01", "2024-05-01T00:00:00.000000Z"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_to_utc(raw, expected):
    """Any offset and 0 to 7 fraction digits give one sortable UTC form; "" and null give None."""
    assert to_utc(raw) == expected


def test_to_utc_keeps_time_order_across_offsets():
    """Lexical order of the normalised strings is time order (what bookmarks compare)."""
    values = [
        "2024-03-10T01:59:59.9999999-06:00",
        "2024-03-10T03:00:00-05:00",
        "2024-03-10T08:00:00.5Z",
        "2024-03-10T04:00:01.1-05:00",
    ]
    normalised = [to_utc(v) for v in values]
    parsed = [parse_datetime(v) for v in values]
    assert sorted(normalised) == [to_utc(v) for _, v in sorted(zip(parsed, values, strict=True))]


def test_to_utc_rejects_garbage_and_accepts_datetime():
    """Unparseable text raises; aware and naive datetimes are accepted (naive = UTC)."""
    with pytest.raises(ValueError, match="Invalid isoformat"):
        to_utc("yesterday")
    assert to_utc(datetime(2024, 1, 1, 6, tzinfo=UTC)) == "2024-01-01T06:00:00.000000Z"
    assert to_utc(datetime(2024, 1, 1, 6)) == "2024-01-01T06:00:00.000000Z"
    assert format_filter_datetime(datetime(2024, 1, 1)) == "2024-01-01T00:00:00.000000Z"
    assert "+" not in format_filter_datetime(datetime.now(UTC))


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"total_count": 2, "orders": [{}], "next_page": "x"}, "orders"),
        ({"total_count": 2, "items": [{}]}, "items"),
        ({"total_count": 2, "payments": []}, "payments"),
        ({"services": [{}], "previous_page": "x"}, "services"),
        ({"total_count": 1, "a": [], "b": []}, None),
        ({"total_count": 0, "orders": None}, None),
    ],
)
def test_collection_key_by_shape(payload, key):
    """The one array-valued key that is not paging metadata, whatever its name."""
    assert collection_key(payload) == key


def test_records_from_page_shapes():
    """Wrapper, null list, bare list and bare object."""
    assert records_from_page({"total_count": 1, "items": [{"id": 1}]}) == [{"id": 1}]
    assert records_from_page({"total_count": 0, "orders": None}) == []
    assert records_from_page([{"id": 2}]) == [{"id": 2}]
    assert records_from_page({"id": 3, "name": "x"}) == [{"id": 3, "name": "x"}]
    assert records_from_page(None) == []

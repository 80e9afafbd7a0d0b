"""Pieces shared by the two order streams.

Record parsing helpers; the per-record error and outcome are the target's own
(``target_cartcom.outcomes``), the same for listings and orders.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from target_cartcom._client.quirks import parse_datetime
from target_cartcom.outcomes import Outcome, RecordError, lookup_value, shorten

__all__ = ["Outcome", "RecordError", "format_when", "order_ref", "parse_when"]


def parse_when(value: Any, field_name: str) -> datetime | None:
    """A record's date-time as an aware datetime (no offset means UTC); malformed ones fail."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = parse_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        msg = (
            f"malformed date in `{field_name}`: {value!r} "
            "(expected ISO 8601, e.g. 2024-05-01T14:30:00Z)"
        )
        raise RecordError(field_name, msg)
    return parsed


def format_when(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as Cart.com accepts in bodies (docs/api.md §1.6)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_ref(record: dict[str, Any]) -> tuple[int | None, str | None]:
    """The record's ``order_id`` (an integer) or ``order_number``; one is required."""
    order_id = record.get("order_id")
    number = record.get("order_number")
    if order_id not in (None, ""):
        text = str(order_id).strip()
        # ASCII digits only (``"²".isdigit()`` is true), and no more than an id column holds.
        if isinstance(order_id, bool) or not (text.isascii() and text.isdigit()) or len(text) > 18:
            msg = f"`order_id` must be a positive integer, got {shorten(order_id)}"
            raise RecordError("order_id", msg)
        return int(str(order_id).strip()), None
    if number not in (None, "") and str(number).strip():
        return None, lookup_value("order_number", str(number).strip())
    msg = "the record needs `order_id` or `order_number`"
    raise RecordError("order_id", msg)


def without_date_formats(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stream schema without date formats.

    The SDK parses date-time fields before a sink sees them and raises on a malformed value,
    stopping the whole run; the order sinks parse dates themselves, as per-record errors.
    """
    copied = copy.deepcopy(schema)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") in ("date-time", "date", "time"):
                node.pop("format")
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(copied)
    return copied

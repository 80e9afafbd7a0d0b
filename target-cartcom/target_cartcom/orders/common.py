"""Pieces shared by the two order streams.

Per-record errors, record parsing helpers, and the per-record outcome that becomes a results line.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from target_cartcom._client import (
    AuthenticationError,
    CartcomAPIError,
    RateLimitedError,
    TransientAPIError,
)
from target_cartcom._client.quirks import parse_datetime
from target_cartcom.plan import PlannedCall
from target_cartcom.results import RecordResult


class RecordError(Exception):
    """A problem with one record: it fails, the others go through."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        """Keep the message and the field it concerns."""
        super().__init__(message)
        self.field = field_name


def is_record_level(error: CartcomAPIError) -> bool:
    """True when Cart.com refused this record's write (4xx), not the whole job."""
    if isinstance(error, AuthenticationError | RateLimitedError | TransientAPIError):
        return False
    return 400 <= error.status_code < 500


@dataclass
class Outcome:
    """What happened to one input record (turned into a ``RecordResult`` at the end)."""

    index: int
    key: str | None
    outcome: str = "unchanged"
    ids: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    error: str | None = None
    field: str | None = None
    calls: list[PlannedCall] = dataclasses.field(default_factory=list)

    def fail(self, message: str, field_name: str | None = None) -> None:
        """Mark the record failed."""
        self.outcome = "failed"
        self.error = message
        self.field = field_name

    def result(self, stream: str, operation: str) -> RecordResult:
        """The results line."""
        return RecordResult(
            stream=stream,
            key=self.key,
            operation=operation,
            outcome=self.outcome,
            ids=self.ids,
            changes=self.changes,
            error=self.error,
            field=self.field,
            planned_calls=[c.describe() for c in self.calls],
        )


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
        raise RecordError(msg, field_name)
    return parsed


def format_when(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, as Cart.com accepts in bodies (API-NOTES §1.6)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_ref(record: dict[str, Any]) -> tuple[int | None, str | None]:
    """The record's ``order_id`` (an integer) or ``order_number``; one is required."""
    order_id = record.get("order_id")
    number = record.get("order_number")
    if order_id not in (None, ""):
        if isinstance(order_id, bool) or not str(order_id).strip().isdigit():
            msg = f"`order_id` must be a positive integer, got {order_id!r}"
            raise RecordError(msg, "order_id")
        return int(str(order_id).strip()), None
    if number not in (None, "") and str(number).strip():
        return None, str(number).strip()
    msg = "the record needs `order_id` or `order_number`"
    raise RecordError(msg, "order_id")


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

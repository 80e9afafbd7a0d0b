"""Cart.com's wire quirks, normalised in one place.

- Datetimes come in store-local time with an offset and 0 to 7 fractional digits, or as
  ``""``/null, or occasionally with no offset at all (docs/api.md §1.6).
- List responses wrap the records under a key that is not always the resource name
  (``items``, ``payments``, ``services``; §13), so the key is found by shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

PAGING_KEYS = frozenset({"total_count", "next_page", "previous_page"})

_FRACTION = re.compile(r"(\.\d+)")


def parse_local(value: Any) -> datetime | None:
    """Parse a Cart.com datetime as the store wrote it: its own offset kept (none if absent).

    ``""``/None give None; more than 6 fractional digits (Cart.com sends up to 7) are truncated
    to microseconds. Unparseable values raise ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if not text:
        return None
    text = text.replace(" ", "T", 1) if "T" not in text and " " in text else text
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
    return datetime.fromisoformat(text)


def parse_datetime(value: Any) -> datetime | None:
    """Parse a Cart.com datetime into an aware UTC ``datetime``; ``""``/None give None.

    Values without an offset are taken as UTC (the only safe reading without the store's zone).
    More than 6 fractional digits (Cart.com sends up to 7) are truncated to microseconds.
    """
    parsed = parse_local(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_utc(value: Any) -> str | None:
    """Normalise a Cart.com datetime to one sortable UTC string (``...T05:00:00.123000Z``).

    One fixed format means that lexical order equals time order, which the SDK's bookmark
    comparison relies on. Unparseable values raise ``ValueError``.
    """
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_local(value: Any) -> str | None:
    """The store's own wall-clock time with its offset, in one form (``...T23:30:00.000000-06:00``).

    The same instant as ``to_utc``, left in the time zone the store answered in, so its first
    ten characters are the store's own calendar day. A value sent without an offset stays
    without one. Unparseable values raise ``ValueError``.
    """
    parsed = parse_local(value)
    if parsed is None:
        return None
    return parsed.isoformat(timespec="microseconds")


def format_filter_datetime(value: datetime) -> str:
    """Format a datetime for a query filter: UTC with ``Z``, so no ``+`` needs escaping."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def collection_key(payload: dict[str, Any]) -> str | None:
    """Return the key of the record array in a list wrapper, whatever its name.

    Cart.com names it after the resource (``orders``) or after the nested name (``items`` for
    ``/order_items``); the one array-valued key that is not paging metadata is the answer.
    """
    candidates = [
        key for key, value in payload.items() if key not in PAGING_KEYS and isinstance(value, list)
    ]
    if len(candidates) == 1:
        return candidates[0]
    return None


def records_from_page(payload: Any) -> list[dict[str, Any]]:
    """Return the records of a list response (a wrapper, or a bare list or object)."""
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        return []
    key = collection_key(payload)
    if key is not None:
        return payload[key] or []
    if "total_count" in payload:
        # A wrapper whose array is null or missing: no records.
        return []
    return [payload]

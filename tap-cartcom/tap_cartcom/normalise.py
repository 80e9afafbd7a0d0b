"""A Cart.com record normalised in place: datetimes to UTC, numbers sent as text to numbers.

A ``NormalisePlan`` is compiled once per schema (where its date-time and number fields are, top
level and nested), so a record costs only the fields that need work. Datetimes take a C fast
path (``datetime.fromisoformat``), memoised (an order's items, payments and shipments repeat its
timestamps); what it cannot read goes to the shared client's ``to_utc``/``to_local``, the one
home of Cart.com's datetime quirks.
"""

from __future__ import annotations

import logging
import math
import typing as t
from datetime import UTC, datetime
from functools import lru_cache

from tap_cartcom._client.quirks import to_local, to_utc

LOGGER = logging.getLogger("tap-cartcom")

#: Suffix of the field that keeps a timestamp in the store's own time zone (``created_at_local``).
LOCAL_SUFFIX = "_local"


class NormalisePlan(tuple):
    """Where a schema's date-time and number fields are: ``(name, kind, arg)`` entries.

    Kinds: ``dt`` (to UTC; ``arg`` names the field that keeps the store's local time, or is
    None), ``num`` (text to a number), ``obj`` and ``arr`` (``arg`` is the nested plan).
    ``label`` names the stream in the warning about an unreadable value.
    """

    label: str = ""
    #: The entries by kind, so ``normalise`` walks each kind without dispatching per field.
    dts: tuple[tuple[str, str | None], ...] = ()
    nums: tuple[str, ...] = ()
    objs: tuple[tuple[str, t.Any], ...] = ()
    arrs: tuple[tuple[str, t.Any], ...] = ()

    def __new__(
        cls, entries: t.Iterable[tuple[str, str, t.Any]] = (), label: str = ""
    ) -> NormalisePlan:
        """A plan over ``entries``, labelled with the stream's name."""
        plan = super().__new__(cls, entries)
        plan.label = label
        plan.dts = tuple((name, arg) for name, kind, arg in plan if kind == "dt")
        plan.nums = tuple(name for name, kind, _ in plan if kind == "num")
        plan.objs = tuple((name, arg) for name, kind, arg in plan if kind == "obj")
        plan.arrs = tuple((name, arg) for name, kind, arg in plan if kind == "arr")
        return plan


def normalise_plan(schema: dict[str, t.Any], label: str = "") -> NormalisePlan:
    """Compile where the date-time and number fields of ``schema`` are (top level and nested).

    A date-time field ``x`` whose schema also declares ``x_local`` gets that field filled with
    the store's local time; a field typed only ``number`` (and null) is read from text when
    the API sends it as text (product dimensions, a shipment's base cost).
    """
    properties = schema.get("properties") or {}
    plan: list[tuple[str, str, t.Any]] = []
    for name, prop in properties.items():
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else types
        if prop.get("format") == "date-time":
            local = name + LOCAL_SUFFIX
            plan.append((name, "dt", local if local in properties else None))
        elif "number" in types and set(types) <= {"number", "null"}:
            plan.append((name, "num", None))
        elif "object" in types and prop.get("properties"):
            sub = normalise_plan(prop)
            if sub:
                plan.append((name, "obj", sub))
        elif "array" in types and isinstance(prop.get("items"), dict):
            sub = normalise_plan(prop["items"])
            if sub:
                plan.append((name, "arr", sub))
    return NormalisePlan(plan, label)


def _fast_utc(value: t.Any) -> str | None:
    """``to_utc`` with a C fast path for ISO strings (most of Cart.com's datetimes).

    ``datetime.fromisoformat`` (3.11) reads offsets, ``Z``, a space separator and 1 to 7+
    fractional digits (truncated to 6), as ``to_utc`` does; anything else goes to ``to_utc``.
    """
    if value.__class__ is str and len(value) >= 19:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return to_utc(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        if parsed.year >= 1000:
            return parsed.isoformat(timespec="microseconds")[:-6] + "Z"
    return to_utc(value)


def _fast_local(value: t.Any) -> str | None:
    """``to_local`` with the same C fast path as ``_fast_utc``."""
    if value.__class__ is str and len(value) >= 19:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return to_local(value)
        if parsed.year >= 1000:
            return parsed.isoformat(timespec="microseconds")
    return to_local(value)


#: Memoised: an order's items, payments and shipments repeat its timestamps.
to_utc_fast = lru_cache(maxsize=16384)(_fast_utc)
to_local_fast = lru_cache(maxsize=16384)(_fast_local)


def number_from_text(text: str) -> float | None:
    """A number sent as text (``"12.5"``); ``""`` is None; anything else raises ``ValueError``."""
    stripped = text.strip()
    if not stripped:
        return None
    number = float(stripped)
    if not math.isfinite(number):
        msg = f"not a finite number: {text!r}"
        raise ValueError(msg)
    return number


def normalise(
    record: dict[str, t.Any],
    plan: NormalisePlan,
    _root: dict[str, t.Any] | None = None,
    _at: str = "",
) -> None:
    """Rewrite datetimes to UTC (``""`` to null) and numbers sent as text, in place.

    A date-time field with a ``_local`` twin in the schema also gets the store's own local time
    there (set once: a record normalised again keeps it). An unreadable value becomes null, so
    the record stays valid and the run goes on, and a warning names the stream, the record's
    ``id`` and the field (with the value: a datetime or a dimension carries no secret).
    """
    root = record if _root is None else _root
    for name, local in plan.dts:
        value = record.get(name)
        if local is not None and local not in record:
            try:
                record[local] = None if value is None else to_local_fast(value)
            except (TypeError, ValueError):
                record[local] = None
        if value is None:
            continue
        try:
            record[name] = to_utc_fast(value)
        except (TypeError, ValueError):
            record[name] = None
            _unreadable(plan, root, f"{_at}{name}", "datetime", value)
    for name in plan.nums:
        value = record.get(name)
        if value.__class__ is str:
            try:
                record[name] = number_from_text(value)
            except ValueError:
                record[name] = None
                _unreadable(plan, root, f"{_at}{name}", "number", value)
    for name, sub in plan.objs:
        value = record.get(name)
        if isinstance(value, dict):
            normalise(value, _labelled(sub, plan), root, f"{_at}{name}.")
    for name, sub in plan.arrs:
        value = record.get(name)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    normalise(item, _labelled(sub, plan), root, f"{_at}{name}[{index}].")


def _unreadable(plan: t.Any, root: dict[str, t.Any], field: str, what: str, value: t.Any) -> None:
    LOGGER.warning(
        "Unparseable %s in %s record id=%s, field `%s`: %.60r; emitted as null",
        what,
        getattr(plan, "label", "") or "a",
        root.get("id"),
        field,
        value,
    )


def _labelled(sub: t.Any, parent: t.Any) -> t.Any:
    """A nested plan carries its stream's label."""
    if isinstance(sub, NormalisePlan) and not sub.label:
        sub.label = getattr(parent, "label", "")
    return sub

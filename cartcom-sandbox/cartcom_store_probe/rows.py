"""What sampled rows show, as counts and types only: never a value, never a name the store chose.

The fields and list keys the project knows are the sandbox's resources (its spec); anything
else a store sends is counted, not named.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cartcom_sandbox import resources as R  # noqa: N812

from cartcom_store_probe._client.quirks import collection_key

DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(?P<frac>\d+))?)?(?P<off>Z|[+-]\d{2}:?\d{2})?$"
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def list_key_of(body: Any) -> str | None:
    """The one array-valued key of a list wrapper that is not paging metadata (the client's)."""
    return collection_key(body) if isinstance(body, dict) else None


def known_list_keys(name: str) -> set[str]:
    """List keys the project knows for ``name``.

    Its own name, the key seen in the field, and the name it has nested in its parent (the rule
    the field evidence follows, docs/api.md §13).
    """
    keys = {name, R.list_key(name)}
    for nested in R.NESTED.values():
        keys.update(n for n, how in nested.items() if how.kind == "child" and how.resource == name)
    return keys


def known_fields(name: str) -> set[str]:
    """Fields the sandbox serves for ``name`` (the spec's, with nested collections)."""
    try:
        res = R.get(name)
    except KeyError:
        return set()
    return set(res.fields) | set(res.nested) | set(res.null_nested)


def flag_fields(name: str) -> set[str]:
    """Fields the sandbox treats as flags: spec booleans plus the 0/1 integer flags."""
    try:
        res = R.get(name)
    except KeyError:
        return set()
    return {f for f, t in res.types.items() if t == "boolean"} | set(res.int_flags)


def _date_fields(name: str) -> set[str]:
    try:
        return set(R.get(name).datetimes)
    except KeyError:
        return set()


@dataclass
class Findings:
    """What the sampled rows show, as counts and types only."""

    fractional: Counter = field(default_factory=Counter)
    offsets: Counter = field(default_factory=Counter)
    dates: Counter = field(default_factory=Counter)
    null_date_fields: set[str] = field(default_factory=set)
    empty_date_fields: set[str] = field(default_factory=set)
    flags: dict[str, set[str]] = field(default_factory=dict)
    field_types: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    #: Per resource, the fields the project does not know (held here, only counted in the report).
    unknown: dict[str, set[str]] = field(default_factory=dict)

    def read_rows(self, name: str, rows: list[Any]) -> None:
        """Fold the rows of resource ``name`` into the counts (values are not kept)."""
        flags, dates, known = flag_fields(name), _date_fields(name), known_fields(name)
        types = self.field_types.setdefault(name, {})
        for row in rows:
            if not isinstance(row, dict):
                continue
            for key, value in row.items():
                if key not in known:  # a name the store chose: counted, never copied
                    self.unknown.setdefault(name, set()).add(key)
                    continue
                types.setdefault(key, set()).add(_json_type(value))
                if key in flags:
                    self.flags.setdefault(f"{name}.{key}", set()).add(_json_type(value))
                if key in dates or (isinstance(value, str) and DATETIME.match(value)):
                    self._date(f"{name}.{key}", value)

    def _date(self, where: str, value: Any) -> None:
        if value is None:
            self.dates["null"] += 1
            self.null_date_fields.add(where)
            return
        if value == "":
            self.dates["empty_string"] += 1
            self.empty_date_fields.add(where)
            return
        m = DATETIME.match(value) if isinstance(value, str) else None
        if m is None:
            self.dates["other"] += 1
            return
        self.dates["with_offset" if m.group("off") else "no_offset"] += 1
        self.fractional[str(len(m.group("frac") or ""))] += 1
        self.offsets[m.group("off") or "none"] += 1


def flag_point(flags: dict[str, set[str]]) -> dict[str, Any]:
    """The ``flag_encoding`` point: int, bool or other per flag, and one word for them all."""
    by_kind: dict[str, list[str]] = {"int": [], "bool": [], "other": []}
    for where, types in sorted(flags.items()):
        seen = types - {"null"}
        if seen == {"integer"}:
            by_kind["int"].append(where)
        elif seen == {"boolean"}:
            by_kind["bool"].append(where)
        elif seen:
            by_kind["other"].append(where)
    kinds = [k for k in ("int", "bool", "other") if by_kind[k]]
    value = kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "unknown")
    return {"value": value, **{k: v for k, v in by_kind.items() if v}}


def sorted_counts(counter: Counter) -> dict[str, int]:
    """A counter as a dict, shortest then alphabetical key first (``"0"`` .. ``"7"``)."""
    return {k: counter[k] for k in sorted(counter, key=lambda s: (len(s), s))}

"""Read parameters (§1.3-1.5): page/count, sort, fields, expand and the filter syntax, to SQL."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cartcom_sandbox import clock
from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.errors import ApiError
from cartcom_sandbox.store import Store

RESERVED = frozenset({"page", "count", "sort", "fields", "expand", "ids"})
# Reference: cartcom_client/query.py OPERATORS (tests/test_wire_rule_copies.py checks the copies).
OPERATORS = {
    "eq": "=",
    "not": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "startwith": "LIKE",
}
_TERM = re.compile(r"^(eq|not|like|startwith|gte|gt|lte|lt):(.*)$", re.S)
_CONNECTOR = re.compile(r" (AND|OR) ")


@dataclass
class ListQuery:
    """A parsed list request."""

    page: int = 1
    count: int = 100
    where: str = ""
    params: list[Any] = field(default_factory=list)
    order: str = "r.id ASC"
    fields: list[str] | None = None
    expand: set[str] = field(default_factory=set)


def _int_param(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        val = int(raw)
    except ValueError:
        raise ApiError(400, f"The '{name}' parameter must be an integer.") from None
    if val < 1:
        raise ApiError(400, f"The '{name}' parameter must be 1 or more.")
    return val


def paging(args: dict[str, str], cfg: SandboxConfig) -> tuple[int, int]:
    """``page`` and ``count``; count above max is capped (or 400 when configured)."""
    page = _int_param("page", args.get("page"), 1)
    count = _int_param("count", args.get("count"), cfg.default_count)
    if count > cfg.max_count:
        if cfg.count_over_max == "error":
            raise ApiError(400, f"The 'count' parameter cannot exceed {cfg.max_count}.")
        count = cfg.max_count
    return page, count


def last_page(total: int, count: int) -> int:
    """Number of the last page (at least 1)."""
    return max(1, math.ceil(total / count))


def order_by(store: Store, res: R.Resource, raw: str | None) -> str:
    """ORDER BY clause for ``sort`` (comma list, ``-`` = descending); ties broken by id."""
    parts, seen = [], set()
    for item in (raw or "").split(","):
        name = item.strip()
        if not name:
            continue
        desc = name.startswith("-")
        name = name.lstrip("-+").strip()
        if name != "id" and name not in res.types:
            raise ApiError(400, f"Cannot sort by '{name}': not a field of {res.name}.")
        if name in seen:
            continue
        seen.add(name)
        col = store.column(res.name, name)
        if res.types.get(name) == "string" and name not in res.datetimes:
            col += " COLLATE NOCASE"
        parts.append(f"{col} {'DESC' if desc else 'ASC'}")
    if "id" not in seen:
        parts.append("r.id ASC")
    return ", ".join(parts)


def projection(res: R.Resource, raw: str | None) -> tuple[list[str] | None, set[str]]:
    """``fields``: record fields to keep (None = all) and nested collections it names."""
    if raw is None or not raw.strip():
        return None, set()
    names = [n.strip() for n in raw.split(",") if n.strip()]
    nested = {n for n in names if n in res.nested}
    keep = [n for n in names if n in res.types or n == "id" or n in nested]
    return keep, nested


def expansion(res: R.Resource, raw: str | None) -> set[str]:
    """``expand``: the known nested collections named (unknown names are ignored)."""
    if not raw:
        return set()
    return {n.strip() for n in raw.split(",") if n.strip() in res.nested}


def _convert(res: R.Resource, name: str, op: str, raw: str, tz: str) -> Any:
    ftype = "integer" if name == "id" else res.types[name]
    if op in ("like", "startwith"):
        esc = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{esc}%" if op == "like" else f"{esc}%"
    if name in res.datetimes:
        ticks = clock.to_ticks(raw, tz)
        if ticks is None:
            if clock.SPACE_OFFSET.match(raw):
                raise ApiError(
                    400,
                    f"Invalid datetime '{raw}' for '{name}': a '+' offset must be sent as %2B "
                    "(a bare '+' in a query string is a space), or send UTC with 'Z'.",
                )
            raise ApiError(400, f"Invalid datetime '{raw}' for '{name}'.")
        return ticks
    try:
        if ftype == "integer":
            return int(raw)
        if ftype == "number":
            return float(raw)
    except ValueError:
        raise ApiError(400, f"Invalid value '{raw}' for '{name}' ({ftype}).") from None
    if ftype == "boolean":
        low = raw.strip().lower()
        if low in ("true", "1"):
            return 1
        if low in ("false", "0"):
            return 0
        raise ApiError(400, f"Invalid value '{raw}' for '{name}' (boolean).")
    return raw


def _clause(store: Store, res: R.Resource, name: str, term: str) -> tuple[str, Any]:
    m = _TERM.match(term)
    op, raw = (m.group(1), m.group(2)) if m else ("eq", term)
    value = _convert(res, name, op, raw, store.timezone)
    col = store.column(res.name, name)
    is_text = name != "id" and res.types[name] == "string" and name not in res.datetimes
    if op in ("like", "startwith"):
        return f"{col} LIKE ? ESCAPE '\\'", value
    sql = f"{col} {OPERATORS[op]} ?"
    if is_text:
        sql += " COLLATE NOCASE"
    return sql, value


def filters(
    store: Store, res: R.Resource, items: Iterable[tuple[str, str]]
) -> tuple[str, list[Any]]:
    """WHERE clause for ``field=[OR ]op:value[ AND|OR op:value...]`` parameters.

    Fields combine with AND unless their value starts with ``OR ``; all terms form one flat
    expression evaluated with normal precedence (AND before OR), no parentheses (DOC §1.5).
    Unknown parameters are ignored.
    """
    parts: list[str] = []
    params: list[Any] = []
    for name, given in items:
        value = given
        if name in RESERVED or (name != "id" and name not in res.types):
            continue
        if res.types.get(name) in ("array", "object"):
            continue
        connector = "AND"
        if value.startswith("OR "):
            connector, value = "OR", value[3:]
        pieces = _CONNECTOR.split(value)
        terms = [(connector, pieces[0])]
        terms += [(pieces[i], pieces[i + 1]) for i in range(1, len(pieces) - 1, 2)]
        for conn, term in terms:
            sql, val = _clause(store, res, name, term)
            if parts:
                parts.append(conn)
            parts.append(sql)
            params.append(val)
    return " ".join(parts), params

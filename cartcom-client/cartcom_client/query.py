"""Cart.com's filter syntax (docs/api.md §1.5), encoded in one place.

A filter is ``?field=op:value``; several conditions on one field are joined inside the value with
``+AND+`` / ``+OR+`` (spaces once URL-decoded), and a field's value starting with ``OR `` is OR-ed
with the other fields instead of AND-ed. The operators are ``eq``, ``not``, ``like``,
``startwith``, ``gt``, ``gte``, ``lt`` and ``lte``; without one, the default is ``eq``.

There is no escape character. The server URL-decodes the value, splits it on `` AND ``/`` OR ``,
and reads the text before the first ``:`` as an operator when it is one. So:

- a value that could be read as an operator term (``not:zzz``) is sent as ``eq:not:zzz``;
- a value holding ``AND``/``OR`` as a word between spaces cannot be sent exactly at all (it would
  split into more conditions and widen the read), nor can text that is not valid Unicode (a lone
  surrogate), holds a control character, or is too long for one URL. Such a value is refused
  with ``QueryValueError`` before any call: a lookup either matches exactly or fails the record
  that carries the value; it never widens a read.

The connector words are refused in any letter case: the sandbox splits on upper case only, but
Cart.com's own parser is undocumented on this (INF), and refusing costs one record, not a read of
the whole store.

``query_string`` writes the query of a URL built by hand (the tap's pages and extra reads), whose
filters already spell the space as ``+``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

OPERATORS = ("eq", "not", "like", "startwith", "gt", "gte", "lt", "lte")
#: The longest value (once URL-encoded) a lookup carries: half the 2,048-character URL cap
#: (docs/api.md §14), leaving room for the path and the ``fields``/``expand``/``count`` parameters.
MAX_VALUE_LENGTH = 1000

_OPERATOR_TERM = re.compile(rf"^(?:{'|'.join(OPERATORS)}):", re.IGNORECASE)
_CONNECTOR_WORD = re.compile(r"(?:^|\s)(?:AND|OR)(?:\s|$)", re.IGNORECASE)
#: Text form-encoded as itself (``fullmatch``: ``$`` would let a final newline through).
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")
#: Unicode's control characters (general category ``Cc``): exactly these 65 code points, fixed by
#: the Unicode stability policy, so one regex search replaces a per-character category lookup.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONNECTORS = ("AND", "OR")
#: ``eq:`` once form-encoded (``eq%3A``): every value checked carries it.
_EQ_LENGTH = len(quote_plus("eq:"))


class QueryValueError(ValueError):
    """A value Cart.com's filter syntax cannot carry exactly; the record holding it fails."""


def is_plain_value(value: str) -> bool:
    """Whether ``value`` is the usual SKU, which a filter carries as itself.

    ASCII, no space (so no connector word but a bare AND/OR), no control character, encoded as
    itself and short enough: ``check_value`` accepts it unchanged, and it has nothing to strip.
    """
    return bool(
        value
        and _URL_SAFE.fullmatch(value)
        and (len(value) > 3 or value.upper() not in _CONNECTORS)
        and len(value) + _EQ_LENGTH <= MAX_VALUE_LENGTH
    )


def check_value(value: object) -> str:
    """``value`` as text when a filter can carry it exactly; else ``QueryValueError`` saying why."""
    if not isinstance(value, str):
        msg = f"must be text, got {type(value).__name__}"
        raise QueryValueError(msg)
    if is_plain_value(value):
        return value
    if not value.strip():
        msg = "is empty"
        raise QueryValueError(msg)
    if not value.isascii():  # ASCII text is valid UTF-8 by construction
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            msg = "is not valid Unicode text (it holds a lone surrogate such as \\ud800)"
            raise QueryValueError(msg) from None
    if _CONTROL.search(value):
        msg = "holds a control character (a tab, newline or similar)"
        raise QueryValueError(msg)
    if _CONNECTOR_WORD.search(value):
        msg = (
            "holds AND or OR as a word between spaces, which Cart.com's filter syntax reads as "
            "a connector; it cannot be looked up exactly"
        )
        raise QueryValueError(msg)
    length = _EQ_LENGTH + encoded_length(value)  # encoding is per character: the parts add up
    if length > MAX_VALUE_LENGTH:
        msg = (
            f"is {length} characters long once URL-encoded; a lookup carries at most "
            f"{MAX_VALUE_LENGTH}"
        )
        raise QueryValueError(msg)
    return value


def eq(value: object) -> str:
    """An exact-match condition, always spelled ``eq:value``."""
    return f"eq:{check_value(value)}"


def term(value: object) -> str:
    """An exact-match condition in its shortest safe spelling.

    Bare ``value`` (``eq`` is the default operator) unless it could be read as an operator term.
    """
    text = check_value(value)
    return f"eq:{text}" if _OPERATOR_TERM.match(text) else text


def condition(operator: str, value: str) -> str:
    """A comparison such as ``gte:2024-05-01T00:00:00Z`` (range bounds, not record data)."""
    if operator not in OPERATORS:
        msg = f"unknown filter operator {operator!r}; Cart.com has {', '.join(OPERATORS)}"
        raise ValueError(msg)
    return f"{operator}:{check_value(value)}"


def any_of(terms: Iterable[str]) -> str:
    """Conditions OR-ed within one field (``A OR B``; requests sends the spaces as ``+``)."""
    return " OR ".join(terms)


def all_of(terms: Iterable[str]) -> str:
    """Conditions AND-ed within one field (``gte:X AND lt:Y``)."""
    return " AND ".join(terms)


def or_with_previous(value: str) -> str:
    """A field's value that ORs it with the fields before it instead of AND-ing (``OR ...``)."""
    return f"OR {value}"


def one_of(values: Iterable[object]) -> str:
    """The field value matching any of ``values`` exactly (``A OR eq:not:x``)."""
    return any_of(term(v) for v in values)


def exact(fields: Mapping[str, object]) -> dict[str, str]:
    """Query parameters matching every field exactly (AND-ed), e.g. a re-lookup by natural key."""
    return {name: term(str(value)) for name, value in fields.items()}


def fields_any(fields: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Parameters matching a row when any field meets any of its conditions (OR across fields).

    ``{"item_number": ["A", "B"], "gtin": ["0123"]}`` (conditions made by ``term``) becomes
    ``item_number=A OR B&gtin=OR 0123``: every field after the first starts with ``OR``.
    """
    out: dict[str, str] = {}
    for name, values in fields.items():
        joined = any_of(values)
        out[name] = joined if not out else or_with_previous(joined)
    return out


def encoded_length(text: str) -> int:
    """Length of ``text`` once form-encoded into a query string (as requests sends it)."""
    return len(text) if _URL_SAFE.fullmatch(text) else len(quote_plus(text))


def encode(text: str) -> str:
    """``text`` percent-encoded for a hand-built query string (``:`` kept readable)."""
    return quote(text, safe=":")


#: Characters a hand-built query string sends as themselves: ``+`` is Cart.com's space (the
#: ``+AND+``/``+OR+`` of a filter), ``:`` separates operator and value, ``,`` sort fields and ids.
LITERAL_QUERY_CHARS = ":,+"


def query_string(params: Iterable[tuple[str, object]]) -> str:
    """``params`` in order as a query string, ``+``, ``:`` and ``,`` literal; None values left out.

    For URLs built by hand (the tap's pages and extra reads, whose filters spell the space as
    ``+``): ``requests`` would send a ``+`` as ``%2B``, which Cart.com reads as a plus sign.
    """
    return "&".join(
        f"{quote(str(key), safe='')}={quote(str(value), safe=LITERAL_QUERY_CHARS)}"
        for key, value in params
        if value is not None
    )

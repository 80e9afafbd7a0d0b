"""cartcom_client.query: every value is carried exactly by the sandbox's filter parser, or refused.

The round trip goes through the real parser (``cartcom_sandbox.query.filters``), which splits a
URL-decoded value on `` AND ``/`` OR `` and reads a known operator before the first ``:``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from cartcom_client import query
from cartcom_sandbox import resources
from cartcom_sandbox.query import filters
from cartcom_sandbox.store import Store


@pytest.fixture(scope="module")
def store() -> Store:
    """An empty in-memory store (the parser needs its column names)."""
    return Store(":memory:")


def parsed(store: Store, params: dict[str, str], res: str = "products") -> tuple[str, list]:
    """The WHERE clause and values the sandbox builds from ``params`` sent as a query string."""
    wire = urlencode(params)  # how requests sends them: spaces as +
    return filters(store, resources.get(res), parse_qsl(wire))


@pytest.mark.parametrize(
    "value",
    ["KBC-1", "not:zzz", "EQ:x", "gte:5", "a:b:c", "50% off", "A+B", "x&y=z", "OR-1", "ORANGE 1"],
)
def test_term_is_one_exact_condition(store, value):
    """Operator look-alikes get ``eq:``; the parser sees one equality with the value as given."""
    where, values = parsed(store, {"item_number": query.term(value)})
    assert values == [value]
    assert where.count("?") == 1
    assert " = ?" in where


def test_one_of_is_one_condition_per_value(store):
    """An OR list of awkward values stays one condition per value."""
    values = ["not:zzz", "A+B", "plain"]
    where, got = parsed(store, {"item_number": query.one_of(values)})
    assert got == values
    assert where.count(" OR ") == 2


def test_fields_any_ors_the_second_field(store):
    """``item_number=A&gtin=OR 0123``: the gtin condition is OR-ed, not AND-ed."""
    params = query.fields_any({"item_number": [query.term("A")], "gtin": [query.term("0123")]})
    assert params == {"item_number": "A", "gtin": "OR 0123"}
    where, got = parsed(store, params)
    assert got == ["A", "0123"]
    assert " OR " in where
    assert " AND " not in where


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NOPE OR not:zzz", "connector"),
        ("a and b", "connector"),
        ("TEE OR", "connector"),
        ("OR", "connector"),
        ("and", "connector"),
        ("OR TEE", "connector"),
        ("BAD-\ud800", "lone surrogate"),
        ("TAB\tSKU", "control character"),
        ("SKU-1\n", "control character"),
        ("N" * 1000, "characters long"),
        ("N" * (query.MAX_VALUE_LENGTH - 4), "characters long"),
        ("   ", "empty"),
        (12, "must be text"),
    ],
)
def test_values_the_syntax_cannot_carry_are_refused(value, reason):
    """Refused before any call, with the reason, instead of widening the read."""
    with pytest.raises(query.QueryValueError, match=reason):
        query.term(value)


def test_widening_value_would_have_split(store):
    """Why ``NOPE OR not:zzz`` is refused: sent as such, the parser makes two conditions."""
    where, values = parsed(store, {"order_number": "eq:NOPE OR not:zzz"}, "orders")
    assert values == ["NOPE", "zzz"]
    assert "!=" in where


def test_longest_carried_value_fits(store):
    """A value at the limit (``eq%3A`` counted) is carried whole; one more character is not."""
    value = "N" * (query.MAX_VALUE_LENGTH - len("eq%3A"))
    _, values = parsed(store, {"item_number": query.eq(value)})
    assert values == [value]
    with pytest.raises(query.QueryValueError, match="characters long"):
        query.eq(value + "N")


def test_the_documented_limit_is_1000_characters_once_encoded():
    """docs/listings.md and docs/orders.md: more than 1,000 characters once URL-encoded is refused.

    ``eq:`` counts (``eq%3A``, 5 characters): a 995-character SKU is looked up, one more is not.
    """
    assert query.eq("N" * 995) == "eq:" + "N" * 995
    with pytest.raises(query.QueryValueError) as refused:
        query.eq("N" * 996)
    assert str(refused.value) == (
        "is 1001 characters long once URL-encoded; a lookup carries at most 1000"
    )


def test_condition_checks_the_operator():
    """Range bounds are built with known operators only."""
    assert query.all_of([query.condition("gte", "1"), query.condition("lt", "9")]) == (
        "gte:1 AND lt:9"
    )
    with pytest.raises(ValueError, match="unknown filter operator"):
        query.condition("between", "1")


def test_control_characters_are_exactly_unicode_category_cc():
    """The one regex refuses what a per-character ``unicodedata`` check refused, no more."""
    import sys
    import unicodedata

    differ = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if (unicodedata.category(chr(cp)) == "Cc") != bool(query._CONTROL.search(chr(cp)))
    ]
    assert differ == []


@pytest.mark.parametrize("value", ["NEL\x85SKU", "DEL\x7fSKU", "Straße\x00"])
def test_control_characters_beyond_ascii_are_refused(value):
    """A control character is refused whatever else the value holds (the non-ASCII path too)."""
    with pytest.raises(query.QueryValueError, match="control character"):
        query.term(value)


def test_longest_carried_value_fits_when_encoded(store):
    """The ``eq:`` prefix and an encoded value add up: ``é`` counts as its six characters."""
    room = query.MAX_VALUE_LENGTH - len("eq%3A")
    value = "é" * (room // 6) + "N" * (room % 6)
    assert query.encoded_length(f"eq:{value}") == query.MAX_VALUE_LENGTH
    _, values = parsed(store, {"item_number": query.eq(value)})
    assert values == [value]
    with pytest.raises(query.QueryValueError, match="characters long"):
        query.eq(value + "+")

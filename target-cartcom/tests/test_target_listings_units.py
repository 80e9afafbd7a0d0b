"""Unit tests of the listings stream: validation, matching, and how lookups are packed."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
from target_cartcom._client import CartcomSession, ConfigurationError, ConnectionSettings
from target_cartcom.listings.index_builder import IndexBuilder, gtin_forms
from target_cartcom.listings.link import link_listing
from target_cartcom.listings.record import (
    RecordError,
    check_digit_ok,
    gtin_key,
    parse_listing,
)
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.listings.store_index import StoreIndex
from target_cartcom.sku import sku_key


def error_of(record: dict) -> tuple[str, str]:
    """The (field, message) a record is refused with."""
    with pytest.raises(RecordError) as caught:
        parse_listing(record)
    return caught.value.field, caught.value.message


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"title": "x"}, "sku"),
        ({"sku": "  "}, "sku"),
        ({"sku": "A", "quantity": -1}, "quantity"),
        ({"sku": "A", "quantity": 1.5}, "quantity"),
        ({"sku": "A", "price": "abc"}, "price"),
        ({"sku": "A", "msrp": True}, "msrp"),
        ({"sku": "A", "cost": -0.01}, "cost"),
        ({"sku": "A", "gtin": "036000291453"}, "gtin"),
        ({"sku": "A", "upc": "12345"}, "upc"),
        ({"sku": "A", "gtin": "036000291452", "upc": "012345678905"}, "upc"),
        ({"sku": "A", "categories": ["  >  "]}, "categories[0]"),
        ({"sku": "A", "variants": [{"options": {"Size": "S"}}]}, "variants[0].sku"),
        (
            {"sku": "A", "variants": [{"sku": "A-S", "options": {"Size": "S"}, "quantity": -3}]},
            "variants[0].quantity",
        ),
        (
            {"sku": "A", "variants": [{"sku": "A-S", "options": {"Size": "S"}, "price": "x"}]},
            "variants[0].price",
        ),
        (
            {
                "sku": "A",
                "variants": [{"sku": "A-S", "options": {"Size": "S"}, "upc": "036000291453"}],
            },
            "variants[0].upc",
        ),
        (
            {
                "sku": "A",
                "variants": [
                    {"sku": "A-S", "options": {"Size": "S"}},
                    {"sku": "A-M", "options": {"Colour": "M"}},
                ],
            },
            "variants[1].options",
        ),
        (
            {
                "sku": "A",
                "variants": [
                    {"sku": "A-S", "options": {"Size": "S"}},
                    {"sku": "A-M", "options": {"Size": "S"}},
                ],
            },
            "variants[1].options",
        ),
        (
            {
                "sku": "A",
                "variants": [
                    {"sku": "A-S", "options": {"Size": "S"}},
                    {"sku": "a-s", "options": {"Size": "M"}},
                ],
            },
            "variants[1].sku",
        ),
    ],
)
def test_bad_records_name_the_field(record, field):
    assert error_of(record)[0] == field


def test_a_good_listing_is_normalised():
    listing = parse_listing(
        {
            "sku": " TEE ",
            "price": "19.99",
            "quantity": "3",
            "upc": "036000291452",
            "hidden": 1,
            "categories": "Apparel > Shirts",
            "variants": [{"sku": "TEE-S", "options": {"Size": "S"}, "gtin": "0012345678905"}],
        }
    )
    assert (listing.sku, listing.price, listing.quantity, listing.gtin, listing.hidden) == (
        "TEE",
        19.99,
        3,
        "036000291452",
        True,
    )
    assert listing.categories == ["Apparel > Shirts"]
    assert listing.option_names == ["Size"]
    assert "upc" in listing.present
    assert "gtin" not in listing.present


def test_gtin_spellings_compare_equal():
    assert check_digit_ok("036000291452")
    assert check_digit_ok("0036000291452")
    assert gtin_key("036000291452") == gtin_key("00036000291452")
    assert gtin_forms("036000291452") == ["036000291452", "0036000291452"]
    assert gtin_forms("4006381333931") == ["4006381333931"]


def test_settings_defaults_and_errors():
    options = ListingOptions.from_config({})
    assert options.operations == {"link", "sync"}
    assert options.link_by == ("sku", "upc")
    assert options.overwrite_fields == {
        "title",
        "description",
        "categories",
        "mpn",
        "upc",
        "gtin",
        "images",
    }
    assert ListingOptions.from_config({"operations": '["link", "publish"]'}).operations == {
        "link",
        "publish",
    }
    assert ListingOptions.from_config({"link_by": "upc,sku"}).link_by == ("upc", "sku")
    with pytest.raises(ConfigurationError, match="operations"):
        ListingOptions.from_config({"operations": ["link", "delete"]})
    with pytest.raises(ConfigurationError, match="link_by"):
        ListingOptions.from_config({"link_by": ["ean"]})


# -- matching --------------------------------------------------------------------------------
def index_of(products: list[dict], rows: list[dict]) -> StoreIndex:
    """An index holding ``products`` and variant ``rows``."""
    index = StoreIndex()
    for p in products:
        index.add_product(dict(p))
    for r in rows:
        index.add_vi(dict(r))
    return index


def test_link_prefers_sku_then_upc_and_ignores_case():
    index = index_of(
        [
            {"id": 1, "item_number": "abc", "gtin": ""},
            {"id": 2, "item_number": "OTHER", "gtin": "036000291452"},
        ],
        [],
    )
    assert (
        link_listing(
            parse_listing({"sku": "ABC", "upc": "036000291452"}), index, ("sku", "upc")
        ).product_id
        == 1
    )
    assert (
        link_listing(
            parse_listing({"sku": "ABC", "upc": "036000291452"}), index, ("upc", "sku")
        ).product_id
        == 2
    )
    by_upc = link_listing(
        parse_listing({"sku": "NEW", "gtin": "0036000291452"}), index, ("sku", "upc")
    )
    assert (by_upc.product_id, by_upc.matched_by) == (2, "upc")
    assert not link_listing(
        parse_listing({"sku": "NEW", "upc": "036000291452"}), index, ("sku",)
    ).linked


def test_two_store_items_with_one_sku_is_an_error():
    index = index_of([{"id": 1, "item_number": "A"}, {"id": 2, "item_number": "a"}], [])
    with pytest.raises(RecordError, match="ambiguous") as caught:
        link_listing(parse_listing({"sku": "A"}), index, ("sku",))
    assert caught.value.field == "sku"
    rows = [
        {"id": 5, "product_id": 3, "item_number": "V"},
        {"id": 6, "product_id": 4, "item_number": "V"},
    ]
    index = index_of([{"id": 3, "item_number": "P"}, {"id": 4, "item_number": "Q"}], rows)
    with pytest.raises(RecordError) as caught:
        link_listing(
            parse_listing({"sku": "P", "variants": [{"sku": "V", "options": {"S": "1"}}]}),
            index,
            ("sku",),
        )
    assert caught.value.field == "variants[0].sku"


def test_variants_link_to_rows_of_their_own_product():
    rows = [
        {"id": 10, "product_id": 1, "item_number": "P-S"},
        {"id": 11, "product_id": 2, "item_number": "Q-M"},
    ]
    index = index_of([{"id": 1, "item_number": "P"}, {"id": 2, "item_number": "Q"}], rows)
    listing = parse_listing(
        {
            "sku": "P",
            "variants": [
                {"sku": "P-S", "options": {"Size": "S"}},
                {"sku": "P-L", "options": {"Size": "L"}},
            ],
        }
    )
    link = link_listing(listing, index, ("sku",))
    assert (link.product_id, link.variants) == (1, {0: 10})
    stray = parse_listing({"sku": "P", "variants": [{"sku": "Q-M", "options": {"Size": "M"}}]})
    with pytest.raises(RecordError, match="not of the listing's product"):
        link_listing(stray, index, ("sku",))
    # A parent SKU unknown to the store is found through its variants.
    renamed = parse_listing(
        {"sku": "P-NEW", "variants": [{"sku": "P-S", "options": {"Size": "S"}}]}
    )
    assert link_listing(renamed, index, ("sku",)).product_id == 1


def test_two_variant_rows_with_one_sku_are_ambiguous_for_a_simple_listing():
    """A simple listing whose SKU two variant rows carry: refused naming ``sku``, no guess."""
    rows = [
        {"id": 5, "product_id": 3, "item_number": "V"},
        {"id": 6, "product_id": 4, "item_number": "V"},
    ]
    index = index_of([{"id": 3, "item_number": "P"}, {"id": 4, "item_number": "Q"}], rows)
    with pytest.raises(RecordError, match="ambiguous") as caught:
        link_listing(parse_listing({"sku": "V"}), index, ("sku",))
    assert caught.value.field == "sku"


def test_variants_of_two_different_products_are_refused():
    """Variants found on two products, the parent SKU unknown: which product is the listing's?"""
    rows = [
        {"id": 10, "product_id": 1, "item_number": "P-S"},
        {"id": 11, "product_id": 2, "item_number": "Q-M"},
    ]
    index = index_of([{"id": 1, "item_number": "P"}, {"id": 2, "item_number": "Q"}], rows)
    listing = parse_listing(
        {
            "sku": "NEW",
            "variants": [
                {"sku": "P-S", "options": {"Size": "S"}},
                {"sku": "Q-M", "options": {"Size": "M"}},
            ],
        }
    )
    with pytest.raises(RecordError, match="different products") as caught:
        link_listing(listing, index, ("sku",))
    assert caught.value.field == "variants"


def test_an_ambiguous_barcode_names_the_field_the_feed_gave():
    """Two products with one barcode: ``upc`` refused as ``upc``, ``gtin`` as ``gtin``."""
    index = index_of(
        [
            {"id": 1, "item_number": "A", "gtin": "036000291452"},
            {"id": 2, "item_number": "B", "gtin": "036000291452"},
        ],
        [],
    )
    for given in ("upc", "gtin"):
        with pytest.raises(RecordError, match="ambiguous") as caught:
            link_listing(parse_listing({"sku": "NEW", given: "036000291452"}), index, ("upc",))
        assert caught.value.field == given


def test_a_sku_without_a_match_falls_through_to_the_barcode():
    """No product has the SKU, one has the barcode: linked by ``upc``, and told the other SKU."""
    index = index_of([{"id": 2, "item_number": "OLD", "gtin": "036000291452"}], [])
    link = link_listing(parse_listing({"sku": "NEW", "upc": "036000291452"}), index, ("sku", "upc"))
    assert (link.product_id, link.matched_by) == (2, "upc")
    # Barcode first, none given: the SKU is still tried.
    by_sku = link_listing(parse_listing({"sku": "OLD"}), index, ("upc", "sku"))
    assert (by_sku.product_id, by_sku.matched_by) == (2, "sku")


def test_the_first_key_that_matches_wins():
    """The SKU matches a variant row: linked to that row, not to the product the barcode finds."""
    index = index_of(
        [{"id": 1, "item_number": "P"}, {"id": 2, "item_number": "B", "gtin": "036000291452"}],
        [{"id": 10, "product_id": 1, "item_number": "P-S"}],
    )
    link = link_listing(parse_listing({"sku": "P-S", "upc": "036000291452"}), index, ("sku", "upc"))
    assert (link.vi_id, link.product_id, link.matched_by) == (10, None, "sku")


# -- lookups ---------------------------------------------------------------------------------
@pytest.fixture
def builder() -> IndexBuilder:
    """An index builder over a session that is never used to send."""
    settings = ConnectionSettings(base_url="http://127.0.0.1:9/api/v1", access_token="t")
    return IndexBuilder(CartcomSession(settings), ListingOptions.from_config({}))


def test_or_terms_pack_into_urls_under_the_cap(builder):
    skus = [f"SKU-{i:06d}+x" for i in range(600)]
    base = builder._lookup_base("/products")
    chunks = builder._chunks("/products", {"item_number": skus, "gtin": ["036000291452"]}, base)
    assert len(chunks) > 1
    seen = []
    for params in chunks:
        url = requests.Request("GET", builder.session.url("/products"), params=params).prepare().url
        parts = urlsplit(url)
        assert len(parts.path) + 1 + len(parts.query) <= 2048
        query = parse_qs(parts.query)
        seen += query.get("item_number", [""])[0].split(" OR ") if "item_number" in query else []
    assert seen == skus
    last = parse_qs(
        urlsplit(
            requests.Request("GET", "http://h/api/v1/products", params=chunks[-1]).prepare().url
        ).query
    )
    # A field after the first in one URL ORs with it (§1.5); alone, it needs no "OR ".
    assert last["gtin"] == ["OR 036000291452" if "item_number" in last else "036000291452"]
    assert (
        quote_plus("SKU-000001+x")
        in requests.Request("GET", "http://h/p", params=chunks[0]).prepare().url
    )


def test_values_that_look_like_operators_are_sent_with_eq(builder):
    chunks = builder._chunks("/products", {"item_number": ["gt:5", "PLAIN"]}, {})
    assert chunks == [{"item_number": "eq:gt:5 OR PLAIN"}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (20, 20.0),
        (Decimal("19.999"), 20.0),
        (2**63, float(2**63)),
        (10**400, "finite"),
        (float("inf"), "finite"),
        (-1, "negative"),
        ("1e3", 1000.0),
    ],
)
def test_price_of_every_spelling_and_size(value, expected):
    """Plain ints and floats take a shortcut; it agrees with the ``Decimal`` route at the edges."""
    record = {"sku": "A", "price": value}
    if isinstance(expected, str):
        field, message = error_of(record)
        assert field == "price"
        assert expected in message
    else:
        assert parse_listing(record).price == expected


def test_lookup_estimate_stops_counting_past_its_cap(builder):
    """``at_most`` gives the exact count up to the cap and ``at_most + 1`` beyond it."""
    listings = [
        parse_listing({"sku": f"SKU-{i:06d}", "variants": [{"sku": f"SKU-{i:06d}-S"}]})
        for i in range(3000)
    ]
    terms = builder._terms(listings)
    full = builder.estimate_lookups(terms)
    assert full > 10
    assert builder.estimate_lookups(terms, at_most=full) == full
    assert builder.estimate_lookups(terms, at_most=full + 5) == full
    for cap in (0, 1, 2, full - 1):
        assert builder.estimate_lookups(terms, at_most=cap) == cap + 1
    few = builder._terms(listings[:3])
    assert builder.estimate_lookups(few, at_most=2) == builder.estimate_lookups(few) == 2


def _outcome(record: dict, pick) -> tuple:
    """What parsing ``record`` gives: ``("ok", pick(listing))`` or ``("error", field, message)``."""
    try:
        return ("ok", pick(parse_listing(record)))
    except RecordError as err:
        return ("error", err.field, err.message)


@pytest.mark.parametrize(
    "fields",
    [
        {"price": Decimal("19.999")},
        {"price": Decimal("0")},
        {"price": -0.0},
        {"price": Decimal("-0.01")},
        {"price": Decimal("NaN")},
        {"price": Decimal("Infinity")},
        {"price": float("nan")},
        {"price": 2**63},
        {"price": 10**400},
        {"price": "abc"},
        {"price": True},
        {"price": ""},
        {"price": "  "},
        {"price": "$1,299.00"},
        {"price": "19.999"},
        {"price": "€5"},
        {"price": "12,50"},
        {"quantity": ""},
        {"quantity": "1,200.00"},
        {"quantity": "1,200"},
        {"quantity": 3},
        {"quantity": -1},
        {"quantity": 10**18 - 1},
        {"quantity": 10**18},
        {"quantity": True},
        {"quantity": Decimal("2.0")},
        {"quantity": "5"},
        {"quantity": 1.5},
        {"gtin": "036000291452"},
        {"gtin": " 036000291452 "},
        {"gtin": "036-000-291452"},
        {"gtin": "036000291453"},
        {"gtin": "\u0660\u0663\u0666000291452"},
        {"gtin": ""},
        {"gtin": 36000291452},
        {"gtin": "036000291452", "upc": "036000291452"},
        {"gtin": "036000291452", "upc": "012345678905"},
        {"upc": "036000291452"},
    ],
)
def test_a_variant_checks_each_value_as_a_listing_does(fields):
    """The variant's shortcuts for the usual price, quantity and barcode agree with the checks.

    A simple listing's fields take the full route; the same values on a variant must give the
    same value, or the same message naming the same field under ``variants[0].``.
    """
    keys = {"price": "price", "quantity": "quantity", "gtin": "gtin", "upc": "gtin"}
    attr = keys[next(iter(fields))]
    as_listing = _outcome({"sku": "A", **fields}, lambda x: getattr(x, attr))
    as_variant = _outcome(
        {"sku": "A", "variants": [{"sku": "A-S", "options": {"Size": "S"}, **fields}]},
        lambda x: getattr(x.variants[0], attr),
    )
    if as_listing[0] == "error":
        as_listing = ("error", f"variants[0].{as_listing[1]}", as_listing[2])
    assert as_variant == as_listing


@pytest.mark.parametrize(
    ("sku", "expected"),
    [
        ("A-1", "A-1"),
        (" A-1 ", "A-1"),
        ("a.b_c~d", "a.b_c~d"),
        ("A 1", "A 1"),
        ("and", "sku"),
        ("ANDY", "ANDY"),
        ("A AND B", "sku"),
        ("A\t1", "sku"),
        ("\u212aBC-1", "\u212aBC-1"),
        ("X" * 2000, "sku"),
        ("", "sku"),
        (7, "7"),
    ],
)
def test_the_usual_sku_shortcut_keeps_every_check(sku, expected):
    """A plain SKU skips stripping and the look-alike check; any other SKU still gets both."""
    for record, field in (
        ({"sku": sku}, "sku"),
        ({"sku": "P", "variants": [{"sku": sku, "options": {"S": "1"}}]}, "variants[0].sku"),
    ):
        got = _outcome(record, lambda x: x.variants[0].sku if x.variants else x.sku)
        if expected == "sku":
            assert got[:2] == ("error", field)
        else:
            assert got == ("ok", expected)


def test_the_first_bad_variant_field_is_named_whatever_takes_a_shortcut():
    """Fields are checked in one order: a bad mpn is named before a bad price, gtin first."""
    variant = {"sku": "A-S", "options": {"S": "1"}, "mpn": [], "price": "x", "quantity": -1}
    assert error_of({"sku": "A", "variants": [variant]})[0] == "variants[0].mpn"
    variant = {"sku": "A-S", "options": {"S": "1"}, "gtin": "1", "mpn": [], "price": "x"}
    assert error_of({"sku": "A", "variants": [variant]})[0] == "variants[0].gtin"
    variant = {"sku": "A-S", "options": {"S": "1"}, "price": -1, "quantity": "x"}
    assert error_of({"sku": "A", "variants": [variant]})[0] == "variants[0].price"


@pytest.mark.parametrize(
    ("sku", "key"),
    [
        ("KBC-1", "kbc-1"),
        (" Kbc-1 ", "kbc-1"),
        (None, ""),
        ("\u212aBC-1", "\u212abc-1"),
        ("STRA\u00dfE-1", "stra\u00dfe-1"),
        ("\u0130-1", "\u0130-1"),
        ("\u00c9T\u00c9", "\u00c9t\u00c9"),
    ],
)
def test_the_sku_key_folds_ascii_letters_only(sku, key):
    """ASCII SKUs take ``lower``; any other keeps its non-ASCII letters (Kelvin sign, İ, É)."""
    assert sku_key(sku) == key


def test_a_variant_sku_the_store_holds_as_a_lookalike_is_ambiguous():
    r"""``\u212aBC-1`` on a variant, ``KBC-1`` in the store: the variant's SKU fails the link."""
    index = index_of(
        [{"id": 3, "item_number": "P"}], [{"id": 5, "product_id": 3, "item_number": "KBC-1"}]
    )
    listing = parse_listing(
        {"sku": "P", "variants": [{"sku": "\u212aBC-1", "options": {"S": "1"}}]}
    )
    with pytest.raises(RecordError, match="looks the same") as caught:
        link_listing(listing, index, ("sku",))
    assert caught.value.field == "variants[0].sku"


def test_variants_linked_by_upc_to_rows_with_another_sku_are_noted_by_field():
    """Only a variant whose row carries another SKU is noted, under its barcode's field name."""
    rows = [
        {"id": 5, "product_id": 3, "item_number": "OLD-V", "gtin": "036000291452"},
        {"id": 6, "product_id": 3, "item_number": "v-2", "gtin": "012345678905"},
        {"id": 7, "product_id": 3, "item_number": "V-3"},
    ]
    index = index_of([{"id": 3, "item_number": "P"}], rows)
    variants = [
        {"sku": "NEW-V", "options": {"S": "1"}, "upc": "036000291452"},
        {"sku": "V-2", "options": {"S": "2"}, "upc": "012345678905"},
        {"sku": "V-3", "options": {"S": "3"}},
    ]
    link = link_listing(parse_listing({"sku": "P", "variants": variants}), index, ("upc", "sku"))
    assert link.variants == {0: 5, 1: 6, 2: 7}
    assert link.other_skus == [("variants[0].gtin", "NEW-V", "OLD-V")]

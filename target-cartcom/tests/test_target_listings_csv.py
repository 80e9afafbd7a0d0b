"""CSV supplier feeds: every cell a string, empty cells, spreadsheet spellings, option columns.

A CSV tap (tap-spreadsheets) types every column as a string and gives an empty cell as ``""``;
these tests feed the target what such a tap emits (docs/listings.md, "CSV supplier feeds").
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from cartcom_testing.listing_scenarios import add_reference_data, run_target
from target_cartcom._client import ConfigurationError
from target_cartcom.listings.flat import FlatRows
from target_cartcom.listings.record import RecordError, parse_listing
from target_cartcom.listings.settings import ListingOptions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "listings.md"
COLUMNS = (("size", "Size"), ("colour", "Colour"))
ALL_OPS = ["link", "sync", "publish", "overwrite"]


def error_of(record: dict[str, Any], columns: tuple = ()) -> tuple[str | None, str]:
    """The (field, message) a record is refused with."""
    with pytest.raises(RecordError) as caught:
        parse_listing(record, columns) if columns else parse_listing(record)
    return caught.value.field, caught.value.message


def csv_singer(rows: list[dict[str, str]], stream: str = "listings") -> str:
    """Singer messages as tap-spreadsheets writes them: every column a nullable string."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    schema = {
        "type": "object",
        "properties": {c: {"type": ["string", "null"]} for c in columns},
    }
    lines = [{"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["sku"]}]
    lines += [{"type": "RECORD", "stream": stream, "record": row} for row in rows]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def csv_row(**cells: str) -> dict[str, str]:
    """One CSV row: every column of the feed, empty unless given, plus the tap's metadata."""
    row = dict.fromkeys(
        (
            "sku",
            "parent_sku",
            "title",
            "description",
            "brand",
            "categories",
            "images",
            "price",
            "msrp",
            "cost",
            "quantity",
            "hidden",
            "upc",
            "weight",
            "size",
            "colour",
        ),
        "",
    )
    row.update(cells)
    row["_sdc_filename"] = "/feeds/supplier.csv"
    row["_sdc_last_modified"] = "2025-01-02T03:04:05+00:00"
    return row


# -- empty cells -----------------------------------------------------------------------------
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_an_empty_cell_is_not_given_in_every_optional_field(blank):
    """``""`` (or only spaces) in any optional field means the record does not give it."""
    fields = [
        "title",
        "description",
        "brand",
        "categories",
        "images",
        "mpn",
        "upc",
        "gtin",
        "weight",
        "length",
        "width",
        "height",
        "price",
        "msrp",
        "cost",
        "quantity",
        "hidden",
    ]
    record = {"sku": "A", **dict.fromkeys(fields, blank)}
    record["variants"] = [
        {
            "sku": "A-S",
            "options": {"Size": "S"},
            **dict.fromkeys(
                ["upc", "gtin", "mpn", "price", "msrp", "cost", "quantity", "weight", "image"],
                blank,
            ),
        }
    ]
    listing = parse_listing(record)
    assert listing.present == {"sku", "variants"}
    assert [getattr(listing, f) for f in fields if f != "upc"] == [
        [] if f in ("categories", "images") else None for f in fields if f != "upc"
    ]
    variant = listing.variants[0]
    assert (variant.gtin, variant.mpn, variant.price, variant.msrp, variant.cost) == (None,) * 5
    assert (variant.quantity, variant.weight, variant.image) == (None, None, None)


@pytest.mark.parametrize("blank", [[""], ["", " "], "|", ""])
def test_a_list_of_empty_cells_is_not_given(blank):
    listing = parse_listing({"sku": "A", "categories": blank, "images": blank})
    assert (listing.categories, listing.images) == ([], [])
    assert "categories" not in listing.present or blank == "|"


def test_blank_items_of_a_list_are_dropped_and_one_text_is_split_on_bars():
    listing = parse_listing(
        {
            "sku": "A",
            "categories": " Apparel > Shirts | Sale ||",
            "images": ["https://x/1.jpg", "", " https://x/2.jpg "],
        }
    )
    assert listing.categories == ["Apparel > Shirts", "Sale"]
    assert listing.images == ["https://x/1.jpg", "https://x/2.jpg"]
    # A bad item is named by its place in the cell.
    assert error_of({"sku": "A", "categories": "Sale| > "})[0] == "categories[1]"


# -- flags -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "hidden"),
    [
        ("TRUE", True),
        ("True", True),
        (" true ", True),
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("FALSE", False),
        ("False", False),
        ("no", False),
        ("N", False),
        ("0", False),
        (True, True),
        (0, False),
        (Decimal("1"), True),
    ],
)
def test_hidden_takes_the_spellings_spreadsheets_write(cell, hidden):
    assert parse_listing({"sku": "A", "hidden": cell}).hidden is hidden


@pytest.mark.parametrize("cell", ["maybe", "2", "t", "on", 2, [True]])
def test_hidden_refuses_what_is_no_flag_naming_the_field(cell):
    field, message = error_of({"sku": "A", "hidden": cell})
    assert field == "hidden"
    assert "yes/no" in message


# -- numbers and amounts ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"price": "70"}, 70.0),
        ({"price": "65.00"}, 65.0),
        ({"price": " 19.99 "}, 19.99),
        ({"price": "$19.99"}, 19.99),
        ({"price": "$ 19.99"}, 19.99),
        ({"price": "1,299.00"}, 1299.0),
        ({"price": "$1,299.50"}, 1299.5),
        ({"price": "12.3400"}, 12.34),
        ({"msrp": "$24.99"}, 24.99),
        ({"cost": "7.5"}, 7.5),
        ({"weight": "0.40"}, 0.4),
        ({"weight": "1,250.5"}, 1250.5),
        ({"quantity": " 7 "}, 7),
        ({"quantity": "1,200.00"}, 1200),
    ],
)
def test_numbers_as_csv_gives_them(cells, expected):
    (name,) = cells
    assert getattr(parse_listing({"sku": "A", **cells}), name) == expected
    variant = {"sku": "A-S", "options": {"Size": "S"}, **cells}
    assert getattr(parse_listing({"sku": "A", "variants": [variant]}).variants[0], name) == (
        expected
    )


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        ({"price": "12.345"}, "more than 2 decimals"),
        ({"msrp": "$9.999"}, "more than 2 decimals"),
        ({"cost": "0.001"}, "more than 2 decimals"),
        ({"price": "€19.99"}, "currency other than $"),
        ({"price": "£5"}, "currency other than $"),
        ({"price": "19.99 EUR"}, "currency other than $"),
        ({"price": "USD 19.99"}, "currency other than $"),
        ({"price": "12,50"}, "thousands separator"),
        ({"price": "1,299"}, "thousands separator"),
        ({"price": "1.299,00"}, "thousands separator"),
        ({"price": "1 299.00"}, "expected a number"),
        ({"weight": "$5"}, "expected a number"),
        ({"weight": "0,5"}, "thousands separator"),
        ({"quantity": "1,200"}, "thousands separator"),
        ({"quantity": "TRUE"}, "whole number"),
    ],
)
def test_text_a_number_cannot_be_read_from_is_refused_naming_the_field(cells, words):
    """Never a silent guess: a rounding, a currency, or a comma that could be a decimal one."""
    (name,) = cells
    field, message = error_of({"sku": "A", **cells})
    assert field == name
    assert words in message
    variant = {"sku": "A-S", "options": {"Size": "S"}, **cells}
    assert error_of({"sku": "A", "variants": [variant]}) == (f"variants[0].{name}", message)


def test_a_json_amount_is_rounded_to_the_cent_and_the_listing_says_so():
    """JSON numbers keep today's rule (rounded to the cent), now with a note for the result."""
    listing = parse_listing(
        {
            "sku": "A",
            "price": Decimal("19.999"),
            "msrp": 24.99,
            "variants": [{"sku": "A-S", "options": {"S": "1"}, "price": Decimal("1.234")}],
        }
    )
    assert (listing.price, listing.msrp, listing.variants[0].price) == (20.0, 24.99, 1.23)
    assert sorted(listing.notes) == [
        "price 19.999 rounded to the cent: 20.00",
        "variants[0].price 1.234 rounded to the cent: 1.23",
    ]


# -- option columns: parsing and settings -----------------------------------------------------
def test_option_columns_make_a_nested_variants_options():
    listing = parse_listing(
        {
            "sku": "TEE",
            "variants": [
                {"sku": "TEE-S", "size": "S", "colour": " Red "},
                {"sku": "TEE-M", "size": "M", "colour": "Red", "options": {"colour": "Red"}},
            ],
        },
        COLUMNS,
    )
    assert [v.options for v in listing.variants] == [
        {"Size": "S", "Colour": "Red"},
        {"colour": "Red", "Size": "M"},
    ]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"sku": "A", "size": "M"}, "size"),
        ({"sku": "A", "variants": [{"sku": "A-S", "size": ["M"]}]}, "variants[0].size"),
        (
            {"sku": "A", "variants": [{"sku": "A-S", "size": "M", "options": {"size": "L"}}]},
            "variants[0].size",
        ),
    ],
)
def test_option_columns_refuse_naming_the_column(record, field):
    """A product without variants has no options; a cell must agree with ``options``."""
    assert error_of(record, COLUMNS)[0] == field


def test_a_simple_product_may_leave_its_option_columns_empty():
    listing = parse_listing({"sku": "A", "size": "", "colour": " "}, COLUMNS)
    assert listing.variants == []


def test_the_option_columns_setting():
    read = ListingOptions.from_config
    assert read({}).option_columns == ()
    assert read({"option_columns": {"size": "Size", "colour": "Colour"}}).option_columns == (
        ("size", "Size"),
        ("colour", "Colour"),
    )
    assert read({"option_columns": '{"size": " Size "}'}).option_columns == (("size", "Size"),)
    for bad, words in (
        ({"price": "Price"}, "is a listing field"),
        ({"size": "Size", "talla": "size"}, "both hold option"),
        ({"size": ""}, "needs a column and an option name"),
        ({"size": 3}, "needs a column and an option name"),
        ("[1]", "must be an object"),
    ):
        with pytest.raises(ConfigurationError, match=words):
            read({"option_columns": bad})


# -- flat rows: by meaning, option columns, metadata columns ---------------------------------
def assemble(rows: list[dict[str, Any]], columns: tuple = COLUMNS):
    flat = FlatRows()
    for row in rows:
        flat.add(row["parent_sku"], row)
    return flat.assemble(columns)


def test_flat_rows_agree_by_meaning_and_ignore_empty_cells_and_metadata():
    rows = [
        csv_row(sku="H-S", parent_sku="H", title="Hat", hidden="TRUE", weight="0.40", size="S"),
        csv_row(sku="H-M", parent_sku="H", title=" Hat ", hidden="yes", weight=".4", size="M"),
        csv_row(sku="H-L", parent_sku="H", size="L"),
    ]
    rows[2]["_sdc_filename"] = "/feeds/supplier-2.csv"
    (listing,), failed = assemble(rows)
    assert failed == []
    assert listing.record["title"] == "Hat"
    assert "size" not in listing.record
    assert not any(k.startswith("_sdc_") for k in listing.record)
    assert [v["options"] for v in listing.record["variants"]] == [
        {"Size": "S"},
        {"Size": "M"},
        {"Size": "L"},
    ]
    assert listing.record["variants"][2] == {"sku": "H-L", "options": {"Size": "L"}}


def test_a_row_filling_other_option_columns_than_its_parents_first_fails_naming_one():
    rows = [
        csv_row(sku="T-S-R", parent_sku="T", size="S", colour="Red"),
        csv_row(sku="T-M-R", parent_sku="T", size="M", colour="Red"),
        csv_row(sku="T-L", parent_sku="T", size="L"),
        csv_row(sku="T-X", parent_sku="T", colour="Blue"),
        csv_row(sku="U-S", parent_sku="U", size="S"),
        csv_row(sku="U-M-R", parent_sku="U", size="M", colour="Red"),
    ]
    listings, failed = assemble(rows)
    assert [len(a.rows) for a in listings] == [2, 1]
    assert [(row.record["sku"], err.field) for row, _, err in failed] == [
        ("T-L", "colour"),
        ("T-X", "size"),
        ("U-M-R", "colour"),
    ]
    assert "first row (sku 'T-S-R')" in failed[0][2].message


# -- on the sandbox ----------------------------------------------------------------------------
def store_view(sb: Any) -> dict[str, Any]:
    """Each product by SKU: name, price, hidden, its variant rows' option values and stock."""
    groups = {g["id"]: g["name"] for g in sb.store.query("variant_groups")}
    values = {v["id"]: v for v in sb.store.query("product_variants")}
    vi_values = sb.store.vi_variants([v["id"] for v in sb.store.query("variant_inventory")])
    out = {}

    def options(vi_id: int) -> dict[str, str]:
        made_of = [values[p["id"]] for p in vi_values[vi_id]]
        return {groups[v["variant_group_id"]]: v["description"] for v in made_of}

    for product in sb.store.query("products"):
        rows = {
            vi["item_number"]: (options(vi["id"]), vi["inventory"])
            for vi in sb.store.query("variant_inventory", {"product_id": product["id"]})
        }
        out[product["item_number"]] = {
            "title": product["item_name"],
            "price": product["price"],
            "hidden": bool(product["is_hidden"]),
            "quantity": product["quantity_on_hand"],
            "description": product.get("long_description_1"),
            "rows": rows,
        }
    return out


SUPPLIER_ROWS = [
    csv_row(
        sku="CAP",
        title="Café Cap",
        description="Wool,\nlined",
        categories="Apparel > Shirts|Sale",
        price="$12.50",
        quantity=" 4 ",
        hidden="FALSE",
        upc="036000291452",
    ),
    csv_row(
        sku="TEE-S-RED",
        parent_sku="TEE",
        title="Tee",
        categories="Apparel > Shirts",
        hidden="TRUE",
        price="1,019.00",
        quantity="3",
        size="S",
        colour="Red",
    ),
    csv_row(sku="TEE-M-RED", parent_sku="TEE", price="19.00", quantity="0", size="M", colour="Red"),
    csv_row(sku="TEE-M-BLU", parent_sku="TEE", price="19", size="M", colour="Blue"),
]


def test_a_csv_feed_with_option_columns_publishes_every_row(sandbox):
    """What a CSV tap emits (strings, empty cells, metadata columns) publishes with 0 failures."""
    add_reference_data(sandbox.store, groups=("Size",))
    run = run_target(
        sandbox.base_url,
        sandbox.token,
        csv_singer(SUPPLIER_ROWS),
        operations=ALL_OPS,
        option_columns={"size": "Size", "colour": "Colour"},
    )
    assert run.summary["failed"] == 0, [r for r in run.results if r["outcome"] == "failed"]
    assert sorted((r["sku"], r["outcome"]) for r in run.results) == [
        ("CAP", "created"),
        ("TEE-M-BLU", "created"),
        ("TEE-M-RED", "created"),
        ("TEE-S-RED", "created"),
    ]
    view = store_view(sandbox)
    assert view["CAP"] == {
        "title": "Café Cap",
        "price": 12.5,
        "hidden": False,
        "quantity": 4,
        "description": "Wool,\nlined",
        "rows": {},
    }
    assert view["TEE"]["hidden"] is True
    assert view["TEE"]["rows"] == {
        "TEE-S-RED": ({"Size": "S", "Colour": "Red"}, 3),
        "TEE-M-RED": ({"Size": "M", "Colour": "Red"}, 0),
        "TEE-M-BLU": ({"Size": "M", "Colour": "Blue"}, 0),
    }
    # The replay writes nothing.
    before = len(sandbox.calls)
    again = run_target(
        sandbox.base_url,
        sandbox.token,
        csv_singer(SUPPLIER_ROWS),
        operations=ALL_OPS,
        option_columns={"size": "Size", "colour": "Colour"},
    )
    assert {r["outcome"] for r in again.results} == {"unchanged"}
    assert [c for c in sandbox.calls.snapshot()[before:] if c.method != "GET"] == []


def test_an_empty_cell_never_clears_a_store_field(sandbox):
    """Overwrite replaces what a record gives; an empty description cell gives nothing."""
    add_reference_data(sandbox.store)
    first = csv_row(sku="CAP", title="Cap", description="Kept", categories="Apparel > Shirts")
    first["price"] = "5"
    run_target(sandbox.base_url, sandbox.token, csv_singer([first]), operations=ALL_OPS)
    empty = csv_row(sku="CAP", title="Cap 2", description="", categories="", hidden="")
    run = run_target(sandbox.base_url, sandbox.token, csv_singer([empty]), operations=ALL_OPS)
    assert run.summary["failed"] == 0
    view = store_view(sandbox)["CAP"]
    assert (view["title"], view["description"], view["price"]) == ("Cap 2", "Kept", 5.0)


def test_a_json_amount_rounded_is_said_in_the_result_line(sandbox):
    add_reference_data(sandbox.store)
    record = {"sku": "R", "title": "R", "categories": ["Apparel > Shirts"], "price": 9.999}
    run = run_target(sandbox.base_url, sandbox.token, [record], operations=ALL_OPS)
    (line,) = run.results
    assert line["outcome"] == "created"
    assert "price 9.999 rounded to the cent: 10.00" in line["warning"]
    assert store_view(sandbox)["R"]["price"] == 10.0


def docs_stream_map() -> dict[str, Any]:
    """The stream map docs/listings.md gives for option columns (between its markers)."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- csv-stream-map -->", 1)[1].split("<!-- /csv-stream-map -->")[0]
    config = yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])
    (loader,) = config["plugins"]["loaders"]
    return loader["config"]["stream_maps"]


def test_the_stream_map_way_of_the_docs_builds_the_same_options(sandbox):
    """Without option_columns, the documented stream map makes the same store."""
    add_reference_data(sandbox.store, groups=("Size",))
    run = run_target(
        sandbox.base_url,
        sandbox.token,
        csv_singer(SUPPLIER_ROWS),
        operations=ALL_OPS,
        stream_maps=docs_stream_map(),
    )
    assert run.summary["failed"] == 0, [r for r in run.results if r["outcome"] == "failed"]
    assert store_view(sandbox)["TEE"]["rows"] == {
        "TEE-S-RED": ({"Size": "S", "Colour": "Red"}, 3),
        "TEE-M-RED": ({"Size": "M", "Colour": "Red"}, 0),
        "TEE-M-BLU": ({"Size": "M", "Colour": "Blue"}, 0),
    }


def test_a_row_of_empty_cells_is_skipped_and_said_so(sandbox):
    """A CSV's blank line (``,,,``, or a short row given as nulls) is no listing and no failure."""
    add_reference_data(sandbox.store)
    blank = csv_row()
    short = dict.fromkeys(csv_row(), None)
    run = run_target(
        sandbox.base_url, sandbox.token, csv_singer([blank, short]), operations=ALL_OPS
    )
    assert run.exit_error is None
    assert [(r["outcome"], r["operation"]) for r in run.results] == [("skipped", "validate")] * 2
    assert "an empty row" in run.results[0]["error"]
    assert sandbox.store.query("products") == []


def test_a_row_missing_several_option_columns_names_the_first_in_column_order():
    """The first row fills size and colour, the second neither: it fails naming ``size``."""
    rows = [
        csv_row(sku="K-S-R", parent_sku="K", size="S", colour="Red"),
        csv_row(sku="K-X", parent_sku="K"),
    ]
    _listings, failed = assemble(rows)
    assert [(row.record["sku"], err.field) for row, _, err in failed] == [("K-X", "size")]


def test_an_empty_first_option_column_does_not_hide_the_next():
    """Size empty, colour given: the variant's option is the colour alone."""
    rows = [
        csv_row(sku="C-R", parent_sku="C", colour="Red"),
        csv_row(sku="C-B", parent_sku="C", colour="Blue"),
    ]
    (listing,), failed = assemble(rows)
    assert failed == []
    assert [v["options"] for v in listing.record["variants"]] == [
        {"Colour": "Red"},
        {"Colour": "Blue"},
    ]


def test_option_columns_from_the_environment_must_be_json():
    """``TARGET_CARTCOM_OPTION_COLUMNS`` holds JSON text: anything else is refused, not guessed."""
    with pytest.raises(ConfigurationError, match="must be an object"):
        ListingOptions.from_config({"option_columns": "size=Size"})

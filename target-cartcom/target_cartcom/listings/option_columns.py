"""Option columns: the CSV columns that hold a variant's option values (``option_columns``).

A supplier's CSV gives each variant's options as columns (``size``, ``colour``). The setting
``option_columns: {size: Size, colour: Colour}`` names those columns and the option each one
holds. On a flat row (``parent_sku``) or a nested variant, each given cell becomes
``options[<option>]``, and the column is no field of its own (so not a parent field the rows of
a parent must agree on); an empty cell is not given. A product without variants has no
options: a value in one of its option columns fails it, naming the column.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.resources import files
from typing import Any

from target_cartcom._client import ConfigurationError
from target_cartcom.listings.cells import is_given
from target_cartcom.outcomes import RecordError, shorten

#: (column, option name) pairs, in the order the setting gives them.
OptionColumns = tuple[tuple[str, str], ...]


def with_columns(record: dict[str, Any], columns: OptionColumns, where: str = "") -> Any:
    """``record["options"]`` with the option columns' values added (None when neither gives one).

    A column naming an option that ``options`` gives too must agree with it; errors name the
    column (``where`` prefixes it: ``variants[1].``).
    """
    base = record.get("options")
    added: dict[str, tuple[str, str]] = {}
    for column, name in columns:
        value = record.get(column)
        if not is_given(value):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            msg = f"expected a text option value for option {name!r}, got {shorten(value)}"
            raise RecordError(f"{where}{column}", msg)
        added[name] = (column, str(value).strip())
    if not added:
        return base
    if not is_given(base) or base == {}:
        return {name: value for name, (_, value) in added.items()}
    if not isinstance(base, dict):
        return base  # not an object: the variant's validation names ``options``
    merged = dict(base)
    given = {str(k).strip().casefold(): k for k in base}
    for name, (column, value) in added.items():
        key = given.get(name.casefold())
        if key is None:
            merged[name] = value
        elif str(base[key]).strip() != value:
            msg = f"{value!r} for option {name!r} disagrees with options' {base[key]!r}"
            raise RecordError(f"{where}{column}", msg)
    return merged


def filled(record: dict[str, Any], columns: OptionColumns) -> tuple[str, ...]:
    """The option columns a record gives a value in, in the setting's order."""
    return tuple(column for column, _ in columns if is_given(record.get(column)))


def refuse_option_cells(record: dict[str, Any], columns: OptionColumns) -> None:
    """A record that is no variant (no ``parent_sku``): a value in an option column fails it."""
    for column, name in columns:
        if is_given(record.get(column)):
            msg = (
                f"{shorten(record[column])} in an option column (option_columns: {column} -> "
                f"{name}), but the record has no parent_sku: only a variant has options; "
                "leave the cell empty for a product without variants"
            )
            raise RecordError(column, msg)


def read_setting(value: Any) -> OptionColumns:
    """``option_columns`` checked: column -> option name; a JSON text (from the environment) too."""
    if value in (None, "", {}):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        msg = '`option_columns` must be an object such as {"size": "Size", "colour": "Colour"}.'
        raise ConfigurationError(msg)
    fields = set(_listing_fields())
    pairs: list[tuple[str, str]] = []
    names: dict[str, str] = {}
    for column, name in value.items():
        column_text = str(column).strip()
        name_text = name.strip() if isinstance(name, str) else ""
        if not column_text or not name_text:
            msg = f"`option_columns` needs a column and an option name, got {column!r}: {name!r}."
            raise ConfigurationError(msg)
        if column_text in fields:
            msg = (
                f"`option_columns`: {column_text!r} is a listing field, not a column of option "
                "values; rename the column (a stream map can) or leave it out."
            )
            raise ConfigurationError(msg)
        other = names.setdefault(name_text.casefold(), column_text)
        if other != column_text:
            msg = f"`option_columns`: {other!r} and {column_text!r} both hold option {name_text!r}."
            raise ConfigurationError(msg)
        pairs.append((column_text, name_text))
    return tuple(pairs)


def _listing_fields() -> list[str]:
    """The fields of a listing record (its JSON Schema), which no option column may take."""
    schema = files("target_cartcom") / "schemas" / "listing.schema.json"
    return list(json.loads(schema.read_text(encoding="utf-8"))["properties"])

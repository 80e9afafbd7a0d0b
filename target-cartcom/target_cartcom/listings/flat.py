"""Flat feeds: one row per variant, carrying ``parent_sku``, grouped into nested listings.

Relational sources (an ERP table through tap-postgres, a supplier's CSV) give one row per
variant. A row whose ``parent_sku`` differs from its ``sku`` is one variant of the product
``parent_sku``: its ``VARIANT_FIELDS`` belong to the variant, every other field (title,
description, brand, categories, images...) to the parent, and rows of one parent must agree on
those (by meaning: ``"TRUE"`` and ``"yes"`` agree; an empty cell gives nothing). Stream maps
can rename fields but cannot group rows, so the target groups them: rows are kept until the end
of the input (whatever their order, however the SDK batches them), then each parent goes
through the same path as the same listing given nested. The ``option_columns`` of a row are its
variant's options (``option_columns.py``); every row of a parent fills the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from target_cartcom.listings.cells import METADATA_PREFIX, is_given
from target_cartcom.listings.option_columns import OptionColumns, filled, with_columns
from target_cartcom.listings.record import field_meaning
from target_cartcom.outcomes import RecordError, shorten
from target_cartcom.results import RecordResult

#: A flat row's fields that describe its variant; the others describe the parent.
VARIANT_FIELDS = (
    "sku",
    "options",
    "upc",
    "gtin",
    "price",
    "msrp",
    "cost",
    "quantity",
    "image",
    "mpn",
)
#: Neither the variant's nor the parent's content: how the row is tied to its parent.
_LINK_FIELDS = ("parent_sku",)


def parent_of(record: Any) -> str | None:
    """The row's ``parent_sku`` when the record is a flat variant row, else None."""
    if not isinstance(record, dict):
        return None
    parent = record.get("parent_sku")
    if parent is None or isinstance(parent, bool) or not isinstance(parent, str | int):
        return None
    parent_text = str(parent).strip()
    if not parent_text or parent_text == str(record.get("sku") or "").strip():
        return None
    return parent_text


@dataclass
class Row:
    """One flat row as it came, with where it came in the input."""

    order: int
    record: dict[str, Any]


@dataclass
class Group:
    """The rows of one parent SKU, in input order."""

    parent_sku: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Assembled:
    """A parent's nested listing, and which rows it was built from (variant i = rows[i])."""

    parent_sku: str
    record: dict[str, Any]
    rows: list[Row]


class FlatRows:
    """Flat rows of the whole run, by parent SKU (first-seen order)."""

    def __init__(self) -> None:
        """Nothing kept yet."""
        self.groups: dict[str, Group] = {}
        self._count = 0

    def __len__(self) -> int:
        """Rows kept."""
        return self._count

    def add(self, parent_sku: str, record: dict[str, Any]) -> None:
        """Keep one row until the end of the input."""
        self.groups.setdefault(parent_sku, Group(parent_sku)).rows.append(Row(self._count, record))
        self._count += 1

    def assemble(
        self, columns: OptionColumns = ()
    ) -> tuple[list[Assembled], list[tuple[Row, str, RecordError]]]:
        """Each parent as a nested listing; rows that disagree with their parent fail alone.

        The first row that gives a parent field sets it; a later row giving another value for
        it fails, naming the field (the others go through). Likewise the first row's filled
        ``columns`` (option columns) are the parent's: a row filling others fails, naming one.
        """
        listings: list[Assembled] = []
        failed: list[tuple[Row, str, RecordError]] = []
        for group in self.groups.values():
            parent: dict[str, Any] = {"sku": group.parent_sku}
            meanings: dict[str, Any] = {}
            source: dict[str, str] = {}
            kept: list[Row] = []
            variants: list[dict[str, Any]] = []
            first_filled: tuple[str, ...] = ()
            for row in group.rows:
                try:
                    variant = _variant(row.record, columns)
                    if columns:
                        used = filled(row.record, columns)
                        if kept:
                            _check_filled(used, first_filled, kept[0], group.parent_sku)
                    content = _content(row.record, columns)
                    meaning = {name: field_meaning(name, v) for name, v in content.items()}
                    for name, value in content.items():
                        if name in parent and meanings[name] != meaning[name]:
                            msg = (
                                f"{shorten(value)} disagrees with {shorten(parent[name])} given "
                                f"for parent {group.parent_sku!r} by an earlier row "
                                f"({source.get(name, 'the parent')}); a parent field must be "
                                "the same on every row"
                            )
                            raise RecordError(name, msg)
                except RecordError as err:
                    failed.append((row, group.parent_sku, err))
                    continue
                for name, value in content.items():
                    if name not in parent:
                        parent[name] = value
                        meanings[name] = meaning[name]
                        source[name] = f"sku {row.record.get('sku')!r}"
                if not kept and columns:
                    first_filled = used
                kept.append(row)
                variants.append(variant)
            if not kept:
                continue
            parent["variants"] = variants
            listings.append(Assembled(group.parent_sku, parent, kept))
        return listings, failed


def _variant(record: dict[str, Any], columns: OptionColumns) -> dict[str, Any]:
    """The row's variant fields that are given; its option columns in ``options``."""
    variant = {k: record[k] for k in VARIANT_FIELDS if is_given(record.get(k))}
    if columns:
        options = with_columns(record, columns)
        if options is not None:
            variant["options"] = options
    return variant


def _check_filled(
    used: tuple[str, ...], first: tuple[str, ...], first_row: Row, parent_sku: str
) -> None:
    """A row must fill the option columns its parent's first row fills, and only those."""
    if used == first:
        return
    first_sku = first_row.record.get("sku")
    missing = [c for c in first if c not in used]
    if missing:
        msg = (
            f"empty, but parent {parent_sku!r}'s first row (sku {first_sku!r}) gives this "
            "option: every variant of a parent needs a value in the same option columns"
        )
        raise RecordError(missing[0], msg)
    extra = next(c for c in used if c not in first)
    msg = (
        f"given, but parent {parent_sku!r}'s first row (sku {first_sku!r}) leaves this option "
        "column empty: every variant of a parent needs a value in the same option columns"
    )
    raise RecordError(extra, msg)


def _content(record: dict[str, Any], columns: OptionColumns = ()) -> dict[str, Any]:
    """The parent fields a row gives (absent, null and empty ones are not given)."""
    if is_given(record.get("variants")):
        raise RecordError("variants", "a flat row (with parent_sku) is one variant: no variants")
    skip = {column for column, _ in columns}
    return {
        k: v
        for k, v in record.items()
        if k not in VARIANT_FIELDS
        and k not in _LINK_FIELDS
        and k not in skip
        and not k.startswith(METADATA_PREFIX)
        and is_given(v)
    }


def row_result(result: RecordResult, assembled: Assembled, position: int) -> RecordResult:
    """The result line of one row, from its parent's: the row's SKU, fields named for the row."""
    row = assembled.rows[position]
    sku = row.record.get("sku")
    # The row's own variant field is named as the row names it (``quantity``); another
    # row's stays ``variants[i].quantity``, with ``variants[i]`` the i-th row of the parent.
    prefix = f"variants[{position}]."
    field_name = result.field
    if field_name and field_name.startswith(prefix):
        field_name = field_name[len(prefix) :]
    return RecordResult(
        result.stream,
        None if sku in (None, "") else str(sku),
        result.operation,
        result.outcome,
        ids=result.ids,
        changes=result.changes,
        error=result.error,
        field=field_name,
        warning=result.warning,
        planned_calls=result.planned_calls if position == 0 else [],
        sku=None if sku in (None, "") else str(sku),
        parent_sku=assembled.parent_sku,
    )

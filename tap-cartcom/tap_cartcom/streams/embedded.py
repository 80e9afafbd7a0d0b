"""Child streams filled from their parent's expanded record: no call of their own.

Order items, shipments and payments come inside each order (``expand``), variants, inventory,
pictures and pricing inside each product. The parent writes them as it emits its record; the
SDK's per-record child sync would re-send a SCHEMA and a STATE message per parent record.
"""

from __future__ import annotations

import typing as t
from functools import cached_property

from typing_extensions import override

from tap_cartcom import sdk_private
from tap_cartcom.streams.base import CartcomStream

if t.TYPE_CHECKING:
    from collections.abc import Iterable


class EmbeddedChildStream(CartcomStream):
    """A child emitted from its parent's expanded record: no call of its own.

    The parent writes these records directly (see ``ParentWithEmbeddedChildren``); the SDK's
    per-record child sync would re-send a SCHEMA and a STATE message per parent record.
    """

    state_partitioning_keys: t.ClassVar[list[str]] = []
    #: Key of the nested array in the parent record.
    parent_key: str = ""

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, t.Any]]:
        """Never called for reading: the parent emits this stream's records."""
        return iter(())


class ParentWithEmbeddedChildren(CartcomStream):
    """A parent whose expanded nested arrays are emitted as child streams, with no call."""

    @override
    def generate_child_contexts(self, record: dict, context: dict | None) -> Iterable[dict]:
        """No SDK-driven child syncs: ``emit_children`` writes them from the record."""
        return iter(())

    @cached_property
    def embedded_children(self) -> list[EmbeddedChildStream]:
        """Selected child streams fed from this stream's records."""
        return [
            child
            for child in self.child_streams
            if isinstance(child, EmbeddedChildStream) and child.selected
        ]

    def start_children(self) -> None:
        """Send each selected child's SCHEMA once per run, before its first record."""
        for child in self.embedded_children:
            sdk_private.write_schema(child)

    def emit_children(self, record: dict[str, t.Any]) -> None:
        """Write the nested rows of ``record`` to the selected child streams."""
        if not self.stream_maps[0].get_filter_result(record):
            return
        for child in self.embedded_children:
            rows = record.get(child.parent_key)
            if not rows:
                continue
            for row in rows:
                if isinstance(row, dict):
                    sdk_private.write_record(child, dict(row))

"""The listings sink: the SDK hooks only; a batch is applied by ``batch.ListingBatch``."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from target_cartcom.listings.batch import ListingBatch
from target_cartcom.listings.cells import flag, is_empty_row
from target_cartcom.listings.flat import parent_of, row_result
from target_cartcom.listings.fullfeed import FullFeed, named_skus
from target_cartcom.listings.state import ListingsState
from target_cartcom.outcomes import RecordError
from target_cartcom.results import RecordResult
from target_cartcom.sinks import CartcomSink
from target_cartcom.writer import PlannedCall


class ListingsSink(CartcomSink):
    """Links, syncs, publishes and overwrites listings."""

    @override
    def get_validator(self) -> None:
        """No SDK schema validation: ``record.py`` validates with errors naming the field.

        The SDK's validator would only log here, and costs about a millisecond per listing.
        """
        return

    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Apply one batch of listings; flat variant rows wait for the end of the input."""
        nested = []
        listings = self.run.state(ListingsState)
        flat = listings.flat
        full_feed = listings.options.missing_listings != "ignore"
        for record in records:
            if is_empty_row(record):
                self._skip_empty_row()
                continue
            if full_feed:
                listings.named |= named_skus(record)
                if isinstance(record, dict) and _says_hidden(record):
                    listings.kept_hidden |= named_skus(record)
            parent = parent_of(record)
            if parent is None:
                nested.append(record)
            else:
                flat.add(parent, record)
        if nested:
            self.run.progress.begin_batch(self.stream_name, len(nested))
            ListingBatch(self.run, nested).apply()

    def _skip_empty_row(self) -> None:
        """A row with every cell empty (a CSV's blank line) is no listing: skipped, said so."""
        self.run.report(
            RecordResult(
                "listings",
                None,
                "validate",
                "skipped",
                error="an empty row: no field is given (a blank line of a CSV)",
            )
        )

    def apply_flat_rows(self) -> None:
        """Group the run's flat rows per parent and apply each parent as a nested listing."""
        listings = self.run.state(ListingsState)
        flat = listings.flat
        if not len(flat):
            return
        assembled, failed = flat.assemble(listings.options.option_columns)
        flat.groups.clear()
        self.logger.info(
            "Flat feed: %d variant row(s) grouped into %d parent listing(s)",
            sum(len(a.rows) for a in assembled),
            len(assembled),
        )
        for row, parent_sku, error in failed:
            sku = row.record.get("sku")
            self.run.report(
                RecordResult(
                    "listings",
                    None if sku in (None, "") else str(sku),
                    "validate",
                    "failed",
                    error=error.message,
                    field=error.field,
                    sku=None if sku in (None, "") else str(sku),
                    parent_sku=parent_sku,
                )
            )
        size = max(1, self.max_size)
        for start in range(0, len(assembled), size):
            chunk = assembled[start : start + size]
            results: list[RecordResult] = []
            self.run.progress.begin_batch(self.stream_name, len(chunk))
            ListingBatch(self.run, [a.record for a in chunk], report=results.append).apply()
            for listing, result in zip(chunk, results, strict=True):
                for position in range(len(listing.rows)):
                    self.run.report(row_result(result, listing, position))
        self.run.progress.end_batch(self.stream_name)

    @override
    def clean_up(self) -> None:
        """At the end of the run: the flat rows, then one ``rebuild_tree`` if needed.

        ``rebuild_tree`` once, if any category was created or published into before its rebuild.
        """
        if not self.run.aborted:
            if self.run.has_state(ListingsState):
                self.apply_flat_rows()
            # Even a feed with no record at all: the safety rule must see it (and refuse).
            if str(self.config.get("missing_listings") or "ignore").strip().lower() != "ignore":
                listings = self.run.state(ListingsState)
                FullFeed(self.run, listings).apply()
        has_listings = self.run.has_state(ListingsState)
        refs = self.run.state(ListingsState).refs if has_listings else None
        if refs is not None and (refs.created_categories or refs.tree_stale):
            self.run.writer.apply(
                PlannedCall(
                    "POST",
                    "/categories/rebuild_tree",
                    None,
                    purpose="rebuild the category tree once",
                )
            )
            refs.created_categories = 0
            refs.tree_stale = False
        super().clean_up()


def _says_hidden(record: dict[str, Any]) -> bool:
    """Whether the record says ``hidden: true`` in any spelling (a bad value says nothing)."""
    try:
        return flag(record.get("hidden"), "hidden") is True
    except RecordError:
        return False

"""The listings sink: the SDK hooks only; a batch is applied by ``batch.ListingBatch``."""

from __future__ import annotations

from typing import Any

from target_cartcom.listings.batch import ListingBatch
from target_cartcom.plan import PlannedCall
from target_cartcom.sinks import CartcomSink


class ListingsSink(CartcomSink):
    """Links, syncs, publishes and overwrites listings."""

    def get_validator(self) -> None:
        """No SDK schema validation: ``record.py`` validates with errors naming the field.

        The SDK's validator would only log here, and costs about a millisecond per listing.
        """
        return

    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Apply one batch of listings; one result per record, in input order."""
        ListingBatch(self.run, records).apply()

    def clean_up(self) -> None:
        """At the end of the run: one ``rebuild_tree`` if any category was created."""
        refs = self.run.listings.refs if self.run.has_listings else None
        if refs is not None and refs.created_categories:
            self.run.writer.apply(
                PlannedCall(
                    "POST",
                    "/categories/rebuild_tree",
                    None,
                    purpose="rebuild the category tree once",
                )
            )
            refs.created_categories = 0
        super().clean_up()

"""The order sinks: tracking (``order_shipments``) and acknowledgements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from target_cartcom.orders.acknowledgements import AcknowledgementBatch
from target_cartcom.orders.common import without_date_formats
from target_cartcom.orders.shipments import ShipmentBatch
from target_cartcom.sinks import CartcomSink

if TYPE_CHECKING:
    from target_cartcom.target import TargetCartcom


class _OrderSink(CartcomSink):
    """Date formats are dropped from the incoming schema: dates are parsed per record."""

    def __init__(
        self,
        target: TargetCartcom,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        """Keep malformed dates from stopping the run (they fail their record instead)."""
        super().__init__(target, stream_name, without_date_formats(schema), key_properties)


class ShipmentsSink(_OrderSink):
    """Pushes shipments and tracking to orders, then marks them shipped."""

    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Upsert the batch's shipments; one result per record."""
        ShipmentBatch(self.run, records).apply()


class AcknowledgementsSink(_OrderSink):
    """Sets order statuses after import (Flxpoint's "Get Orders" acknowledgement)."""

    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Set the batch's statuses; one result per record."""
        AcknowledgementBatch(self.run, records).apply()

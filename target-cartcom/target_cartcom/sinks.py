"""The base sink: batches records and hands them to a stream's handler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink
from typing_extensions import override

from target_cartcom.outcomes import describe

if TYPE_CHECKING:
    from target_cartcom.run_context import RunContext
    from target_cartcom.target import TargetCartcom


class CartcomSink(BatchSink):
    """A batch of one stream's records, applied to the store at drain time.

    Subclasses implement ``apply_batch``. They key records on their own identifiers (a SKU, a
    shipment id) and report a missing one as a per-record error, so the SDK's key-property check
    is switched off; schema validation only logs, and each handler validates its records with
    errors that name the field. All I/O goes through ``self.run``, the run's ``RunContext``; the
    sink itself overrides only SDK hooks.
    """

    fail_on_record_validation_exception = False

    def __init__(
        self,
        target: TargetCartcom,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        """Keep the run's context (session, writer, results, caches)."""
        super().__init__(target, stream_name, schema, key_properties=[])
        self.run: RunContext = target.run

    @property
    @override
    def max_size(self) -> int:
        """Records per batch (the SDK's ``batch_size_rows`` setting, else the class default)."""
        return int(self.config.get("batch_size_rows") or self.MAX_SIZE_DEFAULT)

    @override
    def process_batch(self, context: dict) -> None:
        """Apply the batch's records; an error that escapes every record aborts the run."""
        records: list[dict[str, Any]] = context.get("records", [])
        if not records:
            return
        self.run.progress.begin_batch(self.stream_name, len(records))
        try:
            self.apply_batch(records)
        except BaseException as exc:
            self.run.abort(describe(exc))
            raise
        finally:
            self.run.progress.end_batch(self.stream_name)

    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Apply one batch of records to the store; report one result per record."""
        raise NotImplementedError

"""target-cartcom: the Singer target, its settings, and the stream-to-sink table."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from singer_sdk import typing as th
from singer_sdk.target_base import Target
from typing_extensions import override

from target_cartcom import __name__ as package_name
from target_cartcom._client import CartcomSession, ConfigurationError, connection_properties
from target_cartcom._client.errors import StoreUnreachableError
from target_cartcom._client.sdk import SecretSafeConfigValidation
from target_cartcom.listings.settings import LISTING_SETTINGS
from target_cartcom.orders.settings import ORDER_SETTINGS
from target_cartcom.outcomes import describe
from target_cartcom.reader import RecordReader, UnreadableRecord, fewer_collections
from target_cartcom.results import RecordResult, ResultsLog
from target_cartcom.run_context import RunContext
from target_cartcom.sinks import CartcomSink
from target_cartcom.writer import Writer

#: The sink of each stream, as (module, class): imported when its stream's SCHEMA arrives, so a
#: listings sync never loads the order sinks (start-up is a share of every run's CPU).
STREAM_SINKS: dict[str, tuple[str, str]] = {
    "listings": ("target_cartcom.listings.sink", "ListingsSink"),
    "order_shipments": ("target_cartcom.orders.sinks", "ShipmentsSink"),
    "order_acknowledgements": ("target_cartcom.orders.sinks", "AcknowledgementsSink"),
}


class FailedRecordsError(Exception):
    """Some records failed; raised after every record was processed and state was written."""


class TargetCartcom(SecretSafeConfigValidation, Target):
    """Writes listings, shipments and acknowledgements to a Cart.com store."""

    name = "target-cartcom"
    package_name = package_name.split(".")[0].replace("_", "-")

    config_jsonschema = th.PropertiesList(
        *connection_properties(),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            title="Dry run",
            description="Plan every write and report what would change, without writing anything.",
        ),
        th.Property(
            "results_path",
            th.StringType,
            title="Results file",
            description=(
                "Where to write one JSON line per record (outcome, ids, changes, errors) and a "
                "final summary line. Without it, results go to the log only."
            ),
        ),
        th.Property(
            "fail_on_record_errors",
            th.BooleanType,
            default=True,
            title="Fail on record errors",
            description=(
                "Exit non-zero after processing every record when any record failed, so the job "
                "alerts. Replays are safe: writes are idempotent."
            ),
        ),
        th.Property(
            "progress_interval_seconds",
            th.NumberType,
            default=30,
            title="Progress interval (seconds)",
            description=(
                "How often a long batch logs one progress line per stream: records done out of "
                "the batch, outcomes so far, calls used, the pace in calls per window and an "
                "ETA. 0 turns the lines off."
            ),
        ),
        *LISTING_SETTINGS,
        *ORDER_SETTINGS,
    ).to_dict()

    message_reader_class = RecordReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the plugin and its run; the store session is opened on first use."""
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1
        self.run = RunContext(
            self.config, user_agent=self.name, logger=logging.getLogger(self.name)
        )
        if isinstance(self.message_reader, RecordReader):
            self.message_reader.on_unreadable = self._unreadable

    @override
    def get_sink_class(self, stream_name: str) -> type[CartcomSink]:
        """Pick the sink for a stream, refusing streams this target does not know."""
        try:
            module, name = STREAM_SINKS[stream_name]
        except KeyError:
            known = ", ".join(sorted(STREAM_SINKS))
            msg = (
                f"target-cartcom does not handle stream {stream_name!r}; it accepts {known}. "
                "Rename the stream with a stream map (stream_maps) or select the right streams."
            )
            self.run.abort(msg)
            raise ConfigurationError(msg) from None
        return getattr(importlib.import_module(module), name)

    @property
    def session(self) -> CartcomSession:
        """The run's paced session to the store."""
        return self.run.session

    @property
    def writer(self) -> Writer:
        """The run's writer (plans only, in a dry run)."""
        return self.run.writer

    @property
    def results(self) -> ResultsLog:
        """The run's per-record results."""
        return self.run.results

    def _unreadable(self, line: UnreadableRecord) -> None:
        """A line that could not be read as a record: that record fails, the run goes on."""
        self.run.report(
            RecordResult(
                line.stream or "unknown",
                line.key,
                "read",
                "failed",
                error=line.reason,
                field=line.field,
                sku=line.key if line.stream == "listings" else None,
            )
        )

    @override
    def _write_state_message(self, state: dict) -> None:
        """Confirm ``state``, unless a record of this run is to be tried again.

        The SDK writes the latest state after each drain. A run with a failure worth retrying
        (``outcomes.worth_retrying``) confirms none from then on, so Meltano keeps the last
        confirmed state and a tap that reads by position (tap-cartcom-import-log) sends that
        record, and those after it, again. Overrides a private SDK method: the only one that
        writes the state (``drain_all`` is final).
        """
        retries = self.run.results.retries
        if retries:
            self.logger.warning(
                "State not confirmed: %s record(s) failed for a cause the next run may not "
                "meet (see `retry` in the results); the next run gets them again",
                retries,
            )
            return
        super()._write_state_message(state)

    @override
    def process_endofpipe(self) -> None:
        """Drain (which writes state), then close the results with the summary.

        The summary is written even when draining fails (a 401, or a store that stays
        unreachable), and then says ``aborted`` with the reason.
        """
        try:
            with fewer_collections():
                super().process_endofpipe()
        except BaseException as exc:
            self.run.abort(describe(exc))
            raise
        self.run.close()
        results = self.run.results
        if results.failed and self.config.get("fail_on_record_errors", True):
            where = f" in {results.path}" if results.path else " in the log"
            msg = f"{results.failed} record(s) failed; see the per-record results{where}."
            raise FailedRecordsError(msg)

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """The CLI: a store that cannot be reached ends the run in one line, exit status 1.

        Every store call runs inside a batch or the end of the input, whose handlers log the
        error once, as ``Run aborted: Cannot reach the store at <host> (from `<setting>`)...``,
        and write the summary; the SDK would add the same error again, with a traceback.
        """
        try:
            super().invoke(*args, **kwargs)
        except StoreUnreachableError:
            raise SystemExit(1) from None


if __name__ == "__main__":
    TargetCartcom.cli()

"""target-cartcom: the Singer target, its settings, and the stream-to-sink table."""

from __future__ import annotations

import logging
from typing import Any

from singer_sdk import typing as th
from singer_sdk.target_base import Target

from target_cartcom import __name__ as package_name
from target_cartcom._client import (
    CartcomSession,
    ConfigurationError,
    ConnectionSettings,
    connection_properties,
)
from target_cartcom.listings.settings import LISTING_SETTINGS
from target_cartcom.listings.sink import ListingsSink
from target_cartcom.orders.settings import ORDER_SETTINGS
from target_cartcom.orders.sinks import AcknowledgementsSink, ShipmentsSink
from target_cartcom.plan import Writer
from target_cartcom.results import ResultsLog
from target_cartcom.sinks import CartcomSink

STREAM_SINKS: dict[str, type[CartcomSink]] = {
    "listings": ListingsSink,
    "order_shipments": ShipmentsSink,
    "order_acknowledgements": AcknowledgementsSink,
}


class FailedRecordsError(Exception):
    """Some records failed; raised after every record was processed and state was written."""


class TargetCartcom(Target):
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
        *LISTING_SETTINGS,
        *ORDER_SETTINGS,
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the plugin; the store session is opened on first use."""
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1
        self._session: CartcomSession | None = None
        self._writer: Writer | None = None
        self._results: ResultsLog | None = None

    def get_sink_class(self, stream_name: str) -> type[CartcomSink]:
        """Pick the sink for a stream, refusing streams this target does not know."""
        try:
            return STREAM_SINKS[stream_name]
        except KeyError:
            known = ", ".join(sorted(STREAM_SINKS))
            msg = (
                f"target-cartcom does not handle stream {stream_name!r}; it accepts {known}. "
                "Rename the stream with a stream map (stream_maps) or select the right streams."
            )
            raise ConfigurationError(msg) from None

    @property
    def session(self) -> CartcomSession:
        """The paced session to the store, shared by every sink (one call budget per store)."""
        if self._session is None:
            settings = ConnectionSettings.from_config(self.config, user_agent=f"{self.name}")
            self._session = CartcomSession(settings, logger=logging.getLogger(self.name))
        return self._session

    @property
    def writer(self) -> Writer:
        """Applies planned writes, or only plans them in a dry run."""
        if self._writer is None:
            self._writer = Writer(self.session, dry_run=bool(self.config.get("dry_run")))
        return self._writer

    @property
    def results(self) -> ResultsLog:
        """Per-record results for the whole run."""
        if self._results is None:
            self._results = ResultsLog(
                self.config.get("results_path"),
                dry_run=bool(self.config.get("dry_run")),
            )
        return self._results

    def run_summary(self) -> dict[str, Any]:
        """Counts per outcome and calls used so far."""
        session = self._session
        return self.results.summary(
            reads=session.reads if session else 0,
            writes=session.writes if session else 0,
            planned_writes=self._writer.planned_writes if self._writer else 0,
        )

    def process_endofpipe(self) -> None:
        """Drain (which writes state), then close the results with the summary.

        The summary is written even when draining fails (a 401, or a 5xx that outlasted the
        retries), so the results file always says what was done before the failure.
        """
        try:
            super().process_endofpipe()
        finally:
            summary = self.run_summary()
            self.logger.info("Summary: %s", summary)
            self.results.close(summary)
            if self._session is not None:
                self._session.close()
        if self.results.failed and self.config.get("fail_on_record_errors", True):
            where = f" in {self.results.path}" if self.results.path else " in the log"
            msg = f"{self.results.failed} record(s) failed; see the per-record results{where}."
            raise FailedRecordsError(msg)


if __name__ == "__main__":
    TargetCartcom.cli()

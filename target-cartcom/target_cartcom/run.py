"""One run of the target: every collaborator the sinks share, in one typed object.

``TargetCartcom`` makes one ``RunContext`` and each sink reaches the store only through it: the
paced session (one call budget per store), the writer (which only plans in a dry run), the
per-record results, the logger, and the reference caches of each stream (the listings' store
index and references, the orders' statuses and carriers). A sink made again after a schema
change gets the same context, so nothing is read twice in a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_cartcom._client import CartcomSession, ConnectionSettings
from target_cartcom.listings.flat import FlatRows
from target_cartcom.listings.index import StoreIndex
from target_cartcom.listings.refs import Creator, References
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.orders.reference import OrderReference
from target_cartcom.plan import PlannedCall, Writer
from target_cartcom.progress import DEFAULT_INTERVAL, Progress
from target_cartcom.results import RecordResult, ResultsLog


@dataclass
class ListingsRun:
    """What the listings stream remembers across batches: SKUs seen, items claimed, the index."""

    options: ListingOptions
    refs: References
    #: SKU key -> the listing that first carried it in this input: (its SKU, the variant's
    #: place or None, whether the key is a look-alike's); worded only for a message.
    seen: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)
    #: (kind, store id) -> the listing SKU linked to it in this input.
    claimed: dict[tuple[str, int], str] = field(default_factory=dict)
    #: A complete catalog index from an earlier batch (reused, kept current by writes).
    index: StoreIndex | None = None
    #: Flat variant rows (``parent_sku``), grouped at the end of the input.
    flat: FlatRows = field(default_factory=FlatRows)
    #: SKU keys every record of the input named (full-feed mode).
    named: set[str] = field(default_factory=set)
    #: SKU keys of records that say ``hidden: true`` (full feed, hide: not unhidden).
    kept_hidden: set[str] = field(default_factory=set)


class RunContext:
    """The session, writer, results, logger and reference caches of one run."""

    def __init__(self, config: Mapping[str, Any], *, user_agent: str, logger: logging.Logger):
        """Prepare; the session opens (and settings are checked) on first use."""
        self.config = config
        self.user_agent = user_agent
        self.logger = logger
        self.dry_run = bool(config.get("dry_run"))
        self._session: CartcomSession | None = None
        self._writer: Writer | None = None
        self._results: ResultsLog | None = None
        self._listings: ListingsRun | None = None
        self._orders: OrderReference | None = None
        #: Why the run stopped early, or None.
        self.aborted: str | None = None
        #: Full-feed mode's counts for the summary (``full_feed``), once it ran.
        self.full_feed: dict[str, Any] | None = None
        self._closed = False
        try:
            interval = float(config.get("progress_interval_seconds", DEFAULT_INTERVAL))
        except (TypeError, ValueError):
            interval = DEFAULT_INTERVAL
        #: Progress lines of long batches (a background timer, started by the first batch).
        self.progress = Progress(self, interval)

    @property
    def session(self) -> CartcomSession:
        """The paced session to the store, shared by every sink (one call budget per store)."""
        if self._session is None:
            settings = ConnectionSettings.from_config(self.config, user_agent=self.user_agent)
            for note in settings.notes:
                self.logger.warning(note)
            self._session = CartcomSession(settings, logger=self.logger)
        return self._session

    @property
    def writer(self) -> Writer:
        """Applies planned writes, or only plans them in a dry run."""
        if self._writer is None:
            self._writer = Writer(self.session, dry_run=self.dry_run)
        return self._writer

    @property
    def planned(self) -> list[PlannedCall]:
        """Every write planned so far (applied, or only planned in a dry run)."""
        return list(self._writer.planned) if self._writer is not None else []

    @property
    def results(self) -> ResultsLog:
        """Per-record results for the whole run."""
        if self._results is None:
            self._results = ResultsLog(self.config.get("results_path"), dry_run=self.dry_run)
        return self._results

    @property
    def listings(self) -> ListingsRun:
        """The listings stream's settings, references and cross-batch memory."""
        if self._listings is None:
            options = ListingOptions.from_config(self.config)
            refs = References(
                self.session,
                Creator(self.session, self.writer),
                status=options.product_status,
                page_size=options.page_size,
                max_url_length=options.max_url_length,
            )
            self._listings = ListingsRun(options, refs)
        return self._listings

    @property
    def has_listings(self) -> bool:
        """Whether the run handled listings (without opening anything)."""
        return self._listings is not None

    @property
    def orders(self) -> OrderReference:
        """The order streams' settings and reference lists (statuses, carriers)."""
        if self._orders is None:
            self._orders = OrderReference(self.session, self.config, logger=self.logger)
        return self._orders

    def report(self, result: RecordResult) -> None:
        """Add one record's result; a failure is also logged (values shown escaped)."""
        if result.outcome == "failed":
            self.logger.warning(
                "%s %s failed%s: %s",
                result.stream,
                ascii(result.key),  # a look-alike or invalid character shows as its escape
                f" ({result.field})" if result.field else "",
                result.error,
            )
        self.results.add(result)
        self.progress.record_done(result.stream, result.outcome)

    def summary(self) -> dict[str, Any]:
        """Counts per outcome, calls used so far, and whether the run stopped early."""
        session = self._session
        summary = self.results.summary(
            reads=session.reads if session else 0,
            writes=session.writes if session else 0,
            planned_writes=self._writer.planned_writes if self._writer else 0,
        )
        if self.full_feed is not None:
            summary["full_feed"] = self.full_feed
        summary["status"] = "aborted" if self.aborted else "completed"
        if self.aborted:
            summary["reason"] = self.aborted
        return summary

    def abort(self, reason: str) -> None:
        """Stop the run: the summary says ``aborted`` with ``reason`` (the first reason wins)."""
        if self.aborted is None:
            self.aborted = reason
            self.logger.error("Run aborted: %s", reason)
        self.close()

    def close(self) -> None:
        """Write the summary line and close the results and the session (once)."""
        if self._closed:
            return
        self._closed = True
        self.progress.stop()
        summary = self.summary()
        self.logger.info("Summary: %s", summary)
        self.results.close(summary)
        if self._session is not None:
            self._session.close()

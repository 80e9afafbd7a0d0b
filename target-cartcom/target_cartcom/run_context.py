"""One run of the target: what every sink shares, in one typed object.

``TargetCartcom`` makes one ``RunContext`` and each sink reaches the store only through it: the
paced session (one call budget per store), the writer (which only plans in a dry run), the
per-record results, the logger, and a registry of each stream family's state (its settings,
reference caches and cross-batch memory: ``listings/state.py``, ``orders/reference.py``), which
the family defines and the run only keeps. A sink made again after a schema change gets the same
context, so nothing is read twice in a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, Self, TypeVar

from target_cartcom._client import CartcomSession, ConnectionSettings
from target_cartcom.progress import DEFAULT_INTERVAL, Progress
from target_cartcom.results import RecordResult, ResultsLog
from target_cartcom.writer import PlannedCall, Writer


class StreamState(Protocol):
    """A stream family's state for one run, made from the run on its first use."""

    @classmethod
    def for_run(cls, run: RunContext) -> Self:
        """The state, built from the run's settings, session and writer."""
        ...


S = TypeVar("S", bound=StreamState)


class RunContext:
    """The session, writer, results and logger of one run, and each stream family's state."""

    def __init__(self, config: Mapping[str, Any], *, user_agent: str, logger: logging.Logger):
        """Prepare; the session opens (and settings are checked) on first use."""
        self.config = config
        self.user_agent = user_agent
        self.logger = logger
        self.dry_run = bool(config.get("dry_run"))
        self._session: CartcomSession | None = None
        self._writer: Writer | None = None
        self._results: ResultsLog | None = None
        self._states: dict[type, Any] = {}
        #: Why the run stopped early, or None.
        self.aborted: str | None = None
        #: Entries a stream adds to the summary line (full-feed mode's ``full_feed`` counts).
        self.summary_parts: dict[str, Any] = {}
        self._closed = False
        try:
            interval = float(config.get("progress_interval_seconds", DEFAULT_INTERVAL))
        except (TypeError, ValueError):
            interval = DEFAULT_INTERVAL
        #: Progress lines of long batches (a background timer, started by the first batch).
        self.progress = Progress(
            logger=logger,
            opened_session=lambda: self._session,
            outcomes=lambda stream: self.results.outcomes.get(stream, {}),
            interval=interval,
        )

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

    def state(self, kind: type[S]) -> S:
        """The run's ``kind`` state (one per run, made by ``kind.for_run`` on first use)."""
        found = self._states.get(kind)
        if found is None:
            found = self._states[kind] = kind.for_run(self)
        return found

    def has_state(self, kind: type[StreamState]) -> bool:
        """Whether the run made a ``kind`` state (without making one)."""
        return kind in self._states

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
        summary.update(self.summary_parts)
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

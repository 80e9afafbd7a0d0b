"""Progress lines on long runs: a slow run must not look like a stuck one.

At the steel plan (5 calls per 10 s) a batch of listings can take half an hour. Every
``progress_interval_seconds`` a background timer logs one line per stream with a batch in
progress: records done out of the batch, outcomes so far, calls used (reads and writes), the
pace in calls per window, and an ETA for the batch. The ETA takes the calls a record has needed
so far in this batch, times the records left, at the plan's rate (or the observed time per
record when that is slower, e.g. on an unlimited plan).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from target_cartcom._client import CartcomSession

DEFAULT_INTERVAL = 30.0


@dataclass
class _Batch:
    total: int
    started: float
    calls_at_start: int
    done: int = 0
    #: Outcomes of records handled but not reported yet.
    pending: Counter[str] = field(default_factory=Counter)


@dataclass
class Progress:
    """Counts each stream's batch and logs a line per stream at a fixed interval.

    It is given what it reads: the run's logger, its session once open (a progress line never
    opens one) and the outcomes reported so far per stream.
    """

    logger: logging.Logger
    opened_session: Callable[[], CartcomSession | None]
    outcomes: Callable[[str], Mapping[str, int]]
    interval: float = DEFAULT_INTERVAL
    batches: dict[str, _Batch] = field(default_factory=dict)
    #: (monotonic time, calls so far) samples, for the pace over the last window.
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=4096))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- counting -----------------------------------------------------------------------------
    def begin_batch(self, stream: str, total: int) -> None:
        """A batch of ``total`` records of ``stream`` starts; the timer starts with the first."""
        if self.interval <= 0:
            return
        with self._lock:
            self.batches[stream] = _Batch(total, time.monotonic(), self._calls())
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="target-cartcom-progress", daemon=True
            )
            self._thread.start()

    def record_done(self, stream: str, outcome: str) -> None:
        """One record of ``stream``'s batch has its result line."""
        with self._lock:
            batch = self.batches.get(stream)
            if batch is None:
                return
            if batch.pending[outcome] > 0:
                batch.pending[outcome] -= 1  # counted when it was handled
            else:
                batch.done = min(batch.total, batch.done + 1)

    def handled(self, stream: str, outcome: str) -> None:
        """One record of the batch is handled; its line is written at the batch's end."""
        with self._lock:
            batch = self.batches.get(stream)
            if batch is not None:
                batch.done = min(batch.total, batch.done + 1)
                batch.pending[outcome] += 1

    def end_batch(self, stream: str) -> None:
        """The batch is applied: no more lines for it."""
        with self._lock:
            self.batches.pop(stream, None)

    def stop(self) -> None:
        """Stop the timer (end of the run)."""
        self._stop.set()

    # -- the lines ----------------------------------------------------------------------------
    def _calls(self) -> int:
        session = self.opened_session()
        return (session.reads + session.writes) if session is not None else 0

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.log()
            except Exception:
                self.logger.debug("progress line failed", exc_info=True)

    def lines(self) -> list[dict[str, Any]]:
        """What each line says, per stream with a batch in progress."""
        session = self.opened_session()
        if session is None:
            return []
        now = time.monotonic()
        reads, writes = session.reads, session.writes
        calls = reads + writes
        settings = session.settings
        window = float(settings.window_seconds)
        rate = settings.calls_per_window / window  # calls per second the plan allows
        self.samples.append((now, calls))
        # Keep one sample at least a window old: the pace is measured over a whole window.
        while len(self.samples) > 2 and self.samples[1][0] <= now - window:
            self.samples.popleft()
        oldest_t, oldest_calls = self.samples[0]
        span = now - oldest_t
        pace = (calls - oldest_calls) / span * window if span > 0 else 0.0
        out = []
        with self._lock:
            batches = dict(self.batches)
        for stream, batch in batches.items():
            left = max(0, batch.total - batch.done)
            used = calls - batch.calls_at_start
            eta: float | None = None
            if batch.done:
                by_calls = used / batch.done * left / rate
                by_time = (now - batch.started) / batch.done * left
                eta = max(by_calls, by_time)
            out.append(
                {
                    "stream": stream,
                    "done": batch.done,
                    "total": batch.total,
                    "outcomes": dict(Counter(self.outcomes(stream)) + batch.pending),
                    "reads": reads,
                    "writes": writes,
                    "pace": pace,
                    "limit": settings.calls_per_window,
                    "window": window,
                    "eta_seconds": eta,
                }
            )
        return out

    def log(self) -> None:
        """One progress line per stream with a batch in progress."""
        for line in self.lines():
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(line["outcomes"].items()))
            eta = line["eta_seconds"]
            self.logger.info(
                "Progress %s: %d/%d records of the batch (%s); calls: %d reads, %d writes; "
                "pace %.1f/%d calls per %gs window; ETA %s",
                line["stream"],
                line["done"],
                line["total"],
                outcomes or "no outcome yet",
                line["reads"],
                line["writes"],
                line["pace"],
                line["limit"],
                line["window"],
                "unknown" if eta is None else f"{eta:.1f}s",
            )

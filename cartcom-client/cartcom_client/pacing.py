"""Pacing to Cart.com's call window.

Cart.com allows a fixed number of calls per 10-second window per store (5 to 50 by plan) and
reports ``X-AC-Call-Limit: used/limit`` on every response; past the limit it answers 429 with
``Retry-After`` (seconds, or an HTTP-date; docs/api.md §1.9, §13).

The budget keeps a log of when each of its recent calls *completed*. A call may start only when
fewer than ``limit`` calls completed within the last window. Using completion times (not send
times) guarantees that no server-side window, fixed or sliding, ever sees more than ``limit``
of our calls, whatever the latency. The server's own count, read from ``X-AC-Call-Limit``,
tightens the budget when other clients share the store's pool.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*[/,:]\s*(\d+)\s*$")
DEFAULT_RETRY_AFTER = 10.0


def parse_call_limit(value: str | None) -> tuple[int, int] | None:
    """Parse ``X-AC-Call-Limit`` (``used/limit``, leniently) into ``(used, limit)``."""
    if not value:
        return None
    match = _CALL_LIMIT.match(value)
    if not match:
        return None
    used, limit = int(match.group(1)), int(match.group(2))
    return (used, limit) if limit > 0 else None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After``: an integer or decimal, an HTTP-date, or ISO 8601."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    current = time.time() if now is None else now
    when: datetime | None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - current)


class CallBudget:
    """A thread-safe budget of ``calls`` per ``window`` seconds, shared by every request."""

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Start with an empty log; ``margin`` pads each window against clock skew."""
        if calls < 1 or window <= 0:
            msg = "a call budget needs at least 1 call per positive window"
            raise ValueError(msg)
        self.calls = calls
        self.window = float(window)
        self.margin = 0.01 * self.window + 0.005 if margin is None else margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._completed: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self.waited = 0.0
        self.server_limit: int | None = None

    def _prune(self, now: float) -> None:
        horizon = now - self.window - self.margin
        while self._completed and self._completed[0] <= horizon:
            self._completed.popleft()

    def _wait_needed(self, now: float) -> float:
        if now < self._blocked_until:
            return self._blocked_until - now
        self._prune(now)
        excess = len(self._completed) + self._in_flight - self.calls
        if excess < 0:
            return 0.0
        if excess < len(self._completed):
            # The call may start once enough of the oldest completions leave the window.
            return max(self._completed[excess] + self.window + self.margin - now, 0.001)
        # Only in-flight calls fill the budget: wait for one of them to complete.
        return 0.005

    def acquire(self) -> float:
        """Block until a call may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._in_flight += 1
                    self.waited += waited
                    return waited
            self._sleep(wait)
            waited += wait

    def release(self, headers: Mapping[str, str] | None = None) -> None:
        """Record that a call completed, and learn from ``X-AC-Call-Limit`` when present."""
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._completed.append(now)
            parsed = parse_call_limit((headers or {}).get("X-AC-Call-Limit"))
            if parsed is None:
                return
            used, limit = parsed
            self.server_limit = limit
            self.calls = min(self.calls, limit)
            self._prune(now)
            # Other clients of the same store use the same pool: count their calls as ours.
            for _ in range(used - len(self._completed) - self._in_flight):
                self._completed.append(now)

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (after a 429 with ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

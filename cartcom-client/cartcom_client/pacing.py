"""Pacing to Cart.com's call window.

Cart.com allows a fixed number of calls per 10-second window per store (5 to 50 by plan) and
reports ``X-AC-Call-Limit: used/limit`` on every response; past the limit it answers 429 with
``Retry-After`` (seconds, or an HTTP-date; docs/api.md §1.9, §13).

The store counts a call when it arrives (INF: the sandbox does, as rate limiters do), then works on
it; the answer comes back after that work. The budget keeps, for each recent call, the latest
moment the store can have counted it, and lets a call start only when fewer than ``limit`` calls
can have been counted within the last window (plus ``margin``): no server-side window, fixed or
sliding, sees more than ``limit`` of our calls. A call in flight counts from the moment it is let
go. Once answered, it was counted no later than its answer's time less the quickest answer of its
kind (method and path, ids aside) before it (the store's work and the way back take at least that):
a call that arrives late, held up on the way or in the store's queue, is answered late too, and
keeps its slot that much longer. An answer quicker than every one of its kind before it (the first
of its kind, too) counts at its answer's time, as nothing bounds the store's work on it. So a store
that takes a second per answer holds each slot for about one window after the call was sent, not
one window after its answer, and several calls in flight use the budget at its rate whatever the
latency. The server's own count, read from ``X-AC-Call-Limit``, tightens the budget when other
clients share the store's pool.
"""

from __future__ import annotations

import re
import threading
import time
import typing as t
from bisect import bisect_right, insort
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*[/,:]\s*(\d+)\s*$")
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")
DEFAULT_RETRY_AFTER = 10.0


def call_kind(method: str, path: str) -> str:
    """What a call asks, for comparing its answer time: the method and the path, ids as ``{id}``.

    The store's work on ``PUT /product_variants/7`` is the work on ``PUT /product_variants/9``:
    one kind, so a sync or publish (a new id on nearly every call) learns the quickest answer
    from its first write instead of counting every call as the first of its kind.
    """
    return f"{method.upper()} {_ID_SEGMENT.sub('/{id}', path)}"


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


class _Sent(t.NamedTuple):
    """A call in flight: when it was let go, the calls held then (itself included), and others'.

    ``others`` is how many other clients' calls the budget had counted by then; ``counted``
    the answered calls' counts held then, to tell which had left the store's window when it
    arrived.
    """

    at: float
    held: int
    others: int
    counted: tuple[float, ...] = ()


class CallBudget:
    """A thread-safe budget of ``calls`` per ``window`` seconds, shared by every request.

    ``acquire`` and ``release`` bracket one call and are made by the same thread (the pacing
    adapter's ``send``), so the budget knows which call each release ends.
    """

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        margin: float | None = None,
        in_flight: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Start with an empty log; ``margin`` pads each window against clock skew.

        ``in_flight`` caps the calls waiting for their answer at once (None: no cap).
        """
        if calls < 1 or window <= 0:
            msg = "a call budget needs at least 1 call per positive window"
            raise ValueError(msg)
        self.calls = calls
        self.window = float(window)
        self.margin = 0.01 * self.window + 0.005 if margin is None else margin
        self.in_flight = in_flight
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # The latest moment each recent answered call can have been counted, sorted.
        self._counted: list[float] = []
        self._flying = 0  # calls let go and not answered yet: they count from now on
        self._quickest: dict[str, float] = {}  # the quickest answer of each kind, in seconds
        self._sent = threading.local()  # this thread's calls in flight (``_Sent``)
        self._others = 0  # calls of other clients counted so far (from ``X-AC-Call-Limit``)
        self._blocked_until = 0.0
        self.waited = 0.0
        self.server_limit: int | None = None

    def _prune(self, now: float) -> None:
        horizon = now - self.window - self.margin
        del self._counted[: bisect_right(self._counted, horizon)]

    def _wait_needed(self, now: float) -> float:
        if now < self._blocked_until:
            return self._blocked_until - now
        if self.in_flight is not None and self._flying >= self.in_flight:
            return 0.005  # look again once one of them is answered
        self._prune(now)
        excess = len(self._counted) + self._flying - self.calls
        if excess < 0:
            return 0.0
        if excess < len(self._counted):
            # The call may start once enough of the oldest counts leave the window.
            return max(self._counted[excess] + self.window + self.margin - now, 0.001)
        # Only calls in flight fill the budget: wait for one of them to be answered.
        return 0.005

    def acquire(self) -> float:
        """Block until a call may start; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._flying += 1
                    held = len(self._counted) + self._flying
                    sent = _Sent(now, held, self._others, tuple(self._counted))
                    self._calls_in_flight().append(sent)
                    self.waited += waited
                    return waited
            self._sleep(wait)
            waited += wait

    def _calls_in_flight(self) -> list[_Sent]:
        sent = getattr(self._sent, "calls", None)
        if sent is None:
            sent = self._sent.calls = []
        return sent

    def release(self, headers: Mapping[str, str] | None = None, kind: str = "") -> None:
        """Record that a call was answered, and learn from ``X-AC-Call-Limit`` when present.

        ``kind`` names what was asked (``call_kind``: the method and path, ids aside): the
        store's work on a page of orders is compared with the quickest page of orders, not with
        a quick small read.

        The store's ``used`` counts the calls in its window when this one arrived; ours then
        were the calls the budget held when this one was let go. The difference, less what
        other answers have taught since, is other clients' calls: they take slots too.
        """
        with self._lock:
            now = self._clock()
            self._flying = max(0, self._flying - 1)
            sent = self._calls_in_flight()
            call = sent.pop(0) if sent else _Sent(now, len(self._counted) + 1, self._others)
            took = now - call.at
            quickest = self._quickest.get(kind)
            if quickest is None or took < quickest:
                # Quicker than any answer of its kind before it: nothing says how long the store
                # worked on it after counting it, so it counts as counted when it came back.
                self._quickest[kind], counted = took, now
            else:
                counted = now - quickest
            insort(self._counted, counted)
            parsed = parse_call_limit((headers or {}).get("X-AC-Call-Limit"))
            if parsed is None:
                return
            used, limit = parsed
            self.server_limit = limit
            self.calls = min(self.calls, limit)
            # The calls held when it left, less those out of the store's window by the latest
            # moment it can have arrived (a slow call): the store no longer counts them.
            gone = bisect_right(call.counted, counted - self.window)
            others = used - (call.held - gone) - (self._others - call.others)
            for _ in range(others):
                insort(self._counted, counted)
            self._others += max(0, others)

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (after a 429 with ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

"""Fixed-window call limit per token (§1.9): X-AC-Call-Limit ``used/limit``, 429 + Retry-After.

Counting (INF, documented): every request that passes auth counts, including errors such as
404/409, scope refusals and injected faults; a request rejected with 429 does not count.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate

from cartcom_sandbox.config import PLANS, UNLIMITED_DISPLAY


@dataclass
class Decision:
    """The outcome of one counted call."""

    allowed: bool
    used: int
    limit: int | None
    retry_after: str | None = None

    @property
    def header(self) -> str:
        """The X-AC-Call-Limit value."""
        return f"{self.used}/{UNLIMITED_DISPLAY if self.limit is None else self.limit}"


class RateLimiter:
    """Per-key fixed windows that start at the key's first counted call."""

    def __init__(
        self, calls: int | None = None, window: float = 10.0, retry_after_format: str = "seconds"
    ) -> None:
        """Allow ``calls`` per ``window`` seconds (None = unlimited)."""
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self.calls = calls
        self.window = window
        self.retry_after_format = retry_after_format
        self.clock = time.monotonic
        self.wall = time.time

    def configure(
        self,
        calls: int | None = ...,
        window: float | None = None,  # type: ignore[assignment]
        retry_after_format: str | None = None,
        plan: str | None = None,
        reset: bool = True,
    ) -> None:
        """Change the limit (``plan`` name or ``calls``), window or Retry-After format."""
        with self._lock:
            if plan is not None:
                if plan not in PLANS:
                    raise ValueError(f"unknown plan {plan!r}")
                self.calls = PLANS[plan]
            if calls is not ...:
                self.calls = calls
            if window is not None:
                if window <= 0:
                    raise ValueError("window must be positive")
                self.window = float(window)
            if retry_after_format is not None:
                if retry_after_format not in ("seconds", "http-date"):
                    raise ValueError("retry_after_format is 'seconds' or 'http-date'")
                self.retry_after_format = retry_after_format
            if reset:
                self._windows.clear()

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._windows.clear()

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            start, used = now, 0
        return start, used

    def peek(self, key: str | None) -> Decision:
        """The state for ``key`` without counting (used by 401/414/fault responses)."""
        with self._lock:
            used = 0
            if key is not None and key in self._windows:
                _, used = self._current(key, self.clock())
            return Decision(True, used, self.calls)

    def hit(self, key: str) -> Decision:
        """Count one call for ``key``; refused (not counted) when the window is full."""
        with self._lock:
            now = self.clock()
            start, used = self._current(key, now)
            if self.calls is not None and used >= self.calls:
                self._windows[key] = (start, used)
                wait = start + self.window - now
                return Decision(False, used, self.calls, self._retry_after(wait))
            self._windows[key] = (start, used + 1)
            return Decision(True, used + 1, self.calls)

    def _retry_after(self, wait: float) -> str:
        if self.retry_after_format == "http-date":
            # HTTP-dates have 1-s resolution: round the reset instant up.
            return formatdate(math.ceil(self.wall() + wait), usegmt=True)
        return str(max(1, math.ceil(wait)))

    def state(self) -> dict[str, object]:
        """Settings as JSON."""
        return {
            "calls": self.calls,
            "window": self.window,
            "retry_after_format": self.retry_after_format,
        }

"""The probe's GETs: a call ceiling, the client's pacing and auth, and the stop rules.

Pacing and the token header are the shared client's (``PacedAdapter`` over a ``CallBudget``,
``AccessTokenAuth``): the probe keeps to the store's call window exactly as the tap and the
target do, counting the pool's other calls that ``X-AC-Call-Limit`` reports. What is the
probe's own: GET only, at most ``MAX_CALLS``, no redirect followed (it could carry the token to
another host), a stop at the first 401 or 429 instead of a retry, and each call timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from cartcom_store_probe import MAX_CALLS, STEEL_CALLS, STEEL_WINDOW
from cartcom_store_probe._client.auth import AccessTokenAuth
from cartcom_store_probe._client.pacing import CallBudget
from cartcom_store_probe._client.session import PacedAdapter

PACE_MARGIN = 0.05  # seconds added to every window wait (clock skew, latency)


class ProbeStoppedError(Exception):
    """The probe must not go on (401, 429, redirect, call budget, connection failure)."""


@dataclass
class Reply:
    """One answered GET: what the analysis may look at (the body stays in memory)."""

    path: str  # relative to the API base, with the query, as shown in the evidence
    status: int
    body: Any  # parsed JSON, or None
    call_limit: str | None

    @property
    def evidence(self) -> dict[str, Any]:
        """The path probed and the HTTP status."""
        return {"path": self.path, "status": self.status}


class _TimedBudget(CallBudget):
    """The client's call budget, noting when it lets a call go: the probe times from there."""

    def __init__(self, *args: Any, timer: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer = timer
        self.let_go = 0.0

    def acquire(self) -> float:
        """Wait for the budget, then note the time (the pacing wait is not the store's)."""
        waited = super().acquire()
        self.let_go = self._timer()
        return waited


@dataclass
class Caller:
    """Sends the probe's GETs: budget, pacing, stop rules. Nothing but GET exists here."""

    base_url: str
    token: str = field(repr=False)
    calls_per_window: int = STEEL_CALLS
    window: float = STEEL_WINDOW
    max_calls: int = MAX_CALLS
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session: requests.Session = field(default_factory=requests.Session)
    timer: Callable[[], float] = time.perf_counter  # times each call (never faked by pacing)
    calls: int = 0
    #: One entry per answered call: (the ``count`` asked, or None; ms to the answer's last
    #: byte; the answer body's bytes).
    timings: list[tuple[int | None, float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Mount the client's paced, token-signing transport on the session."""
        self.budget = _TimedBudget(
            self.calls_per_window,
            self.window,
            margin=PACE_MARGIN,
            clock=self.clock,
            sleep=self.sleep,
            timer=self.timer,
        )
        adapter = PacedAdapter(self.budget, self.base_url, auth=AccessTokenAuth(self.token))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "Accept": "application/json",
                "Cache-Control": "no-cache",
                "User-Agent": "cartcom-sandbox-probe",
            }
        )

    def get(
        self, path: str, params: Sequence[tuple[str, str]] = (), shown: str | None = None
    ) -> Reply:
        """GET ``base + path?params``; ``shown`` replaces the query in the evidence if long."""
        if self.calls >= self.max_calls:
            raise ProbeStoppedError(f"call budget of {self.max_calls} reached")
        query = "&".join(f"{k}={quote(v, safe=':,-.')}" for k, v in params)
        rel = path + ("?" + query if query else "")
        self.calls += 1
        try:
            # The adapter waits for the budget, signs and sends; it paces from when the answer
            # came back, since the store counted the call by then.
            resp = self.session.request(
                "GET",
                self.base_url + rel,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect could carry the token to another host
            )
        except requests.RequestException as err:
            raise ProbeStoppedError(f"GET {shown or rel} failed: {type(err).__name__}") from None
        # requests reads the whole body before returning: the time is the store's full answer
        elapsed_ms = (self.timer() - self.budget.let_go) * 1000
        count = next((int(v) for k, v in params if k == "count" and v.isdigit()), None)
        self.timings.append((count, elapsed_ms, len(resp.content)))
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        reply = Reply(shown or rel, resp.status_code, body, resp.headers.get("X-AC-Call-Limit"))
        if resp.status_code == 401:
            raise ProbeStoppedError(f"401 on GET {reply.path}: the token was refused")
        if resp.status_code == 429:
            raise ProbeStoppedError(f"429 on GET {reply.path}: the call limit was reached")
        if 300 <= resp.status_code < 400:
            raise ProbeStoppedError(
                f"{resp.status_code} redirect on GET {reply.path}: not followed"
            )
        return reply

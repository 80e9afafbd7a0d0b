"""Fault injection for API requests: scripted one-shot faults and random-rate faults.

A fault is ``{"kind": "status"|"drop"|"truncate"|"delay"|"hold", ...}`` with optional
``status`` (for "status", default 503), ``seconds`` (for "delay"; for "hold", the longest wait,
default 60), ``path`` (prefix, with or without ``/api/v1``), ``method``, ``after`` (matching calls
to let through first) and ``times`` (how many matching calls it hits, default 1). A status-429
fault also sends ``Retry-After`` (``retry_after``, default the rate-limit window). A "drop" with
``"process": true`` handles the request before closing the socket (the write happened, the
response is lost). A "hold" keeps the request waiting, unhandled, until ``release()`` (a store
that is slow to answer), then handles it as usual: a test can kill its client meanwhile, at a
known point, and know the write lands once it releases it.

Faults apply after auth, the call limit and the scope check (INF): refused requests never meet
(or consume) a fault, and a faulted request has counted against the call limit.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "drop", "truncate", "delay", "hold")
#: The longest a "hold" waits for ``release()`` when the spec gives no ``seconds``.
HOLD_SECONDS = 60.0


@dataclass
class Fault:
    """One fault rule."""

    kind: str
    status: int = 503
    seconds: float = 0.0
    path: str | None = None
    method: str | None = None
    after: int = 0
    times: int = 1
    probability: float = 1.0
    process: bool = False  # drop only: handle the request first, then lose the response
    retry_after: str | None = None  # status 429 only: the Retry-After to send
    #: hold only: set by ``FaultInjector.release`` (or ``clear``) to let the request through.
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Fault:
        """Validate a JSON fault spec."""
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise ValueError(f"a fault needs kind in {KINDS}: {spec!r}")
        f = cls(
            kind=spec["kind"],
            status=int(spec.get("status", 503)),
            seconds=float(spec.get("seconds", HOLD_SECONDS if spec["kind"] == "hold" else 0.0)),
            path=spec.get("path"),
            method=(spec.get("method") or None),
            after=int(spec.get("after", 0)),
            times=int(spec.get("times", 1)),
            probability=float(spec.get("probability", 1.0)),
            process=bool(spec.get("process", False)),
            retry_after=None if spec.get("retry_after") is None else str(spec["retry_after"]),
        )
        if f.method:
            f.method = f.method.upper()
        return f

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to the request."""
        if self.method and self.method != method:
            return False
        if self.path:
            rel = path[len("/api/v1") :] if path.startswith("/api/v1") else path
            if not (path.startswith(self.path) or rel.startswith(self.path)):
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {k: v for k, v in self.__dict__.items() if k != "released"}

    def hold(self) -> None:
        """A "hold": wait until released (at most ``seconds``)."""
        self.released.wait(self.seconds)


class FaultInjector:
    """Holds the fault script and random-rate rules; ``pick`` is called once per request."""

    def __init__(self) -> None:
        """No faults."""
        self._lock = threading.Lock()
        self._script: list[Fault] = []
        self._rates: list[Fault] = []
        self._rng = random.Random(0)
        self.fired: list[dict[str, Any]] = []
        #: Every "hold" scripted so far, so ``release`` reaches those already waiting.
        self._holds: list[Fault] = []

    def script(self, faults: list[dict[str, Any]]) -> None:
        """Append one-shot faults, applied in order to matching calls."""
        parsed = [Fault.parse(f) for f in faults]
        with self._lock:
            self._script.extend(parsed)
            self._holds.extend(f for f in parsed if f.kind == "hold")

    def rate(
        self, kind: str = "status", probability: float = 0.1, seed: int | None = 0, **options: Any
    ) -> None:
        """Add a random fault hitting each matching call with ``probability``."""
        f = Fault.parse({"kind": kind, "probability": probability, **options})
        with self._lock:
            self._rates.append(f)
            if f.kind == "hold":
                self._holds.append(f)
            if seed is not None:
                self._rng = random.Random(seed)

    def clear(self) -> None:
        """Remove every fault (and let held requests through)."""
        self.release()
        with self._lock:
            self._script.clear()
            self._rates.clear()
            self.fired.clear()

    def release(self) -> None:
        """Let every held request through, and those a pending "hold" would catch."""
        with self._lock:
            holds, self._holds = self._holds, []
        for f in holds:
            f.released.set()

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes scripted faults)."""
        with self._lock:
            for f in self._script:
                if not f.matches(method, path):
                    continue
                if f.after > 0:
                    f.after -= 1
                    break
                f.times -= 1
                if f.times <= 0:
                    self._script.remove(f)
                self.fired.append({"kind": f.kind, "method": method, "path": path})
                return f
            for f in self._rates:
                if f.matches(method, path) and self._rng.random() < f.probability:
                    self.fired.append({"kind": f.kind, "method": method, "path": path})
                    return f
        return None

    def state(self) -> dict[str, Any]:
        """JSON view of pending faults."""
        with self._lock:
            return {
                "script": [f.as_dict() for f in self._script],
                "rates": [f.as_dict() for f in self._rates],
                "fired": list(self.fired),
            }

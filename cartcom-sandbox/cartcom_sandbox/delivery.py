"""Sending webhook deliveries off the request thread, and the log of every attempt.

The timeout, retries, failure_type, fallback_url and the seeded drop/duplicate fault switch
live here.
DOC (docs/webhooks.md): a 3 s timeout (stated for reply hooks); on a failure, "Ignore"
disregards it, "Error" displays an error to the user, "Fallback" calls ``fallback_url`` next.
Nothing is signed. INF (docs/sandbox.md, "Webhooks"), each a ``SandboxConfig`` switch: a failure
is no answer within the timeout, a connection error or a status outside 200-299; retries
(none by default); the order deliveries leave in; drops and duplicates.

The log keeps no URL path or query (a receiver's secret often lives there): only the
``scheme://host:port`` and a 12-hex tag of the whole URL, like the call log's token tag.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.webhooks import Event

USER_AGENT = "cartcom-sandbox-webhooks"  # INF: Cart.com's own is not documented


def url_tag(url: str) -> str:
    """A short, non-reversible tag of a URL (its path may hold a secret)."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def url_host(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without path, query or credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery attempt (or one dropped delivery) as the sandbox made it."""

    event_type: str
    subscription_id: int
    resource_id: int | None
    target: str  # "url" or "fallback_url"
    host: str  # scheme://host:port only
    url_tag: str  # 12-hex SHA-256 of the whole URL
    attempt: int  # 1 = first try, 2.. = retries (0 for a dropped delivery)
    status: int  # the receiver's HTTP status; 0 when there was none
    outcome: str  # delivered | failed | timeout | unreachable | dropped
    copy: int  # 1, or 2 for the duplicate the fault switch sent
    failure_type: str
    error_shown: bool  # failure_type "Error" and this was the delivery's last try
    ts: float  # wall-clock time the attempt began
    site: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


class DeliveryLog:
    """Thread-safe, list-like log of DeliveryRecord (newest ``max_records`` kept)."""

    def __init__(self, max_records: int = 100_000) -> None:
        """An empty log."""
        self._lock = threading.Lock()
        self._records: list[DeliveryRecord] = []
        self.max_records = max_records

    def append(self, record: DeliveryRecord) -> None:
        """Add a record."""
        with self._lock:
            self._records.append(record)
            del self._records[: max(0, len(self._records) - self.max_records)]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def snapshot(self) -> list[DeliveryRecord]:
        """A copy of the records."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        """Number of records."""
        return len(self._records)

    def __iter__(self) -> Iterator[DeliveryRecord]:
        """Iterate over a snapshot."""
        return iter(self.snapshot())

    def __getitem__(self, index: int | slice) -> Any:
        """Index like a list."""
        return self.snapshot()[index]

    def count(self, event_type: str | None = None, outcome: str | None = None) -> int:
        """Records matching all given criteria."""
        return sum(
            1
            for r in self.snapshot()
            if (event_type is None or r.event_type == event_type)
            and (outcome is None or r.outcome == outcome)
        )


@dataclass
class _Job:
    sub: dict[str, Any]
    event: Event
    copy: int


def post(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    """POST ``body`` as JSON to ``url`` within ``timeout`` seconds: ``(status, outcome)``."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    conn_cls: type[http.client.HTTPConnection] = (
        http.client.HTTPSConnection
        if parts.scheme.lower() == "https"
        else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "POST",
            target,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
        )
        if conn.sock is not None:
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
        resp = conn.getresponse()
        resp.read(65536)
        status = resp.status
        return status, "delivered" if 200 <= status < 300 else "failed"
    except TimeoutError:
        return 0, "timeout"
    except (OSError, http.client.HTTPException):
        return 0, "unreachable"
    finally:
        conn.close()


class Deliverer:
    """Sends deliveries off the request thread; ``wait_idle`` lets a test wait for them."""

    def __init__(self, config: SandboxConfig, log: DeliveryLog, site: str | None = None) -> None:
        """Send with ``config``'s switches, logging to ``log``."""
        self.config = config
        self.log = log
        self.site = site
        self._lock = threading.Condition()
        self._pending = 0
        self._queues: dict[int, deque[_Job]] = {}
        self._seed: int | None = None
        self._rng = random.Random(0)
        self.clock = time.time
        self.sleep = time.sleep

    # ---------------------------------------------------------------- submit
    def submit(self, sub: dict[str, Any], event: Event) -> None:
        """Queue ``event`` for ``sub``; the drop/duplicate draw is made here, in event order."""
        cfg = self.config
        with self._lock:
            if self._seed != cfg.webhook_fault_seed:
                self._seed = cfg.webhook_fault_seed
                self._rng = random.Random(cfg.webhook_fault_seed)
            draw = self._rng.random()
        if draw < cfg.webhook_drop_share:
            self._record(_Job(sub, event, 1), "url", sub.get("url") or "", 0, 0, "dropped")
            return
        copies = 2 if draw < cfg.webhook_drop_share + cfg.webhook_duplicate_share else 1
        for copy in range(1, copies + 1):
            self._enqueue(_Job(sub, event, copy))

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
            if self.config.webhook_order == "concurrent":
                start: deque[_Job] | None = deque([job])
            else:
                queue = self._queues.setdefault(int(job.sub["id"]), deque())
                queue.append(job)
                start = queue if len(queue) == 1 else None  # else its sender is running
        if start is not None:
            threading.Thread(
                target=self._drain,
                args=(start, job.sub["id"]),
                name="cartcom-sandbox-webhook",
                daemon=True,
            ).start()

    def _drain(self, queue: deque[_Job], sub_id: int) -> None:
        """Send the queue's jobs one by one (the head stays queued while it is being sent)."""
        while True:
            with self._lock:
                if not queue:
                    return
                job = queue[0]
            try:
                self._deliver(job)
            finally:
                with self._lock:
                    queue.popleft()
                    self._pending -= 1
                    if not queue and self._queues.get(sub_id) is queue:
                        del self._queues[sub_id]
                    self._lock.notify_all()

    # --------------------------------------------------------------- deliver
    def _deliver(self, job: _Job) -> None:
        """Try ``url``; on failure per ``failure_type``: nothing, an error, or ``fallback_url``."""
        failure_type = job.sub.get("failure_type") or "Ignore"
        fallback = job.sub.get("fallback_url")
        use_fallback = failure_type == "Fallback" and bool(fallback)
        if self._try(job, "url", job.sub.get("url") or "", last=not use_fallback):
            return
        if use_fallback:
            self._try(job, "fallback_url", fallback, last=True)

    def _try(self, job: _Job, target: str, url: str, *, last: bool) -> bool:
        """Send to ``url`` with the retries configured; True once delivered."""
        tries = 1 + self.config.webhook_retries
        for attempt in range(1, tries + 1):
            began = self.clock()
            status, outcome = post(url, job.event.payload, self.config.webhook_timeout)
            final = attempt == tries
            self._record(job, target, url, attempt, status, outcome, began, last=last and final)
            if outcome == "delivered":
                return True
            if not final:
                self.sleep(self.config.webhook_retry_seconds)
        return False

    def _record(  # noqa: PLR0917 - one log line's fields
        self,
        job: _Job,
        target: str,
        url: str,
        attempt: int,
        status: int,
        outcome: str,
        began: float | None = None,
        *,
        last: bool = False,
    ) -> None:
        failure_type = job.sub.get("failure_type") or "Ignore"
        self.log.append(
            DeliveryRecord(
                event_type=job.event.event_type,
                subscription_id=int(job.sub["id"]),
                resource_id=job.event.resource_id,
                target=target,
                host=url_host(url) if url else "",
                url_tag=url_tag(url),
                attempt=attempt,
                status=status,
                outcome=outcome,
                copy=job.copy,
                failure_type=failure_type,
                error_shown=(
                    last and outcome not in ("delivered", "dropped") and failure_type == "Error"
                ),
                ts=self.clock() if began is None else began,
                site=self.site,
            )
        )

    # ------------------------------------------------------------------ wait
    def pending(self) -> int:
        """Deliveries queued or being sent."""
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no delivery is queued or being sent; False when ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

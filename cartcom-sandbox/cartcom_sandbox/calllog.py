"""The call log: one record per API request (admin routes excluded)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One API call as the sandbox saw it (the token only as a short hash)."""

    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped without a response
    bytes: int  # response body bytes actually sent
    ts: float  # wall-clock time the request arrived
    request_json: Any = None
    token_hash: str | None = None
    site: str | None = None  # the X-AC-PUB-Site-ID a router-mode call named (None otherwise)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


class CallLog:
    """Thread-safe, list-like sequence of CallRecord."""

    def __init__(self, max_records: int = 100_000) -> None:
        """Empty log keeping the newest ``max_records`` calls."""
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self.max_records = max_records

    def append(self, record: CallRecord) -> None:
        """Add a record (dropping the oldest beyond ``max_records``)."""
        with self._lock:
            self._records.append(record)
            if len(self._records) > self.max_records:
                del self._records[: len(self._records) - self.max_records]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def snapshot(self) -> list[CallRecord]:
        """A copy of the records."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        """Number of records."""
        return len(self._records)

    def __iter__(self) -> Iterator[CallRecord]:
        """Iterate over a snapshot."""
        return iter(self.snapshot())

    def __getitem__(self, index: int | slice) -> Any:
        """Index like a list."""
        return self.snapshot()[index]

    def count(
        self, method: str | None = None, path_prefix: str | None = None, status: int | None = None
    ) -> int:
        """Records matching all given criteria (``path_prefix`` with or without /api/v1)."""
        n = 0
        for r in self.snapshot():
            if method is not None and r.method != method.upper():
                continue
            if status is not None and r.status != status:
                continue
            if path_prefix is not None:
                rel = r.path[len("/api/v1") :] if r.path.startswith("/api/v1") else r.path
                if not (r.path.startswith(path_prefix) or rel.startswith(path_prefix)):
                    continue
            n += 1
        return n

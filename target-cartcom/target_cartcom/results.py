"""Per-record results (JSONL) and the run's summary.

Every record gets exactly one result line: its key, the operation, the outcome, the Cart.com
ids, the changed fields (old and new values) and, on failure, the error and the field it
concerns. The summary counts outcomes per stream and the calls used.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

OUTCOMES = ("linked", "created", "updated", "unchanged", "skipped", "failed")


@dataclass
class RecordResult:
    """The outcome of one input record."""

    stream: str
    key: str | None
    operation: str
    outcome: str
    ids: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    error: str | None = None
    field: str | None = None
    #: Something the merchant should know about a record that went through (a UPC link to
    #: an item with another SKU).
    warning: str | None = None
    #: A failure the next run tries again (the store failed, or a setting): the run confirmed
    #: no state, so a source read by position sends the record again.
    retry: bool | None = None
    planned_calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: What the merchant knows the record by, beside ``key``: a listing's ``sku``; a
    #: shipment's ``shipment_id`` and the Cart.com ``order_id`` it went to.
    sku: str | None = None
    #: A flat row's parent listing (``parent_sku``).
    parent_sku: str | None = None
    shipment_id: str | None = None
    order_id: int | None = None

    def __post_init__(self) -> None:
        """Refuse outcomes that the summary would not count."""
        if self.outcome not in OUTCOMES:
            msg = f"unknown outcome {self.outcome!r}"
            raise ValueError(msg)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


#: ``json.dumps(line, default=_json_default, sort_keys=True)``, without a new encoder per line.
_ENCODER = json.JSONEncoder(default=_json_default, sort_keys=True)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


class ResultsLog:
    """Collects results, writes them as JSON lines, and builds the summary."""

    def __init__(self, path: str | None, *, dry_run: bool = False) -> None:
        """Open ``path`` for writing (truncating it), or keep results in memory only."""
        self.path = Path(path) if path else None
        self.dry_run = dry_run
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.failures: list[RecordResult] = []
        #: Failures the next run tries again (``RecordResult.retry``).
        self.retries = 0
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")

    def add(self, result: RecordResult) -> None:
        """Record one result."""
        with self._lock:
            self.outcomes[result.stream][result.outcome] += 1
            if result.outcome == "failed":
                self.failures.append(result)
                self.retries += bool(result.retry)
            if self._file is not None:
                # A shallow view (not ``asdict``, which deep-copies): ~0.2 ms less per record.
                line = {}
                for name in _field_names(type(result)):
                    value = getattr(result, name)
                    if value not in (None, {}, []):
                        line[name] = value
                line["outcome"] = result.outcome
                if self.dry_run:
                    line["dry_run"] = True
                self._file.write(_ENCODER.encode(line) + "\n")
                self._file.flush()

    @property
    def failed(self) -> int:
        """How many records failed."""
        return len(self.failures)

    def summary(self, *, reads: int, writes: int, planned_writes: int = 0) -> dict[str, Any]:
        """Counts per outcome per stream, and the calls used."""
        return {
            "type": "summary",
            "dry_run": self.dry_run,
            "outcomes": {stream: dict(counts) for stream, counts in sorted(self.outcomes.items())},
            "calls": {"reads": reads, "writes": writes, "planned_writes": planned_writes},
            "failed": self.failed,
        }

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Append the summary line and close the file."""
        with self._lock:
            if self._file is not None:
                if summary is not None:
                    self._file.write(json.dumps(summary, sort_keys=True) + "\n")
                self._file.close()
                self._file = None

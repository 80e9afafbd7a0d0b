"""The webhook hints: what the receiver heard per store, and which Get Orders run has read since.

Cart.com signs no delivery, so a delivery is never data, only a hint that a store has something
new: the receiver (receiver.py) records that a store was hinted and when; the trigger sensor
(sensors.py) starts the store's Get Orders run when a hint is newer than the last read; the run
marks, in the store's turn just before ``meltano run`` starts reading, every hint so far as
taken. A store's hints are a counter (``seq``), so a burst of deliveries is one row changed many
times, never a queue of runs.

The file is SQLite (WAL), shared by the receiver's process and Dagster's: each write is one short
transaction, so recording a hint takes milliseconds whatever Dagster is doing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cartcom_orchestration.project import MeltanoProject
from cartcom_orchestration.stores import StoresConfig

FILE_NAME = "webhook-hints.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS hints (
    store TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,          -- deliveries heard so far
    first_at REAL,                 -- arrival of the oldest hint no run has taken (NULL: none)
    last_at REAL NOT NULL          -- arrival of the newest hint
);
CREATE TABLE IF NOT EXISTS reads (
    run_id TEXT PRIMARY KEY,       -- the Dagster run that began reading
    store TEXT NOT NULL,
    seq INTEGER NOT NULL,          -- the hints it covers: every one up to this
    since REAL,                    -- the oldest hint it took (NULL: none new)
    at REAL NOT NULL               -- when it began reading
);
CREATE INDEX IF NOT EXISTS reads_by_store ON reads (store, seq);
"""


def hints_path(config: StoresConfig, project: MeltanoProject) -> Path:
    """Where the receiver and Dagster share the hints: beside the stores' system folders."""
    return (config.work_dir or project.root / ".meltano" / "cartcom-stores") / FILE_NAME


@dataclass(frozen=True)
class Read:
    """A run's read: the hints it covers, the oldest of those it was the first to take, when."""

    seq: int
    since: float | None
    at: float


class Hints:
    """The hints file; one connection per call, so any thread or process may use it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False  # created on first use, not when Dagster loads the definitions

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            self._ready = True
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def record(self, store: str, at: float | None = None) -> None:
        """One delivery heard for ``store``."""
        at = time.time() if at is None else at
        with self._db() as db:
            db.execute(
                "INSERT INTO hints (store, seq, first_at, last_at) VALUES (?, 1, ?, ?) "
                "ON CONFLICT (store) DO UPDATE SET seq = seq + 1, "
                "first_at = COALESCE(first_at, excluded.first_at), last_at = excluded.last_at",
                (store, at, at),
            )

    def seq(self, store: str) -> int:
        """Deliveries heard for ``store`` so far."""
        with self._db() as db:
            row = db.execute("SELECT seq FROM hints WHERE store = ?", (store,)).fetchone()
        return row[0] if row else 0

    def read_seq(self, store: str) -> int:
        """The newest hint a run of ``store`` has begun reading after (0: none)."""
        with self._db() as db:
            row = db.execute("SELECT MAX(seq) FROM reads WHERE store = ?", (store,)).fetchone()
        return row[0] or 0

    def begin_read(self, store: str, run_id: str, at: float | None = None) -> Read:
        """Run ``run_id`` begins reading ``store``: every hint so far is covered by it.

        Called again for the same run (a retry), it covers the hints up to the retry.
        """
        at = time.time() if at is None else at
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT seq, first_at FROM hints WHERE store = ?", (store,)).fetchone()
            seq, since = row if row else (0, None)
            old = db.execute("SELECT since FROM reads WHERE run_id = ?", (run_id,)).fetchone()
            if old is not None and old[0] is not None:
                since = old[0] if since is None else min(since, old[0])
            db.execute(
                "INSERT OR REPLACE INTO reads (run_id, store, seq, since, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, store, seq, since, at),
            )
            db.execute("UPDATE hints SET first_at = NULL WHERE store = ?", (store,))
            db.execute("COMMIT")
        return Read(seq, since, at)

    def began(self, run_ids: Iterable[str]) -> set[str]:
        """Those of ``run_ids`` that have begun reading."""
        ids = list(run_ids)
        if not ids:
            return set()
        with self._db() as db:
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT run_id FROM reads WHERE run_id IN ({marks})", ids)
            return {r[0] for r in rows}

"""The memory of the rows read apart for having no replication-key value (null, ``""``).

A window filter (``created_at=gte:...+AND+lt:...``) can never match a row whose key is null,
so each run reads those rows apart (``WindowedStream.read_keyless``) and emits the ones not
emitted before. Their ids are kept in the stream's state under ``keyless``, in the id-run text
of the Get Orders memory (``emitted.py``: ``first:run,gap,run,...``, compressed when long),
and trimmed each run to the ids still without a key: the memory is bounded by the number of
keyless rows in the store, whatever its size.
"""

from __future__ import annotations

import binascii
import logging
import threading
import typing as t
import zlib

from tap_cartcom.emitted import DayRanges, pack, unpack

#: State key, inside a windowed stream's bookmark.
STATE_KEY = "keyless"

LOGGER = logging.getLogger("tap-cartcom")


class KeylessIds:
    """Ids of the keyless rows already emitted, as id runs (never expanded one by one).

    Locked: an orders page is filtered in the page thread while the previous one is written.
    """

    def __init__(self, ranges: DayRanges | None = None) -> None:
        """The ids of ``ranges`` (none by default)."""
        self._ranges = ranges if ranges is not None else DayRanges()
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, value: t.Any, stream: str = "") -> KeylessIds:
        """Load the stored text; an unreadable one is dropped with a warning.

        Dropping it costs at most the keyless rows emitted once more (at-least-once), never a
        row lost, so a damaged state does not stop the run.
        """
        if not value:
            return cls()
        try:
            return cls(DayRanges.decode(unpack(str(value))))
        except (ValueError, TypeError, zlib.error, binascii.Error) as exc:
            LOGGER.warning(
                "%s: the state's `%s` memory is unreadable (%.80s); its rows are emitted again",
                stream or "a stream",
                STATE_KEY,
                exc,
            )
            return cls()

    def to_state(self) -> str:
        """The ids as compact runs (empty text for none)."""
        with self._lock:
            return pack(self._ranges.encode())

    def __contains__(self, record_id: object) -> bool:
        """Whether ``record_id`` was emitted as a keyless row."""
        if not isinstance(record_id, int):
            return False
        with self._lock:
            return record_id in self._ranges

    def __len__(self) -> int:
        """Ids held."""
        with self._lock:
            return len(self._ranges)

    def add(self, record_id: t.Any) -> None:
        """Remember an emitted keyless row (an id that is not an integer cannot be kept)."""
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            with self._lock:
                self._ranges.add(record_id)

    def keep_only(self, still_keyless: t.Iterable[int]) -> None:
        """Forget the ids no longer without a key (the window read sees them now)."""
        kept = DayRanges()
        with self._lock:
            for record_id in sorted(set(still_keyless)):
                if record_id in self._ranges:
                    kept.add(record_id)
            self._ranges = kept

"""The Get Orders memory: which orders of the import window were emitted, as compact id ranges.

Kept in the orders stream's state under ``get_orders_emitted``: one entry per UTC creation day,
``{"2024-05-01": "100231:40,2,17"}``. The text is the day's first emitted id, then alternating
run and gap lengths: ``100231:40,2,17`` is ids 100231-100270 (a run of 40), then 2 ids not
emitted, then 100273-100289 (17). Order ids are given out in creation order, so one day's
emitted orders are a few long runs; a day that falls out of the window is dropped whole.
Nothing here assumes that order: a stray id only costs a longer text. A day whose text is
longer than ``COMPRESS_OVER`` characters (many orders that never reached a selected status
break the runs) is kept as ``z:`` + base64 of the zlib-compressed text, about 3 times smaller.
"""

from __future__ import annotations

import base64
import threading
import typing as t
import zlib
from bisect import bisect_right

#: State key, inside the orders stream's bookmark.
STATE_KEY = "get_orders_emitted"
#: Longer day texts are stored compressed.
COMPRESS_OVER = 200
_ZIP = "z:"


def pack(text: str) -> str:
    """A day's ranges text as stored: as is when short, else ``z:`` + base64(zlib(text))."""
    if len(text) <= COMPRESS_OVER:
        return text
    return _ZIP + base64.b64encode(zlib.compress(text.encode("ascii"), 9)).decode("ascii")


def unpack(stored: str) -> str:
    """The inverse of ``pack``."""
    if stored.startswith(_ZIP):
        return zlib.decompress(base64.b64decode(stored[len(_ZIP) :])).decode("ascii")
    return stored


class DayRanges:
    """Sorted, disjoint, inclusive id ranges of one creation day."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        """No id."""
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __contains__(self, order_id: int) -> bool:
        """Whether ``order_id`` is in a range."""
        i = bisect_right(self.starts, order_id) - 1
        return i >= 0 and self.ends[i] >= order_id

    def __len__(self) -> int:
        """Ids held."""
        return sum(e - s + 1 for s, e in zip(self.starts, self.ends, strict=True))

    def add(self, order_id: int) -> bool:
        """Add ``order_id``, merging with its neighbours; False if it was there."""
        starts, ends = self.starts, self.ends
        i = bisect_right(starts, order_id) - 1
        if i >= 0 and ends[i] >= order_id:
            return False
        joins_left = i >= 0 and ends[i] == order_id - 1
        joins_right = i + 1 < len(starts) and starts[i + 1] == order_id + 1
        if joins_left and joins_right:
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif joins_left:
            ends[i] = order_id
        elif joins_right:
            starts[i + 1] = order_id
        else:
            starts.insert(i + 1, order_id)
            ends.insert(i + 1, order_id)
        return True

    def encode(self) -> str:
        """``first:run,gap,run,...`` (empty text for no id)."""
        if not self.starts:
            return ""
        parts: list[str] = []
        previous_end: int | None = None
        for start, end in zip(self.starts, self.ends, strict=True):
            if previous_end is not None:
                parts.append(str(start - previous_end - 1))
            parts.append(str(end - start + 1))
            previous_end = end
        return f"{self.starts[0]}:{','.join(parts)}"

    @classmethod
    def decode(cls, text: str) -> DayRanges:
        """The inverse of ``encode``; a malformed text raises ValueError."""
        ranges = cls()
        if not text:
            return ranges
        first, _, rest = text.partition(":")
        lengths = [int(n) for n in rest.split(",")] if rest else []
        if not lengths or len(lengths) % 2 == 0 or min(lengths) < 1:
            msg = f"bad id ranges {text[:40]!r}"
            raise ValueError(msg)
        start = int(first)
        for k in range(0, len(lengths), 2):
            if k:
                start = ranges.ends[-1] + 1 + lengths[k - 1]
            ranges.starts.append(start)
            ranges.ends.append(start + lengths[k] - 1)
        return ranges


class EmittedOrders:
    """Order ids emitted, by UTC creation day.

    Locked: the next page is filtered in the page thread while this one is being written.
    """

    def __init__(self) -> None:
        """Nothing emitted."""
        self._days: dict[str, DayRanges] = {}
        self._text: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def day_of(created_at: t.Any) -> str | None:
        """The UTC day of a normalised ``created_at`` (``2024-05-01T...Z``), or None."""
        if not isinstance(created_at, str) or len(created_at) < 10:
            return None
        return created_at[:10]

    @classmethod
    def from_state(cls, value: t.Any) -> EmittedOrders:
        """Load ``{day: ranges text}`` from state (None or empty: nothing emitted)."""
        emitted = cls()
        for day, text in (value or {}).items():
            emitted._days[str(day)] = DayRanges.decode(unpack(str(text)))
            emitted._text[str(day)] = str(text)
        return emitted

    def to_state(self) -> dict[str, str]:
        """``{day: ranges text}``, days in order (only the days changed are re-encoded)."""
        with self._lock:
            for day in self._dirty:
                self._text[day] = pack(self._days[day].encode())
            self._dirty.clear()
            return {day: self._text[day] for day in sorted(self._text)}

    def has(self, created_at: t.Any, order_id: t.Any) -> bool:
        """Whether the order created at ``created_at`` with ``order_id`` was emitted."""
        day = self.day_of(created_at)
        if day is None or not isinstance(order_id, int):
            return False
        with self._lock:
            ranges = self._days.get(day)
            return ranges is not None and order_id in ranges

    def add(self, created_at: t.Any, order_id: t.Any) -> None:
        """Remember an emitted order (an order with no creation time cannot be placed)."""
        day = self.day_of(created_at)
        if day is None or not isinstance(order_id, int):
            return
        with self._lock:
            if self._days.setdefault(day, DayRanges()).add(order_id):
                self._dirty.add(day)

    def forget_before(self, day: str) -> None:
        """Drop the days before ``day`` (out of the window: never read again)."""
        with self._lock:
            for old in [d for d in self._days if d < day]:
                del self._days[old]
                self._text.pop(old, None)
                self._dirty.discard(old)

    def __len__(self) -> int:
        """Orders remembered."""
        with self._lock:
            return sum(len(r) for r in self._days.values())

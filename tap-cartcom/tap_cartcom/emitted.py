"""The Get Orders memory: which orders of the import window were emitted, as compact id ranges.

Kept in the orders stream's state under ``get_orders_emitted``: one entry per UTC creation day,
``{"2024-05-01": "100231:40,2,17"}``. The text is the day's first emitted id, then alternating
run and gap lengths: ``100231:40,2,17`` is ids 100231-100270 (a run of 40), then 2 ids not
emitted, then 100273-100289 (17). Order ids are given out in creation order, so one day's
emitted orders are a few long runs; a day that falls out of the window is dropped whole.
Nothing here assumes that order: a stray id only costs a longer text. A day whose text is
longer than ``COMPRESS_OVER`` characters (many orders that never reached a selected status
break the runs) is kept as ``z:`` + base64 of the zlib-compressed text, about 3 times smaller.

The state comes from outside the tap (Meltano's database, a file): it is checked before it is
trusted (``EmittedOrders.from_state``). A day holds at most ``MAX_DAY_ORDERS`` orders, so its
text has a known longest length, and nothing longer is ever decompressed or parsed; a state that
fails a check raises ``StateError`` and the run stops before its first call.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import threading
import typing as t
import zlib
from bisect import bisect_right
from datetime import date, timedelta

#: State key, inside the orders stream's bookmark.
STATE_KEY = "get_orders_emitted"
#: Longer day texts are stored compressed.
COMPRESS_OVER = 200
_ZIP = "z:"
#: Most orders one UTC creation day may hold: ten times the busiest day the tap is sized and
#: benchmarked for (300,000 orders in 30 days: 10,000 a day), 1.2 orders a second all day. It
#: bounds what a hostile state can cost: 31 full days of single-id runs peak at about 310 MB.
MAX_DAY_ORDERS = 100_000
#: Largest order id: Cart.com's ids fit a signed 64-bit integer (19 digits), the widest id
#: column there is; a larger number is not an order id.
MAX_ORDER_ID = 2**63 - 1
#: Longest text a day of ``MAX_DAY_ORDERS`` orders can have: the first id and ``:`` (20), then
#: per run its length (a run of r ids has at most r digits, so at most ``MAX_DAY_ORDERS`` digits
#: in all), the gap after it (at most 19 digits) and two commas.
MAX_DAY_TEXT = 20 + MAX_DAY_ORDERS * (1 + 19 + 2)
#: Longest stored (compressed) day: zlib's worst case for that text (its ``compressBound``) in
#: base64, after ``z:``. Anything longer is refused before it is decoded.
MAX_STORED = len(_ZIP) + 4 * math.ceil(
    (MAX_DAY_TEXT + (MAX_DAY_TEXT >> 12) + (MAX_DAY_TEXT >> 14) + (MAX_DAY_TEXT >> 25) + 13) / 3
)
#: A day this far past the run's clock is still accepted. Days are UTC on both sides (the
#: state's from each order's ``created_at``, the run's from its start), so time zones need no
#: slack; an hour covers a tap host whose clock lags the store's (or that of the host that
#: wrote the state) by less than that, the only way a legitimate state can hold "tomorrow".
CLOCK_SLACK = timedelta(hours=1)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANGES = re.compile(r"[0-9]{1,19}:[0-9]{1,19}(?:,[0-9]{1,19})*")
#: How to get past a state the tap refuses, appended to every ``StateError``.
STATE_CURE = (
    "The run stops rather than trust it. Clear the state with `meltano state clear --force "
    "<environment>:<tap>-to-<target>` (`meltano state list` shows the id; with the stores file "
    "it ends in `:<store>`), or delete `get_orders_emitted` from the state file given with "
    "--state; the next run then imports again every order of the window that is still in a "
    "selected status."
)


class StateError(ValueError):
    """The Get Orders state is corrupt or hostile; the message says what and how to clear it."""

    def __init__(self, problem: str) -> None:
        """``problem`` names what is wrong, never quoting the state's own text."""
        super().__init__(f"`{STATE_KEY}` in the tap's state is unusable: {problem}. {STATE_CURE}")


def pack(text: str) -> str:
    """A day's ranges text as stored: as is when short, else ``z:`` + base64(zlib(text))."""
    if len(text) <= COMPRESS_OVER:
        return text
    return _ZIP + base64.b64encode(zlib.compress(text.encode("ascii"), 9)).decode("ascii")


def unpack(stored: str) -> str:
    """The inverse of ``pack``; ValueError for anything ``pack`` cannot have written.

    Bounded: a stored text longer than ``MAX_STORED`` is not decoded, and decompression stops
    one byte past ``MAX_DAY_TEXT`` (a zlib bomb costs that much, never more).
    """
    if not stored.startswith(_ZIP):
        if len(stored) > MAX_DAY_TEXT:
            msg = f"a day's text is longer than {MAX_DAY_TEXT:,} characters"
            raise ValueError(msg)
        return stored
    if len(stored) > MAX_STORED:
        msg = f"a compressed day is longer than {MAX_STORED:,} characters"
        raise ValueError(msg)
    try:
        data = base64.b64decode(stored[len(_ZIP) :], validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, MAX_DAY_TEXT + 1)
    except (binascii.Error, zlib.error, ValueError):
        msg = "a compressed day is not base64 of zlib data"
        raise ValueError(msg) from None
    if len(text) > MAX_DAY_TEXT:
        msg = f"a compressed day expands past {MAX_DAY_TEXT:,} characters"
        raise ValueError(msg)
    if not inflater.eof or inflater.unused_data:
        msg = "a compressed day is cut short or has bytes after its end"
        raise ValueError(msg)
    if not text.isascii():
        msg = "a compressed day is not text"
        raise ValueError(msg)
    return text.decode("ascii")


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
        """The inverse of ``encode``; ValueError for a text ``encode`` cannot have written.

        Ids are positive and at most ``MAX_ORDER_ID``, runs and gaps at least 1 (so the ranges
        ascend and never touch), and a day holds at most ``MAX_DAY_ORDERS`` ids.
        """
        ranges = cls()
        if not text:
            return ranges
        if len(text) > MAX_DAY_TEXT or not _RANGES.fullmatch(text):
            msg = "bad id ranges: not `first:run,gap,run,...` in digits"
            raise ValueError(msg)
        first, _, rest = text.partition(":")
        lengths = [int(n) for n in rest.split(",")]
        if len(lengths) % 2 == 0:
            msg = "bad id ranges: they end with a gap"
            raise ValueError(msg)
        if int(first) < 1 or min(lengths) < 1:
            msg = "bad id ranges: an id, a run or a gap is 0"
            raise ValueError(msg)
        if sum(lengths[0::2]) > MAX_DAY_ORDERS:
            msg = f"bad id ranges: more than {MAX_DAY_ORDERS:,} orders in one day"
            raise ValueError(msg)
        start = int(first)
        for k in range(0, len(lengths), 2):
            if k:
                start = ranges.ends[-1] + 1 + lengths[k - 1]
            ranges.starts.append(start)
            ranges.ends.append(start + lengths[k] - 1)
        if ranges.ends[-1] > MAX_ORDER_ID:
            msg = f"bad id ranges: an id past {MAX_ORDER_ID}"
            raise ValueError(msg)
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
    def from_state(
        cls, value: t.Any, *, first_day: str | None = None, last_day: str | None = None
    ) -> EmittedOrders:
        """Load and check ``{day: ranges text}`` from state (None or empty: nothing emitted).

        Days before ``first_day`` (out of the window) are dropped unread; a day after
        ``last_day`` cannot hold an order yet. Anything that fails a check raises
        ``StateError``: a ledger that is wrong would skip orders silently.
        """
        emitted = cls()
        if value is None:
            return emitted
        if not isinstance(value, dict):
            msg = "it is not a map of days to id ranges"
            raise StateError(msg)
        for day, text in value.items():
            if not isinstance(day, str) or not _is_day(day):
                msg = "a key is not a day (YYYY-MM-DD)"
                raise StateError(msg)
            if last_day is not None and day > last_day:
                msg = (
                    f"day {day} is after the run's day ({last_day}, UTC): no order can have "
                    "been created then"
                )
                raise StateError(msg)
            if not isinstance(text, str):
                msg = f"day {day} is not a text of id ranges"
                raise StateError(msg)
            if first_day is not None and day < first_day:
                continue
            try:
                emitted._days[day] = DayRanges.decode(unpack(text))
            except ValueError as err:
                raise StateError(f"day {day}: {err}") from None
            emitted._text[day] = text
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


def _is_day(text: str) -> bool:
    """``YYYY-MM-DD`` and a real date (``fromisoformat`` alone also takes ``YYYYMMDD``)."""
    if not _DAY.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True

"""Store-local timestamps as Cart.com prints them (America/Chicago, variable fraction digits).

Times are handled as integer "ticks" (100 ns, like .NET) since the Unix epoch, UTC. The US
daylight-saving rule (since 2007) is computed here so output never depends on the host's tzdata.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta

TICKS = 10_000_000  # ticks per second
STD_OFFSET = -6 * 3600  # CST
DST_OFFSET = -5 * 3600  # CDT


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def _boundaries() -> list[int]:
    out: list[int] = []
    for year in range(1990, 2101):
        start = _nth_sunday(year, 3, 2)  # 02:00 CST = 08:00 UTC
        end = _nth_sunday(year, 11, 1)  # 02:00 CDT = 07:00 UTC
        out.append(int(datetime(start.year, 3, start.day, 8, tzinfo=UTC).timestamp()))
        out.append(int(datetime(end.year, 11, end.day, 7, tzinfo=UTC).timestamp()))
    return out


_BOUNDS = _boundaries()


def utc_offset(epoch_seconds: int) -> int:
    """Chicago's UTC offset in seconds at an instant."""
    return DST_OFFSET if bisect_right(_BOUNDS, epoch_seconds) % 2 else STD_OFFSET


def local_midnight_ticks(day: date) -> int:
    """Ticks of 00:00 Chicago time on a calendar day."""
    naive = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    off = utc_offset(naive - STD_OFFSET)
    return (naive - off) * TICKS


def to_ticks(dt: datetime) -> int:
    """Aware datetime to ticks."""
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * TICKS + delta.microseconds * 10


def truncate(ticks: int, digits: int) -> int:
    """Drop precision below ``digits`` fractional digits (0..7)."""
    unit = 10 ** (7 - digits)
    return ticks - ticks % unit


def fmt(ticks: int) -> str:
    """Format ticks as Chicago local time with offset, trailing fraction zeros trimmed."""
    secs, frac = divmod(ticks, TICKS)
    off = utc_offset(secs)
    t = time.gmtime(secs + off)
    sign_h = "-05:00" if off == DST_OFFSET else "-06:00"
    date = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    base = f"{date}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if frac:
        return f"{base}.{f'{frac:07d}'.rstrip('0')}{sign_h}"
    return base + sign_h

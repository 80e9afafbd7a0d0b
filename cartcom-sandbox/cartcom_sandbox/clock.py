"""Cart.com datetimes: parse any ISO 8601 form exactly (7 fractional digits), format store-local."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_DT = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d\d:?\d\d)?$"
)
# A "+hh:mm" whose "+" arrived as a space (form-decoding), the misparse of §1.5.
SPACE_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+ \d\d:?\d\d$")
_EPOCH_DAYS = datetime(1970, 1, 1).toordinal()
TICKS = 10_000_000  # 100-ns ticks per second, .NET resolution


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    """The (cached) zone called ``name``."""
    return ZoneInfo(name)


def to_ticks(value: object, tz: str = "America/Chicago") -> int | None:
    """UTC 100-ns ticks since 1970 of a datetime string; None for null/"" or unparseable text.

    A value without an offset is store-local time (``tz``), as Cart.com reads it.
    """
    if not isinstance(value, str) or not value:
        return None
    fast = fast_ticks(value)
    if fast is not None:
        return fast
    m = _DT.match(value.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        days = datetime(int(y), int(mo), int(d)).toordinal() - _EPOCH_DAYS
    except ValueError:
        return None
    hh, mm, ss = int(h or 0), int(mi or 0), int(s or 0)
    if hh > 23 or mm > 59 or ss > 59:
        return None
    secs = days * 86400 + hh * 3600 + mm * 60 + ss
    fr = int((frac or "0")[:7].ljust(7, "0"))
    if off is None:
        local = datetime(int(y), int(mo), int(d), hh, mm, ss, tzinfo=zone(tz))
        offset = local.utcoffset() or timedelta(0)
        secs -= int(offset.total_seconds())
    elif off not in ("Z", "z"):
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return secs * TICKS + fr


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fast_ticks(v: str) -> int | None:
    """Offset-carrying ISO values via the C ``fromisoformat``; None means "use the slow path"."""
    if len(v) < 20 or v[10] not in "Tt":
        return None
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    td = dt - _EPOCH
    ticks = (td.days * 86400 + td.seconds) * TICKS + td.microseconds * 10
    if len(v) > 26 and v[19] == "." and v[20:27].isdigit():
        ticks += int(v[26])  # the 7th fractional digit that datetime drops
    return ticks


def is_datetime_text(value: str) -> bool:
    """True when ``value`` parses as an ISO 8601 datetime (or date)."""
    return to_ticks(value) is not None


def format_local(ticks: int, tz: str) -> str:
    """Format UTC ticks as store-local ISO 8601 with offset and 0-7 trailing-zero-free digits."""
    secs, frac = divmod(ticks, TICKS)
    when = datetime.fromtimestamp(secs, UTC).astimezone(zone(tz))
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:07d}".rstrip("0")
    if digits:
        text += "." + digits
    off = when.strftime("%z")
    return f"{text}{off[:3]}:{off[3:]}"


def now_ticks() -> int:
    """Current UTC time in 100-ns ticks (microsecond clock, 7th digit derived from it)."""
    now = datetime.now(UTC)
    secs = int(now.timestamp())
    # .NET shows 7 digits; derive a deterministic 7th digit so lengths vary like the real API.
    return secs * TICKS + now.microsecond * 10 + (now.microsecond % 7)


def now_local(tz: str) -> str:
    """The current store-local timestamp."""
    return format_local(now_ticks(), tz)


def normalise_input(value: str, tz: str) -> str:
    """A written datetime as the API would return it (store-local with offset)."""
    ticks = to_ticks(value, tz)
    return value if ticks is None else format_local(ticks, tz)

"""Shared state of one seeding run: configuration, random streams, clock helpers."""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime

from cartcom_sandbox.seeding import timefmt
from cartcom_sandbox.seeding.timefmt import TICKS

DAY = 86400 * TICKS
HOUR = 3600 * TICKS
MINUTE = 60 * TICKS

# How many fractional digits a printed timestamp keeps (.NET trims trailing zeros, so the
# real spread is wide). Index = digits.
_DIGIT_WEIGHTS = [8, 6, 8, 25, 6, 6, 8, 33]
_DIGIT_CUM = [sum(_DIGIT_WEIGHTS[: i + 1]) / sum(_DIGIT_WEIGHTS) for i in range(8)]


@dataclass
class Config:
    """What to build. ``end`` is the instant of the newest possible record ("now")."""

    products: int
    orders: int
    seed: int
    start: date
    end: datetime

    @property
    def start_ticks(self) -> int:
        """First instant orders may have."""
        return timefmt.local_midnight_ticks(self.start)

    @property
    def end_ticks(self) -> int:
        """Last instant any record may have."""
        return timefmt.to_ticks(self.end)


@dataclass
class Ctx:
    """A run's config plus helpers; every random stream is derived from the seed."""

    cfg: Config
    start: int = field(init=False)
    now: int = field(init=False)
    address_count: int = 0  # order_addresses made for customers; per-order ones follow

    def __post_init__(self) -> None:
        """Derive the window in ticks."""
        self.start = self.cfg.start_ticks
        self.now = self.cfg.end_ticks
        if self.now <= self.start:
            raise ValueError("the date range is empty: end must be after start")

    def rng(self, stream: str) -> random.Random:
        """An independent deterministic random stream for one part of the store."""
        return random.Random(f"cartcom-sandbox/{self.cfg.seed}/{stream}")

    @staticmethod
    def ts(rng: random.Random, ticks: int) -> str:
        """Print an instant with a random number (0-7) of fractional digits."""
        digits = bisect_right(_DIGIT_CUM, rng.random())
        return timefmt.fmt(timefmt.truncate(ticks, min(digits, 7)))

    @staticmethod
    def between(rng: random.Random, lo: int, hi: int) -> int:
        """A random instant in [lo, hi) (lo if the span is empty)."""
        return lo + int(rng.random() * (hi - lo)) if hi > lo else lo


def money(x: float) -> float:
    """Round to cents."""
    return round(x + 1e-9, 2)

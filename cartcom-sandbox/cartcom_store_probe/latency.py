"""``call_latency_ms``: how long the store took to answer, overall and by page size asked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _stats(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "calls": len(ordered),
        "p50": round(_nearest_rank(ordered, 0.50), 1),
        "p95": round(_nearest_rank(ordered, 0.95), 1),
        "max": round(ordered[-1], 1),
    }


def latency_stats(timings: Sequence[tuple[int | None, float, int]]) -> dict[str, Any]:
    """``call_latency_ms``: p50/p95/max over the answered calls, and by page size asked.

    Percentiles are nearest-rank (each one a time some call took). ``by_page_size`` groups the
    calls by the ``count`` they sent, with the median answer size in KiB, so a store whose
    large pages are slower shows it; a size the probe asked once has ``calls: 1``.
    """
    if not timings:
        return {"calls": 0, "note": "no call was answered"}
    out = _stats([ms for _, ms, _ in timings])
    groups: dict[int, list[tuple[float, int]]] = {}
    for count, ms, size in timings:
        if count is not None:
            groups.setdefault(count, []).append((ms, size))
    out["by_page_size"] = {
        str(count): {
            **_stats([ms for ms, _ in rows]),
            "kib_p50": round(_nearest_rank(sorted(size for _, size in rows), 0.5) / 1024, 1),
        }
        for count, rows in sorted(groups.items())
    }
    out["measured_as"] = "from sending each GET to the last byte of its answer, at the probe"
    return out

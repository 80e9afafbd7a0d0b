"""Sandbox settings: every knob that makes an INF (inferred) behaviour configurable."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Calls per window (10 s) by Cart.com plan (docs/api.md §1.9). None means no limit.
# Reference: cartcom_client/settings.py PLANS (tests/test_wire_rule_copies.py checks the copies).
PLANS: dict[str, int | None] = {
    "steel": 5,
    "bronze": 10,
    "silver": 20,
    "gold": 50,
    "unlimited": None,
}
# What X-AC-Call-Limit reports as the limit on the "unlimited" plan.
UNLIMITED_DISPLAY = 1_000_000


@dataclass
class SandboxConfig:
    """Behaviour switches of the emulator; defaults follow docs/api.md (INF choices marked)."""

    plan: str = "unlimited"
    rate_calls: int | None = None  # overrides the plan's calls per window when set
    rate_window: float = 10.0  # seconds, fixed window per token (DOC)
    retry_after_format: str = "seconds"  # "seconds" | "http-date" (§13: live sends both)
    default_count: int = 100  # DOC
    max_count: int = 1000  # INF: §13 shows count=1000 works live
    count_over_max: str = "cap"  # "cap" (silently, INF) | "error" (400)
    empty_page_status: int = 200  # INF: page 1 with no rows: 200 + []; 404 is the other reading
    # Reference: cartcom_client/urls.py MAX_URL_LENGTH (tests/test_wire_rule_copies.py checks it).
    max_url_length: int = 2048  # §14: IIS/ASP.NET query cap; path+query longer gives 414
    # INF: Cart.com's body limit is unknown. ASP.NET's default maxRequestLength is 4,096 KB; a
    # declared or streamed body over this many bytes gets 413 with the error envelope.
    max_body_bytes: int = 4 * 1024 * 1024
    timezone: str = "America/Chicago"  # store-local time zone of every timestamp the store writes
    list_keys: dict[str, str] = field(default_factory=dict)  # per-resource list key overrides
    # DOC §1.10: GETs are cached server-side unless "Cache-Control: no-cache". Off by default;
    # set seconds > 0 to serve repeated GETs (same token+URL) stale for that long.
    cache_seconds: float = 0.0
    # INF: whether shipments nested under orders (expand=shipments, /orders/{id}/shipments,
    # /filled) carry their ``items``. The docs' order sample shows none; the tap assumes them.
    shipment_items_in_order_expand: bool = True
    # INF: product_pictures with an absolute http(s) image_file and download_external_image
    # true: "keep" stores the URL as sent, "rewrite" stores /shared/images/<basename> (what a
    # store that downloaded the image may do).
    external_images: str = "keep"
    # How long the store takes to answer, added server-side before each answer of a call that
    # counts against the call limit (a 429, 401, 413 or 414 refusal answers at once): this many
    # ms, plus ``latency_ms_per_kb`` per KiB of the answer's body. The call counts when it
    # arrives; concurrent calls wait concurrently. 0: the sandbox's own speed (milliseconds).
    latency_ms: float = 0.0
    latency_ms_per_kb: float = 0.0

    def validate(self) -> None:
        """ValueError for a setting outside its choices."""
        for name in ("latency_ms", "latency_ms_per_kb"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"{name} is a number of milliseconds, 0 or more")
        if self.external_images not in ("keep", "rewrite"):
            raise ValueError(
                f"external_images is 'keep' or 'rewrite', not {self.external_images!r}"
            )
        if self.count_over_max not in ("cap", "error"):
            raise ValueError("count_over_max is 'cap' or 'error'")
        if self.empty_page_status not in (200, 404):
            raise ValueError("empty_page_status is 200 or 404")
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ValueError("max_body_bytes is a positive whole number of bytes")

    def answer_delay(self, body_bytes: int) -> float:
        """Seconds a counted call's answer of ``body_bytes`` waits before it is sent."""
        return (self.latency_ms + self.latency_ms_per_kb * body_bytes / 1024) / 1000

    def calls_per_window(self) -> int | None:
        """Calls allowed per window, from ``rate_calls`` or the plan."""
        if self.rate_calls is not None:
            return self.rate_calls
        if self.plan not in PLANS:
            raise ValueError(f"unknown plan {self.plan!r}; choose one of {', '.join(PLANS)}")
        return PLANS[self.plan]

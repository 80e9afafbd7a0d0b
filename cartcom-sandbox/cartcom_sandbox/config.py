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
    # Webhook deliveries (docs/api.md §7, docs/sandbox.md "Webhooks"). DOC: the 3 s timeout
    # (stated for reply hooks; applied to every delivery, INF), failure_type and fallback_url.
    webhook_timeout: float = 3.0
    # INF: no retry is documented; this many more tries of a failed delivery, this far apart.
    webhook_retries: int = 0
    webhook_retry_seconds: float = 1.0
    # INF: "ordered" sends one subscription's deliveries one at a time in the order the events
    # happened; "concurrent" sends each at once on its own thread (later ones may overtake).
    webhook_order: str = "ordered"
    # INF: PUT /orders/{id} changing order_status_id is presumably silent (only OrderUpdated);
    # True fires the status events there too, as PUT /orders/{id}/status does (DOC).
    webhook_status_events_on_put: bool = False
    # INF: whether an order created through the API counts as "placed" (OrderPlaced).
    webhook_order_placed_on_create: bool = True
    # Fault switch: this share of deliveries is never sent, this share is sent twice (seeded).
    webhook_drop_share: float = 0.0
    webhook_duplicate_share: float = 0.0
    webhook_fault_seed: int = 0

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
        self._validate_webhooks()

    def _validate_webhooks(self) -> None:
        if not _number(self.webhook_timeout) or self.webhook_timeout <= 0:
            raise ValueError("webhook_timeout is a number of seconds above 0")
        if not _number(self.webhook_retry_seconds) or self.webhook_retry_seconds < 0:
            raise ValueError("webhook_retry_seconds is a number of seconds, 0 or more")
        retries = self.webhook_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ValueError("webhook_retries is a whole number from 0 to 10")
        if self.webhook_order not in ("ordered", "concurrent"):
            raise ValueError("webhook_order is 'ordered' or 'concurrent'")
        for name in ("webhook_drop_share", "webhook_duplicate_share"):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value <= 1:
                raise ValueError(f"{name} is a share from 0 to 1")
        if self.webhook_drop_share + self.webhook_duplicate_share > 1:
            raise ValueError("webhook_drop_share + webhook_duplicate_share is at most 1")
        seed = self.webhook_fault_seed
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("webhook_fault_seed is a whole number")
        for name in ("webhook_status_events_on_put", "webhook_order_placed_on_create"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} is true or false")

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


def _number(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)  # type: ignore[arg-type]
    )

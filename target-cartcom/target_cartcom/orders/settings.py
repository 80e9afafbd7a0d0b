"""Settings of the order streams (tracking and acknowledgements)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from target_cartcom._client import ConfigurationError

ORDER_SETTINGS: list[th.Property] = [
    th.Property(
        "mark_shipped",
        th.BooleanType,
        default=True,
        title="Mark orders shipped",
        description=(
            "After upserting a shipment, set the order to the store's shipped status, or to its "
            "partially-shipped status while quantities remain unshipped (PUT /orders/{id}/status, "
            "only when the status differs)."
        ),
    ),
    th.Property(
        "shipped_status",
        th.StringType,
        title="Shipped status",
        description=(
            "Name (or id) of the order status for fully shipped orders. Default: the store's "
            "status flagged is_shipped."
        ),
    ),
    th.Property(
        "partially_shipped_status",
        th.StringType,
        title="Partially shipped status",
        description=(
            "Name (or id) of the order status for partly shipped orders. Default: the store's "
            "status flagged is_partially_shipped."
        ),
    ),
    th.Property(
        "mark_shipped_from_statuses",
        th.ArrayType(th.StringType),
        title="Statuses the target may move",
        description=(
            "Names (or ids) of the statuses from which `mark_shipped` may move an order. "
            "Default: every status flagged is_open or is_partially_shipped, so orders that are "
            "already shipped, completed, cancelled, refunded or quotes keep their status."
        ),
    ),
    th.Property(
        "carrier_map",
        th.ObjectType(additional_properties=True),
        title="Carrier map",
        description=(
            "How a source's carrier and service names map to Cart.com shipping providers, "
            "services (by identifier or name) or custom shipping methods. Keys are carrier names "
            "as sources send them (matched without case or punctuation); values are "
            "{provider, aliases[], services{source name: identifier or name}, default_service} or "
            "{custom_method}, or a provider name. Merged over the built-in map (UPS, FedEx, USPS, "
            "DHL, Canada Post, local delivery, freight, pickup); set a key to null to drop it."
        ),
    ),
    th.Property(
        "unmapped_carrier",
        th.StringType,
        default="fail",
        allowed_values=["fail", "text"],
        title="Unmapped carrier",
        description=(
            "What to do with a carrier or service that neither the carrier map nor the store "
            "knows: `fail` the record (default), or `text`: push the tracking with the names as "
            "given and no shipping_method_id."
        ),
    ),
]


@dataclass(frozen=True)
class OrderSettings:
    """The order streams' settings, validated."""

    mark_shipped: bool = True
    shipped_status: str | None = None
    partially_shipped_status: str | None = None
    mark_shipped_from_statuses: tuple[str, ...] | None = None
    carrier_map: dict[str, Any] = field(default_factory=dict)
    unmapped_carrier: str = "fail"
    dry_run: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OrderSettings:
        """Read the settings from the target's config; errors name the setting."""
        carrier_map = config.get("carrier_map") or {}
        if not isinstance(carrier_map, Mapping):
            msg = "`carrier_map` must be an object of carrier name -> mapping."
            raise ConfigurationError(msg)
        unmapped = str(config.get("unmapped_carrier") or "fail")
        if unmapped not in ("fail", "text"):
            msg = f"`unmapped_carrier` must be `fail` or `text`, got {unmapped!r}."
            raise ConfigurationError(msg)
        from_statuses = config.get("mark_shipped_from_statuses")
        mark = config.get("mark_shipped")
        return cls(
            mark_shipped=True if mark is None else bool(mark),
            shipped_status=_text(config.get("shipped_status")),
            partially_shipped_status=_text(config.get("partially_shipped_status")),
            mark_shipped_from_statuses=(
                tuple(str(s) for s in from_statuses) if from_statuses is not None else None
            ),
            carrier_map=dict(carrier_map),
            unmapped_carrier=unmapped,
            dry_run=bool(config.get("dry_run")),
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None

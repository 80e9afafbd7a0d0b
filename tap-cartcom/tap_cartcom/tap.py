"""tap-cartcom: the Tap class and its settings."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta
from functools import cached_property

import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from typing_extensions import override

from tap_cartcom._client import ConfigurationError, ConnectionSettings, connection_properties
from tap_cartcom._client.errors import StoreUnreachableError
from tap_cartcom._client.quirks import format_filter_datetime
from tap_cartcom._client.sdk import SecretSafeConfigValidation
from tap_cartcom._client.session import PacedAdapter, mount_pacing
from tap_cartcom.emitted import StateError
from tap_cartcom.streams import STREAM_TYPES
from tap_cartcom.writer import CartcomWriter

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_cartcom.streams.reference import OrderStatusesStream

__version__ = "0.1.0"
DEFAULT_PAGE_SIZE = 250
DEFAULT_LOOKBACK_DAYS = 3
#: Get Orders window when only a status filter is set: a month covers week-long payment
#: reviews, fraud holds and back-orders, and is the window Flxpoint-style imports use.
DEFAULT_GET_ORDERS_DAYS = 30


class TapCartcom(SecretSafeConfigValidation, Tap):
    """Cart.com orders and catalog, incremental, paced to the store's call window."""

    name = "tap-cartcom"
    message_writer_class = CartcomWriter

    config_jsonschema = th.PropertiesList(
        *connection_properties(),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description=(
                "Earliest creation (or update) time to extract on the first run; also a floor "
                "for every later run."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=DEFAULT_PAGE_SIZE,
            title="Page size",
            description=(
                "Records per call (`count`). Calls are the scarce resource: 250 orders with "
                "items, shipments and payments make a 1-3 MB answer. Live stores accept up to "
                "1000 (field evidence); raise it on plans with few calls."
            ),
        ),
        th.Property(
            "order_status_names",
            th.ArrayType(th.StringType),
            title="Order status names",
            description=(
                "Get Orders filter: only orders in these statuses (names resolved through "
                "/order_statuses, case-insensitive). Combined with `order_status_ids`."
            ),
        ),
        th.Property(
            "order_status_ids",
            th.ArrayType(th.IntegerType),
            title="Order status ids",
            description="Get Orders filter: only orders with these `order_status_id` values.",
        ),
        th.Property(
            "orders_created_within_days",
            th.NumberType,
            title="Orders created within (days)",
            description=(
                "Get Orders import window: only orders created in the last N days. With a "
                "status filter, every order created in the window is imported once, as soon as "
                "it is in a selected status, however late; without this setting the window is "
                f"{DEFAULT_GET_ORDERS_DAYS} days. Without a status filter it only narrows the "
                "incremental window."
            ),
        ),
        th.Property(
            "progress_interval_seconds",
            th.NumberType,
            default=30,
            title="Progress interval (seconds)",
            description=(
                "How often a long read logs one progress line per stream: records and pages "
                "read, calls made and the bookmark reached. 0 turns the lines off."
            ),
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=DEFAULT_LOOKBACK_DAYS,
            title="Lookback (days)",
            description=(
                "Without a status filter, each run rescans this many days before the bookmark "
                "and emits only records not emitted before (an order visible late is still "
                "imported). The ids emitted in this window are kept in state. With a status "
                "filter the whole `orders_created_within_days` window is rescanned instead."
            ),
        ),
        th.Property(
            "replication_key",
            th.StringType,
            default="created_at",
            allowed_values=["created_at", "updated_at"],
            title="Replication key",
            description=(
                "`created_at` (default): each order and product once. `updated_at`: every "
                "change re-emitted (ELT)."
            ),
        ),
    ).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        """Every stream; discovery makes no call."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]

    # -- what the streams use of the tap (``streams.base.TapRun``) ---------------------------
    @cached_property
    def connection(self) -> ConnectionSettings:
        """Validated connection settings (errors name the setting to fix)."""
        settings = ConnectionSettings.from_config(
            self.config, user_agent=f"tap-cartcom/{__version__}"
        )
        for note in settings.notes:
            self.logger.warning(note)
        return settings

    @cached_property
    def http_session(self) -> requests.Session:
        """One session for every stream, with the store's call budget mounted."""
        session = requests.Session()
        self.pacing: PacedAdapter = mount_pacing(session, self.connection)
        session.headers["User-Agent"] = f"tap-cartcom/{__version__}"
        return session

    @cached_property
    def sync_started_at(self) -> datetime:
        """The upper bound of every window in this run (UTC, whole milliseconds)."""
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def created_floor(self) -> str | None:
        """``orders_created_within_days`` as a filter value, or None."""
        days = self.config.get("orders_created_within_days")
        if days in (None, ""):
            return None
        return format_filter_datetime(self.sync_started_at - timedelta(days=float(days)))

    @property
    def get_orders_filter(self) -> bool:
        """A status filter is set: orders are read as Get Orders (each eligible order once)."""
        return bool(self.config.get("order_status_names") or self.config.get("order_status_ids"))

    def get_orders_days(self) -> float:
        """The Get Orders window in days: the setting, else the default."""
        days = self.config.get("orders_created_within_days")
        return DEFAULT_GET_ORDERS_DAYS if days in (None, "") else float(days)

    @cached_property
    def _status_ids(self) -> list[int]:
        ids = {int(i) for i in self.config.get("order_status_ids") or []}
        names = [str(n).strip() for n in self.config.get("order_status_names") or []]
        if names:
            statuses = t.cast("OrderStatusesStream", self.streams["order_statuses"])
            known = statuses.ids_by_name()
            missing = [n for n in names if n.lower() not in known]
            if missing:
                msg = (
                    f"`order_status_names` has unknown status(es) {missing}; the store has "
                    f"{sorted(known)}."
                )
                raise ConfigurationError(msg)
            ids.update(known[n.lower()] for n in names)
        return sorted(ids)

    def order_status_ids(self) -> list[int]:
        """The Get Orders status filter as ids (names resolved once per run)."""
        return self._status_ids

    @override
    def sync_all(self) -> None:
        """Check the connection settings, fix the window's end, check the state, then sync."""
        _ = self.connection
        _ = self.sync_started_at
        self._check_get_orders_state()
        super().sync_all()

    def _check_get_orders_state(self) -> None:
        """Load the Get Orders ledger before any output or call: a bad one stops the run here."""
        orders = self.streams["orders"]
        if not self.get_orders_filter or not (orders.selected or orders.has_selected_descendents):
            return
        bookmarks = self.state.get("bookmarks")
        bookmark = bookmarks.get("orders") if isinstance(bookmarks, dict) else None
        if isinstance(bookmark, dict):
            orders.emitted_in_state(bookmark)  # type: ignore[attr-defined]

    @classmethod
    @override
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """The CLI: a refused Get Orders state or an unreachable store is one line, exit 1.

        The unreachable store's line names its host and the setting the address came from.
        """
        try:
            super().invoke(*args, **kwargs)
        except (StateError, StoreUnreachableError) as err:
            cls.logger.error("%s", err)
            raise SystemExit(1) from None


if __name__ == "__main__":
    TapCartcom.cli()

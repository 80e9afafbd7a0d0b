"""Reference lists read once per run.

Order statuses, shipping providers with their services, custom shipping methods. Each is read on
first need, so a run that never needs one never reads it, and both order sinks share them: the
order streams' state, one per run, kept by the run's ``RunContext`` (``run.state``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from target_cartcom._client import CartcomSession, ConfigurationError, NotFoundError
from target_cartcom.orders.carriers import CarrierResolver
from target_cartcom.orders.settings import OrderSettings
from target_cartcom.orders.statuses import StatusBook

if TYPE_CHECKING:
    from target_cartcom.run_context import RunContext


class OrderReference:
    """The run's order settings and reference data, read lazily through the run's session."""

    def __init__(
        self, session: CartcomSession, config: Mapping[str, Any], *, logger: logging.Logger
    ) -> None:
        """Validate settings now; read nothing yet."""
        self.session = session
        self.logger = logger
        self.settings = OrderSettings.from_config(config)
        self._statuses: StatusBook | None = None
        self._providers: list[dict[str, Any]] | None = None
        self._custom: list[dict[str, Any]] | None = None
        self.carriers = CarrierResolver(
            self.settings.carrier_map,
            self.providers,
            self.custom_methods,
            unmapped=self.settings.unmapped_carrier,
        )
        self._shipped: tuple[int, int, set[int]] | None = None

    @classmethod
    def for_run(cls, run: RunContext) -> OrderReference:
        """The run's order settings, checked; the lists are read through the run's session."""
        return cls(run.session, run.config, logger=run.logger)

    def _list(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            return list(self.session.iter_records(path, params))
        except NotFoundError:
            return []

    @property
    def statuses(self) -> StatusBook:
        """``/order_statuses`` (one read per run)."""
        if self._statuses is None:
            self._statuses = StatusBook(self._list("order_statuses"))
        return self._statuses

    def providers(self) -> list[dict[str, Any]]:
        """``/shipping_providers?expand=services`` (one read per run)."""
        if self._providers is None:
            providers = self._list("shipping_providers", {"expand": "services"})
            if any(not isinstance(p.get("services"), list) for p in providers):
                # The expand was not honoured: read the services list and attach it.
                by_provider: dict[Any, list[dict[str, Any]]] = defaultdict(list)
                for service in self._list("shipping_provider_services"):
                    by_provider[service.get("shipping_provider_id")].append(service)
                for provider in providers:
                    provider["services"] = by_provider.get(provider.get("id"), [])
            self._providers = providers
        return self._providers

    def custom_methods(self) -> list[dict[str, Any]]:
        """``/custom_shipping_methods`` (one read per run)."""
        if self._custom is None:
            self._custom = self._list("custom_shipping_methods")
        return self._custom

    def shipped_statuses(self) -> tuple[int, int, set[int]]:
        """(shipped id, partially shipped id, ids the target may move from)."""
        if self._shipped is None:
            book = self.statuses
            shipped = book.by_flag_or_name(
                self.settings.shipped_status, "is_shipped", "shipped_status"
            )
            partial = book.by_flag_or_name(
                self.settings.partially_shipped_status,
                "is_partially_shipped",
                "partially_shipped_status",
            )
            if self.settings.mark_shipped_from_statuses is not None:
                try:
                    movable = book.ids(self.settings.mark_shipped_from_statuses)
                except LookupError as exc:
                    msg = f"`mark_shipped_from_statuses`: {exc}"
                    raise ConfigurationError(msg) from None
            else:
                movable = {
                    int(s["id"])
                    for s in book.flagged("is_open") + book.flagged("is_partially_shipped")
                }
            self._shipped = (int(shipped["id"]), int(partial["id"]), movable)
        return self._shipped

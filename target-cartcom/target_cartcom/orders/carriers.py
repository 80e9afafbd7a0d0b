"""The carrier map: a source's carrier and service names to Cart.com's shipping methods.

A Cart.com shipment names its method with ``shipping_provider_name`` plus ``shipping_method``,
``shipping_method_id`` and ``shipping_method_type``: the id is a ``shipping_provider_services``
id when the type is ``provider`` and a ``custom_shipping_methods`` id when it is ``custom``
(docs/api.md §6; the pairing of the official example ``create_shipment_for_order.py``).

Sources spell carriers freely ("FedEx", "Federal Express", "FDX"), so the map is matched without
case, spaces or punctuation, and a merchant's ``carrier_map`` setting is merged over the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from target_cartcom._client import ConfigurationError

#: Built-in map. Services map the names sources use to Cart.com service identifiers.
DEFAULT_CARRIER_MAP: dict[str, Any] = {
    "UPS": {
        "provider": "UPS",
        "aliases": ["United Parcel Service", "UPS Mail Innovations"],
        "services": {
            "Ground": "UPS_GROUND",
            "UPS Ground": "UPS_GROUND",
            "03": "UPS_GROUND",
            "2nd Day Air": "UPS_2ND_DAY_AIR",
            "2 Day": "UPS_2ND_DAY_AIR",
            "02": "UPS_2ND_DAY_AIR",
            "Next Day Air": "UPS_NEXT_DAY_AIR",
            "Overnight": "UPS_NEXT_DAY_AIR",
            "01": "UPS_NEXT_DAY_AIR",
            "3 Day Select": "UPS_3_DAY_SELECT",
            "12": "UPS_3_DAY_SELECT",
        },
    },
    "FedEx": {
        "provider": "FedEx",
        "aliases": ["Federal Express", "FDX", "FedEx Corporation"],
        "services": {
            "Ground": "FEDEX_GROUND",
            "Home Delivery": "GROUND_HOME_DELIVERY",
            "2Day": "FEDEX_2_DAY",
            "2 Day": "FEDEX_2_DAY",
            "Express Saver": "FEDEX_EXPRESS_SAVER",
            "Priority Overnight": "PRIORITY_OVERNIGHT",
            "Standard Overnight": "STANDARD_OVERNIGHT",
            "Overnight": "PRIORITY_OVERNIGHT",
        },
    },
    "USPS": {
        "provider": "USPS",
        "aliases": [
            "US Postal Service",
            "United States Postal Service",
            "U.S. Mail",
            "Postal Service",
        ],
        "services": {
            "Priority": "USPS_PRIORITY",
            "Priority Mail": "USPS_PRIORITY",
            "Ground Advantage": "USPS_GROUND_ADVANTAGE",
            "First Class": "USPS_GROUND_ADVANTAGE",
            "First-Class Package": "USPS_GROUND_ADVANTAGE",
            "Priority Express": "USPS_PRIORITY_EXPRESS",
            "Priority Mail Express": "USPS_PRIORITY_EXPRESS",
            "Express": "USPS_PRIORITY_EXPRESS",
            "Media Mail": "USPS_MEDIA_MAIL",
        },
    },
    "DHL": {
        "provider": "DHL",
        "aliases": ["DHL Express", "DHL eCommerce"],
        "services": {"Express": "DHL_EXPRESS", "Express Worldwide": "DHL_EXPRESS"},
        "default_service": "DHL_EXPRESS",
    },
    "Canada Post": {"provider": "Canada Post", "aliases": ["Postes Canada", "CanadaPost"]},
    "Local Delivery": {"custom_method": "Local Delivery", "aliases": ["Courier", "Local Courier"]},
    "Freight": {"custom_method": "Freight", "aliases": ["LTL", "LTL Freight", "Truck Freight"]},
    "Store Pickup": {
        "custom_method": "Store Pickup",
        "aliases": ["Pickup", "Will Call", "In-Store Pickup"],
    },
}


def norm(value: Any) -> str:
    """A name reduced to lowercase letters and digits, for forgiving matches."""
    return re.sub(r"[^0-9a-z]", "", str(value or "").casefold())


class UnmappedCarrierError(LookupError):
    """Neither the carrier map nor the store knows a carrier or service."""


@dataclass(frozen=True)
class ShippingMethod:
    """The shipment fields that name the carrier and method (None fields are not sent)."""

    shipping_provider_name: str | None = None
    shipping_method: str | None = None
    shipping_method_id: int | None = None
    shipping_method_type: str | None = None

    def fields(self) -> dict[str, Any]:
        """The non-empty fields, as sent in the shipment body."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass(frozen=True)
class CarrierEntry:
    """One carrier of the map."""

    key: str
    provider: str | None = None
    custom_method: str | None = None
    services: tuple[tuple[str, str], ...] = ()
    default_service: str | None = None

    def translate(self, service: str) -> str:
        """The Cart.com service identifier or name that ``service`` maps to (else itself)."""
        wanted = norm(service)
        for source, target in self.services:
            if norm(source) == wanted:
                return target
        return service


def build_carrier_map(overrides: Mapping[str, Any] | None) -> dict[str, CarrierEntry]:
    """Merge ``overrides`` over the defaults and index every name and alias."""
    merged: dict[str, Any] = {norm(k): (k, v) for k, v in DEFAULT_CARRIER_MAP.items()}
    for key, value in (overrides or {}).items():
        if value is None:
            merged.pop(norm(key), None)
        else:
            merged[norm(key)] = (key, value)
    index: dict[str, CarrierEntry] = {}
    for key, value in merged.values():
        entry, aliases = _entry(key, value)
        for name in (key, *aliases):
            index[norm(name)] = entry
    return index


def _entry(key: str, value: Any) -> tuple[CarrierEntry, list[str]]:
    if isinstance(value, str):
        return CarrierEntry(key=key, provider=value), []
    if not isinstance(value, Mapping):
        msg = f"`carrier_map`.{key} must be a provider name or an object, got {value!r}."
        raise ConfigurationError(msg)
    unknown = set(value) - {"provider", "custom_method", "services", "default_service", "aliases"}
    if unknown:
        msg = f"`carrier_map`.{key} has unknown keys: {', '.join(sorted(unknown))}."
        raise ConfigurationError(msg)
    if bool(value.get("provider")) == bool(value.get("custom_method")):
        msg = f"`carrier_map`.{key} needs exactly one of `provider` or `custom_method`."
        raise ConfigurationError(msg)
    services = value.get("services") or {}
    if not isinstance(services, Mapping):
        msg = f"`carrier_map`.{key}.services must be an object of source name -> Cart.com service."
        raise ConfigurationError(msg)
    entry = CarrierEntry(
        key=key,
        provider=value.get("provider"),
        custom_method=value.get("custom_method"),
        services=tuple((str(k), str(v)) for k, v in services.items()),
        default_service=value.get("default_service"),
    )
    return entry, [str(a) for a in value.get("aliases") or []]


class CarrierResolver:
    """Resolves (carrier, service) to a ``ShippingMethod`` through the map and the store.

    ``providers`` and ``custom_methods`` are callables so that each reference list is read only
    when a record needs it, and once per run.
    """

    def __init__(
        self,
        carrier_map: Mapping[str, Any] | None,
        providers: Callable[[], list[dict[str, Any]]],
        custom_methods: Callable[[], list[dict[str, Any]]],
        *,
        unmapped: str = "fail",
    ) -> None:
        """Build the map now (bad config fails early); read the store later."""
        self.map = build_carrier_map(carrier_map)
        self._providers = providers
        self._custom_methods = custom_methods
        self.unmapped = unmapped

    # -- store lookups --------------------------------------------------------------------------
    def provider(self, name: str) -> dict[str, Any] | None:
        """A shipping provider by name or provider code."""
        wanted = norm(name)
        for provider in self._providers():
            if wanted in (norm(provider.get("name")), norm(provider.get("provider_code"))):
                return provider
        return None

    def custom_method(self, name: str) -> dict[str, Any] | None:
        """A custom shipping method by name."""
        wanted = norm(name)
        for method in self._custom_methods():
            if norm(method.get("name")) == wanted:
                return method
        return None

    @staticmethod
    def service_of(provider: dict[str, Any], service: str) -> dict[str, Any] | None:
        """A provider's service by identifier or name ("Ground" also finds "UPS Ground")."""
        wanted = norm(service)
        prefixed = norm(provider.get("name")) + wanted
        matches = [
            s
            for s in provider.get("services") or []
            if wanted in (norm(s.get("identifier")), norm(s.get("name")))
            or norm(s.get("name")) == prefixed
        ]
        matches.sort(key=lambda s: not s.get("is_enabled", True))
        return matches[0] if matches else None

    def any_service(self, service: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A service of any provider by identifier or name."""
        for provider in self._providers():
            found = self.service_of(provider, service)
            if found is not None:
                return provider, found
        return None

    # -- resolution -----------------------------------------------------------------------------
    def resolve(
        self, carrier: str | None, service: str | None, order: Mapping[str, Any]
    ) -> ShippingMethod:
        """The method for a shipment of ``order``; ``UnmappedCarrierError`` when unknown."""
        carrier = (carrier or "").strip() or None
        service = (service or "").strip() or None
        try:
            if carrier:
                return self._with_carrier(carrier, service, order)
            if service:
                return self._service_only(service)
            return self._from_order(order)
        except UnmappedCarrierError:
            if self.unmapped == "text":
                return ShippingMethod(shipping_provider_name=carrier, shipping_method=service)
            raise

    def _with_carrier(
        self, carrier: str, service: str | None, order: Mapping[str, Any]
    ) -> ShippingMethod:
        entry = self.map.get(norm(carrier))
        if entry is None:
            # Not in the map: the store's own provider or custom method names also work.
            provider = self.provider(carrier)
            if provider is not None:
                entry = CarrierEntry(key=carrier, provider=str(provider.get("name")))
            elif self.custom_method(carrier) is not None:
                entry = CarrierEntry(key=carrier, custom_method=carrier)
            else:
                msg = (
                    f"unknown carrier {carrier!r}: not in `carrier_map` and the store has no "
                    "shipping provider or custom shipping method of that name"
                )
                raise UnmappedCarrierError(msg)
        if entry.custom_method:
            method = self.custom_method(entry.custom_method)
            if method is None:
                msg = (
                    f"carrier {carrier!r} maps to custom shipping method {entry.custom_method!r}, "
                    "which the store lacks (see `carrier_map`)"
                )
                raise UnmappedCarrierError(msg)
            return _custom(method, carrier)
        provider = self.provider(str(entry.provider))
        if provider is None:
            msg = (
                f"carrier {carrier!r} maps to shipping provider {entry.provider!r}, which the "
                "store lacks (see `carrier_map`)"
            )
            raise UnmappedCarrierError(msg)
        if service:
            found = self.service_of(provider, entry.translate(service)) or self.service_of(
                provider, service
            )
            if found is None:
                msg = (
                    f"unknown service {service!r} for carrier {carrier!r}: add it to "
                    f"`carrier_map`.{entry.key}.services (store services: "
                    f"{', '.join(_identifiers(provider))})"
                )
                raise UnmappedCarrierError(msg)
            return _service(provider, found)
        for candidate in (entry.default_service, order.get("selected_shipping_provider_service")):
            found = self.service_of(provider, candidate) if candidate else None
            if found is not None:
                return _service(provider, found)
        return ShippingMethod(
            shipping_provider_name=str(provider.get("name")), shipping_method_type="provider"
        )

    def _service_only(self, service: str) -> ShippingMethod:
        found = self.any_service(service)
        if found is not None:
            return _service(*found)
        method = self.custom_method(service)
        if method is not None:
            return _custom(method, None)
        msg = f"unknown service {service!r}: no provider service or custom method has that name"
        raise UnmappedCarrierError(msg)

    def _from_order(self, order: Mapping[str, Any]) -> ShippingMethod:
        """No carrier given: the method the customer chose, as the official example does."""
        identifier = order.get("selected_shipping_provider_service")
        if identifier:
            found = self.any_service(str(identifier))
            if found is not None:
                return _service(*found)
        name = order.get("selected_shipping_method")
        if name:
            method = self.custom_method(str(name))
            if method is not None:
                return _custom(method, None)
            found = self.any_service(str(name))
            if found is not None:
                return _service(*found)
        return ShippingMethod()


def _service(provider: Mapping[str, Any], service: Mapping[str, Any]) -> ShippingMethod:
    return ShippingMethod(
        shipping_provider_name=str(provider.get("name")),
        shipping_method=service.get("name"),
        shipping_method_id=int(service["id"]),
        shipping_method_type="provider",
    )


def _custom(method: Mapping[str, Any], carrier: str | None) -> ShippingMethod:
    return ShippingMethod(
        shipping_provider_name=carrier,
        shipping_method=method.get("name"),
        shipping_method_id=int(method["id"]),
        shipping_method_type="custom",
    )


def _identifiers(provider: Mapping[str, Any]) -> list[str]:
    return [str(s.get("identifier")) for s in provider.get("services") or []]

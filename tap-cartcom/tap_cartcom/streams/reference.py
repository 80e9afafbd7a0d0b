"""Reference tables, read in full each run (they are small and have no useful filter)."""

from __future__ import annotations

from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from tap_cartcom import schemas
from tap_cartcom.streams.base import CartcomStream

SCHEMAS = SchemaDirectory(schemas)


class OrderStatusesStream(CartcomStream):
    """Order statuses (per store, configurable)."""

    name = "order_statuses"
    path = "/order_statuses"
    schema = StreamSchema(SCHEMAS)

    def ids_by_name(self) -> dict[str, int]:
        """The store's status ids by name (trimmed, lower case; the first id of a name wins).

        What Get Orders' ``order_status_names`` are resolved with, once per run.
        """
        known: dict[str, int] = {}
        for row in self.iter_list(self.path, [("count", self.page_size), ("sort", "id")]):
            if row.get("name") is not None:
                known.setdefault(str(row["name"]).strip().lower(), int(row["id"]))
        return known


class ProductStatusesStream(CartcomStream):
    """Product statuses ("In Stock", ...)."""

    name = "product_statuses"
    path = "/product_statuses"
    schema = StreamSchema(SCHEMAS)


class CategoriesStream(CartcomStream):
    """Catalog categories."""

    name = "categories"
    path = "/categories"
    schema = StreamSchema(SCHEMAS)


class ManufacturersStream(CartcomStream):
    """Manufacturers (brands)."""

    name = "manufacturers"
    path = "/manufacturers"
    schema = StreamSchema(SCHEMAS)


class VariantGroupsStream(CartcomStream):
    """Variant groups (option dimensions such as Size)."""

    name = "variant_groups"
    path = "/variant_groups"
    schema = StreamSchema(SCHEMAS)


class CustomersStream(CartcomStream):
    """Customers."""

    name = "customers"
    path = "/customers"
    schema = StreamSchema(SCHEMAS)

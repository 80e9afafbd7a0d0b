"""Products and their expanded children: variants, variant inventory, pictures, pricing."""

from __future__ import annotations

from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from tap_cartcom import schemas
from tap_cartcom.streams.embedded import EmbeddedChildStream
from tap_cartcom.streams.incremental import WindowedStream

SCHEMAS = SchemaDirectory(schemas)


class ProductsStream(WindowedStream):
    """Products created (or updated) in the window, with their nested collections filled."""

    name = "products"
    path = "/products"
    expand = "variants,variant_inventory,pictures,categories,pricing"
    schema = StreamSchema(SCHEMAS)


class ProductVariantsStream(EmbeddedChildStream):
    """Option values per product (``expand=variants``)."""

    name = "product_variants"
    path = "/product_variants"
    parent_stream_type = ProductsStream
    parent_key = "variants"
    schema = StreamSchema(SCHEMAS)


class VariantInventoryStream(EmbeddedChildStream):
    """Per-SKU rows with quantity and GTIN (``expand=variant_inventory``)."""

    name = "variant_inventory"
    path = "/variant_inventory"
    parent_stream_type = ProductsStream
    parent_key = "variant_inventory"
    schema = StreamSchema(SCHEMAS)


class ProductPicturesStream(EmbeddedChildStream):
    """Pictures per product (``expand=pictures``)."""

    name = "product_pictures"
    path = "/product_pictures"
    parent_stream_type = ProductsStream
    parent_key = "pictures"
    schema = StreamSchema(SCHEMAS)


class ProductPricingStream(EmbeddedChildStream):
    """Price rules per product and variant (``expand=pricing``)."""

    name = "product_pricing"
    path = "/product_pricing"
    parent_stream_type = ProductsStream
    parent_key = "pricing"
    schema = StreamSchema(SCHEMAS)

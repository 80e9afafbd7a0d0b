"""Settings of the listings stream (link, sync, publish, overwrite)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from target_cartcom._client import ConfigurationError
from target_cartcom._client.settings import MAX_URL_LENGTH

OPERATIONS = ("link", "sync", "publish", "overwrite")
LINK_KEYS = ("sku", "upc")
OVERWRITE_FIELDS = ("title", "description", "categories", "mpn", "upc", "gtin", "images")
INDEX_MODES = ("auto", "catalog", "lookup")

LISTING_SETTINGS: list[th.Property] = [
    th.Property(
        "operations",
        th.ArrayType(th.StringType(allowed_values=list(OPERATIONS))),
        default=["link", "sync"],
        title="Listing operations",
        description=(
            "What to do with each listing: link (match to store items by SKU, then UPC/GTIN), "
            "sync (write quantity, price, msrp, cost and hidden when they differ), publish "
            "(create what is missing), overwrite (replace content fields of linked items)."
        ),
    ),
    th.Property(
        "link_by",
        th.ArrayType(th.StringType(allowed_values=list(LINK_KEYS))),
        default=["sku", "upc"],
        title="Link by",
        description="Match keys in order of precedence: sku (item_number), upc (the gtin field).",
    ),
    th.Property(
        "upc_link_writes",
        th.BooleanType,
        default=True,
        title="Write through UPC links to another SKU",
        description=(
            "When a listing links by UPC/GTIN to a store item whose SKU differs from the "
            "listing's, write to that item (true, as Flxpoint links by SKU or UPC) or only "
            "report the link and write nothing (false). The result line names both SKUs."
        ),
    ),
    th.Property(
        "overwrite_fields",
        th.ArrayType(th.StringType(allowed_values=list(OVERWRITE_FIELDS))),
        default=list(OVERWRITE_FIELDS),
        title="Overwrite fields",
        description="Content fields that overwrite replaces when the listing carries them.",
    ),
    th.Property(
        "product_status",
        th.StringType,
        default="In Stock",
        title="Product status for new products",
        description=(
            "The product status given to published products and variants: a status name "
            "(resolved with one read per run) or a numeric product_status id (no read)."
        ),
    ),
    th.Property(
        "picture_route",
        th.StringType(allowed_values=["external_url"]),
        default="external_url",
        title="Picture route",
        description=(
            "How image URLs reach the store: external_url posts product_pictures with the "
            "absolute URL as image_file and download_external_image=true (one call per image)."
        ),
    ),
    th.Property(
        "index_mode",
        th.StringType(allowed_values=list(INDEX_MODES)),
        default="auto",
        title="Store index mode",
        description=(
            "How the store's catalog is read: catalog (paged read of every product with its "
            "variant rows and prices), lookup (targeted OR-ed lookups by SKU/GTIN), or auto "
            "(whichever costs fewer calls for the batch)."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=1000,
        title="Page size",
        description=(
            "Products per page of the catalog read (Cart.com accepts 1000); lookups always ask "
            "for 1000 rows."
        ),
    ),
]


@dataclass(frozen=True)
class ListingOptions:
    """The listings settings, validated."""

    operations: frozenset[str]
    link_by: tuple[str, ...]
    overwrite_fields: frozenset[str]
    product_status: str
    picture_route: str
    index_mode: str
    page_size: int
    dry_run: bool
    upc_link_writes: bool = True
    max_url_length: int = MAX_URL_LENGTH

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ListingOptions:
        """Read and check the settings; errors name the setting."""
        ops = _names(config, "operations", ["link", "sync"], OPERATIONS)
        link_by = _names(config, "link_by", ["sku", "upc"], LINK_KEYS)
        fields = _names(config, "overwrite_fields", list(OVERWRITE_FIELDS), OVERWRITE_FIELDS)
        mode = str(config.get("index_mode") or "auto")
        if mode not in INDEX_MODES:
            msg = f"`index_mode` must be one of {', '.join(INDEX_MODES)}, got {mode!r}."
            raise ConfigurationError(msg)
        page_size = int(config.get("page_size") or 1000)
        if page_size < 1:
            msg = "`page_size` must be at least 1."
            raise ConfigurationError(msg)
        if not link_by:
            msg = "`link_by` needs at least one of sku, upc."
            raise ConfigurationError(msg)
        return cls(
            operations=frozenset(ops),
            link_by=tuple(dict.fromkeys(link_by)),
            overwrite_fields=frozenset(fields),
            product_status=str(config.get("product_status") or "In Stock"),
            picture_route=str(config.get("picture_route") or "external_url"),
            index_mode=mode,
            page_size=page_size,
            dry_run=bool(config.get("dry_run")),
            upc_link_writes=_flag(config, "upc_link_writes", default=True),
        )

    def overwrites(self, field: str) -> bool:
        """Whether overwrite is on and replaces ``field``."""
        return "overwrite" in self.operations and field in self.overwrite_fields


def _names(
    config: Mapping[str, Any], key: str, default: list[str], allowed: tuple[str, ...]
) -> list[str]:
    value = config.get(key)
    if value is None:
        value = default
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            value = [v.strip() for v in text.split(",") if v.strip()]
    out = [str(v).strip().lower() for v in value]
    bad = [v for v in out if v not in allowed]
    if bad:
        msg = f"`{key}` accepts {', '.join(allowed)}; got {', '.join(bad)}."
        raise ConfigurationError(msg)
    return out


def _flag(config: Mapping[str, Any], key: str, *, default: bool) -> bool:
    """A boolean setting; strings from environment variables (``"false"``) count by meaning."""
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        msg = f"`{key}` must be true or false, got {value!r}."
        raise ConfigurationError(msg)
    return bool(value)

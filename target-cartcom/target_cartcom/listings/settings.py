"""Settings of the listings stream (link, sync, publish, overwrite)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from target_cartcom._client import ConfigurationError
from target_cartcom._client.settings import MAX_URL_LENGTH
from target_cartcom.listings.option_columns import OptionColumns, read_setting

OPERATIONS = ("link", "sync", "publish", "overwrite")
LINK_KEYS = ("sku", "upc")
OVERWRITE_FIELDS = ("title", "description", "categories", "mpn", "upc", "gtin", "images")
INDEX_MODES = ("auto", "catalog", "lookup")
MISSING_MODES = ("ignore", "zero", "hide")

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
        "option_columns",
        th.ObjectType(additional_properties=th.StringType),
        title="Option columns",
        description=(
            'Columns that hold a variant\'s option values, e.g. {"size": "Size", '
            '"colour": "Colour"} (column as the tap names it -> option name): on a '
            "variant row (parent_sku) or a nested variant, each non-empty cell becomes that "
            "option's value, and the column is not a parent field. Every row of a parent fills "
            "the same option columns; a product without variants leaves them empty."
        ),
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
        "missing_listings",
        th.StringType(allowed_values=list(MISSING_MODES)),
        default="ignore",
        title="Listings missing from a full feed",
        description=(
            "Full-feed mode: what happens, at the end of the input, to every store item in "
            "`feed_scope` that no record named. ignore (default): nothing; zero: set its "
            "quantity to 0; hide: hide the product (a variant row of a product still in the "
            "feed, or of a product holding rows outside the scope, gets quantity 0: Cart.com "
            "rows have no hidden flag). Only what differs is written; each missing item gets a "
            "result line (operation missing). Guarded by `max_missing_fraction` and "
            "`confirmed_missing`; hide shows again only the products it hid itself, see "
            "`full_feed_hidden_path`."
        ),
    ),
    th.Property(
        "feed_scope",
        th.ObjectType(
            th.Property("sku_prefix", th.StringType, description="SKUs starting with this."),
            th.Property("brand", th.StringType, description="Products of this brand."),
        ),
        title="Feed scope",
        description=(
            'The store items the feed owns, e.g. {"sku_prefix": "NWS-"} and/or {"brand": '
            '"Northwind"} (both must match when both are given). Required unless '
            "`missing_listings` is ignore: nothing outside it is ever zeroed or hidden."
        ),
    ),
    th.Property(
        "max_missing_fraction",
        th.NumberType,
        default=0.2,
        title="Largest share of the scope a full feed may leave out",
        description=(
            "Safety rule of full-feed mode, across runs: the in-scope items missing from the "
            "feed, beyond `confirmed_missing`, may be at most this share of the in-scope items "
            "on sale or missing. A run that would take an item off sale past it changes "
            "nothing, says aborted naming this setting and exits non-zero. A feed that names no "
            "in-scope item never changes anything."
        ),
    ),
    th.Property(
        "confirmed_missing",
        th.IntegerType,
        default=0,
        title="Missing items you confirmed",
        description=(
            "How many in-scope items missing from the feed you accept as gone (full-feed "
            "mode). When a run stops on `max_missing_fraction` and the removals are real, set "
            "this to the number the message gives; the rule then allows "
            "`max_missing_fraction` more from there."
        ),
    ),
    th.Property(
        "full_feed_hidden_path",
        th.StringType,
        title="File of the products full-feed mode hid",
        description=(
            "A JSON file, kept between runs (one per store), where `missing_listings: hide` "
            "notes the products it hides, so that it shows them again when they come back to "
            "the feed. Without it, or when the file is missing, no product is shown again "
            "(the ones it hid stay hidden until you show them, or a record says hidden: "
            "false); a product hidden by hand is never shown again."
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
    #: Full-feed mode: ``ignore``, ``zero`` or ``hide`` what left the feed.
    missing_listings: str = "ignore"
    #: ``sku_prefix`` and/or ``brand``: what the feed owns.
    feed_scope: tuple[tuple[str, str], ...] = ()
    max_missing_fraction: float = 0.2
    #: Missing items the merchant accepted as gone (the safety rule counts only the rest).
    confirmed_missing: int = 0
    #: Where ``hide`` notes the products it hid (None: it shows none again).
    full_feed_hidden_path: str | None = None
    #: (column, option name): CSV columns holding a variant's option values.
    option_columns: OptionColumns = ()

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
        missing = str(config.get("missing_listings") or "ignore").strip().lower()
        if missing not in MISSING_MODES:
            msg = f"`missing_listings` must be one of {', '.join(MISSING_MODES)}, got {missing!r}."
            raise ConfigurationError(msg)
        scope = _scope(config.get("feed_scope"))
        if missing != "ignore" and not scope:
            msg = (
                f"`missing_listings: {missing}` needs `feed_scope` (sku_prefix and/or brand): "
                "the store items the feed owns."
            )
            raise ConfigurationError(msg)
        try:
            fraction = float(config.get("max_missing_fraction", 0.2))
        except (TypeError, ValueError):
            fraction = -1.0
        if not 0 <= fraction <= 1:
            msg = "`max_missing_fraction` must be a number from 0 to 1."
            raise ConfigurationError(msg)
        confirmed = config.get("confirmed_missing") or 0
        try:
            confirmed = int(str(confirmed).strip())
        except ValueError:
            confirmed = -1
        if confirmed < 0:
            msg = "`confirmed_missing` must be a whole number, 0 or more."
            raise ConfigurationError(msg)
        hidden_path = str(config.get("full_feed_hidden_path") or "").strip() or None
        return cls(
            missing_listings=missing,
            feed_scope=scope,
            max_missing_fraction=fraction,
            confirmed_missing=confirmed,
            full_feed_hidden_path=hidden_path,
            option_columns=read_setting(config.get("option_columns")),
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


def _scope(value: Any) -> tuple[tuple[str, str], ...]:
    """``feed_scope`` as sorted (key, value) pairs; a JSON string (from the environment) too."""
    if value in (None, "", {}):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        msg = '`feed_scope` must be an object such as {"sku_prefix": "NWS-"}.'
        raise ConfigurationError(msg)
    unknown = sorted(set(value) - {"sku_prefix", "brand"})
    if unknown:
        msg = f"`feed_scope` accepts sku_prefix and brand; got {', '.join(unknown)}."
        raise ConfigurationError(msg)
    pairs = tuple(sorted((k, str(v).strip()) for k, v in value.items() if str(v or "").strip()))
    if not pairs:
        msg = "`feed_scope` needs a non-empty sku_prefix or brand."
        raise ConfigurationError(msg)
    return pairs

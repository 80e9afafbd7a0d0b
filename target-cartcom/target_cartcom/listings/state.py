"""What the listings stream keeps for a whole run, and the rules that read it.

The run keeps one ``ListingsState`` (``RunContext.state``): the settings, the references
(statuses, brands, categories, groups), the store index once complete, the flat rows waiting for
the end of the input, and what the input named so far, by which a SKU given twice, or a store
item claimed by two listings, fails the later listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from target_cartcom.listings.flat import FlatRows
from target_cartcom.listings.record import Listing, RecordError
from target_cartcom.listings.refs import Creator, References
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.sku import sku_key, sku_spellings

if TYPE_CHECKING:
    from target_cartcom.listings.link import Link
    from target_cartcom.listings.store_index import StoreIndex
    from target_cartcom.run_context import RunContext


@dataclass
class ListingsState:
    """What the listings stream remembers across batches: SKUs seen, items claimed, the index."""

    options: ListingOptions
    refs: References
    #: SKU key -> the listing that first carried it in this input: (its SKU, the variant's
    #: place or None, whether the key is a look-alike's); worded only for a message.
    seen: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)
    #: (kind, store id) -> the listing SKU linked to it in this input.
    claimed: dict[tuple[str, int], str] = field(default_factory=dict)
    #: A complete catalog index from an earlier batch (reused, kept current by writes).
    index: StoreIndex | None = None
    #: Flat variant rows (``parent_sku``), grouped at the end of the input.
    flat: FlatRows = field(default_factory=FlatRows)
    #: SKU keys every record of the input named (full-feed mode).
    named: set[str] = field(default_factory=set)
    #: SKU keys of records that say ``hidden: true`` (full feed, hide: not unhidden).
    kept_hidden: set[str] = field(default_factory=set)

    @classmethod
    def for_run(cls, run: RunContext) -> ListingsState:
        """The listings settings, checked, and references that read and create through the run."""
        options = ListingOptions.from_config(run.config)
        refs = References(
            run.session,
            Creator(run.session, run.writer),
            status=options.product_status,
            page_size=options.page_size,
            max_url_length=options.max_url_length,
        )
        return cls(options, refs)

    def check_duplicates(self, listing: Listing) -> None:
        """The same SKU twice in one input: the later listing fails, the first one stands.

        A non-ASCII SKU and its look-alike (``\u212aBC-1`` and ``KBC-1``) count as the same
        SKU here: which one the store would take is the ambiguity the SKU rule refuses.
        """
        seen = self.seen
        # (the variant's place or None, SKU, keys): a field name is only made for a message.
        keyed = [(None, listing.sku, _sku_keys(listing.sku))]
        keyed += [(v.where, v.sku, _sku_keys(v.sku)) for v in listing.variants]
        for where, sku, keys in keyed:
            for key in keys:
                first = seen.get(key)
                if first is not None:
                    msg = (
                        f"{sku!r} already came earlier in this input ({_first_carrier(first)}); "
                        "only the first is applied"
                    )
                    raise RecordError("sku" if where is None else f"{where}.sku", msg)
        for where, _, keys in keyed:
            seen[keys[0]] = (listing.sku, where, False)  # the SKU's own key first
            for key in keys[1:]:
                seen[key] = (listing.sku, where, True)  # a look-alike's after it

    def claim(self, listing: Listing, link: Link) -> None:
        """One store item, one listing per input: a second listing linked to it fails."""
        claims = []
        if link.product_id is not None:
            claims.append(("product", link.product_id, "sku"))
        if link.vi_id is not None:
            claims.append(("variant row", link.vi_id, "sku"))
        for v in listing.variants:
            if v.index in link.variants:
                claims.append(("variant row", link.variants[v.index], f"{v.where}.sku"))
        for kind, item_id, field_name in claims:
            owner = self.claimed.get((kind, item_id))
            if owner is not None and owner != listing.sku:
                msg = f"{kind} {item_id} is already linked to listing {owner!r} in this input"
                raise RecordError(field_name, msg)
        for kind, item_id, _ in claims:
            self.claimed[(kind, item_id)] = listing.sku


def _sku_keys(sku: str) -> list[str]:
    """The SKU's key, and its look-alike's key when it is not ASCII."""
    return [sku_key(spelling) for spelling in sku_spellings(sku)]


def _first_carrier(first: tuple[str, str | None, bool]) -> str:
    """``listing A-1 variants[0].sku, a look-alike``: where a SKU first came in the input."""
    listing_sku, where, lookalike = first
    text = f"listing {listing_sku}" if where is None else f"listing {listing_sku} {where}.sku"
    return f"{text}, a look-alike" if lookalike else text

"""The listings sink: validate, index, link, then publish, sync and overwrite each listing.

One result line per listing. A bad record (or a store error on one listing) fails that listing
only; configuration and authentication errors stop the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from target_cartcom._client import AuthenticationError, CartcomAPIError, ConfigurationError
from target_cartcom.listings.context import Context, Outcome
from target_cartcom.listings.index import IndexBuilder, StoreIndex
from target_cartcom.listings.link import Link, link_listing
from target_cartcom.listings.overwrite import overwrite_listing
from target_cartcom.listings.prices import row_needs_values
from target_cartcom.listings.publish import add_variants, check_publishable, publish_listing
from target_cartcom.listings.record import Listing, RecordError, parse_listing, sku_key
from target_cartcom.listings.refs import Creator, References
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.listings.sync import sync_listing
from target_cartcom.plan import PlannedCall
from target_cartcom.results import RecordResult
from target_cartcom.sinks import CartcomSink

STREAM = "listings"


@dataclass
class RunState:
    """What one run remembers across batches: SKUs seen, items claimed, index, references."""

    options: ListingOptions
    seen: dict[str, str] = field(default_factory=dict)
    claimed: dict[tuple[str, int], str] = field(default_factory=dict)
    index: StoreIndex | None = None
    refs: References | None = None


class ListingsSink(CartcomSink):
    """Links, syncs, publishes and overwrites listings."""

    def get_validator(self) -> None:
        """No SDK schema validation: ``record.py`` validates with errors naming the field.

        The SDK's validator would only log here, and costs about a millisecond per listing.
        """
        return

    @property
    def run(self) -> RunState:
        """State kept for the whole run (a new sink after a schema change shares it)."""
        state = getattr(self.cartcom, "_listings_run", None)
        if state is None:
            state = RunState(ListingOptions.from_config(self.config))
            self.cartcom._listings_run = state
        return state

    @property
    def options(self) -> ListingOptions:
        """The listings settings."""
        return self.run.options

    def _references(self) -> References:
        run = self.run
        if run.refs is None:
            target = self.cartcom
            run.refs = References(
                target.session,
                Creator(target.session, target.writer),
                status=self.options.product_status,
                page_size=self.options.page_size,
                max_url_length=self.options.max_url_length,
            )
        return run.refs

    # -- the batch ----------------------------------------------------------------------------
    def apply_batch(self, records: list[dict[str, Any]]) -> None:
        """Apply one batch of listings; one result per record, in input order."""
        options = self.options
        results: list[RecordResult | None] = [None] * len(records)
        valid: list[tuple[int, Listing]] = []
        for pos, record in enumerate(records):
            try:
                listing = parse_listing(record)
                self._check_duplicates(listing)
            except RecordError as err:
                key = record.get("sku") if isinstance(record, dict) else None
                results[pos] = _failed(key, "validate", err)
                continue
            valid.append((pos, listing))
        if valid:
            target = self.cartcom
            refs = self._references()
            builder = IndexBuilder(target.session, options)
            index = builder.build([listing for _, listing in valid], reuse=self.run.index)
            if index.complete:
                self.run.index = index
            ctx = Context(target.session, target.writer, refs.creator, refs, index, options)
            links: dict[int, Link] = {}
            for pos, listing in valid:
                try:
                    links[pos] = self._link(listing, index)
                except RecordError as err:
                    results[pos] = _failed(listing.sku, "link", err)
            linked = [(listing, links[pos]) for pos, listing in valid if pos in links]
            self._load_option_values(builder, index, linked)
            self._prepare_references(refs, linked)
            for pos, listing in valid:
                if pos in links:
                    results[pos] = self._apply(ctx, listing, links[pos])
        for result in results:
            if result is not None:
                self.cartcom.results.add(result)

    def _check_duplicates(self, listing: Listing) -> None:
        """The same SKU twice in one input: the later listing fails, the first one stands."""
        fields = [("sku", listing.sku)] + [(f"{v.where}.sku", v.sku) for v in listing.variants]
        for field_name, sku in fields:
            first = self.run.seen.get(sku_key(sku))
            if first is not None:
                msg = (
                    f"{sku!r} already came earlier in this input ({first}); "
                    "only the first is applied"
                )
                raise RecordError(field_name, msg)
        for field_name, sku in fields:
            self.run.seen[sku_key(sku)] = f"listing {listing.sku}" + (
                "" if field_name == "sku" else f" {field_name}"
            )

    def _link(self, listing: Listing, index: StoreIndex) -> Link:
        link = link_listing(listing, index, self.options.link_by)
        claims = []
        if link.product_id is not None:
            claims.append(("product", link.product_id, "sku"))
        if link.vi_id is not None:
            claims.append(("variant row", link.vi_id, "sku"))
        for v in listing.variants:
            if v.index in link.variants:
                claims.append(("variant row", link.variants[v.index], f"{v.where}.sku"))
        for kind, item_id, field_name in claims:
            owner = self.run.claimed.get((kind, item_id))
            if owner is not None and owner != listing.sku:
                msg = f"{kind} {item_id} is already linked to listing {owner!r} in this input"
                raise RecordError(field_name, msg)
        for kind, item_id, _ in claims:
            self.run.claimed[(kind, item_id)] = listing.sku
        return link

    def _load_option_values(
        self, builder: IndexBuilder, index: StoreIndex, linked: list[tuple[Listing, Link]]
    ) -> None:
        """Read which option values make up the variant rows whose price depends on them.

        Only for rows without a price row, in products priced by ``price_adjustment`` or whose
        listed price differs from the product's; one OR-ed read for the whole batch.
        """
        ops = self.options.operations
        if "sync" not in ops:
            return  # publish prices only the rows it creates, whose values it knows
        wanted: set[int] = set()
        for listing, link in linked:
            pid = link.product_id
            if pid is None or pid not in index.products:
                continue
            product_price = index.products[pid].get("price")
            if listing.price is not None:
                product_price = listing.price
            for variant in listing.variants:
                vi_id = link.variants.get(variant.index)
                if vi_id is not None and row_needs_values(
                    index, vi_id, variant.price, product_price
                ):
                    wanted.add(pid)
                    break
        builder.load_vi_values(index, wanted)

    def _prepare_references(self, refs: References, linked: list[tuple[Listing, Link]]) -> None:
        """Look up, in one call per kind, the brands, groups and categories the batch needs."""
        ops = self.options.operations
        brands: set[str] = set()
        groups: set[str] = set()
        paths: set[str] = set()
        for listing, link in linked:
            if not link.linked and "publish" in ops:
                if listing.brand:
                    brands.add(listing.brand)
                groups.update(listing.option_names)
                paths.update(listing.categories[:1])
            elif link.linked:
                if "publish" in ops and len(link.variants) < len(listing.variants):
                    groups.update(listing.option_names)
                if self.options.overwrites("categories") and "categories" in listing.present:
                    paths.update(listing.categories[:1])
        refs.prepare(brands, groups, paths)

    # -- one listing --------------------------------------------------------------------------
    def _apply(self, ctx: Context, listing: Listing, link: Link) -> RecordResult:
        ops = self.options.operations
        out = Outcome()
        planned_before = len(ctx.writer.planned)
        ctx.field = None
        try:
            category_id = self._preflight(ctx, listing, link)
            if not link.linked:
                if "publish" not in ops:
                    return RecordResult(
                        STREAM,
                        listing.sku,
                        "link",
                        "skipped",
                        error="no store item has this sku"
                        + (" or upc/gtin" if "upc" in self.options.link_by else "")
                        + "; publish is off, so nothing was created",
                        field="sku",
                    )
                link = publish_listing(ctx, listing, out)
            else:
                _link_ids(link, listing, ctx.index, out)
                if "publish" in ops:
                    add_variants(ctx, listing, link, out)
                if "sync" in ops:
                    sync_listing(ctx, listing, link, out)
                if "overwrite" in ops:
                    overwrite_listing(ctx, listing, link, out, category_id)
        except RecordError as err:
            return self._finish(ctx, listing, out, planned_before, failed=err)
        except (AuthenticationError, ConfigurationError):
            raise
        except CartcomAPIError as err:
            return self._finish(
                ctx, listing, out, planned_before, failed=RecordError(ctx.field or "sku", str(err))
            )
        return self._finish(ctx, listing, out, planned_before, link=link)

    def _preflight(self, ctx: Context, listing: Listing, link: Link) -> int | None:
        """Checks that must pass before any write; returns the category id overwrite sets."""
        ops = self.options.operations
        if not link.linked and "publish" in ops:
            check_publishable(listing)
            _never_duplicate(ctx.index, listing)
        if link.linked and self.options.overwrites("categories") and listing.categories:
            if "publish" in ops:
                return ctx.refs.category(listing.categories[0], create=True, field="categories[0]")
            found = ctx.refs.find_category(listing.categories[0])
            if found is None:
                msg = (
                    f"category path {listing.categories[0]!r} is not in the store, and publish "
                    "is off so it is not created"
                )
                raise RecordError("categories[0]", msg)
            return found
        return None

    def _finish(
        self,
        ctx: Context,
        listing: Listing,
        out: Outcome,
        planned_before: int,
        *,
        link: Link | None = None,
        failed: RecordError | None = None,
    ) -> RecordResult:
        ops = self.options.operations
        planned = (
            [c.describe() for c in ctx.writer.planned[planned_before:]]
            if self.options.dry_run
            else []
        )
        if failed is not None:
            operation = out.wrote[-1] if out.wrote else "link"
            return RecordResult(
                STREAM,
                listing.sku,
                operation,
                "failed",
                ids=out.ids,
                changes=out.changes,
                error=failed.message,
                field=failed.field,
                planned_calls=planned,
            )
        if link is not None:
            unlinked = [v.sku for v in listing.variants if v.index not in link.variants]
            if unlinked:
                out.ids["unlinked_variants"] = unlinked
        if out.created:
            outcome, operation = "created", "publish"
        elif out.wrote:
            outcome, operation = "updated", "+".join(out.wrote)
        elif ops & {"sync", "overwrite", "publish"}:
            outcome = "unchanged"
            operation = "+".join(op for op in ("sync", "overwrite", "publish") if op in ops)
        else:
            outcome, operation = "linked", "link"
        return RecordResult(
            STREAM,
            listing.sku,
            operation,
            outcome,
            ids=out.ids,
            changes=out.changes,
            planned_calls=planned,
        )

    def clean_up(self) -> None:
        """At the end of the run: one ``rebuild_tree`` if any category was created."""
        refs = self.run.refs
        if refs is not None and refs.created_categories:
            self.cartcom.writer.apply(
                PlannedCall(
                    "POST",
                    "/categories/rebuild_tree",
                    None,
                    purpose="rebuild the category tree once",
                )
            )
            refs.created_categories = 0
        super().clean_up()


def _never_duplicate(index: StoreIndex, listing: Listing) -> None:
    """Publish never creates a second item with a SKU the store has (even if link_by skips SKU)."""
    if index.products_with_sku(listing.sku) or index.vi_with_sku(listing.sku):
        msg = "the store already has this SKU but link_by did not match it; nothing was created"
        raise RecordError("sku", msg)
    for v in listing.variants:
        if index.vi_with_sku(v.sku) or index.products_with_sku(v.sku):
            msg = f"the store already has {v.sku!r}; nothing was created"
            raise RecordError(f"{v.where}.sku", msg)


def _link_ids(link: Link, listing: Listing, index: StoreIndex, out: Outcome) -> None:
    if link.product_id is not None:
        out.ids["product_id"] = link.product_id
    if link.vi_id is not None:
        out.ids["variant_inventory_id"] = link.vi_id
        out.ids["product_id"] = index.vi[link.vi_id].get("product_id")
    if link.variants:
        out.ids["variant_inventory_ids"] = {
            v.sku: link.variants[v.index] for v in listing.variants if v.index in link.variants
        }
    if link.matched_by:
        out.ids["matched_by"] = link.matched_by


def _failed(key: Any, operation: str, err: RecordError) -> RecordResult:
    return RecordResult(
        STREAM, str(key) if key else None, operation, "failed", error=err.message, field=err.field
    )

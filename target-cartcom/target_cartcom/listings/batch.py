"""One batch of listings: validate, index, link, then publish, sync and overwrite each listing.

One result line per listing. Any error while handling one listing (a bad value, a store error on
its write, a bug) fails that listing only, naming its field when known; only what no later
listing could survive stops the run (``outcomes.is_fatal``). All I/O goes through the run's
``RunContext``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from target_cartcom.listings.context import Context
from target_cartcom.listings.index_builder import IndexBuilder
from target_cartcom.listings.link import Link, link_listing
from target_cartcom.listings.marker import is_unfinished
from target_cartcom.listings.overwrite import overwrite_listing
from target_cartcom.listings.pictures import match_pictures
from target_cartcom.listings.prices import row_needs_values
from target_cartcom.listings.publish import complete_listing, publish_listing
from target_cartcom.listings.record import Listing, RecordError, parse_listing
from target_cartcom.listings.refs import References
from target_cartcom.listings.refusals import check_new_variants, check_publishable
from target_cartcom.listings.state import ListingsState
from target_cartcom.listings.store_index import StoreIndex
from target_cartcom.listings.sync import sync_listing
from target_cartcom.listings.variants import add_variants
from target_cartcom.outcomes import Outcome, as_record_error, is_fatal
from target_cartcom.results import RecordResult

if TYPE_CHECKING:
    from target_cartcom.run_context import RunContext

STREAM = "listings"


class ListingBatch:
    """Applies one batch of listings with the run's session, writer, index and references."""

    def __init__(
        self,
        run: RunContext,
        records: list[dict[str, Any]],
        report: Callable[[RecordResult], None] | None = None,
    ) -> None:
        """Prepare; nothing is read until ``apply``.

        ``report`` takes each result in input order: the run's results by default; flat feeds
        fan a parent's result out to its rows.
        """
        self.run = run
        self.records = records
        self.report = report or run.report
        self.listings = run.state(ListingsState)
        self.options = self.listings.options

    # -- the batch ----------------------------------------------------------------------------
    def apply(self) -> None:
        """Apply the batch; one result per record, in input order."""
        records = self.records
        results: list[RecordResult | None] = [None] * len(records)
        valid: list[tuple[int, Listing]] = []
        for pos, record in enumerate(records):
            try:
                listing = parse_listing(record, self.options.option_columns)
                self.listings.check_duplicates(listing)
            except Exception as exc:
                if is_fatal(exc):
                    raise
                results[pos] = _failed(_key_of(record), "validate", as_record_error(exc))
                continue
            valid.append((pos, listing))
        if valid:
            try:
                self._apply_valid(valid, results)
            except Exception as exc:
                # A read the whole batch needed failed (a 5xx that outlasted the retries):
                # every listing not done yet fails with it; the next batch tries again.
                if is_fatal(exc):
                    raise
                for pos, listing in valid:
                    if results[pos] is None:
                        results[pos] = _failed(listing.sku, "link", as_record_error(exc))
        for result in results:
            if result is not None:
                result.sku = result.key  # a listing's key is its SKU
                self.report(result)

    def _apply_valid(
        self, valid: list[tuple[int, Listing]], results: list[RecordResult | None]
    ) -> None:
        """Index the store for the batch, link every listing, then apply each one."""
        options = self.options
        run = self.run
        refs = self.listings.refs
        builder = IndexBuilder(run.session, options, run.logger)
        index = builder.build([listing for _, listing in valid], reuse=self.listings.index)
        if index.complete:
            self.listings.index = index
        ctx = Context(run.session, run.writer, refs.creator, refs, index, options)
        links: dict[int, Link] = {}
        for pos, listing in valid:
            try:
                links[pos] = self._link(listing, index)
            except Exception as exc:
                if is_fatal(exc):
                    raise
                results[pos] = _failed(listing.sku, "link", as_record_error(exc))
        linked = [(listing, links[pos]) for pos, listing in valid if pos in links]
        unfinished = [link.product_id for _, link in linked if _unfinished(index, link)]
        if unfinished and "publish" in options.operations:
            builder.load_unfinished(index, unfinished)
        self._load_option_values(builder, index, linked)
        self._prepare_references(refs, linked, index)
        for pos, listing in valid:
            if pos in links:
                result = results[pos] = self._apply(ctx, listing, links[pos])
                run.progress.handled(STREAM, result.outcome)

    def _link(self, listing: Listing, index: StoreIndex) -> Link:
        link = link_listing(listing, index, self.options.link_by)
        self.listings.claim(listing, link)
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

    def _prepare_references(
        self, refs: References, linked: list[tuple[Listing, Link]], index: StoreIndex
    ) -> None:
        """Look up, in one call per kind, the brands, groups and categories the batch needs."""
        ops = self.options.operations
        brands: set[str] = set()
        groups: set[str] = set()
        paths: set[str] = set()
        for listing, link in linked:
            if "publish" in ops and (not link.linked or _unfinished(index, link)):
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
        out = Outcome(STREAM, listing.sku)
        if listing.notes:
            out.warning = "; ".join(listing.notes)
        planned_before = len(ctx.writer.planned)
        ctx.field = None
        if link.other_skus:
            out.ids["store_skus"] = {sku: store for _, sku, store in link.other_skus}
            out.warning = "; ".join(
                f"{where} linked to store SKU {store!r}, not the listing's SKU {sku!r}"
                for where, sku, store in link.other_skus
            )
            if not self.options.upc_link_writes:
                _link_ids(link, listing, ctx.index, out)
                return RecordResult(
                    STREAM,
                    listing.sku,
                    "link",
                    "skipped",
                    ids=out.ids,
                    error=out.warning + "; upc_link_writes is off, so nothing was written",
                    field=link.other_skus[0][0],
                )
        unfinished = _unfinished(ctx.index, link)
        try:
            category_id = self._preflight(ctx, listing, link, unfinished=unfinished)
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
            elif unfinished:
                _link_ids(link, listing, ctx.index, out)
                if "publish" not in ops:
                    return RecordResult(
                        STREAM,
                        listing.sku,
                        "link",
                        "skipped",
                        ids=out.ids,
                        error=f"product {link.product_id} is an unfinished publish (hidden, "
                        "keywords mark it); publish is off, so it was neither completed nor "
                        "changed",
                        field="sku",
                    )
                complete_listing(ctx, listing, link, out)
            else:
                _link_ids(link, listing, ctx.index, out)
                if "publish" in ops:
                    add_variants(ctx, listing, link, out)
                if "sync" in ops:
                    sync_listing(ctx, listing, link, out)
                if "overwrite" in ops:
                    overwrite_listing(ctx, listing, link, out, category_id)
                if "publish" in ops:
                    self._note_missing_pictures(ctx, listing, link, out)
        except Exception as exc:
            if is_fatal(exc):
                raise
            failed = as_record_error(exc, ctx.field or "sku")
            return self._finish(ctx, listing, out, planned_before, failed=failed)
        return self._finish(ctx, listing, out, planned_before, link=link)

    def _preflight(
        self, ctx: Context, listing: Listing, link: Link, *, unfinished: bool
    ) -> int | None:
        """Checks that must pass before any write; returns the category id overwrite sets.

        What the store would refuse on a publish write (``refusals.py``) is checked here, so a
        refusal never leaves a product half-published.
        """
        ops = self.options.operations
        if not link.linked and "publish" in ops:
            check_publishable(listing)
            _never_duplicate(ctx.index, listing)
        if unfinished:
            if "publish" in ops:
                check_publishable(listing)
            return None
        if link.product_id is not None and "publish" in ops:
            check_new_variants(v for v in listing.variants if v.index not in link.variants)
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

    def _note_missing_pictures(
        self, ctx: Context, listing: Listing, link: Link, out: Outcome
    ) -> None:
        """Warn when a linked product lacks some of the listing's images; add none.

        A product without the unfinished mark may miss an image because the merchant deleted
        it, or because its publish stopped before unfinished publishes were marked: the two
        look the same, so nothing is guessed (overwrite with ``images`` adds them).
        """
        pid = link.product_id
        if pid is None or not listing.images or pid not in ctx.index.pictures:
            return
        if self.options.overwrites("images") and "images" in listing.present:
            return  # overwrite made the pictures what the listing says
        matched = match_pictures(ctx.index.pictures[pid], listing.images)
        missing = [f"images[{i}]" for i in range(len(listing.images)) if i not in matched]
        if not missing:
            return
        note = (
            f"product {pid} has {len(listing.images) - len(missing)} of the listing's "
            f"{len(listing.images)} images (not {', '.join(missing)}): a merchant's deletion and "
            "a publish stopped before target-cartcom marked unfinished publishes look the same, "
            "so none was added; overwrite with images adds them"
        )
        out.warning = f"{out.warning}; {note}" if out.warning else note

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
            pid = out.ids.get("product_id")
            if pid is not None and is_unfinished(ctx.index.products.get(pid, {})):
                note = (
                    f"product {pid} stays hidden as an unfinished publish (its keywords mark "
                    "it); the next run of this feed completes it"
                )
                out.warning = f"{out.warning}; {note}" if out.warning else note
            return RecordResult(
                STREAM,
                listing.sku,
                operation,
                "failed",
                ids=out.ids,
                changes=out.changes,
                error=failed.message,
                field=failed.field,
                warning=out.warning,
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
            warning=out.warning,
            planned_calls=planned,
        )


def _unfinished(index: StoreIndex, link: Link) -> bool:
    """Whether the listing's linked product is an unfinished publish (``marker.py``)."""
    pid = link.product_id
    return pid is not None and is_unfinished(index.products.get(pid, {}))


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


def _key_of(record: Any) -> str | None:
    key = record.get("sku") if isinstance(record, dict) else None
    return None if key in (None, "") else str(key)


def _failed(key: Any, operation: str, err: RecordError) -> RecordResult:
    return RecordResult(
        STREAM, str(key) if key else None, operation, "failed", error=err.message, field=err.field
    )

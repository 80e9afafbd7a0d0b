"""Full-feed mode: what left the feed is zeroed or hidden, within a safety rule that spans runs.

A supplier's full feed lists everything it sells. When an item drops out of it, the store must
stop selling it (Flxpoint's sync covers status too). At the end of the input, every store item
in ``feed_scope`` that no record named is set to quantity 0 (``zero``) or hidden (``hide``); only
what differs is written. The items are the sellable units, each in scope by its own SKU: a simple
product, or each variant row of a product with variants (a brand scope is the product's brand).
``hide`` hides a product only when the product and all its rows are in scope; otherwise its
missing in-scope rows get quantity 0.

Safety, across runs and read from the store alone (no state of our own): every in-scope item
missing from the feed is held off sale by this mode, whoever took it off sale. Beyond the
``confirmed_missing`` the merchant accepted, those may be at most ``max_missing_fraction`` of the
in-scope items that are on sale or missing; a run that would take an item off sale past that, or
whose feed names no in-scope item at all, changes nothing and exits non-zero. A feed shrinking
run after run therefore stops at the same bound as a truncated one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_cartcom._client import NotFoundError, query
from target_cartcom._client.quirks import records_from_page
from target_cartcom.listings.hidden_file import HiddenFile
from target_cartcom.listings.refs import fold
from target_cartcom.outcomes import RecordError
from target_cartcom.results import RecordResult
from target_cartcom.sku import sku_key
from target_cartcom.writer import PlannedCall

if TYPE_CHECKING:
    from collections.abc import Iterable

    from target_cartcom.listings.settings import ListingOptions
    from target_cartcom.listings.state import ListingsState
    from target_cartcom.run_context import RunContext

STREAM = "listings"
OPERATION = "missing"
#: Result operation of a product full-feed mode hid that is back in the feed (shown again).
REAPPEARED = "reappeared"


class MissingFractionError(RecordError):
    """Full-feed mode refused the run, nothing changed; ``field`` names the setting concerned."""

    def __init__(self, message: str, setting: str = "max_missing_fraction") -> None:
        """The reason, naming the setting."""
        super().__init__(setting, message)


@dataclass
class Missing:
    """One store item no record named, and the write that takes it off sale (if any)."""

    sku: str
    product_id: int
    vi_id: int | None
    call: PlannedCall | None
    change: tuple[str, Any, Any] | None
    #: The item goes off sale (by its own write, or by its product's).
    affected: bool = False


@dataclass
class ScopePlan:
    """The scope as the run would leave it, and the writes that get it there."""

    #: In-scope items, and how many of them the feed named.
    items: int = 0
    named: int = 0
    #: Named items on sale once the run is done (stock above 0, product shown).
    on_sale: int = 0
    #: One per in-scope item no record named.
    missing: list[Missing] = field(default_factory=list)
    #: Products full-feed mode hid that the feed names again: shown again.
    back: list[Missing] = field(default_factory=list)
    #: Products this run hides (id -> SKU), noted in the hidden-products file first.
    hide: dict[int, str] = field(default_factory=dict)
    #: Products of the hidden-products file the store no longer holds hidden.
    not_hidden: set[int] = field(default_factory=set)

    @property
    def taking_off(self) -> int:
        """How many in-scope items this run takes off sale."""
        return sum(1 for m in self.missing if m.affected)


def named_skus(record: Any) -> set[str]:
    """SKU keys a record names (its SKU, its variants', its flat parent's), valid or not."""
    if not isinstance(record, dict):
        return set()
    names = {record.get("sku"), record.get("parent_sku")}
    variants = record.get("variants")
    if isinstance(variants, list):
        names.update(v.get("sku") for v in variants if isinstance(v, dict))
    return {sku_key(str(n).strip()) for n in names if isinstance(n, str | int) and str(n).strip()}


def unconfirmed_share(plan: ScopePlan, options: ListingOptions) -> tuple[int, float]:
    """Missing items beyond ``confirmed_missing``, and their share of those on sale or missing."""
    unconfirmed = max(0, len(plan.missing) - options.confirmed_missing)
    base = plan.on_sale + unconfirmed
    return unconfirmed, (unconfirmed / base if base else 0.0)


def refusal(plan: ScopePlan, options: ListingOptions) -> MissingFractionError | None:
    """Why the run must change nothing, or None. Only a run that takes items off sale is held."""
    if not plan.taking_off:
        return None
    verb = "hidden" if options.missing_listings == "hide" else "zeroed"
    if not plan.named:
        return MissingFractionError(
            f"full feed refused: the feed names none of the {plan.items} in-scope items, so "
            f"{plan.taking_off} would be {verb}; nothing was changed. An empty or failed export "
            "looks like this; such a feed never changes anything, whatever max_missing_fraction "
            "and confirmed_missing say.",
            "feed_scope",
        )
    unconfirmed, share = unconfirmed_share(plan, options)
    limit = options.max_missing_fraction
    if share <= limit:
        return None
    confirmed = options.confirmed_missing
    return MissingFractionError(
        f"full feed refused: {len(plan.missing)} in-scope items are missing from the feed"
        + (f" ({confirmed} confirmed by confirmed_missing)" if confirmed else "")
        + f" and {plan.taking_off} of them would be {verb} now; the {unconfirmed} not "
        f"confirmed are {share:.0%} of the {plan.on_sale + unconfirmed} in-scope items on "
        f"sale or missing, more than max_missing_fraction ({limit:g}); nothing was changed. "
        "A truncated feed, or one that shrinks run after run, looks like this. If the removals "
        f"are real, set confirmed_missing to {len(plan.missing)} and run again."
    )


class FullFeed:
    """Finds what left the feed, checks the safety rule, then zeroes or hides it."""

    def __init__(self, run: RunContext, listings: ListingsState) -> None:
        """Judge the input ``listings`` named (``named``; ``kept_hidden``: those saying hidden)."""
        self.run = run
        self.options = listings.options
        self.mode = self.options.missing_listings
        self.scope = dict(self.options.feed_scope)
        self.prefix = sku_key(self.scope.get("sku_prefix", ""))
        self.named = listings.named
        self.kept_hidden = listings.kept_hidden

    def apply(self) -> None:
        """Plan the changes, refuse them all past the safety rule, else write and report."""
        hidden_file = HiddenFile(
            self.options.full_feed_hidden_path if self.mode == "hide" else None,
            self._store_name(),
        )
        plan = self._plan(hidden_file)
        error = refusal(plan, self.options)
        self._summarize(plan, error)
        if error is not None:
            for item in plan.back:
                self._report(item, "skipped", error=error.message, operation=REAPPEARED)
            for item in plan.missing:
                self._report(item, "skipped", error=error.message)
            raise error
        dry_run = self.options.dry_run
        if not dry_run:
            # Noted before the writes: a run stopped part-way leaves the file ahead, never behind.
            self._note(hidden_file, plan, shown=())
        for item in plan.back:
            self._write(item, operation=REAPPEARED)
        for item in plan.missing:
            if item.affected:
                self._write(item)
            else:
                self._report(item, "unchanged")
        if not dry_run and plan.back:
            self._note(hidden_file, plan, shown=[m.product_id for m in plan.back])

    def _write(self, item: Missing, operation: str = OPERATION) -> None:
        before = len(self.run.writer.planned)
        if item.call is not None:
            self.run.writer.apply(item.call)
        planned = (
            [c.describe() for c in self.run.writer.planned[before:]] if self.options.dry_run else []
        )
        self._report(item, "updated", planned=planned, operation=operation)

    @staticmethod
    def _note(hidden_file: HiddenFile, plan: ScopePlan, shown: Iterable[int]) -> None:
        """The file as the run leaves the store: what it hides in, what is shown or gone out."""
        products = {
            pid: sku for pid, sku in hidden_file.products.items() if pid not in plan.not_hidden
        }
        products.update(plan.hide)
        for pid in shown:
            products.pop(pid, None)
        if products != hidden_file.products:
            hidden_file.products = products
            hidden_file.save()

    def _summarize(self, plan: ScopePlan, error: MissingFractionError | None) -> None:
        """The log line and the summary's ``full_feed`` entry."""
        unconfirmed, share = unconfirmed_share(plan, self.options)
        self.run.summary_parts["full_feed"] = {
            "mode": self.mode,
            "in_scope": plan.items,
            "named": plan.named,
            "missing": len(plan.missing),
            "confirmed_missing": self.options.confirmed_missing,
            "on_sale": plan.on_sale,
            "share": round(share, 4),
            "max_missing_fraction": self.options.max_missing_fraction,
            "taken_off_sale": 0 if error else plan.taking_off,
            "shown_again": 0 if error else len(plan.back),
            "refused": error is not None,
        }
        self.run.logger.info(
            "Full feed (%s): %d in-scope item(s), %d named, %d missing (%d confirmed), %d on "
            "sale after the run; %d to take off sale, %d product(s) to show again",
            self.mode,
            plan.items,
            plan.named,
            len(plan.missing),
            self.options.confirmed_missing,
            plan.on_sale,
            plan.taking_off,
            len(plan.back),
        )
        if error is None and share > self.options.max_missing_fraction:
            self.run.logger.warning(
                "Full feed: the %d missing item(s) not confirmed are %.0f%% of the scope, more "
                "than max_missing_fraction; nothing new goes off sale in this run, but the next "
                "run that would take an item off sale stops until confirmed_missing is raised",
                unconfirmed,
                share * 100,
            )
        if self.options.confirmed_missing > len(plan.missing):
            self.run.logger.warning(
                "Full feed: confirmed_missing (%d) is more than the %d item(s) now missing from "
                "the feed; lower it to %d to keep the safety rule tight",
                self.options.confirmed_missing,
                len(plan.missing),
                len(plan.missing),
            )

    def _report(
        self,
        item: Missing,
        outcome: str,
        *,
        error: str | None = None,
        planned: list[dict[str, Any]] | None = None,
        operation: str = OPERATION,
    ) -> None:
        ids: dict[str, Any] = {"product_id": item.product_id}
        if item.vi_id is not None:
            ids["variant_inventory_id"] = item.vi_id
        changes = {}
        if item.change is not None and outcome == "updated":
            name, old, new = item.change
            changes[name] = {"old": old, "new": new}
        self.run.report(
            RecordResult(
                STREAM,
                item.sku,
                operation,
                outcome,
                ids=ids,
                changes=changes,
                error=error,
                planned_calls=planned or [],
                sku=item.sku,
            )
        )

    # -- the store's side ---------------------------------------------------------------------
    def _store_name(self) -> str:
        """Which store the hidden-products file belongs to (its API address, and site)."""
        session = self.run.session
        site = session.settings.site_id
        return f"{session.base_url}#{site}" if site else session.base_url

    def _brand_id(self) -> int | None:
        """The scope brand's manufacturer id; None when the store has no such brand."""
        payload = self._get(
            "/manufacturers", {"count": "1000", **query.exact({"name": self.scope["brand"]})}
        )
        for row in records_from_page(payload) if payload else []:
            if fold(str(row.get("name") or "")) == fold(self.scope["brand"]):
                return int(row["id"])
        return None

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            return self.run.session.get(path, params=params)
        except NotFoundError:
            return None

    def _products(self) -> list[dict[str, Any]]:
        """Every product of the store with its variant rows (paged, trimmed fields)."""
        fields = "id,item_number,manufacturer_id,is_hidden,quantity_on_hand,use_variant_inventory"
        params = {
            "count": str(self.options.page_size),
            "sort": "id",
            "fields": f"{fields},variant_inventory",
            "expand": "variant_inventory",
        }
        try:
            products = list(self.run.session.iter_records("/products", params))
        except NotFoundError:  # some stores answer an empty list with 404 (API-NOTES §1.3)
            return []
        return self._as_written(products) if self.options.dry_run else products

    def _as_written(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A dry run's read with the stock and hidden flags its planned writes would set.

        In a real run sync's writes are in the store before this read; a dry run must see the
        same scope to plan the same lines.
        """
        written: dict[tuple[str, int], dict[str, Any]] = {}
        for call in self.run.writer.planned:
            kind, _, ident = call.path.strip("/").partition("/")
            if call.method == "PUT" and call.body and ident.isdigit():
                written.setdefault((kind, int(ident)), {}).update(call.body)
        for product in products:
            body = written.get(("products", int(product["id"])), {})
            product.update({k: body[k] for k in ("quantity_on_hand", "is_hidden") if k in body})
            for row in product.get("variant_inventory") or []:
                body = written.get(("variant_inventory", int(row["id"])), {})
                if "inventory" in body:
                    row["inventory"] = body["inventory"]
        return products

    def _in_scope(self, sku: str) -> bool:
        return not self.prefix or sku_key(sku).startswith(self.prefix)

    def _plan(self, hidden_file: HiddenFile) -> ScopePlan:
        """The in-scope items, the missing ones with the write each needs, what comes back."""
        plan = ScopePlan()
        brand_id = self._brand_id() if "brand" in self.scope else None
        if "brand" in self.scope and brand_id is None:
            return plan
        remembered = set(hidden_file.products)
        for product in self._products():
            pid = int(product["id"])
            hidden = product.get("is_hidden") not in (None, 0, False, "0", "")
            remembered.discard(pid)
            if pid in hidden_file and not hidden:
                plan.not_hidden.add(pid)
            if brand_id is not None and product.get("manufacturer_id") != brand_id:
                continue
            self._plan_product(plan, product, pid, hidden, hidden_file)
        plan.not_hidden |= remembered  # deleted from the store
        return plan

    def _plan_product(
        self,
        plan: ScopePlan,
        product: dict[str, Any],
        pid: int,
        hidden: bool,
        hidden_file: HiddenFile,
    ) -> None:
        sku = str(product.get("item_number") or "")
        rows = [r for r in product.get("variant_inventory") or [] if isinstance(r, dict)]
        units: list[tuple[str, int | None, int]]
        if product.get("use_variant_inventory") and rows:
            units = [
                (str(r.get("item_number") or ""), int(r["id"]), int(r.get("inventory") or 0))
                for r in rows
            ]
        else:
            units = [(sku, None, int(product.get("quantity_on_hand") or 0))]
        in_scope = [u for u in units if self._in_scope(u[0])]
        if not in_scope:
            return
        keys = {sku_key(sku)} | {sku_key(u[0]) for u in units}
        product_named = bool(keys & self.named)
        hide = self.mode == "hide"
        if (
            hide
            and hidden
            and pid in hidden_file
            and product_named
            and self._in_scope(sku)
            and not keys & self.kept_hidden
        ):
            call = PlannedCall(
                "PUT", f"/products/{pid}", {"is_hidden": 0}, purpose="unhide: back in the feed"
            )
            plan.back.append(Missing(sku, pid, None, call, ("is_hidden", True, False), True))
            hidden = False
        # Hidden only when the whole product is the feed's: out-of-scope rows keep it shown.
        hide_product = hide and not product_named and self._in_scope(sku)
        hide_product = hide_product and len(in_scope) == len(units)
        if hide_product and not hidden:
            plan.hide[pid] = sku
        first = True
        for unit_sku, vi_id, quantity in in_scope:
            plan.items += 1
            if sku_key(unit_sku) in self.named:
                plan.named += 1
                if quantity > 0 and not hidden:
                    plan.on_sale += 1
                continue
            if hide_product:
                call = None
                if first and not hidden:
                    call = PlannedCall(
                        "PUT",
                        f"/products/{pid}",
                        {"is_hidden": 1},
                        purpose="hide: left the full feed",
                    )
                first = False
                change = None if hidden else ("is_hidden", False, True)
                plan.missing.append(Missing(unit_sku, pid, vi_id, call, change, not hidden))
                continue
            call = None
            if quantity != 0:
                path, name = (
                    (f"/products/{pid}", "quantity_on_hand")
                    if vi_id is None
                    else (f"/variant_inventory/{vi_id}", "inventory")
                )
                call = PlannedCall("PUT", path, {name: 0}, purpose="zero: left the full feed")
            change = ("quantity", quantity, 0) if call else None
            plan.missing.append(Missing(unit_sku, pid, vi_id, call, change, bool(call)))

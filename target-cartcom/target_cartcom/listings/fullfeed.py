"""Full-feed mode: what left the feed is zeroed or hidden, never more than the safety rule allows.

A supplier's full feed lists everything it sells. When a product drops out of it, the store must
stop selling it (Flxpoint's sync covers status too). At the end of the input, every store item
in ``feed_scope`` (a SKU prefix and/or a brand) that no record named is set to quantity 0
(``zero``) or hidden (``hide``); only what differs is written. The items are the sellable units:
a simple product, or each variant row of a product with variants.

Safety: when more than ``max_missing_fraction`` of the in-scope items would change, nothing is
changed, each missing item's result line says why, and the run exits non-zero. An empty or
truncated feed can never wipe a catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from target_cartcom._client import NotFoundError, query
from target_cartcom._client.quirks import records_from_page
from target_cartcom.listings.record import sku_key
from target_cartcom.listings.refs import fold
from target_cartcom.outcomes import RecordError
from target_cartcom.plan import PlannedCall
from target_cartcom.results import RecordResult

if TYPE_CHECKING:
    from target_cartcom.run import RunContext

STREAM = "listings"
OPERATION = "missing"
#: Result operation of an in-scope product hidden in the store that is back in the feed.
REAPPEARED = "reappeared"


class MissingFractionError(RecordError):
    """More of the scope would change than ``max_missing_fraction`` allows: nothing changed."""

    def __init__(self, message: str) -> None:
        """The reason, naming the setting."""
        super().__init__("max_missing_fraction", message)


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


def named_skus(record: Any) -> set[str]:
    """SKU keys a record names (its SKU, its variants', its flat parent's), valid or not."""
    if not isinstance(record, dict):
        return set()
    names = {record.get("sku"), record.get("parent_sku")}
    variants = record.get("variants")
    if isinstance(variants, list):
        names.update(v.get("sku") for v in variants if isinstance(v, dict))
    return {sku_key(str(n).strip()) for n in names if isinstance(n, str | int) and str(n).strip()}


class FullFeed:
    """Finds what left the feed, checks the safety rule, then zeroes or hides it."""

    def __init__(self, run: RunContext, named: set[str], kept_hidden: set[str]) -> None:
        """``named``: the SKU keys of every record; ``kept_hidden``: those saying hidden."""
        self.run = run
        self.options = run.listings.options
        self.mode = self.options.missing_listings
        self.scope = dict(self.options.feed_scope)
        self.named = named
        self.kept_hidden = kept_hidden
        #: In-scope products hidden in the store and named by the feed again.
        self.back: list[Missing] = []

    def apply(self) -> None:
        """Plan the changes, refuse them all past the safety rule, else write and report."""
        items, missing = self._plan()
        changing = [m for m in missing if m.affected]
        limit = self.options.max_missing_fraction
        share = len(changing) / len(items) if items else 0.0
        self.run.logger.info(
            "Full feed (%s): %d in-scope item(s), %d missing from the feed, %d to change",
            self.mode,
            len(items),
            len(missing),
            len(changing),
        )
        if share > limit:
            reason = (
                f"full feed refused: {len(changing)} of {len(items)} in-scope items "
                f"({share:.0%}) would be {'hidden' if self.mode == 'hide' else 'zeroed'}, "
                f"more than max_missing_fraction ({limit:g}); nothing was changed. An empty or "
                "truncated feed looks like this; raise max_missing_fraction if the removals "
                "are real."
            )
            for item in missing:
                self._report(item, "skipped", error=reason)
            raise MissingFractionError(reason)
        for item in self.back:
            before = len(self.run.writer.planned)
            self.run.writer.apply(item.call)  # type: ignore[arg-type]
            planned = (
                [c.describe() for c in self.run.writer.planned[before:]]
                if self.options.dry_run
                else []
            )
            self._report(item, "updated", planned=planned, operation=REAPPEARED)
        for item in missing:
            if not item.affected:
                self._report(item, "unchanged")
                continue
            before = len(self.run.writer.planned)
            if item.call is not None:
                self.run.writer.apply(item.call)
            planned = (
                [c.describe() for c in self.run.writer.planned[before:]]
                if self.options.dry_run
                else []
            )
            self._report(item, "updated", planned=planned)

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
            return list(self.run.session.iter_records("/products", params))
        except NotFoundError:  # some stores answer an empty list with 404 (API-NOTES §1.3)
            return []

    def _plan(self) -> tuple[list[tuple[int, int | None]], list[Missing]]:
        """The in-scope items, and the missing ones with the write each needs."""
        brand_id = self._brand_id() if "brand" in self.scope else None
        if "brand" in self.scope and brand_id is None:
            return [], []
        prefix = sku_key(self.scope.get("sku_prefix", ""))
        items: list[tuple[int, int | None]] = []
        missing: list[Missing] = []
        for product in self._products():
            sku = str(product.get("item_number") or "")
            if prefix and not sku_key(sku).startswith(prefix):
                continue
            if brand_id is not None and product.get("manufacturer_id") != brand_id:
                continue
            pid = int(product["id"])
            if (
                self.mode == "hide"
                and product.get("is_hidden")
                and sku_key(sku) in self.named
                and sku_key(sku) not in self.kept_hidden
            ):
                call = PlannedCall(
                    "PUT", f"/products/{pid}", {"is_hidden": 0}, purpose="unhide: back in the feed"
                )
                change = ("is_hidden", True, False)
                self.back.append(Missing(sku, pid, None, call, change, affected=True))
            rows = [r for r in product.get("variant_inventory") or [] if isinstance(r, dict)]
            hidden = bool(product.get("is_hidden"))
            if not (product.get("use_variant_inventory") and rows):
                items.append((pid, None))
                if sku_key(sku) not in self.named:
                    missing.append(self._simple(product, sku, pid, hidden))
                continue
            product_named = sku_key(sku) in self.named or any(
                sku_key(str(r.get("item_number") or "")) in self.named for r in rows
            )
            hide_product = self.mode == "hide" and not product_named
            for row in rows:
                items.append((pid, int(row["id"])))
                row_sku = str(row.get("item_number") or "")
                if sku_key(row_sku) in self.named:
                    continue
                if hide_product:
                    # The whole product left: hidden once (on its first missing row).
                    first = not any(m.product_id == pid and m.call for m in missing)
                    call = (
                        PlannedCall(
                            "PUT",
                            f"/products/{pid}",
                            {"is_hidden": 1},
                            purpose="hide: left the full feed",
                        )
                        if first and not hidden
                        else None
                    )
                    change = None if hidden else ("is_hidden", hidden, True)
                    missing.append(
                        Missing(row_sku, pid, int(row["id"]), call, change, affected=not hidden)
                    )
                    continue
                quantity = int(row.get("inventory") or 0)
                call = (
                    PlannedCall(
                        "PUT",
                        f"/variant_inventory/{row['id']}",
                        {"inventory": 0},
                        purpose="zero: left the full feed",
                    )
                    if quantity != 0
                    else None
                )
                change = ("quantity", quantity, 0) if call else None
                missing.append(
                    Missing(row_sku, pid, int(row["id"]), call, change, affected=bool(call))
                )
        return items, missing

    def _simple(self, product: dict[str, Any], sku: str, pid: int, hidden: bool) -> Missing:
        if self.mode == "hide":
            if hidden:
                return Missing(sku, pid, None, None, None)
            call = PlannedCall(
                "PUT", f"/products/{pid}", {"is_hidden": 1}, purpose="hide: left the full feed"
            )
            return Missing(sku, pid, None, call, ("is_hidden", hidden, True), affected=True)
        quantity = int(product.get("quantity_on_hand") or 0)
        if quantity == 0:
            return Missing(sku, pid, None, None, None)
        call = PlannedCall(
            "PUT", f"/products/{pid}", {"quantity_on_hand": 0}, purpose="zero: left the full feed"
        )
        return Missing(sku, pid, None, call, ("quantity", quantity, 0), affected=True)

"""Batched reads of the orders a batch touches: never one read per record.

- Orders given by id: ``GET /orders/select_many?ids=...&expand=items,shipments``, up to 100 ids
  per call, split further so that path and query stay under the 2,048-character cap
  (docs/api.md §14).
- Orders given by ``order_number``: ``GET /orders?order_number=eq:A+OR+eq:B...`` with the same
  expand, so the lookup *is* the read (no second call). ``find`` reads both kinds for a batch
  and names, per record, its one order or why there is none.
- Shipment lines: Cart.com's nested ``shipments`` carry no ``items`` (docs/api.md §5). When an
  order already has shipments whose lines are missing, they are read with
  ``GET /order_shipments/select_many?ids=...&expand=items``, again up to 100 per call; orders with
  no shipments cost nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from target_cartcom._client import CartcomSession, NotFoundError, query
from target_cartcom._client.settings import MAX_URL_LENGTH
from target_cartcom._client.urls import NEXT_PAGE_ROOM
from target_cartcom._client.urls import chunks_for_url as split_for_url
from target_cartcom.outcomes import RecordError

MAX_PER_CALL = 100


def chunks_for_url(
    values: Iterable[str],
    fixed_chars: int,
    separator_chars: int,
    *,
    max_items: int = MAX_PER_CALL,
    max_chars: int = MAX_URL_LENGTH,
) -> Iterator[list[str]]:
    """The client's URL-cap split (``cartcom_client.urls``), at most ``MAX_PER_CALL`` per call."""
    return split_for_url(
        values, fixed_chars, separator_chars, max_items=max_items, max_chars=max_chars
    )


@dataclass
class FoundOrders:
    """The orders a batch names, as read: by id, and by the ``order_number`` the store holds."""

    by_id: dict[int, dict[str, Any]]
    by_number: dict[str, list[dict[str, Any]]]

    def order(self, order_id: int | None, number: str | None) -> dict[str, Any]:
        """The one order a record names; ``RecordError`` naming the field when not exactly one."""
        if order_id is not None:
            if order_id not in self.by_id:
                msg = f"unknown order: the store has no order {order_id}"
                raise RecordError("order_id", msg)
            return self.by_id[order_id]
        matches = self.by_number.get(str(number), [])
        if not matches:
            msg = f"unknown order: no order has order_number {number!r}"
            raise RecordError("order_number", msg)
        if len(matches) > 1:
            ids = ", ".join(str(m["id"]) for m in matches)
            msg = f"order_number {number!r} matches several orders ({ids}); send order_id"
            raise RecordError("order_number", msg)
        return matches[0]


class OrderReader:
    """Reads orders (with items and shipments) through the shared session."""

    def __init__(
        self,
        session: CartcomSession,
        *,
        expand: str | None = "items,shipments",
        fields: str | None = None,
    ) -> None:
        """Read through ``session``; ``expand``/``fields`` shape every order read."""
        self.session = session
        self.expand = expand
        self.fields = fields
        self.base_path = urlsplit(session.base_url).path.rstrip("/")

    def _suffix(self) -> str:
        parts = []
        if self.expand:
            parts.append(f"expand={self.expand}")
        if self.fields:
            parts.append(f"fields={self.fields}")
        return "".join(f"&{p}" for p in parts)

    def _get_list(self, path_and_query: str) -> list[dict[str, Any]]:
        try:
            return list(self.session.iter_records(path_and_query))
        except NotFoundError:
            return []

    def find(self, refs: Iterable[tuple[int | None, str | None]]) -> FoundOrders:
        """The orders named by ``(order_id, order_number)`` pairs: numbers first, then the ids.

        An id already read by its number is not read again.
        """
        refs = list(refs)
        numbers = {number for order_id, number in refs if order_id is None and number}
        by_number = self.by_numbers(numbers) if numbers else {}
        by_id = {int(row["id"]): row for rows in by_number.values() for row in rows}
        ids = {order_id for order_id, _ in refs if order_id is not None} - set(by_id)
        by_id.update(self.by_ids(ids) if ids else {})
        return FoundOrders(by_id, by_number)

    def by_ids(
        self, ids: Iterable[int], resource: str = "orders", suffix: str | None = None
    ) -> dict[int, dict[str, Any]]:
        """``resource`` rows by id via select_many (missing ids are simply absent)."""
        wanted = sorted({int(i) for i in ids})
        tail = self._suffix() if suffix is None else suffix
        prefix = f"{resource}/select_many?ids="
        fixed = len(self.base_path) + 1 + len(prefix) + len(tail)
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunks_for_url((str(i) for i in wanted), fixed, 1):
            for row in self._get_list(prefix + ",".join(chunk) + tail):
                if row.get("id") is not None:
                    found[int(row["id"])] = row
        return found

    def by_numbers(self, numbers: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Orders by ``order_number``, OR-ed in one filter per URL-sized chunk."""
        wanted = sorted({str(n) for n in numbers if str(n).strip()})
        tail = self._suffix() + f"&count={MAX_PER_CALL}"
        prefix = "orders?order_number="
        # more than MAX_PER_CALL matches (duplicate numbers) page on, adding page=N to the URL
        fixed = len(self.base_path) + 1 + len(prefix) + len(tail) + NEXT_PAGE_ROOM
        encoded = [query.encode(query.eq(n)) for n in wanted]
        found: dict[str, list[dict[str, Any]]] = {}
        for chunk in chunks_for_url(encoded, fixed, len("+OR+")):
            for row in self._get_list(prefix + "+OR+".join(chunk) + tail):
                found.setdefault(str(row.get("order_number")), []).append(row)
        return found

    def fill_shipment_items(self, orders: Iterable[dict[str, Any]]) -> int:
        """Give every shipment of ``orders`` its ``items``; return how many had to be read."""
        missing: dict[int, dict[str, Any]] = {}
        for order in orders:
            for shipment in order.get("shipments") or []:
                if not isinstance(shipment.get("items"), list) and shipment.get("id") is not None:
                    missing[int(shipment["id"])] = shipment
        if not missing:
            return 0
        read = self.by_ids(missing, "order_shipments", "&expand=items")
        for shipment_id, shipment in missing.items():
            items = (read.get(shipment_id) or {}).get("items")
            shipment["items"] = items if isinstance(items, list) else []
        return len(missing)

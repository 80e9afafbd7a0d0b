"""What the operations share while one listing is applied: the store index, writes, changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_cartcom._client import CartcomSession, query
from target_cartcom.listings.refs import Creator, References
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.listings.store_index import StoreIndex
from target_cartcom.outcomes import Outcome
from target_cartcom.writer import PlannedCall, Writer

__all__ = ["Context", "Outcome"]


@dataclass
class Context:
    """The run's session, writer, index and references, as the operations need them."""

    session: CartcomSession
    writer: Writer
    creator: Creator
    refs: References
    index: StoreIndex
    options: ListingOptions
    #: The listing field the write in progress concerns (named in a failure).
    field: str | None = None

    def write(
        self, method: str, path: str, body: dict[str, Any] | None, *, field: str, purpose: str = ""
    ) -> Any:
        """Apply one PUT or DELETE (POSTs go through ``create``)."""
        self.field = field
        return self.writer.apply(
            PlannedCall(method, path, body, purpose=purpose, extra={"field": field})
        )

    def create(
        self,
        path: str,
        body: dict[str, Any],
        find_params: dict[str, str],
        *,
        field: str,
        purpose: str = "",
    ) -> dict[str, Any]:
        """POST a new record; after a lost answer, find it by ``find_params`` before re-posting."""
        self.field = field
        return self.creator.create(
            path,
            body,
            lambda: self.creator.find_one(path, query.exact(find_params)),
            purpose=purpose,
            field=field,
        )

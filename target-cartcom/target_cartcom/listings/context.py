"""What the operations share while one listing is applied: the store index, writes, changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from target_cartcom._client import CartcomSession
from target_cartcom.listings.index import StoreIndex
from target_cartcom.listings.refs import Creator, References
from target_cartcom.listings.settings import ListingOptions
from target_cartcom.plan import PlannedCall, Writer


@dataclass
class Outcome:
    """What happened to one listing so far."""

    ids: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    wrote: list[str] = field(default_factory=list)
    created: bool = False

    def change(self, name: str, old: Any, new: Any) -> None:
        """Record a changed field with its old and new values."""
        self.changes[name] = {"old": old, "new": new}

    def did(self, operation: str) -> None:
        """Note that ``operation`` wrote something."""
        if operation not in self.wrote:
            self.wrote.append(operation)


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
            lambda: self.creator.find_one(path, find_params),
            purpose=purpose,
            field=field,
        )

"""Find-or-create of the store's reference data: product status, brands, categories, groups.

Each kind is read once per run with one OR-ed lookup (more only past the URL cap), cached, and
created only when missing and publish is on. Categories are matched by name and parent id (not by
``lookup_path``, which Cart.com fills only after ``rebuild_tree``); ``rebuild_tree`` is called
once at the end of a run that created any category, or that published into a category whose
``lookup_path`` is still empty (a run stopped before its rebuild left it so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from target_cartcom._client import CartcomSession, ConfigurationError, TransientAPIError, query
from target_cartcom._client.urls import lookup_chunks
from target_cartcom.listings.record import RecordError, category_path
from target_cartcom.writer import PlannedCall, Writer


def fold(text: str | None) -> str:
    """Names compare without case or outer spaces (SQL Server collation)."""
    return (text or "").strip().casefold()


class Creator:
    """POSTs a new record; a POST whose answer was lost is looked up before re-posting."""

    def __init__(self, session: CartcomSession, writer: Writer) -> None:
        """Create through ``writer``; look up through ``session``."""
        self.session = session
        self.writer = writer

    def create(
        self,
        path: str,
        body: dict[str, Any],
        find: Callable[[], dict[str, Any] | None],
        *,
        purpose: str = "",
        field: str | None = None,
    ) -> dict[str, Any]:
        """POST ``body`` to ``path`` and return the record (found again after a lost answer)."""
        call = PlannedCall("POST", path, body, purpose=purpose, extra={"field": field})
        try:
            created = self.writer.apply(call)
        except TransientAPIError:
            found = find()
            if found is not None:
                call.extra["created_id"] = found.get("id")
                call.extra["recovered"] = True
                return found
            retry = PlannedCall("POST", path, body, purpose=purpose, extra={"field": field})
            created = self.writer.apply(retry)
            call = retry
        if not isinstance(created, dict) or created.get("id") is None:
            found = find()
            if found is None:
                msg = f"POST {path} gave no record id, and a look-up did not find the record"
                raise RecordError(field, msg)
            created = found
        call.extra["created_id"] = created.get("id")
        return created

    def find_one(self, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        """The lowest-id record matching ``params`` (a re-lookup after a lost POST)."""
        rows = list(self.session.iter_records(path, params))
        return min(rows, key=lambda r: r["id"]) if rows else None


class References:
    """Statuses, brands, categories and variant groups for this run."""

    def __init__(
        self,
        session: CartcomSession,
        creator: Creator,
        *,
        status: str,
        page_size: int,
        max_url_length: int,
    ) -> None:
        """Resolve through ``session``; create through ``creator``."""
        self.session = session
        self.creator = creator
        self.status_setting = status
        self.page_size = page_size
        self.max_url_length = max_url_length
        self._status_id: int | None = None
        self.brands: dict[str, int] = {}
        self.groups: dict[str, int] = {}
        #: (parent id, folded name) -> category id; parent 0 is the root.
        self.categories: dict[tuple[int, str], int] = {}
        self._brand_looked: set[str] = set()
        self._group_looked: set[str] = set()
        self._category_looked: set[str] = set()
        self.created_categories = 0
        #: Categories read without a ``lookup_path`` (never rebuilt into the tree).
        self._unbuilt: set[int] = set()
        #: A product was published into one of them: the tree needs its rebuild.
        self.tree_stale = False

    # -- lookups (reads) ----------------------------------------------------------------------
    def _names_lookup(self, path: str, names: Iterable[str], fields: str) -> list[dict[str, Any]]:
        names = sorted({n for n in names if n})
        if not names:
            return []
        base = {"count": str(self.page_size), "fields": fields}
        if not all(_carried(n) for n in names):
            # A brand, group or category name the filter syntax cannot carry: these reference
            # tables are small, so read the whole table and match by name here.
            return list(self.session.iter_records(path, base))
        url = self.session.url(path)
        rows: list[dict[str, Any]] = []
        for params in lookup_chunks(url, base, {"name": names}, max_chars=self.max_url_length):
            # The name filter first, then count and fields, as these reads have always been sent.
            rows += self.session.iter_records(path, {"name": params["name"], **base})
        return rows

    def status_id(self) -> int:
        """The product status for new products and variant rows (one read, once per run)."""
        if self._status_id is None:
            setting = self.status_setting.strip()
            if setting.isdigit():
                self._status_id = int(setting)
            else:
                rows = list(
                    self.session.iter_records(
                        "/product_statuses", {"count": str(self.page_size), "fields": "id,name"}
                    )
                )
                match = sorted(r["id"] for r in rows if fold(r.get("name")) == fold(setting))
                if not match:
                    known = ", ".join(sorted(str(r.get("name")) for r in rows))
                    msg = (
                        f"`product_status` {setting!r} is not a product status of the store "
                        f"({known})."
                    )
                    raise ConfigurationError(msg)
                self._status_id = match[0]
        return self._status_id

    def prepare(self, brands: Iterable[str], groups: Iterable[str], paths: Iterable[str]) -> None:
        """Look up every brand, group and category name not looked up yet (one call each kind)."""
        brands = {b for b in brands if fold(b) not in self._brand_looked}
        if brands:
            for row in self._names_lookup("/manufacturers", brands, "id,name"):
                key = fold(row.get("name"))
                self.brands[key] = min(row["id"], self.brands.get(key, row["id"]))
            self._brand_looked |= {fold(b) for b in brands}
        groups = {g for g in groups if fold(g) not in self._group_looked}
        if groups:
            for row in self._names_lookup("/variant_groups", groups, "id,name"):
                key = fold(row.get("name"))
                self.groups[key] = min(row["id"], self.groups.get(key, row["id"]))
            self._group_looked |= {fold(g) for g in groups}
        names = {part for p in paths for part in category_path(p)}
        names = {n for n in names if fold(n) not in self._category_looked}
        if names:
            fields = "id,name,parent_category_id,lookup_path"
            for row in self._names_lookup("/categories", names, fields):
                key = (row.get("parent_category_id") or 0, fold(row.get("name")))
                self.categories[key] = min(row["id"], self.categories.get(key, row["id"]))
                if not str(row.get("lookup_path") or "").strip():
                    self._unbuilt.add(row["id"])
            self._category_looked |= {fold(n) for n in names}

    # -- resolution ---------------------------------------------------------------------------
    def find_category(self, path: str) -> int | None:
        """The id of a category path, or None when a part is missing."""
        parent = 0
        for part in category_path(path):
            found = self.categories.get((parent, fold(part)))
            if found is None:
                return None
            parent = found
        return parent or None

    def category(self, path: str, *, create: bool, field: str, publishing: bool = False) -> int:
        """The id of a category path, creating missing parts when ``create``.

        ``publishing``: a product is published into it; a part not rebuilt into the tree yet
        (``lookup_path`` empty) gets the run's ``rebuild_tree``.
        """
        parent = 0
        for part in category_path(path):
            found = self.categories.get((parent, fold(part)))
            if found is None:
                if not create:
                    msg = (
                        f"category path {path!r} is not in the store (publish is off, so it "
                        "is not created)"
                    )
                    raise RecordError(field, msg)
                body = {"name": part, "parent_category_id": parent}
                parent_id = parent
                created = self.creator.create(
                    "/categories",
                    body,
                    lambda p=part, q=parent_id: self._find_category(p, q),
                    purpose=f"create category {part!r}",
                    field=field,
                )
                found = created["id"]
                self.categories[(parent, fold(part))] = found
                self.created_categories += 1
            elif publishing and found in self._unbuilt:
                self.tree_stale = True
            parent = found
        return parent

    def _find_category(self, name: str, parent: int) -> dict[str, Any] | None:
        """A category by name under ``parent`` (a root's parent may read back as 0 or null)."""
        rows = self.session.iter_records(
            "/categories",
            {
                **query.exact({"name": name}),
                "count": str(self.page_size),
                "fields": "id,name,parent_category_id",
            },
        )
        found = [r for r in rows if (r.get("parent_category_id") or 0) == parent]
        return min(found, key=lambda r: r["id"]) if found else None

    def brand(self, name: str, *, field: str = "brand") -> int:
        """The manufacturer id of a brand, created when missing."""
        key = fold(name)
        if key not in self.brands:
            created = self.creator.create(
                "/manufacturers",
                {"name": name},
                lambda: self.creator.find_one("/manufacturers", query.exact({"name": name})),
                purpose=f"create brand {name!r}",
                field=field,
            )
            self.brands[key] = created["id"]
        return self.brands[key]

    def group(self, name: str, *, field: str) -> int:
        """The variant group id of an option name, created when missing."""
        key = fold(name)
        if key not in self.groups:
            created = self.creator.create(
                "/variant_groups",
                {"name": name, "display_type": "DropDown"},
                lambda: self.creator.find_one("/variant_groups", query.exact({"name": name})),
                purpose=f"create variant group {name!r}",
                field=field,
            )
            self.groups[key] = created["id"]
        return self.groups[key]


def _carried(name: str) -> bool:
    """Whether a filter can carry ``name`` exactly."""
    try:
        query.check_value(name)
    except query.QueryValueError:
        return False
    return True

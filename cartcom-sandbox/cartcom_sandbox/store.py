"""SQLite storage of API-shaped records: JSON docs plus narrow tables of indexed columns.

Each record is stored whole as JSON (every spec field, spec order) in ``d_<resource>``. Fields
that are filtered or sorted often get a column in the narrow ``r_<resource>`` table, so paging
with OFFSET scans small rows and the docs of one page are then read by id. Integers and text are
kept as they are (text with NOCASE collation, like SQL Server's default); datetimes as UTC
100-ns ticks, so mixed offsets (DST) compare correctly.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cartcom_sandbox import clock, jsonio
from cartcom_sandbox import resources as R  # noqa: N812

_COLTYPE = {"int": "INTEGER", "num": "REAL", "text": "TEXT COLLATE NOCASE", "dt": "INTEGER"}
_dumps = jsonio.dumps_text
_loads = jsonio.loads


SCHEMA_VERSION = "2"


def table(resource: str) -> str:
    """The narrow table of ``resource``: id plus the indexed columns (paging scans this)."""
    return f"r_{resource}"


def doc_table(resource: str) -> str:
    """The table holding each record's JSON document."""
    return f"d_{resource}"


class Store:
    """The sandbox's state. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path = ":memory:", timezone: str | None = None) -> None:
        """Open (or create) the store at ``path``; ``timezone`` is kept in the file once set."""
        self.path = str(path)
        self._lock = threading.RLock()
        self._bulk = False
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys=OFF")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._create_schema()
        stored_tz = self.meta("timezone")
        if timezone and timezone != stored_tz:
            self.set_meta("timezone", timezone)
        self.timezone: str = timezone or stored_tz or "America/Chicago"
        clock.zone(self.timezone)  # fail early on an unknown zone
        self._db.create_function("dt_ticks", 1, self._ticks, deterministic=True)

    # ----------------------------------------------------------------- schema
    def _create_schema(self) -> None:
        stmts = [
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
            "CREATE TABLE IF NOT EXISTS shipment_items (shipment_id INTEGER NOT NULL,"
            " order_item_id INTEGER NOT NULL, quantity_shipped INTEGER,"
            " PRIMARY KEY (shipment_id, order_item_id))",
            "CREATE INDEX IF NOT EXISTS ix_shipment_items_oi ON shipment_items(order_item_id)",
            "CREATE TABLE IF NOT EXISTS vi_variants (vi_id INTEGER NOT NULL,"
            " variant_id INTEGER NOT NULL, doc TEXT, PRIMARY KEY (vi_id, variant_id))",
            "CREATE INDEX IF NOT EXISTS ix_vi_variants_v ON vi_variants(variant_id)",
            "CREATE TABLE IF NOT EXISTS product_categories (product_id INTEGER NOT NULL,"
            " category_id INTEGER NOT NULL, is_primary INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (product_id, category_id))",
            "CREATE INDEX IF NOT EXISTS ix_product_categories_c ON product_categories(category_id)",
            "CREATE TABLE IF NOT EXISTS uploads (path TEXT PRIMARY KEY COLLATE NOCASE,"
            " content BLOB, content_type TEXT, uploaded_at TEXT)",
        ]
        for res in R.catalogue().values():
            cols = "".join(f", c_{f} {_COLTYPE[k]}" for f, k in res.indexed.items())
            stmts.append(
                f"CREATE TABLE IF NOT EXISTS {table(res.name)} (id INTEGER PRIMARY KEY{cols})"
            )
            stmts.append(
                f"CREATE TABLE IF NOT EXISTS {doc_table(res.name)} "
                "(id INTEGER PRIMARY KEY, doc TEXT NOT NULL)"
            )
            for f in res.indexed:
                stmts.append(
                    f"CREATE INDEX IF NOT EXISTS ix_{res.name}__{f} ON {table(res.name)}(c_{f})"
                )
        with self._lock:
            self._db.execute("BEGIN")
            for s in stmts:
                self._db.execute(s)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
                )
            elif row[0] != SCHEMA_VERSION:
                self._db.execute("ROLLBACK")
                raise RuntimeError(
                    f"{self.path} has store schema {row[0]}, this sandbox "
                    f"needs {SCHEMA_VERSION}: re-seed it"
                )
            self._db.execute("COMMIT")

    def _ticks(self, value: object) -> int | None:
        return clock.to_ticks(value, self.timezone)

    # ------------------------------------------------------------------ basics
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (re-entrant: nested calls join the outer one)."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def bulk_loading(self) -> Iterator[Store]:
        """Faster seeding of a file store: no journal and no fsync until the block ends.

        A crash inside the block can corrupt the file (re-seed it); outside, WAL is back.
        """
        if self.path == ":memory:":
            yield self
            return
        with self._lock:
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._bulk = True
            try:
                yield self
            finally:
                self._bulk = False
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement and return all rows (internal use)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def meta(self, key: str) -> str | None:
        """A stored setting."""
        rows = self.execute("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def now(self) -> str:
        """The current store-local timestamp."""
        return clock.now_local(self.timezone)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # -------------------------------------------------------------- documents
    def _row(self, res: R.Resource, doc: dict[str, Any]) -> tuple:
        tz = self.timezone
        get = doc.get
        vals: list[Any] = [get("id")]
        append = vals.append
        for f, kind in res.indexed.items():
            v = get(f)
            if v is None:
                append(None)
            elif kind == "dt":
                append((clock.fast_ticks(v) or clock.to_ticks(v, tz)) if type(v) is str else None)
            elif kind == "text":
                append(v)
            elif kind == "int":
                append(v if type(v) is int else None)
            else:
                append(v if type(v) in (int, float) else None)
        return tuple(vals)

    def _full(self, res: R.Resource, doc: dict[str, Any]) -> dict[str, Any]:
        full = {**res.defaults, **doc}
        if res.nested and not res.nested.keys().isdisjoint(doc):
            for k in res.nested:
                full.pop(k, None)
        return full

    def _insert_sql(self, res: R.Resource, verb: str = "INSERT") -> str:
        cols = ["id", *(f"c_{f}" for f in res.indexed)]
        marks = ",".join("?" * len(cols))
        return f"{verb} INTO {table(res.name)} ({','.join(cols)}) VALUES ({marks})"

    def _write(
        self,
        db: sqlite3.Connection,
        res: R.Resource,
        docs: list[dict[str, Any]],
        verb: str = "INSERT",
    ) -> None:
        db.executemany(self._insert_sql(res, verb), [self._row(res, d) for d in docs])
        db.executemany(
            f"{verb} INTO {doc_table(res.name)} (id, doc) VALUES (?, ?)",
            [(d["id"], _dumps(d)) for d in docs],
        )

    def bulk_insert(self, resource: str, docs: Iterable[dict[str, Any]]) -> int:
        """Insert API-shaped docs (each with ``id``) in one transaction; returns the count.

        Missing spec fields get defaults. ``order_shipments`` docs may carry ``items`` of
        ``{id: order_item_id, quantity_shipped}``, ``variant_inventory`` docs ``variants`` of
        ``{id: product_variant_id, ...}``, ``products`` docs ``categories`` of
        ``{id, is_primary}`` (secondary categories).
        """
        res = R.get(resource)
        rows: list[dict[str, Any]] = []
        side: list[tuple[str, tuple]] = []
        for doc in docs:
            if doc.get("id") is None:
                raise ValueError(f"bulk_insert({resource}) needs an id on every doc")
            rows.append(self._full(res, doc))
            side.extend(self._side_rows(resource, doc))
        with self._lock:
            fast = self.path != ":memory:" and not self._db.in_transaction and not self._bulk
            if fast:  # a bulk load is re-runnable: skip fsyncs while it runs
                self._db.execute("PRAGMA synchronous=OFF")
            try:
                with self.transaction() as db:
                    self._write(db, res, rows)
                    for sql, params in _group(side):
                        db.executemany(sql, params)
            finally:
                if fast:
                    self._db.execute("PRAGMA synchronous=NORMAL")
        return len(rows)

    def _side_rows(self, resource: str, doc: dict[str, Any]) -> list[tuple[str, tuple]]:
        out: list[tuple[str, tuple]] = []
        if resource == "order_shipments" and doc.get("items"):
            for it in doc["items"]:
                out.append((_SQL_SHIP_ITEM, (doc["id"], it["id"], it.get("quantity_shipped"))))
        elif resource == "variant_inventory" and doc.get("variants"):
            for v in doc["variants"]:
                out.append((_SQL_VI_VAR, (doc["id"], v["id"], _dumps(v))))
        elif resource == "products" and doc.get("categories"):
            for c in doc["categories"]:
                out.append((_SQL_PROD_CAT, (doc["id"], c["id"], 1 if c.get("is_primary") else 0)))
        return out

    def next_id(self, resource: str) -> int:
        """The id the next created record of ``resource`` gets."""
        rows = self.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table(resource)}")
        return int(rows[0][0])

    def insert(self, resource: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Create one record (id assigned if absent; created_at/updated_at filled); returns it."""
        res = R.get(resource)
        with self.transaction() as db:
            doc = dict(doc)
            if doc.get("id") is None:
                doc["id"] = self.next_id(resource)
            now = self.now()
            for f in ("created_at", "updated_at"):
                if f in res.types and not doc.get(f):
                    doc[f] = now
            full = self._full(res, doc)
            self._write(db, res, [full])
            for sql, params in self._side_rows(resource, doc):
                db.execute(sql, params)
        return full

    def get(self, resource: str, id_: int) -> dict[str, Any] | None:
        """One record (flat: nested collections not included), or None."""
        rows = self.execute(f"SELECT doc FROM {doc_table(resource)} WHERE id=?", (id_,))
        return _loads(rows[0][0]) if rows else None

    def exists(self, resource: str, id_: int) -> bool:
        """Whether ``resource`` has a record ``id_``."""
        return bool(self.execute(f"SELECT 1 FROM {table(resource)} WHERE id=?", (id_,)))

    def update(self, resource: str, id_: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Apply ``fields`` to a record, moving ``updated_at`` (unless given); returns it.

        Raises KeyError when the record does not exist.
        """
        res = R.get(resource)
        with self.transaction() as db:
            cur = self.get(resource, id_)
            if cur is None:
                raise KeyError(f"{resource} {id_} not found")
            for k, v in fields.items():
                if k != "id" and k not in res.nested:
                    cur[k] = v
            if "updated_at" in res.types and "updated_at" not in fields:
                cur["updated_at"] = self.now()
            self._write(db, res, [cur], "INSERT OR REPLACE")
        return cur

    def delete(self, resource: str, id_: int) -> bool:
        """Delete one record (and its link rows); True when it existed."""
        with self.transaction() as db:
            n = db.execute(f"DELETE FROM {table(resource)} WHERE id=?", (id_,)).rowcount
            db.execute(f"DELETE FROM {doc_table(resource)} WHERE id=?", (id_,))
            if n and resource == "order_shipments":
                db.execute("DELETE FROM shipment_items WHERE shipment_id=?", (id_,))
            elif n and resource == "variant_inventory":
                db.execute("DELETE FROM vi_variants WHERE vi_id=?", (id_,))
            elif n and resource == "products":
                db.execute("DELETE FROM product_categories WHERE product_id=?", (id_,))
        return bool(n)

    # ---------------------------------------------------------------- queries
    def column(self, resource: str, field: str) -> str:
        """SQL expression of ``field``: its hidden column, else json_extract (ticks for dates)."""
        res = R.get(resource)
        if field == "id":
            return "r.id"
        if field in res.indexed:
            return f"r.c_{field}"
        expr = f"json_extract(d.doc, '$.{field}')"
        if field in res.datetimes:
            return f"dt_ticks({expr})"
        return expr

    def select(  # noqa: PLR0917 - internal, positional by design
        self,
        resource: str,
        where: str = "",
        params: Sequence[Any] = (),
        order: str = "r.id",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Records matching a WHERE clause built with :meth:`column` expressions.

        Two steps: ids from the narrow table (joined to the docs only when a non-indexed
        field is used), then the page's docs by id.
        """
        sql = self._from(resource, where + order) + (f" WHERE {where}" if where else "")
        sql = sql.replace("SELECT COUNT(*)", "SELECT r.id", 1) + f" ORDER BY {order}"
        args = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        with self._lock:
            ids = [r[0] for r in self._db.execute(sql, args)]
            return self.docs(resource, ids)

    def docs(self, resource: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The docs of ``ids``, in that order (missing ids skipped)."""
        found: dict[int, str] = {}
        for chunk in _chunks(ids, 900):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.execute(
                    f"SELECT id, doc FROM {doc_table(resource)} WHERE id IN ({marks})", chunk
                )
            )
        return [_loads(found[i]) for i in ids if i in found]

    def _from(self, resource: str, used: str) -> str:
        sql = f"SELECT COUNT(*) FROM {table(resource)} r"
        if "d.doc" in used:
            sql += f" JOIN {doc_table(resource)} d ON d.id = r.id"
        return sql

    def count(self, resource: str, where: str = "", params: Sequence[Any] = ()) -> int:
        """How many records match."""
        sql = self._from(resource, where) + (f" WHERE {where}" if where else "")
        return int(self.execute(sql, params)[0][0])

    def query(
        self,
        resource: str,
        filters: dict[str, Any] | None = None,
        sort: Sequence[str] = ("id",),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Convenience: records whose fields equal ``filters`` (None matches null), sorted."""
        clauses, params = [], []
        for f, v in (filters or {}).items():
            col = self.column(resource, f)
            if v is None:
                clauses.append(f"{col} IS NULL")
            else:
                clauses.append(f"{col} = ?")
                params.append(
                    clock.to_ticks(v, self.timezone) if f in R.get(resource).datetimes else v
                )
        order = ", ".join(
            f"{self.column(resource, s.lstrip('-'))} {'DESC' if s.startswith('-') else 'ASC'}"
            for s in sort
        )
        return self.select(resource, " AND ".join(clauses), params, order, limit, offset)

    def children(
        self, resource: str, fk: str, parent_ids: Sequence[int], order: str = "r.id"
    ) -> dict[int, list[dict[str, Any]]]:
        """Records of ``resource`` whose ``fk`` is one of ``parent_ids``, grouped (one query)."""
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in parent_ids}
        if not parent_ids:
            return out
        col = self.column(resource, fk)
        for chunk in _chunks(parent_ids, 900):
            marks = ",".join("?" * len(chunk))
            for d in self.select(resource, f"{col} IN ({marks})", chunk, order):
                out.setdefault(d.get(fk), []).append(d)
        return out

    def shipment_items(self, shipment_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Shipment lines ``{id, product_id, item_name, item_nr, quantity_shipped}`` (id: item)."""
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in shipment_ids}
        for chunk in _chunks(list(shipment_ids), 900):
            marks = ",".join("?" * len(chunk))
            rows = self.execute(
                "SELECT s.shipment_id, s.order_item_id, s.quantity_shipped, o.doc"
                " FROM shipment_items s LEFT JOIN d_order_items o ON o.id = s.order_item_id"
                f" WHERE s.shipment_id IN ({marks}) ORDER BY s.shipment_id, s.order_item_id",
                chunk,
            )
            for sid, oid, qty, odoc in rows:
                item = _loads(odoc) if odoc else {}
                out.setdefault(sid, []).append(
                    {
                        "id": oid,
                        "product_id": item.get("product_id"),
                        "item_name": item.get("item_name"),
                        "item_nr": item.get("item_number"),
                        "quantity_shipped": qty,
                    }
                )
        return out

    def set_shipment_items(self, shipment_id: int, items: Sequence[tuple[int, int]]) -> None:
        """Upsert ``(order_item_id, quantity_shipped)`` lines of a shipment."""
        with self.transaction() as db:
            db.executemany(_SQL_SHIP_ITEM, [(shipment_id, i, q) for i, q in items])

    def vi_variants(self, vi_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The product_variants making up each variant_inventory row (with variant_inventory_id)."""
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in vi_ids}
        for chunk in _chunks(list(vi_ids), 900):
            marks = ",".join("?" * len(chunk))
            rows = self.execute(
                "SELECT l.vi_id, l.doc, v.doc FROM vi_variants l"
                " LEFT JOIN d_product_variants v ON v.id = l.variant_id"
                f" WHERE l.vi_id IN ({marks}) ORDER BY l.vi_id, l.variant_id",
                chunk,
            )
            for vi_id, given, real in rows:
                d = _loads(real) if real else _loads(given or "{}")
                d["variant_inventory_id"] = vi_id
                out.setdefault(vi_id, []).append(d)
        return out

    def set_vi_variants(self, vi_id: int, variants: Sequence[dict[str, Any]]) -> None:
        """Replace the variants that make up a variant_inventory row."""
        with self.transaction() as db:
            db.execute("DELETE FROM vi_variants WHERE vi_id=?", (vi_id,))
            db.executemany(_SQL_VI_VAR, [(vi_id, v["id"], _dumps(v)) for v in variants])

    def product_categories(self, products: Sequence[dict[str, Any]]) -> dict[int, list[dict]]:
        """``{id, is_primary, name}`` per product: its primary category plus linked ones."""
        pids = [p["id"] for p in products]
        links: dict[int, list[tuple[int, bool]]] = {
            p["id"]: ([(p["primary_category_id"], True)] if p.get("primary_category_id") else [])
            for p in products
        }
        for chunk in _chunks(pids, 900):
            marks = ",".join("?" * len(chunk))
            for pid, cid, prim in self.execute(
                "SELECT product_id, category_id, is_primary FROM product_categories"
                f" WHERE product_id IN ({marks}) ORDER BY product_id, category_id",
                chunk,
            ):
                if all(c != cid for c, _ in links[pid]):
                    links[pid].append((cid, bool(prim)))
        cids = sorted({c for v in links.values() for c, _ in v})
        names: dict[int, Any] = {}
        for chunk in _chunks(cids, 900):
            marks = ",".join("?" * len(chunk))
            for cid, name in self.execute(
                f"SELECT id, c_name FROM r_categories WHERE id IN ({marks})", chunk
            ):
                names[cid] = name
        return {
            pid: [{"id": c, "is_primary": prim, "name": names.get(c)} for c, prim in v]
            for pid, v in links.items()
        }

    # ---------------------------------------------------------------- uploads
    def put_upload(self, path: str, content: bytes, content_type: str | None) -> None:
        """Store uploaded bytes under a site-relative path."""
        self.execute(
            "INSERT OR REPLACE INTO uploads(path, content, content_type, uploaded_at)"
            " VALUES (?, ?, ?, ?)",
            (path, content, content_type, self.now()),
        )

    def get_upload(self, path: str) -> tuple[bytes, str | None] | None:
        """Uploaded bytes and MIME type, or None."""
        rows = self.execute("SELECT content, content_type FROM uploads WHERE path=?", (path,))
        return (bytes(rows[0][0]), rows[0][1]) if rows else None


_SQL_SHIP_ITEM = (
    "INSERT OR REPLACE INTO shipment_items(shipment_id, order_item_id, quantity_shipped)"
    " VALUES (?, ?, ?)"
)
_SQL_VI_VAR = "INSERT OR REPLACE INTO vi_variants(vi_id, variant_id, doc) VALUES (?, ?, ?)"
_SQL_PROD_CAT = (
    "INSERT OR REPLACE INTO product_categories(product_id, category_id, is_primary)"
    " VALUES (?, ?, ?)"
)


def _group(side: list[tuple[str, tuple]]) -> list[tuple[str, list[tuple]]]:
    out: dict[str, list[tuple]] = {}
    for sql, params in side:
        out.setdefault(sql, []).append(params)
    return list(out.items())


def _chunks(seq: Sequence[Any], n: int) -> Iterator[list[Any]]:
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i : i + n]

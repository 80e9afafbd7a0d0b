"""API semantics over the store: reads with paging/expansion, validated writes, special routes."""

from __future__ import annotations

import json
import posixpath
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from cartcom_sandbox import clock, query
from cartcom_sandbox import resources as R  # noqa: N812
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.errors import ApiError
from cartcom_sandbox.store import Store
from cartcom_sandbox.webhooks import Change, check_subscription

Doc = dict[str, Any]
# Children removed with their parent (INF: the admin deletes them too).
CASCADE = {
    "products": (
        ("product_variants", "product_id"),
        ("variant_inventory", "product_id"),
        ("product_pictures", "product_id"),
        ("product_pricing", "product_id"),
    ),
    "orders": (
        ("order_items", "order_id"),
        ("order_payments", "order_id"),
        ("order_shipments", "order_id"),
    ),
}
INVENTORY_IDS = ("product_id", "variant_inventory_id", "item_number", "gtin", "item_name")
INVENTORY_SETTINGS = {
    "track_inventory": True,
    "remove_from_inventory_when": "Ordered",
    "out_of_stock_product_status_id": None,
    "in_stock_product_status_id": None,
    "back_order_product_status_id": None,
    "discontinued_product_status_id": None,
    "product_hide_no_inventory": False,
}


def resource(name: str) -> R.Resource:
    """The resource ``name`` or a 404."""
    try:
        return R.get(name)
    except KeyError:
        raise ApiError(404, f"No resource named '{name}'.") from None


class Engine:
    """Everything behind /api/v1, independent of HTTP."""

    def __init__(self, store: Store, config: SandboxConfig) -> None:
        """Serve ``store`` with ``config``."""
        self.store = store
        self.config = config
        self._write = threading.RLock()
        #: Told of each committed write made through the API, in order (webhooks.Webhooks).
        self.on_change: Callable[[Change], None] | None = None

    def _changed(self, action: str, name: str, before: Doc | None, after: Doc | None) -> None:
        """Report a committed write (call with the write lock held, so reports keep order)."""
        if self.on_change is not None and after is not None:
            self.on_change(Change(action, name, before, after))

    # ================================================================ reads
    def render(
        self, res: R.Resource, docs: list[Doc], expand: set[str], fields: list[str] | None = None
    ) -> list[Doc]:
        """Attach expanded nested collections (one query per collection) and project."""
        ids = [d["id"] for d in docs]
        for name in sorted(expand):
            groups = self._nested(res, name, docs, ids)
            for d in docs:
                d[name] = groups.get(d["id"], [])
        for name in res.null_nested:
            for d in docs:
                d.setdefault(name, None)
        if fields is not None:
            keep = fields + [n for n in sorted(expand) if n not in fields]
            docs = [{k: d[k] for k in keep if k in d} for d in docs]
        return docs

    def _nested(
        self, res: R.Resource, name: str, docs: list[Doc], ids: list[int]
    ) -> dict[int, list[Doc]]:
        spec = res.nested[name]
        s = self.store
        if spec.kind == "child":
            groups = s.children(spec.resource, spec.fk, ids)
            if spec.resource == "order_shipments" and (
                res.name != "orders" or self.config.shipment_items_in_order_expand
            ):
                sids = [x["id"] for g in groups.values() for x in g]
                items = s.shipment_items(sids)
                for g in groups.values():
                    for x in g:
                        x["items"] = items.get(x["id"], [])
            elif spec.resource in R.catalogue() and R.get(spec.resource).null_nested:
                for g in groups.values():
                    for x in g:
                        for n in R.get(spec.resource).null_nested:
                            x.setdefault(n, None)
            return groups
        if spec.kind == "shipment_items":
            return s.shipment_items(ids)
        if spec.kind == "vi_variants":
            return s.vi_variants(ids)
        if spec.kind == "product_categories":
            return s.product_categories(docs)
        return {}

    def list(
        self, name: str, args: Sequence[tuple[str, str]], page_url: Callable[[int], str]
    ) -> Doc:
        """``GET /{res}``: the paged wrapper."""
        res = resource(name)
        first = dict(reversed(list(args)))  # first value wins
        page, count = query.paging(first, self.config)
        where, params = query.filters(self.store, res, args)
        order = query.order_by(self.store, res, first.get("sort"))
        fields, fexp = query.projection(res, first.get("fields"))
        expand = query.expansion(res, first.get("expand")) | fexp
        total = self.store.count(name, where, params)
        if total == 0 and page == 1:
            if self.config.empty_page_status == 404:
                raise ApiError(404, "No records found.")
        elif page > query.last_page(total, count):
            raise ApiError(404, f"Page {page} is out of range.")
        docs = self.store.select(name, where, params, order, count, (page - 1) * count)
        out: Doc = {"total_count": total}
        if page < query.last_page(total, count) and total:
            out["next_page"] = page_url(page + 1)
        if page > 1:
            out["previous_page"] = page_url(page - 1)
        out[R.list_key(name, self.config.list_keys)] = self.render(res, docs, expand, fields)
        return out

    def _one(self, name: str, id_: int) -> tuple[R.Resource, Doc]:
        res = resource(name)
        doc = self.store.get(name, id_)
        if doc is None:
            raise ApiError(404, f"No {name} record with id {id_}.")
        return res, doc

    def get(self, name: str, id_: int, args: dict[str, str]) -> Doc:
        """``GET /{res}/{id}``."""
        res, doc = self._one(name, id_)
        fields, fexp = query.projection(res, args.get("fields"))
        expand = query.expansion(res, args.get("expand")) | fexp
        return self.render(res, [doc], expand, fields)[0]

    def filled(self, name: str, id_: int, args: dict[str, str]) -> Doc:
        """``GET /{res}/{id}/filled``: every nested collection filled; only ``fields`` applies."""
        res, doc = self._one(name, id_)
        fields, fexp = query.projection(res, args.get("fields"))
        return self.render(res, [doc], set(res.nested) if fields is None else fexp, fields)[0]

    def nested(self, name: str, id_: int, nested: str, args: dict[str, str]) -> Doc:
        """``GET /{res}/{id}/{nested}``: the wrapped nested list (``sort``, ``fields``)."""
        res, doc = self._one(name, id_)
        if nested not in res.nested:
            raise ApiError(404, f"{name} has no nested collection '{nested}'.")
        items = self._nested(res, nested, [doc], [id_]).get(id_, [])
        spec = res.nested[nested]
        if items and args.get("sort"):
            items = _sort_docs(items, args["sort"])
        if args.get("fields") and spec.kind == "child":
            child = R.get(spec.resource)
            fields, _ = query.projection(child, args["fields"])
            if fields is not None:
                items = [{k: d[k] for k in fields if k in d} for d in items]
        elif args.get("fields"):
            keep = [f.strip() for f in args["fields"].split(",") if f.strip()]
            items = [{k: d[k] for k in keep if k in d} for d in items]
        return {"total_count": len(items), nested: items}

    def select_many(self, name: str, args: dict[str, str]) -> Doc:
        """``GET /{res}/select_many?ids=1,2``."""
        res = resource(name)
        raw = args.get("ids", "")
        ids: list[int] = []
        for piece in raw.split(","):
            part = piece.strip()
            if not part:
                continue
            try:
                ids.append(int(part))
            except ValueError:
                raise ApiError(400, f"Invalid resource ID '{part}'.") from None
        if not ids:
            raise ApiError(400, "This request requires one or more resource IDs.")
        order = query.order_by(self.store, res, args.get("sort"))
        marks = ",".join("?" * len(ids))
        docs = self.store.select(name, f"r.id IN ({marks})", ids, order)
        fields, fexp = query.projection(res, args.get("fields"))
        expand = query.expansion(res, args.get("expand")) | fexp
        return {
            "total_count": len(docs),
            R.list_key(name, self.config.list_keys): self.render(res, docs, expand, fields),
        }

    # =============================================================== writes
    def _check(self, res: R.Resource, body: Any, creating: bool) -> Doc:
        """Validate a write body; returns the storable fields (400 missing, 409 invalid)."""
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        if creating:
            missing = [
                f
                for f in res.required
                if body.get(f) is None or body.get(f) == "" or body.get(f) == []
            ]
            if missing:
                raise ApiError(400, f"Missing required field(s): {', '.join(missing)}.")
        out: Doc = {}
        tz = self.store.timezone
        for key, given in body.items():
            value = given
            if key in ("id", "created_at", "updated_at") or key not in res.types:
                continue
            ftype = res.types[key]
            if value is None:
                if key in res.required:
                    raise ApiError(409, f"Invalid value for '{key}': it is required.")
                out[key] = None
                continue
            ok = {
                "integer": isinstance(value, int) and not isinstance(value, bool),
                "number": isinstance(value, int | float) and not isinstance(value, bool),
                "boolean": isinstance(value, bool),
                "string": isinstance(value, str),
                "array": isinstance(value, list),
                "object": isinstance(value, dict),
            }[ftype]
            if not ok:
                raise ApiError(
                    409, f"Invalid value for '{key}': expected {ftype}, got {type(value).__name__}."
                )
            if key in res.datetimes and value != "":
                if clock.to_ticks(value, tz) is None:
                    raise ApiError(409, f"Invalid value for '{key}': not a datetime.")
                value = clock.normalise_input(value, tz)
            if key in res.required and value == "":
                raise ApiError(409, f"Invalid value for '{key}': it is required.")
            if key in res.fks:
                target, none_value = res.fks[key]
                if value != none_value and not self.store.exists(target, value):
                    raise ApiError(
                        409, f"Invalid value for '{key}': {target} {value} does not exist."
                    )
            out[key] = value
        return out

    def _external_image(self, fields: Doc, current: Doc) -> None:
        """``external_images="rewrite"`` (INF): a downloaded external image gets a local path."""
        mode = self.config.external_images
        if mode not in ("keep", "rewrite"):
            raise ValueError(f"external_images is 'keep' or 'rewrite', not {mode!r}")
        url = fields.get("image_file")
        download = fields.get("download_external_image", current.get("download_external_image"))
        if mode == "keep" or download is not True or not isinstance(url, str):
            return
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return
        base = posixpath.basename(unquote(parts.path))
        if base:
            fields["image_file"] = f"/shared/images/{base}"

    def _vi_variants(self, body: Doc, product_id: int | None) -> list[Doc] | None:
        if "variants" not in body:
            return None
        variants = body["variants"]
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise ApiError(409, "Invalid value for 'variants': expected a list of objects.")
        out = []
        for v in variants:
            vid = v.get("id")
            if not isinstance(vid, int) or isinstance(vid, bool):
                raise ApiError(409, "Invalid value for 'variants[].id': expected integer.")
            pv = self.store.get("product_variants", vid)
            if pv is None:
                raise ApiError(
                    409,
                    f"Invalid value for 'variants[].id': product_variants {vid} does not exist.",
                )
            if product_id is not None and pv.get("product_id") != product_id:
                raise ApiError(
                    409,
                    f"Invalid value for 'variants[].id': product_variants "
                    f"{vid} belongs to another product.",
                )
            out.append(
                {
                    "id": vid,
                    "product_id": pv.get("product_id"),
                    "variant_group_id": pv.get("variant_group_id"),
                }
            )
        return out

    def _after_write(self, res: R.Resource, id_: int, body: Doc, product_id: Any) -> None:
        if res.name == "variant_inventory":
            variants = self._vi_variants(body, product_id)
            if variants is not None:
                self.store.set_vi_variants(id_, variants)

    def create_or_update(self, name: str, body: Any) -> tuple[int, Doc]:
        """``POST /{res}``: 201 create, 200 when ``id`` names an existing record, else 404."""
        res = resource(name)
        if name == "order_shipments":
            return self.post_shipment(body)
        if isinstance(body, dict) and body.get("id") is not None:
            id_ = body["id"]
            if not isinstance(id_, int) or isinstance(id_, bool):
                raise ApiError(409, "Invalid value for 'id': expected integer.")
            return 200, self.update(name, id_, body)
        with self._write:
            fields = self._check(res, body, creating=True)
            if name == "product_pictures":
                self._external_image(fields, {})
            if name == "variant_inventory":
                self._vi_variants(body, fields.get("product_id"))  # validate before writing
            if name == "webhooks":
                fields = check_subscription(fields, None)
            with self.store.transaction():
                doc = self.store.insert(name, fields)
                self._after_write(res, doc["id"], body, fields.get("product_id"))
            stored = self.store.get(name, doc["id"]) or doc
            self._changed("created", name, None, stored)
            return 201, self.render(res, [stored], set())[0]

    def update(self, name: str, id_: int, body: Any) -> Doc:
        """``PUT /{res}/{id}``: partial update; the full resource back."""
        res = resource(name)
        if name == "order_shipments":
            if isinstance(body, dict):
                body = {**body, "id": id_}
            return self.post_shipment(body)[1]
        with self._write:
            cur = self.store.get(name, id_)
            if cur is None:
                raise ApiError(404, f"No {name} record with id {id_}.")
            fields = self._check(res, body, creating=False)
            if name == "product_pictures":
                self._external_image(fields, cur)
            pid = fields.get("product_id", cur.get("product_id"))
            if name == "variant_inventory":
                self._vi_variants(body, pid)
            if name == "webhooks":
                fields = check_subscription(fields, cur)
            with self.store.transaction():
                self.store.update(name, id_, fields)
                self._after_write(res, id_, body, pid)
            stored = self.store.get(name, id_)
            self._changed("updated", name, cur, stored)
            return self.render(res, [stored or {}], set())[0]

    def delete(self, name: str, id_: int) -> None:
        """``DELETE /{res}/{id}``: 204, or 404. Children of products/orders go too (INF)."""
        resource(name)
        with self._write, self.store.transaction():
            if not self.store.delete(name, id_):
                raise ApiError(404, f"No {name} record with id {id_}.")
            for child, fk in CASCADE.get(name, ()):
                for d in self.store.query(child, {fk: id_}):
                    self.store.delete(child, d["id"])

    # ======================================================= special routes
    def set_order_status(self, id_: int, body: Any) -> Doc:
        """``PUT /orders/{id}/status``: history fields move; the order back."""
        if not isinstance(body, dict) or body.get("order_status_id") is None:
            raise ApiError(400, "Missing required field(s): order_status_id.")
        sid = body["order_status_id"]
        with self._write:
            order = self.store.get("orders", id_)
            if order is None:
                raise ApiError(404, f"No orders record with id {id_}.")
            if (
                not isinstance(sid, int)
                or isinstance(sid, bool)
                or not self.store.exists("order_statuses", sid)
            ):
                raise ApiError(
                    409,
                    f"Invalid value for 'order_status_id': order_statuses {sid} does not exist.",
                )
            if order.get("order_status_id") != sid:
                now = self.store.now()
                before = order
                order = self.store.update(
                    "orders",
                    id_,
                    {
                        "previous_order_status_id": order.get("order_status_id"),
                        "order_status_id": sid,
                        "order_status_last_changed_at": now,
                        "updated_at": now,
                    },
                )
                self._changed("status", "orders", before, order)
        return self.render(R.get("orders"), [order], set())[0]

    def post_shipment(self, body: Any) -> tuple[int, Doc]:
        """``POST /order_shipments``: upsert by id, else by shipment_name within the order."""
        res = R.get("order_shipments")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        with self._write:
            existing = None
            if body.get("id") is not None:
                existing = (
                    self.store.get("order_shipments", body["id"])
                    if isinstance(body["id"], int)
                    else None
                )
                if existing is None:
                    raise ApiError(404, f"No order_shipments record with id {body['id']}.")
            elif body.get("order_id") is not None and body.get("shipment_name"):
                found = self.store.query(
                    "order_shipments",
                    {"order_id": body["order_id"], "shipment_name": body["shipment_name"]},
                    limit=1,
                )
                existing = found[0] if found else None
            fields = self._check(res, body, creating=existing is None)
            order_id = fields.get("order_id", existing and existing.get("order_id"))
            items = self._shipment_items(body.get("items"), order_id)
            with self.store.transaction():
                if existing is None:
                    doc = self.store.insert("order_shipments", fields)
                    status = 201
                else:
                    doc = self.store.update("order_shipments", existing["id"], fields)
                    status = 200
                if items:
                    self.store.set_shipment_items(doc["id"], items)
            out = self.store.get("order_shipments", doc["id"]) or doc
            out["items"] = self.store.shipment_items([doc["id"]])[doc["id"]]
            return status, out

    def _shipment_items(self, items: Any, order_id: int | None) -> list[tuple[int, int]]:
        if items is None:
            return []
        if not isinstance(items, list):
            raise ApiError(409, "Invalid value for 'items': expected a list.")
        out = []
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get("id"), int):
                raise ApiError(409, "Invalid value for 'items[].id': expected an order item id.")
            qty = it.get("quantity_shipped", 0)
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
                raise ApiError(
                    409,
                    "Invalid value for 'items[].quantity_shipped': expected a "
                    "non-negative integer.",
                )
            oi = self.store.get("order_items", it["id"])
            if oi is None or oi.get("order_id") != order_id:
                raise ApiError(
                    409,
                    f"Invalid value for 'items[].id': order item {it['id']} "
                    f"is not on order {order_id}.",
                )
            if isinstance(oi.get("quantity"), int | float) and qty > oi["quantity"]:
                raise ApiError(
                    409,
                    f"Invalid value for 'items[].quantity_shipped': {qty} is "
                    f"more than the {oi['quantity']} ordered.",
                )
            out.append((it["id"], qty))
        return out

    def import_many(self, body: Any) -> Doc:
        """``POST /products/importMany``: per-line create/update, optionally matched by SKU.

        Lines are ``{lookup_by_sku (or look_by_sku), product, category?, manufacturer?}``; a
        category or manufacturer given is created and linked (never updated, DOC).
        """
        if not isinstance(body, list):
            raise ApiError(400, "The request body must be a JSON array of import lines.")
        results, errors = [], 0
        for line_no, line in enumerate(body, start=1):
            try:
                status, entity = self._import_line(line)
            except ApiError as err:
                status, entity = err.status, None
                errors += 1
            results.append({"line_item": line_no, "status_code": status, "entity_id": entity})
        return {"total_errors": errors, "results": results}

    def _import_line(self, line: Any) -> tuple[int, int]:
        if not isinstance(line, dict) or not isinstance(line.get("product"), dict):
            raise ApiError(400, "An import line needs a 'product' object.")
        product = dict(line["product"])
        by_sku = bool(line.get("lookup_by_sku", line.get("look_by_sku", False)))
        with self._write, self.store.transaction():
            for key, res_name, field in (
                ("category", "categories", "primary_category_id"),
                ("manufacturer", "manufacturers", "manufacturer_id"),
            ):
                if isinstance(line.get(key), dict):
                    status, made = self.create_or_update(
                        res_name, {k: v for k, v in line[key].items() if k != "id"}
                    )
                    product[field] = made["id"]
            if by_sku and product.get("item_number") and product.get("id") is None:
                found = self.store.query(
                    "products", {"item_number": product["item_number"]}, limit=1
                )
                if found:
                    product["id"] = found[0]["id"]
            status, doc = self.create_or_update("products", product)
        return status, doc["id"]

    def rebuild_tree(self) -> None:
        """``POST /categories/rebuild_tree``: recompute every lookup_path ("A > B")."""
        with self._write:
            cats = {c["id"]: c for c in self.store.query("categories")}

            def path(cid: int, depth: int = 0) -> str:
                c = cats[cid]
                parent = c.get("parent_category_id")
                name = c.get("name") or ""
                if parent and parent in cats and depth < 50:
                    return f"{path(parent, depth + 1)} > {name}"
                return name

            with self.store.transaction():
                for cid, c in cats.items():
                    new = path(cid)
                    if c.get("lookup_path") != new:
                        self.store.update(
                            "categories",
                            cid,
                            {"lookup_path": new, "updated_at": c.get("updated_at")},
                        )

    def upload(self, meta: Any, content: bytes, content_type: str | None) -> None:
        """``POST /upload``: keep the bytes under ``destination``."""
        if not isinstance(meta, dict) or not meta.get("destination"):
            raise ApiError(400, "The upload requires a JSON part with a 'destination'.")
        dest = str(meta["destination"])
        if not dest.startswith("/"):
            dest = "/" + dest
        if self.store.get_upload(dest) is not None and not meta.get("overwrite", False):
            raise ApiError(409, f"'{dest}' already exists and overwrite is false.")
        self.store.put_upload(dest, content, content_type)

    # ============================================================ inventory
    def _inventory_target(self, ident: dict[str, Any]) -> tuple[str, Doc]:
        given = [k for k in INVENTORY_IDS if ident.get(k) not in (None, "")]
        if len(given) != 1:
            raise ApiError(
                400,
                "Exactly one of product_id, variant_inventory_id, item_number, "
                "gtin or item_name is required.",
            )
        key = given[0]
        value = ident[key]
        if key in ("product_id", "variant_inventory_id"):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ApiError(409, f"Invalid value for '{key}': expected integer.") from None
            name = "products" if key == "product_id" else "variant_inventory"
            doc = self.store.get(name, value)
            if doc is None:
                raise ApiError(404, f"No inventory item with {key} {value}.")
            return name, doc
        hits: list[tuple[str, Doc]] = [
            ("products", d) for d in self.store.query("products", {key: value}, limit=2)
        ]
        if key != "item_name":
            hits += [
                ("variant_inventory", d)
                for d in self.store.query("variant_inventory", {key: value}, limit=2)
            ]
        if not hits:
            raise ApiError(404, f"No inventory item with {key} '{value}'.")
        if len(hits) > 1:
            raise ApiError(409, f"More than one inventory item has {key} '{value}'.")
        return hits[0]

    def _inventory_view(self, name: str, doc: Doc) -> Doc:
        if name == "products":
            return {
                "product_id": doc["id"],
                "variant_inventory_id": None,
                "item_number": doc.get("item_number"),
                "item_name": doc.get("item_name"),
                "gtin": doc.get("gtin"),
                "quantity": doc.get("quantity_on_hand"),
            }
        product = self.store.get("products", doc.get("product_id")) or {}
        return {
            "product_id": doc.get("product_id"),
            "variant_inventory_id": doc["id"],
            "item_number": doc.get("item_number"),
            "item_name": product.get("item_name"),
            "gtin": doc.get("gtin"),
            "quantity": doc.get("inventory"),
        }

    def inventory(self, args: dict[str, str]) -> Doc:
        """``GET /inventory?<one identifier>``."""
        return self._inventory_view(*self._inventory_target(args))

    def inventory_change(self, op: str, body: Any) -> Doc:
        """``POST /inventory/set|add|remove`` ``{identifier, quantity}``."""
        if op not in ("set", "add", "remove"):
            raise ApiError(404, f"No inventory operation '{op}'.")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        if body.get("quantity") is None:
            raise ApiError(400, "Missing required field(s): quantity.")
        qty = body["quantity"]
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            raise ApiError(409, "Invalid value for 'quantity': expected a non-negative integer.")
        with self._write:
            name, doc = self._inventory_target(body)
            field = "quantity_on_hand" if name == "products" else "inventory"
            cur = doc.get(field) or 0
            new = qty if op == "set" else cur + qty if op == "add" else cur - qty
            before, doc = doc, self.store.update(name, doc["id"], {field: new})
            self._changed("updated", name, before, doc)
            return self._inventory_view(name, doc)

    def inventory_settings(self, body: Any = None) -> Doc:
        """``GET``/``PUT /inventory/settings``."""
        cur = dict(INVENTORY_SETTINGS)
        raw = self.store.meta("inventory_settings")
        if raw:
            cur.update(json.loads(raw))
        if body is not None:
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.")
            cur.update({k: v for k, v in body.items() if k in INVENTORY_SETTINGS})
            self.store.set_meta("inventory_settings", json.dumps(cur))
        return cur


def _sort_docs(items: list[Doc], raw: str) -> list[Doc]:
    """Sort nested rows in Python (few rows): nulls first, text case-insensitive, dates in UTC."""
    for key in reversed([k.strip() for k in raw.split(",") if k.strip()]):
        name = key.lstrip("-+")

        def sort_key(d: Doc, n: str = name) -> tuple:
            v = d.get(n)
            if v is None or v == "":
                return (0, 0)
            if isinstance(v, str):
                ticks = clock.to_ticks(v)
                return (1, ticks) if ticks is not None else (2, v.lower())
            return (1, v)

        items = sorted(items, key=sort_key, reverse=key.startswith("-"))
    return items

"""Catalog and settings documents: store, statuses, categories, brands, products, variants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from cartcom_sandbox.seeding import data
from cartcom_sandbox.seeding.context import DAY, HOUR, Ctx, money
from cartcom_sandbox.seeding.gtin import GtinAllocator
from cartcom_sandbox.seeding.timefmt import TICKS

Doc = dict
Emit = Iterator[tuple[str, Doc]]


@dataclass
class Sellable:
    """One thing an order line can point at (a simple product or one variant combination)."""

    product_id: int
    item_number: str
    item_number_full: str
    item_name: str
    price: float
    cost: float
    weight: float
    variant_inventory_id: int | None = None
    variants: list[dict] | None = None  # order_items.variants payload
    description: str = ""


@dataclass
class CatalogIndex:
    """What the order generator needs to know about the catalog."""

    sellables: list[list[Sellable]] = field(default_factory=list)  # one list per product
    cum_weights: list[float] = field(default_factory=list)  # popularity, per product
    status_ids: dict[str, int] = field(default_factory=dict)  # order status name -> id
    product_status_ids: dict[str, int] = field(default_factory=dict)
    services: list[dict] = field(default_factory=list)  # provider services, with provider
    custom_methods: list[dict] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


def _stamp(ctx: Ctx, rng, created: int, updated: int | None = None) -> dict:
    created_s = ctx.ts(rng, created)
    if updated is None or updated - created < TICKS:
        return {"created_at": created_s, "updated_at": created_s}
    return {"created_at": created_s, "updated_at": ctx.ts(rng, updated)}


def settings_docs(ctx: Ctx, idx: CatalogIndex) -> Emit:
    """The store, statuses, variant groups, shipping providers, services and custom methods."""
    rng = ctx.rng("settings")
    born = ctx.start - 900 * DAY
    yield (
        "stores",
        {
            "id": 1,
            "name": "Lone Star Outfitters",
            "domain_name": "www.lonestar-outfitters.example",
            "email": "orders@lonestar-outfitters.example",
            "phone": "512-555-0142",
            "fax": "",
            "keywords": "",
            "description": "Apparel, home and outdoor goods",
            "all_catalog": True,
            "is_micro_store": False,
            "parent_store_id": None,
            "profile_id": None,
            "company_name": "Lone Star Outfitters LLC",
            "address_line_1": "1100 Congress Ave",
            "address_line_2": "Suite 200",
            "city": "Austin",
            "state": "Texas",
            "postal_code": "78701-2412",
            "country": "United States",
            "billing_first_name": "Dana",
            "billing_last_name": "Reyes",
            "tech_email": "it@lonestar-outfitters.example",
            "tech_first_name": "Sam",
            "tech_last_name": "Ortiz",
            "tech_same_as_billing": False,
            "store_logo": "/shared/images/logo.png",
            "store_image": "",
            "testimonial_count": 0,
            "average_testimonial_rating": 0,
        },
    )
    for i, (name, unavailable, back, show, frame) in enumerate(data.PRODUCT_STATUSES, 1):
        idx.product_status_ids[name] = i
        yield (
            "product_statuses",
            {
                "id": i,
                "name": name,
                "time_frame": frame,
                "is_unavailable": unavailable,
                "is_hidden": False,
                "is_back_ordered": back,
                "show_quantity": show,
                **_stamp(ctx, rng, born + i * HOUR),
            },
        )
    for i, (name, flags, color) in enumerate(data.ORDER_STATUSES, 1):
        idx.status_ids[name] = i
        doc = {"id": i, "name": name, "color": color, "email_template_id": None}
        for flag in data.STATUS_FLAGS:
            doc[flag] = bool(flags.get(flag))
        doc.update(_stamp(ctx, rng, born + i * HOUR))
        yield "order_statuses", doc
    for i, name in enumerate(("Size", "Color"), 1):
        yield (
            "variant_groups",
            {
                "id": i,
                "name": name,
                "sort_order": i,
                "is_hidden": False,
                "display_type": "DropDown",
                "group_header_html": "",
                "public_description_html": "",
                "group_footer_html": "",
                "is_non_inventory": False,
                **_stamp(ctx, rng, born + (20 + i) * HOUR),
            },
        )
    service_id = 0
    for pid, (name, code, url, services) in enumerate(data.SHIPPING_PROVIDERS, 1):
        yield (
            "shipping_providers",
            {
                "id": pid,
                "name": name,
                "provider_code": code,
                "is_enabled": True,
                "markup_amount": "0",
                "markup_type": "Dollar",
                "additional_markup_percent": 0,
                "additional_weight_per_package": 0,
                **_stamp(ctx, rng, born + (30 + pid) * HOUR),
            },
        )
        for identifier, sname, cost in services:
            service_id += 1
            yield (
                "shipping_provider_services",
                {
                    "id": service_id,
                    "shipping_provider_id": pid,
                    "identifier": identifier,
                    "name": sname,
                    "shipping_provider_code": code,
                    "is_enabled": True,
                    "allow_apo": name == "USPS",
                    "allow_po_box": name == "USPS",
                    **_stamp(ctx, rng, born + (40 + service_id) * HOUR),
                },
            )
            idx.services.append(
                {
                    "id": service_id,
                    "identifier": identifier,
                    "name": sname,
                    "provider": name,
                    "cost": cost,
                    "url": url,
                }
            )
    for i, (name, cost, default, desc) in enumerate(data.CUSTOM_SHIPPING_METHODS, 1):
        yield (
            "custom_shipping_methods",
            {
                "id": i,
                "name": name,
                "is_enabled": True,
                "is_default": default,
                "markup_type": "Dollar",
                "markup_amount": "0",
                "description": desc,
                "use_base_rate": False,
                "is_calculated_method": False,
                "admin_only": name == "Freight",
                **_stamp(ctx, rng, born + (60 + i) * HOUR),
            },
        )
        idx.custom_methods.append({"id": i, "name": name, "cost": cost})


def _categories(ctx: Ctx, rng) -> tuple[list[Doc], dict[str, int]]:
    born = ctx.start - 850 * DAY
    ids: dict[str, int] = {}
    docs: list[Doc] = []
    paths = [p for p, _k, _x, _r in data.CATEGORY_LEAVES] + data.SECONDARY_CATEGORIES
    for path in paths:
        parts = path.split(" > ")
        for depth in range(1, len(parts) + 1):
            sub = " > ".join(parts[:depth])
            if sub in ids:
                continue
            cid = len(ids) + 1
            ids[sub] = cid
            name = parts[depth - 1]
            parent = ids[" > ".join(parts[: depth - 1])] if depth > 1 else 0
            slug = sub.lower().replace(" > ", "/").replace(" ", "-")
            docs.append(
                {
                    "id": cid,
                    "name": name,
                    "short_description": f"Shop {name.lower()}",
                    "sort_order": cid,
                    "is_hidden": False,
                    "parent_category_id": parent,
                    "max_quantity": 0,
                    "category_thumbnail": "",
                    "page_title": name,
                    "lookup_path": sub,
                    "keywords": name.lower(),
                    "meta_description": "",
                    "category_image": "",
                    "external_content_url": "",
                    "is_category_content_displayed": True,
                    "are_subcategory_products_displayed": depth == 1,
                    "url_rewrite": f"/{slug}",
                    "default_product_picture": "",
                    "alternate_thumbnail": "",
                    "head_tags": "",
                    "cat_image_alt_text": "",
                    "thumb_image_alt_text": "",
                    "is_hide_from_site_maps": False,
                    **_stamp(ctx, rng, born + cid * HOUR, born + cid * HOUR + 30 * DAY),
                }
            )
    return docs, ids


def catalog_docs(ctx: Ctx, idx: CatalogIndex) -> Emit:
    """Categories, manufacturers and ``cfg.products`` products with their children."""
    rng = ctx.rng("catalog")
    cats, cat_ids = _categories(ctx, rng)
    for doc in cats:
        yield "categories", doc
    born = ctx.start - 800 * DAY
    brands = []
    for i, (name, code) in enumerate(data.BRANDS, 1):
        brands.append((i, name, code, i % 4 == 0))  # every 4th brand prints EAN-13
        yield (
            "manufacturers",
            {
                "id": i,
                "name": name,
                "description": f"{name} products",
                "is_hidden": False,
                "sort_order": None if i % 5 else i,
                "manufacturer_logo_url": "",
                "page_title": name,
                "keywords": "",
                "meta_description": "",
                "url_rewrite": "/"
                + name.lower().replace(" ", "-").replace(".", "").replace("&", "n"),
                "head_tags": "",
                "brand_code": code,
                **_stamp(ctx, rng, born + i * HOUR),
            },
        )
    leaves = [(cat_ids[p], kind, prefix, pr) for p, kind, prefix, pr in data.CATEGORY_LEAVES]
    leaf_cum = list(accumulate(3 if kind != "simple" else 2 for _c, kind, _p, _r in leaves))
    gtins = GtinAllocator()
    ids = {"pv": 0, "vi": 0, "pricing": 0, "pic": 0}
    weights = []
    ps = idx.product_status_ids
    secondary = [cat_ids[name] for name in data.SECONDARY_CATEGORIES]
    for pid in range(1, ctx.cfg.products + 1):
        leaf = leaves[rng.choices(range(len(leaves)), cum_weights=leaf_cum)[0]]
        brand = brands[rng.randrange(len(brands))]
        yield from _product(
            ctx,
            rng,
            pid,
            leaf=leaf,
            brand=brand,
            gtins=gtins,
            ids=ids,
            ps=ps,
            idx=idx,
            secondary=secondary,
        )
        weights.append(1.0 / (1 + (pid * 7919 % ctx.cfg.products) / 25) ** 0.9)
    idx.cum_weights = list(accumulate(weights))
    idx.facts["product_count"] = ctx.cfg.products


def _product(ctx, rng, pid, *, leaf, brand, gtins, ids, ps, idx, secondary) -> Emit:
    cat_id, kind, prefix, (lo, hi) = leaf
    brand_id, brand_name, brand_code, ean = brand
    sku = f"{prefix}-{10000 + pid:05d}"
    noun = rng.choice(data.NOUNS[prefix])
    name = f"{rng.choice(data.ADJECTIVES)} {rng.choice(data.MATERIALS)} {noun}"
    price = float(int(lo + rng.random() * (hi - lo))) + rng.choice((0.99, 0.95, 0.0, 0.49))
    cost = money(price * (0.35 + rng.random() * 0.25))
    retail = money(price * (1 + rng.choice((0, 0, 0.2, 0.25, 0.4)))) if rng.random() < 0.6 else 0.0
    weight = round(0.2 + rng.random() * (12 if kind == "simple" else 3), 2)
    created = ctx.between(rng, ctx.start - 730 * DAY, ctx.start - DAY)
    updated = ctx.between(rng, created + DAY, ctx.now) if rng.random() < 0.7 else created
    stamp = _stamp(ctx, rng, created, updated)
    created_null = rng.random() < 0.01  # seen on live data (child product sample)
    variant = kind != "simple"
    discontinued = rng.random() < 0.02
    mpn = f"{brand_code}-{rng.randrange(100000, 999999)}"
    sellables: list = []
    children: list[tuple[str, Doc]] = []
    qty_total = 0
    if variant:
        sizes_all = data.SIZES_APPAREL if kind == "sizecolor" else data.SIZES_SHOES
        n = rng.randint(3, len(sizes_all)) if kind == "sizecolor" else rng.randint(4, 7)
        first = rng.randrange(len(sizes_all) - n + 1)
        sizes = sizes_all[first : first + n]
        colors = (
            []
            if kind == "sizecolor" and rng.random() < 0.1
            else sorted(rng.sample(range(len(data.COLORS)), rng.randint(1, 4)))
        )
        size_pv = []
        for i, size in enumerate(sizes):
            ids["pv"] += 1
            size_pv.append((ids["pv"], size))
            children.append(
                (
                    "product_variants",
                    {
                        "id": ids["pv"],
                        "product_id": pid,
                        "variant_group_id": 1,
                        "description": size,
                        "price_adjustment": 0.0,
                        "price_adjustment_type": "",
                        "sort_order": i + 1,
                        "item_number_extension": f"-{size}",
                        "item_number_sort_order": 1,
                        "is_hidden": False,
                        "weight": 0.0,
                        "weight_type": "+",
                        "is_default_selection": i == 0,
                        "swatch_file": "",
                        "swatch_thumbnail": "",
                        "swatch_thumbnail_color": "",
                        **stamp,
                    },
                )
            )
        color_pv = []
        for i, ci in enumerate(colors):
            cname, ccode, chex = data.COLORS[ci]
            ids["pv"] += 1
            color_pv.append((ids["pv"], cname, ccode))
            children.append(
                (
                    "product_variants",
                    {
                        "id": ids["pv"],
                        "product_id": pid,
                        "variant_group_id": 2,
                        "description": cname,
                        "price_adjustment": 0.0,
                        "price_adjustment_type": "",
                        "sort_order": i + 1,
                        "item_number_extension": f"-{ccode}",
                        "item_number_sort_order": 2,
                        "is_hidden": False,
                        "weight": 0.0,
                        "weight_type": "+",
                        "is_default_selection": i == 0,
                        "swatch_file": f"/shared/images/swatches/{ccode.lower()}.png",
                        "swatch_thumbnail": "",
                        "swatch_thumbnail_color": chex,
                        **stamp,
                    },
                )
            )
        combos = [(s, c) for s in size_pv for c in (color_pv or [None])]
        for (spv, size), color in combos:
            ids["vi"] += 1
            vi_id = ids["vi"]
            ext = f"-{size}" + (f"-{color[2]}" if color else "")
            vi_sku = sku + ext
            surcharge = 2.0 if size in ("XL", "12") else 4.0 if size in ("XXL", "13") else 0.0
            vi_price = money(price + surcharge)
            inv = 0 if rng.random() < 0.08 else rng.randint(1, 120)
            qty_total += inv
            desc = f"Size: {size}" + (f", Color: {color[1]}" if color else "")
            links = [{"id": spv, "product_id": pid, "variant_group_id": 1}]
            line_variants = [{"id": spv, "description": f"Size: {size}", "variant_group_id": 1}]
            if color:
                links.append({"id": color[0], "product_id": pid, "variant_group_id": 2})
                line_variants.append(
                    {"id": color[0], "description": f"Color: {color[1]}", "variant_group_id": 2}
                )
            status = (
                ps["Discontinued"]
                if discontinued
                else (ps["In Stock"] if inv else ps["Out of Stock"])
            )
            children.append(
                (
                    "variant_inventory",
                    {
                        "id": vi_id,
                        "product_id": pid,
                        "inventory": inv,
                        "item_number": vi_sku,
                        "manufacturer_item_number": mpn + ext,
                        "gtin": gtins.next(brand_id, ean),
                        "product_status_id": status,
                        "weight": weight,
                        "height": None,
                        "length": None,
                        "width": None,
                        "retail": retail or None,
                        "low_stock_warning_at": None,
                        "low_stock_warning_enabled": False,
                        "variant_inventory_image": (
                            f"/shared/images/{vi_sku}.jpg" if rng.random() < 0.3 else ""
                        ),
                        "description": desc,
                        "quickbooks_item_id": "",
                        "shipper_hq_shipping_groups": "",
                        "shipper_hq_dimensional_rule_groups": "",
                        "shipper_hq_packing_boxes": "",
                        "variants": links,
                        **stamp,
                    },
                )
            )
            ids["pricing"] += 1
            children.append(
                (
                    "product_pricing",
                    {
                        "id": ids["pricing"],
                        "product_id": pid,
                        "store_id": None,
                        "customer_type_id": None,
                        "variant_inventory_id": vi_id,
                        "sale_type_id": None,
                        "start_date": None,
                        "end_date": None,
                        "starting_quantity": 1,
                        "price": vi_price,
                        "cost": cost,
                        "price_calculation_id": None,
                        "variant_id": None,
                        "variant_price_surcharge": "",
                        **stamp,
                    },
                )
            )
            sellables.append(
                Sellable(
                    pid,
                    sku,
                    vi_sku,
                    name,
                    vi_price,
                    cost,
                    weight,
                    vi_id,
                    line_variants,
                    desc,
                )
            )
        gtin = ""  # barcodes live on the variant_inventory rows
        qoh = qty_total
    else:
        gtin = gtins.next(brand_id, ean)
        qoh = 0 if rng.random() < 0.07 else rng.randint(1, 400)
        sellables.append(Sellable(pid, sku, sku, name, price, cost, weight))
    if discontinued:
        status = ps["Discontinued"]
    elif qoh:
        status = ps["In Stock"]
    else:
        status = ps["Back Ordered"] if rng.random() < 0.4 else ps["Out of Stock"]
    dims = [f"{rng.randint(2, 30)}{rng.choice(('', '.5', '.25'))}" for _ in range(3)]
    slug = name.lower().replace(" ", "-")
    extra = (
        {"categories": [{"id": rng.choice(secondary), "is_primary": False}]}
        if rng.random() < 0.15
        else {}
    )
    yield (
        "products",
        {
            "id": pid,
            "item_number": sku,
            "item_name": name,
            "manufacturer_id": brand_id,
            "manufacturer_part_number": mpn,
            "primary_category_id": cat_id,
            "product_status_id": status,
            "short_description": f"<p>{name} by {brand_name}.</p>",
            "long_description_1": (
                f"<p>The {name.lower()} from {brand_name}: built to last, easy to care for.</p>"
                "<ul><li>Free returns within 30 days</li><li>Ships from Austin, TX</li></ul>"
            ),
            "bullets": "",
            "height": dims[0],
            "length": dims[1],
            "width": dims[2],
            "size_unit": "In",
            "weight": weight,
            "weight_unit": "Lbs",
            "cost": cost,
            "price": price,
            "retail": retail,
            "quantity_on_hand": qoh,
            "quantity_on_order": 0,
            "minimum_quantity": 0,
            "maximum_quantity": 0,
            "is_spotlight_item": 0,
            "is_non_taxable": 0,
            "is_shipped_individually": 0,
            "is_hidden": 1 if rng.random() < 0.05 else 0,
            "sort_order": 0,
            "e_product_type": "NotAnEProduct",
            "e_product_allow_multiple_deliveries": 0,
            "e_product_delivery_action": "None",
            "call_for_shipping": 0,
            "call_for_pricing": 0,
            "rate_adjustment_type": "AutoCalculation",
            "enabled_configurator": "None",
            "use_variant_inventory": variant,
            "has_visible_variants": variant,
            "is_featured_item": rng.random() < 0.05,
            "is_non_inventory": False,
            "is_discontinued": discontinued,
            "is_kit": False,
            "is_child_product": False,
            "is_linked_product": False,
            "master_product_id": None,
            "warehouse_id": 0,
            "gtin": gtin,
            "tax_code": "",
            "url_rewrite": f"/{slug}-{pid}",
            "page_title": name,
            "meta_description": "",
            "keywords": noun.lower(),
            "eta_date": None,
            "ext_update_date": "",
            "category_list": None,
            "low_stock_warning_threshold": None,
            "enable_low_stock_warning": False,
            "cart_product_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            **stamp,
            **({"created_at": None} if created_null else {}),
            **extra,
        },
    )
    yield from children
    for n in range(1, rng.randint(1, 4) + 1):
        ids["pic"] += 1
        yield (
            "product_pictures",
            {
                "id": ids["pic"],
                "product_id": pid,
                "image_file": f"/shared/images/{sku}-{n}.jpg",
                "alt": name,
                "description": "",
                "is_primary": n == 1,
                "is_hidden": False,
                "thumbnail_file": f"/shared/images/thumbs/{sku}-{n}.jpg",
                "sort_order": n,
                "flash_path": "",
                "is_video_screen_shot": False,
                "video_content": "",
                "download_external_image": False,
                **stamp,
            },
        )
    idx.sellables.append(sellables)
    if variant and "variant_product" not in idx.facts:
        first_vi = next(d for r, d in children if r == "variant_inventory")
        idx.facts["variant_product"] = {
            "id": pid,
            "item_number": sku,
            "variant_inventory_ids": [d["id"] for r, d in children if r == "variant_inventory"],
            "first_variant": {k: first_vi[k] for k in ("id", "item_number", "gtin", "description")},
        }
    if not variant and "simple_product" not in idx.facts:
        idx.facts["simple_product"] = {"id": pid, "item_number": sku, "gtin": gtin}

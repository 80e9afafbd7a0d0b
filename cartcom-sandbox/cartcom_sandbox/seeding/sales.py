"""Customers, addresses, orders, items, payments and shipments, streamed in id order."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import accumulate

from cartcom_sandbox.seeding import data, timefmt
from cartcom_sandbox.seeding.catalog import CatalogIndex, Sellable
from cartcom_sandbox.seeding.context import DAY, HOUR, MINUTE, Ctx, money
from cartcom_sandbox.seeding.timefmt import TICKS

Emit = Iterator[tuple[str, dict]]

FIRST_ORDER_ID = 100000
_EPOCH_ORD = date(1970, 1, 1).toordinal()
FACT_CAP = 1000  # longest id list kept in the summary's facts

# Base status mix before the clock pulls recent orders back to open states.
_STATUS_WEIGHTS = [
    ("Pending", 3),
    ("Processing", 15),
    ("Partially Shipped", 4),
    ("Shipped", 22),
    ("Completed", 40),
    ("Cancelled", 6),
    ("Declined", 3),
    ("Refunded", 3),
    ("Quote", 2),
]
_STATUS_CUM = list(accumulate(w for _n, w in _STATUS_WEIGHTS))
_LINES_CUM = list(accumulate([35, 25, 18, 10, 6, 3, 2, 1]))  # 1..8 lines, mean ~2.5
_QTY_CUM = list(accumulate([76, 15, 5, 2, 1, 1]))  # quantity 1..6
# Orders by local hour of day (rejection sampling weights, max 1).
_HOUR_W = [
    0.15,
    0.1,
    0.07,
    0.05,
    0.05,
    0.08,
    0.15,
    0.3,
    0.45,
    0.6,
    0.7,
    0.75,
    0.8,
    0.78,
    0.75,
    0.72,
    0.7,
    0.75,
    0.85,
    0.95,
    1.0,
    0.9,
    0.6,
    0.3,
]


@dataclass
class Customer:
    """What an order needs from its customer."""

    id: int
    first: str
    last: str
    email: str
    billing_id: int
    shipping_id: int
    tax_rate: float
    foreign: bool


def _ri(rng: random.Random, lo: int, hi: int) -> int:
    """randint via one random() call (several times cheaper than Random.randint)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _ch(rng: random.Random, seq):
    """choice via one random() call."""
    return seq[int(rng.random() * len(seq))]


def _pick(rng: random.Random, cum: list) -> int:
    return bisect_right(cum, rng.random() * cum[-1])


def _address(rng, aid: int, cust: int, *, first: str, last: str, stamp: dict):
    """An order_addresses doc plus its tax rate and whether it is outside the US."""
    foreign = rng.random() < 0.03
    street = f"{_ri(rng, 100, 9899)} {_ch(rng, data.STREETS)}"
    line2 = _ch(rng, ("", "", "", "", f"Apt {_ri(rng, 1, 40)}", f"Suite {_ri(rng, 100, 999)}"))
    if foreign:
        city, state, code, postal = _ch(rng, data.CA_CITIES)
        country, ccode, rate = "Canada", "CA", 0.0
    else:
        city, state, code, zip3, rate = _ch(rng, data.US_CITIES)
        postal = f"{zip3}{_ri(rng, 1, 99):02d}"
        if rng.random() < 0.35:
            postal += f"-{_ri(rng, 1, 9999):04d}"  # ZIP+4
        country, ccode = "United States", "US"
    doc = {
        "id": aid,
        "customer_id": cust,
        "first_name": first,
        "last_name": last,
        "company": _ch(rng, ("",) * 8 + ("Acme Corp", "Initech", "Globex LLC")),
        "address_line_1": street,
        "address_line_2": line2,
        "city": city,
        "state": state,
        "state_code": code,
        "postal_code": postal,
        "country": country,
        "country_code": ccode,
        "phone": f"{_ri(rng, 201, 989)}-555-{_ri(rng, 0, 9999):04d}",
        "alternate_phone": "",
        "fax": "",
        "comments": "",
        "address_type": "Default",
        **stamp,
    }
    return doc, rate, foreign


def customer_docs(ctx: Ctx, customers: list[Customer]) -> Emit:
    """Customers, each with a billing and (30% of the time separate) shipping address."""
    rng = ctx.rng("customers")
    n = max(10, ctx.cfg.orders // 3)
    aid = 0
    for cid in range(1, n + 1):
        first, last = _ch(rng, data.FIRST_NAMES), _ch(rng, data.LAST_NAMES)
        email = f"{first}.{last}{cid}@example.com".lower().replace("'", "")
        created = ctx.between(rng, ctx.start - 700 * DAY, ctx.start)
        created_s = ctx.ts(rng, created)
        stamp = {"created_at": created_s, "updated_at": created_s}
        aid += 1
        bill, rate, foreign = _address(rng, aid, cid, first=first, last=last, stamp=stamp)
        ship_id = aid
        yield (
            "customers",
            {
                "id": cid,
                "customer_number": f"C{cid:06d}",
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone_number": bill["phone"],
                "registered_at": created_s,
                "last_visit_at": created_s,
                "adcode": "",
                "adcode_id": 0,
                "affiliate_id": None,
                "customer_type_id": 0,
                "is_no_tax_customer": False,
                "comments": "",
                "store_id": 1,
                "source": "",
                "search_string": "",
                "no_account": rng.random() < 0.2,
                "sales_person": "",
                "alternate_phone_number": "",
                "is_affiliate_customer": False,
                "username": email,
                "is_contact_information_only": False,
                "tax_exemption_number": "",
                "company": bill["company"],
                "source_group": "",
                "sales_person_user_id": 0,
                "tax_rate": 0.0,
                "lock_default_address": False,
                "reward_tier_id": None,
                "payment_net_term": 0,
                "credit_limit": 0.0,
                "is_inactive": False,
                "use_shared_credit_limit": False,
                "override_shared_credit_limit": False,
                "default_payment_type_name": "",
                **stamp,
            },
        )
        yield "order_addresses", bill
        if rng.random() < 0.3:
            aid += 1
            ship, rate, foreign = _address(rng, aid, cid, first=first, last=last, stamp=stamp)
            ship_id = aid
            yield "order_addresses", ship
        customers.append(Customer(cid, first, last, email, bill["id"], ship_id, rate, foreign))
    ctx.address_count = aid


def _order_times(ctx: Ctx) -> list[int]:
    """Sorted creation instants, denser in the evening (store time)."""
    rng = ctx.rng("order-times")
    out = []
    span = ctx.now - ctx.start
    while len(out) < ctx.cfg.orders:
        t = ctx.start + int(rng.random() * span)
        secs = t // TICKS
        hour = (secs + timefmt.utc_offset(secs)) // 3600 % 24
        if rng.random() < _HOUR_W[hour]:
            out.append(t)
    out.sort()
    return out


@lru_cache(maxsize=4096)
def _job_stamp(day_ticks: int) -> tuple[int, str]:
    """The nightly auto-complete job's timestamp for a day: shared by every order it touched."""
    t = day_ticks + 2 * HOUR + (day_ticks // DAY * 7919 % 600) * TICKS
    t += (day_ticks // DAY * 104729) % TICKS
    digits = day_ticks // DAY % 8
    t = timefmt.truncate(t, digits)
    return t, timefmt.fmt(t)


class _Clock:
    """Status timeline of one order, kept consistent with ``now``."""

    def __init__(self, ctx: Ctx, rng, created: int, status: str):
        self.events: list[tuple[int, str]] = [(created, "Pending")]
        now = ctx.now
        self.ship: int | None = None
        self.ship2: int | None = None  # second shipment of a split, full shipment
        self.job: str | None = None
        if status == "Quote":
            self.events = [(created, "Quote")]
            return
        if status == "Declined":
            self.events = [(created, "Declined")]
            return
        if status == "Pending":
            return
        if status == "Cancelled":
            t = created + ctx.between(rng, 30 * MINUTE, 2 * DAY)
            if t < now:
                self.events.append((t, "Cancelled"))
            return
        proc = created + ctx.between(rng, 5 * MINUTE, 20 * HOUR)
        if proc >= now:
            return
        self.events.append((proc, "Processing"))
        if status == "Processing":
            return
        ship = proc + ctx.between(rng, 4 * HOUR, 4 * DAY)
        if ship >= now:
            return
        self.ship = ship
        if status == "Partially Shipped":
            self.events.append((min(ship + ctx.between(rng, MINUTE, 30 * MINUTE), now - 1), status))
            return
        last = ship
        if rng.random() < 0.15:
            second = ship + ctx.between(rng, HOUR, 2 * DAY)
            if second < now:
                self.ship2 = last = second
        self.events.append((min(last + ctx.between(rng, MINUTE, 30 * MINUTE), now - 1), "Shipped"))
        if status == "Completed":
            day = timefmt.local_midnight_ticks(_local_date(ship + 8 * DAY))
            t, s = _job_stamp(day)
            if t < now:
                self.events.append((t, "Completed"))
                self.job = s
        elif status == "Refunded":
            t = ship + ctx.between(rng, 3 * DAY, 20 * DAY)
            if t < now:
                self.events.append((t, "Refunded"))

    @property
    def status(self) -> str:
        """Current status name."""
        return self.events[-1][1]


def _local_date(ticks: int) -> date:
    secs = ticks // TICKS
    return date.fromordinal(_EPOCH_ORD + (secs + timefmt.utc_offset(secs)) // 86400)


def _tracking(rng, provider: str) -> str:
    if provider == "UPS":
        return (
            "1Z"
            + "".join(_ch(rng, "0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6))
            + (f"{rng.randrange(10**10):010d}")
        )
    if provider == "FedEx":
        return f"{rng.randrange(10**12):012d}"
    if provider == "USPS":
        return f"9400{rng.randrange(10**18):018d}"
    return f"{rng.randrange(10**10):010d}"


def order_docs(ctx: Ctx, idx: CatalogIndex, customers: list[Customer]) -> Emit:
    """``cfg.orders`` orders (ids from 100000) with items, payments and shipments."""
    rng = ctx.rng("orders")
    st = idx.status_ids
    sellables = idx.sellables
    cum = idx.cum_weights
    n_prod = len(sellables)
    ncust = len(customers)
    services = idx.services
    service_cum = list(
        accumulate(
            {
                "UPS_GROUND": 30,
                "FEDEX_GROUND": 20,
                "USPS_PRIORITY": 18,
                "USPS_GROUND_ADVANTAGE": 12,
                "FEDEX_2_DAY": 5,
                "UPS_2ND_DAY_AIR": 4,
            }.get(s["identifier"], 1)
            for s in services
        )
    )
    intl = [s for s in services if s["identifier"] in ("DHL_EXPRESS", "USPS_PRIORITY_EXPRESS")]
    ids = {"item": 0, "pay": 0, "ship": 0, "addr": ctx.address_count}
    facts: dict[str, list[int]] = {name: [] for name, _w in _STATUS_WEIGHTS}
    counts: dict[str, int] = dict.fromkeys(facts, 0)
    for i, created in enumerate(_order_times(ctx)):
        oid = FIRST_ORDER_ID + i
        cust = customers[int(ncust * rng.random() ** 1.7)]
        clock = _Clock(ctx, rng, created, _STATUS_WEIGHTS[_pick(rng, _STATUS_CUM)][0])
        status = clock.status
        counts[status] += 1
        if len(facts[status]) < FACT_CAP:
            facts[status].append(oid)
        created_s = ctx.ts(rng, created)
        if rng.random() < 0.3:
            ordered_s = ctx.ts(rng, min(created + int(rng.random() * 3 * TICKS), ctx.now - 1))
        else:
            ordered_s = created_s
        # --- addresses: usually the customer's own, sometimes a one-off gift address
        bill_id, ship_id = cust.billing_id, cust.shipping_id
        rate, foreign = cust.tax_rate, cust.foreign
        gift = rng.random() < 0.08
        if gift:
            ids["addr"] += 1
            first, last = _ch(rng, data.FIRST_NAMES), _ch(rng, data.LAST_NAMES)
            addr, rate, foreign = _address(
                rng,
                ids["addr"],
                cust.id,
                first=first,
                last=last,
                stamp={"created_at": created_s, "updated_at": created_s},
            )
            ship_id = ids["addr"]
            yield "order_addresses", addr
        # --- shipping method
        if foreign:
            method = _ch(rng, intl)
            custom = None
        elif rng.random() < 0.1:
            custom = _ch(rng, idx.custom_methods)
            method = None
        else:
            method = services[_pick(rng, service_cum)]
            custom = None
        # --- lines
        n_lines = min(_pick(rng, _LINES_CUM) + 1, n_prod)
        chosen: list[tuple[Sellable, int]] = []
        seen: set[int] = set()
        while len(chosen) < n_lines:
            p = bisect_right(cum, rng.random() * cum[-1])
            if p in seen:
                continue
            seen.add(p)
            options = sellables[p]
            chosen.append((options[int(rng.random() * len(options))], _pick(rng, _QTY_CUM) + 1))
        if status == "Partially Shipped" and len(chosen) == 1 and chosen[0][1] == 1:
            chosen[0] = (chosen[0][0], 2)
        coupon = _ch(rng, data.COUPONS) if rng.random() < 0.12 else ""
        subtotal = money(sum(s.price * q for s, q in chosen))
        cost_total = money(sum(s.cost * q for s, q in chosen))
        discount = {"SAVE10": 0.10, "WELCOME15": 0.15, "SPRING20": 0.20}.get(coupon, 0.0)
        discount_total = money(subtotal * discount)
        ship_cost = (method or custom)["cost"]
        shipping_total = 0.0 if coupon == "FREESHIP" or subtotal >= 150 else ship_cost
        tax_total = money((subtotal - discount_total) * rate)
        grand = money(subtotal - discount_total + shipping_total + tax_total)
        # --- status timeline
        events = clock.events
        last_t, _ = events[-1]
        prev = st[events[-2][1]] if len(events) > 1 else None
        if clock.job:
            changed_s = updated_s = clock.job
        else:
            changed_s = ctx.ts(rng, last_t) if last_t != created else created_s
            if rng.random() < 0.15 and last_t + HOUR < ctx.now:
                later = ctx.between(rng, last_t + MINUTE, min(ctx.now, last_t + 3 * DAY))
                updated_s = ctx.ts(rng, later)
            else:
                updated_s = changed_s
        quote = status == "Quote"
        yield (
            "orders",
            {
                "id": oid,
                "customer_id": cust.id,
                "customer_type_id": 0,
                "adcode": "",
                "adcode_id": 0,
                "ordered_at": ordered_s,
                "order_status_id": st[status],
                "special_instructions": "",
                "subtotal": subtotal,
                "tax_total": tax_total,
                "shipping_total": shipping_total,
                "discount_total": discount_total,
                "grand_total": grand,
                "cost_total": cost_total,
                "selected_shipping_method": method["name"] if method else custom["name"],
                "selected_shipping_provider_service": method["identifier"] if method else "",
                "ip_address": f"{_ri(rng, 11, 223)}.{_ri(rng, 0, 255)}.{_ri(rng, 0, 255)}."
                f"{_ri(rng, 1, 254)}",
                "exported_to_accounting_system": 1
                if status == "Completed" and rng.random() < 0.8
                else 0,
                "referrer": "",
                "order_shipping_address_id": ship_id,
                "order_billing_address_id": bill_id,
                "admin_comments": "",
                "source": _ch(rng, data.SOURCES),
                "search_phrase": "",
                "is_ppc": False,
                "ppc_keyword": "",
                "store_id": 1,
                "session_id": 0,
                "handling_total": 0.0,
                "is_payment_order_only": False,
                "additional_fees": 0.0,
                "updated_at": updated_s,
                "created_at": created_s,
                "is_gift": gift,
                "gift_message": "Happy birthday!" if gift and rng.random() < 0.5 else "",
                "public_comments": "",
                "instructions": "",
                "source_group": "",
                "from_subscription_id": None,
                "previous_order_status_id": prev,
                "order_status_last_changed_at": changed_s,
                "discounted_shipping_total": shipping_total,
                "order_number": "",
                "coupon_code": coupon,
                "order_type": "Quote" if quote else "Order",
                "expires_at": timefmt.fmt(timefmt.truncate(created + 30 * DAY, 0))
                if quote
                else None,
                "expires": quote,
                "from_quote_id": None,
                "campaign_code": "",
                "reward_points_credited": False,
                "sales_agent_user_id": 0,
                "channel": "Online",
                "device": _ch(rng, data.DEVICES),
                "manufacturer_invoice_number": "",
                "manufacturer_invoice_amount": None,
                "manufacturer_invoice_paid": False,
                "due_date": None,
                "delivery_tax": 0.0,
                "location_id": None,
                "entered_by": "",
                "entered_by_type": "Customer",
            },
        )
        lines = []
        for s, q in chosen:
            ids["item"] += 1
            lines.append((ids["item"], s, q))
            yield (
                "order_items",
                {
                    "id": ids["item"],
                    "order_id": oid,
                    "product_id": s.product_id,
                    "item_number": s.item_number,
                    "item_name": s.item_name,
                    "price": s.price,
                    "cost": s.cost,
                    "quantity": float(q),
                    "is_discount_item": False,
                    "weight": s.weight,
                    "is_taxable": True,
                    "weight_unit": "Lbs",
                    "is_non_shipping_item": False,
                    "variant_inventory_id": s.variant_inventory_id,
                    "parent_order_item_id": None,
                    "is_quantity_bound_to_parent": False,
                    "updated_at": created_s,
                    "created_at": created_s,
                    "height": None,
                    "length": None,
                    "width": None,
                    "size_unit": "In",
                    "tax_code": "",
                    "item_number_full": s.item_number_full,
                    "admin_comments": "",
                    "do_not_discount": False,
                    "line_item_note": "",
                    "order_shipping_address_id": None,
                    "gift_message": "",
                    "delivery_date": "",
                    "discount_amount": money(s.price * q * discount),
                    "discount_percentage": round(discount * 100, 2),
                    "is_subscription_product": False,
                    "warehouse_id": 0,
                    "description": s.description,
                    "tax": money(s.price * q * (1 - discount) * rate),
                    "configuration": "",
                    "status": "",
                    "shipping_classification_code": "",
                    "variants": s.variants or [],
                    "personalizations": None,
                },
            )
        # --- payment
        if not quote:
            pay = _payment(
                ctx, rng, ids, oid=oid, cust=cust, amount=grand, status=status, created=created
            )
            yield "order_payments", pay
            if status == "Refunded":
                ids["pay"] += 1
                refund_s = changed_s
                yield (
                    "order_payments",
                    {
                        **pay,
                        "id": ids["pay"],
                        "amount": -grand,
                        "transaction_type": "Credit",
                        "is_captured": True,
                        "authorization_code": "",
                        "paid_at": refund_s,
                        "approved_at": refund_s if pay["approved_at"] is not None else None,
                        "payment_note": "Refund",
                        "created_at": refund_s,
                        "updated_at": refund_s,
                    },
                )
        # --- shipments
        if clock.ship is not None:
            yield from _shipments(
                ctx, rng, ids, oid=oid, lines=lines, clock=clock, method=method, custom=custom
            )
    idx.facts["order_ids_by_status"] = facts
    idx.facts["orders_by_status"] = counts
    idx.facts["counts"] = {
        "order_items": ids["item"],
        "order_payments": ids["pay"],
        "order_shipments": ids["ship"],
        "order_addresses": ids["addr"],
    }


def _payment(ctx: Ctx, rng, ids, *, oid, cust: Customer, amount, status, created) -> dict:
    ids["pay"] += 1
    paypal = rng.random() < 0.15
    declined = status == "Declined"
    pending = status == "Pending"
    t = max(created, min(created + ctx.between(rng, 2 * TICKS, 90 * TICKS), ctx.now - 1))
    stamp_s = ctx.ts(rng, t)
    approved = not declined and not pending
    if approved:
        approved_at = None if paypal else stamp_s
        paid_at = stamp_s
        if rng.random() < 0.02:  # live samples show paid_at without an offset
            paid_at = stamp_s[:-6]
    else:
        approved_at = ""
        paid_at = ""
    card = "" if paypal else _ch(rng, data.CARD_TYPES)
    return {
        "id": ids["pay"],
        "order_id": oid,
        "customer_id": cust.id,
        "customer_payment_method_id": None,
        "payment_method_id": 2 if paypal else 1,
        "payment_type": "PayPal" if paypal else "CreditCard",
        "payment_method_name": "PayPal" if paypal else "Credit Card",
        "is_approved": approved,
        "is_declined": declined,
        "is_captured": approved and status != "Cancelled",
        "is_void": status == "Cancelled",
        "card_type": card,
        "card_expiration_month": 0 if paypal else _ri(rng, 1, 12),
        "card_expiration_year": 0 if paypal else _ri(rng, 2025, 2031),
        "cardholder_name": "" if paypal else f"{cust.first} {cust.last}",
        "paid_at": paid_at,
        "approved_at": approved_at,
        "authorization_code": "" if declined or paypal else f"{rng.randrange(10**6):06d}",
        "reject_reason": "Card declined by issuer" if declined else "",
        "avs_code": "" if paypal else _ch(rng, ("Y", "Y", "Y", "Z", "A", "N")),
        "transaction_type": "AuthCapture",
        "amount": amount,
        "payment_note": "",
        "gift_certificate_id": None,
        "transaction_id": f"{rng.randrange(10**11):011d}"
        if not paypal
        else f"PAYID-{rng.randrange(16**16):016X}",
        "last_four": "" if paypal else f"{rng.randrange(10**4):04d}",
        "gateway_response_code": "" if paypal else ("2" if declined else "1"),
        "cvv_response_code": "" if paypal else "M",
        "payment_ref_num": "",
        "store_payment_method_id": 2 if paypal else 1,
        "created_at": stamp_s,
        "updated_at": stamp_s,
    }


def _shipments(ctx: Ctx, rng, ids, *, oid, lines, clock: _Clock, method, custom) -> Emit:
    """Full shipments (one or two) or, for Partially Shipped, one covering part of the order."""
    times = [clock.ship]
    if clock.status == "Partially Shipped":
        if len(lines) > 1:
            k = _ri(rng, 1, len(lines) - 1)
            groups = [[(iid, q) for iid, _s, q in lines[:k]]]
        else:
            iid, _s, q = lines[0]
            groups = [[(iid, _ri(rng, 1, q - 1))]]
    elif len(lines) > 1 and clock.ship2 is not None:
        k = _ri(rng, 1, len(lines) - 1)
        groups = [[(iid, q) for iid, _s, q in lines[:k]], [(iid, q) for iid, _s, q in lines[k:]]]
        times.append(clock.ship2)
    else:
        groups = [[(iid, q) for iid, _s, q in lines]]
    weights = {iid: s.weight for iid, s, _q in lines}
    for n, (group, t) in enumerate(zip(groups, times, strict=True), 1):
        ids["ship"] += 1
        total_weight = round(sum(weights[iid] * q for iid, q in group), 2)
        packages = 1 if total_weight < 20 else 2
        if method:
            provider = method["provider"]
            numbers = [_tracking(rng, provider) for _ in range(packages)]
            tracking = ",".join(numbers)
            url = method["url"].format(numbers[0])
            name, mid, mtype = method["name"], method["id"], "provider"
            base = money(method["cost"] * (0.6 + rng.random() * 0.5))
        else:
            provider = ""
            tracking = f"PRO{rng.randrange(10**9):09d}" if custom["name"] == "Freight" else ""
            url = ""
            name, mid, mtype = custom["name"], custom["id"], "custom"
            base = money(custom["cost"])
        stamp_s = ctx.ts(rng, t)
        yield (
            "order_shipments",
            {
                "id": ids["ship"],
                "order_id": oid,
                "shipped_at": stamp_s,
                "tracking_numbers": tracking,
                "tracking_url": url,
                "shipping_method": name,
                "shipping_method_id": mid,
                "shipping_method_type": mtype,
                "shipping_provider_name": provider,
                "shipment_name": str(n),
                "number_of_packages": packages if method else None,
                "total_weight": total_weight if method else None,
                "provider_base_shipping_cost": f"{base:.2f}" if method else None,
                "provider_insurance_cost": 0.0 if method else None,
                "provider_handling_cost": 0.0 if method else None,
                "provider_other_charges": 0.0 if method else None,
                "provider_total_shipping_cost": base if method else None,
                "email_sent": rng.random() < 0.9,
                "private_comment": "",
                "shipping_comment": "",
                "created_at": stamp_s,
                "updated_at": stamp_s,
                "items": [{"id": iid, "quantity_shipped": q} for iid, q in group],
            },
        )

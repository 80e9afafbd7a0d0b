"""GS1 check digits and a deterministic, collision-free GTIN allocator.

Reference: cartcom_client/gtin.py (the emulator must not import it; tests/test_wire_rule_copies.py
checks that the copies agree).
"""

from __future__ import annotations


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits before it (GTIN-8/12/13/14)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def is_valid_gtin(code: str) -> bool:
    """True for an all-digit GTIN-8/12/13/14 whose last digit is the right check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    return check_digit(code[:-1]) == code[-1]


class GtinAllocator:
    """Hands out unique GTINs per brand: UPC-A (GTIN-12) or EAN-13 (GTIN-13).

    A brand's company prefix embeds its id, so codes of different brands never collide;
    each prefix has 100,000 item references and the next prefix is used when one runs out.
    """

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def next(self, brand_id: int, ean: bool) -> str:
        """The next unused GTIN of a brand."""
        n = self._next.get(brand_id, 0)
        self._next[brand_id] = n + 1
        block, ref = divmod(n, 100_000)
        if ean:
            body = f"40{brand_id % 1000:03d}{block:02d}{ref:05d}"  # 12 digits
        else:
            body = f"0{brand_id % 1000:03d}{block:02d}{ref:05d}"  # 11 digits
        return body + check_digit(body)

"""GS1 barcodes (GTIN-8/12/13/14, UPC-A and EAN-13 among them): check digit and one comparable key.

Cart.com keeps one barcode field, ``gtin``, holding whatever form the merchant typed. The
connectors check a barcode before sending it and compare barcodes by their 14-digit form. Only
ASCII digits count: ``str.isdigit`` also accepts ``²`` and other scripts' digits.
"""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits before it."""
    if not _ascii_digits(body):
        msg = "a GTIN body holds only the digits 0-9"
        raise ValueError(msg)
    return _check_digit(body)


def _check_digit(body: str) -> str:
    # From the right: the digits next to the check digit weigh 3, the others 1. The body is
    # ASCII digits (callers check), so a digit's value is its byte less 48 ("0"): summing bytes
    # is one C loop, where ``int`` per digit was a call each.
    heavy = body[-1::-2].encode("ascii")
    light = body[-2::-2].encode("ascii")
    total = 3 * (sum(heavy) - 48 * len(heavy)) + sum(light) - 48 * len(light)
    return str((10 - total % 10) % 10)


def is_valid_gtin(code: str) -> bool:
    """True for an all-digit GTIN-8/12/13/14 whose last digit is the right check digit."""
    if not isinstance(code, str) or not _ascii_digits(code) or len(code) not in GTIN_LENGTHS:
        return False
    return _check_digit(code[:-1]) == code[-1]  # the body is digits: checked just above


def gtin_key(code: object) -> str | None:
    """A barcode as 14 digits, so UPC-A, EAN-13 and GTIN-14 forms of one code compare equal."""
    if not code:
        return None
    digits = str(code).strip()
    return digits.zfill(14) if _ascii_digits(digits) else None

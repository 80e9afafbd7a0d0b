"""Wire rules kept once in the client: GTIN check digits, paging with whole payloads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cartcom_client import CartcomSession, ConnectionSettings
from cartcom_client import session as session_module
from cartcom_client.gtin import check_digit, gtin_key, is_valid_gtin
from cartcom_testing.wire import mock_transport

BASE = "https://shop.example.com/api/v1"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "code",
    ["036000291452", "0036000291452", "00036000291452", "4006381333931", "96385074", "12345670"],
)
def test_valid_gtins(code):
    """UPC-A, EAN-13, GTIN-14 and GTIN-8 with the right GS1 check digit."""
    assert is_valid_gtin(code)
    assert check_digit(code[:-1]) == code[-1]


@pytest.mark.parametrize(
    "code",
    [
        "036000291453",  # wrong check digit
        "03600029145",  # 11 digits
        "0360002914521",  # 13 digits, wrong check digit
        "".join(chr(0xFF10 + int(d)) for d in "036000291452"),  # full-width digits
        "03600029145²",  # a superscript two: isdigit() but int() fails
        "٠٣٦٠٠٠٢٩١٤٥٢",  # Arabic-Indic digits
        " 036000291452",
        "",
    ],
)
def test_invalid_gtins(code):
    """Wrong length, wrong check digit, or anything but ASCII digits: invalid, never a crash."""
    assert not is_valid_gtin(code)


@pytest.mark.parametrize("length", [7, 11, 12, 13])
def test_check_digit_agrees_with_the_gs1_rule_for_every_digit_in_every_place(length):
    """Each digit 0-9 in each place of a body: GS1's mod 10, weights 3,1,3,... from the right."""
    for place in range(length):
        for digit in "0123456789":
            body = "".join(digit if i == place else str((i * 7) % 10) for i in range(length))
            weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body[::-1]))
            assert check_digit(body) == str(-weighted % 10), body


def test_gtin_key_makes_forms_of_one_code_equal():
    """UPC-A, EAN-13 and GTIN-14 spellings compare equal; non-ASCII digits have no key."""
    assert gtin_key("036000291452") == gtin_key("0036000291452") == "00036000291452"
    assert gtin_key(" 036000291452 ") == "00036000291452"
    assert gtin_key("".join(chr(0xFF10 + int(d)) for d in "036")) is None
    assert gtin_key(None) is None
    with pytest.raises(ValueError, match="0-9"):
        check_digit("12a")


def test_iter_payloads_yields_whole_pages_and_follows_next_page(monkeypatch):
    """``total_count`` and the records of each page; page 2 is the re-rooted link, once."""
    mock = mock_transport(monkeypatch)
    mock.register_uri(
        "GET",
        f"{BASE}/products?count=2",
        json={
            "total_count": 3,
            "products": [{"id": 1}, {"id": 2}],
            "next_page": "https://alias.example.net/api/v1/products?count=2&page=2",
        },
        complete_qs=True,
    )
    mock.register_uri(
        "GET",
        f"{BASE}/products?count=2&page=2",
        json={"total_count": 3, "products": [{"id": 3}]},
        complete_qs=True,
    )
    monkeypatch.setattr(session_module.time, "sleep", lambda s: None)
    settings = ConnectionSettings.from_config(
        {"access_token": "t", "domain": "shop.example.com", "calls_per_window": 100}
    )
    pages = list(CartcomSession(settings).iter_payloads("/products", {"count": 2}))
    assert [p["total_count"] for p in pages] == [3, 3]
    assert [[r["id"] for r in p["products"]] for p in pages] == [[1, 2], [3]]
    assert [r.url for r in mock.request_history] == [
        f"{BASE}/products?count=2",
        f"{BASE}/products?count=2&page=2",
    ]


def test_the_sandbox_imports_nothing_of_the_client():
    """The emulator stays independent of the code it tests (its GTINs are its own)."""
    offenders = []
    for path in (REPO / "cartcom-sandbox" / "cartcom_sandbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "cartcom_client"]
    assert offenders == []

"""One strict URL parser for `api_url`, `domain` and `next_page` (issue 14, Secrets and URLs)."""

from __future__ import annotations

import itertools

import pytest
from cartcom_client import ConfigurationError
from cartcom_client.urls import (
    UnsafeURLError,
    base_url,
    chunks_for_url,
    next_page_url,
    numbered_pages,
    origin_of,
    parse_url,
)

BASE = "https://shop.example.com/api/v1"


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://shop.example.com/api/v1", "https://shop.example.com/api/v1"),
        ("HTTPS://Shop.Example.COM/api/v1/", "https://shop.example.com/api/v1"),
        ("https://shop.example.com:443/api/v1", "https://shop.example.com/api/v1"),
        ("https://shop.example.com:8443/api/v1", "https://shop.example.com:8443/api/v1"),
        ("http://localhost:8600/api/v1", "http://localhost:8600/api/v1"),
        ("http://127.0.0.1:8600/api/v1", "http://127.0.0.1:8600/api/v1"),
        ("http://127.9.9.9:8600/api/v1", "http://127.9.9.9:8600/api/v1"),
        ("http://[::1]:8600/api/v1", "http://[::1]:8600/api/v1"),
        ("https://xn--bcher-kva.example/api/v1", "https://xn--bcher-kva.example/api/v1"),
    ],
)
def test_accepted_base_urls(api_url, expected):
    """https anywhere; plain http only to localhost or a literal loopback IP."""
    assert base_url(None, api_url) == expected


@pytest.mark.parametrize(
    ("api_url", "rule"),
    [
        # The reproduction: passes a loopback check, sends to another host.
        ("http://localhost:8600\\@127.0.0.1:8700/api/v1", "backslash"),
        ("https://shop.example.com\\@evil.example/api/v1", "backslash"),
        ("https://user:pass@shop.example.com/api/v1", "user info"),
        ("https://shop.example.com@evil.example/api/v1", "user info"),
        ("http://localhost@evil.example/api/v1", "user info"),
        ("http://localhost.evil.example/api/v1", "plain http"),
        ("http://app.localhost:8600/api/v1", "plain http"),
        ("http://127.0.0.1.nip.io/api/v1", "plain http"),
        ("http://10.0.0.5:8600/api/v1", "plain http"),
        ("http://127.1:8600/api/v1", "neither a name nor a dotted IPv4"),
        ("http://2130706433/api/v1", "neither a name nor a dotted IPv4"),
        ("https://shop.example.com:0/api/v1", "port"),
        ("https://shop.example.com:65536/api/v1", "port"),
        ("https://shop.example.com:+443/api/v1", "port"),
        ("https://shop.example.com:/api/v1", "port"),
        ("https://shop.example.com:44a/api/v1", "port"),
        ("https://shop.example.com:0443443/api/v1", "port"),
        ("https://shop.example.com/api\n/v1", "control"),
        ("https://shop.example.com/api/v1\r\nX-Evil: 1", "control"),
        ("https://shop.exa mple.com/api/v1", "control"),
        ("https://shop.example.com\t/api/v1", "control"),
        ("https://shöp.example.com/api/v1", "non-ASCII"),
        ("https://shop.example.com/api/v1#frag", "fragment"),
        ("https://shop.example.com/api/v1?x=1", "query"),
        ("https://shop.example.com/api/../v1", "`..`"),
        ("https://-shop.example.com/api/v1", "host name"),
        ("https://shop..example.com/api/v1", "host name"),
        ("https:///api/v1", "no host"),
        ("ftp://shop.example.com/api/v1", "https://"),
        ("//shop.example.com/api/v1", "https://"),
        ("shop.example.com/api/v1", "https://"),
    ],
)
def test_refused_base_urls_name_the_setting_and_rule(api_url, rule):
    """Every refusal names `api_url` and the broken rule; none of them is silently repaired."""
    with pytest.raises(UnsafeURLError) as caught:
        base_url(None, api_url)
    assert "`api_url`" in str(caught.value)
    assert rule in str(caught.value)


@pytest.mark.parametrize(
    "domain",
    [
        "shop.example.com\\@evil.example",
        "user@shop.example.com",
        "shop.example.com:0",
        "shop.example.com/api",
        "shop.example.com?x=1",
        "shop.exa\nmple.com",
        "http://shop.example.com",
        "https://shop.example.com/other",
    ],
)
def test_refused_domains(domain):
    """`domain` is a host name (optionally with a port or https://): anything else is refused."""
    with pytest.raises(ConfigurationError, match="`domain`"):
        base_url(domain, None)


def test_domain_forms_give_one_base():
    """A host, a host with https://, with /api/v1 or a trailing slash: one base URL."""
    for domain in (
        "shop.example.com",
        "shop.example.com/",
        "https://shop.example.com",
        "https://shop.example.com/api/v1",
        " shop.example.com ",
    ):
        assert base_url(domain, None) == BASE


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://shop.example.com/api/v1/orders?page=2&count=250",
            f"{BASE}/orders?page=2&count=250",
        ),
        # Cart.com names itself by another host (a proxy, an alias): our origin is kept.
        (
            "https://store-123.americommerce.com/api/v1/orders?page=2&sort=id&created_at=gte:2024-01-01T00:00:00Z+AND+lt:2024-02-01T00:00:00Z",
            f"{BASE}/orders?page=2&sort=id&created_at=gte:2024-01-01T00:00:00Z+AND+lt:2024-02-01T00:00:00Z",
        ),
        ("http://shop.example.com/api/v1/orders?page=3", f"{BASE}/orders?page=3"),
        ("/api/v1/orders?page=2", f"{BASE}/orders?page=2"),
        ("/api/v1/orders?page=2&item_number=A%20B", f"{BASE}/orders?page=2&item_number=A%20B"),
    ],
)
def test_next_page_is_rerooted_on_our_origin(link, expected):
    """Only the link's path and query are kept; the scheme and host are ours."""
    assert next_page_url(link, BASE) == expected


@pytest.mark.parametrize(
    "link",
    [
        "@evil.example/api/v1/orders?page=2",  # the reproduction
        "//evil.example/api/v1/orders?page=2",
        "evil.example/api/v1/orders?page=2",
        "api/v1/orders?page=2",
        "?page=2",
        "https://user@evil.example/api/v1/orders?page=2",
        "https://shop.example.com\\@evil.example/api/v1/orders",
        "/api/v1\\@evil.example/orders",
        "https://shop.example.com/api/v1/orders?page=2\r\nX-Evil: 1",
        "https://shop.example.com/api/v1/orders?page=2#x",
        "https://shop.example.com/other/orders?page=2",
        "/api/v1/../../admin?page=2",
        "/api/v1/orders?page=2%zz",
        "javascript:alert(1)",
        "ftp://shop.example.com/api/v1/orders",
        "",
        None,
        42,
    ],
)
def test_hostile_next_page_links_are_refused(link):
    """A relative, user-info, control-character or out-of-API link is refused, never resolved."""
    with pytest.raises(UnsafeURLError, match="`next_page`"):
        next_page_url(link, BASE)


def test_numbered_pages_change_only_the_page_number_of_page_ones_link():
    """Pages 2 to N of a read: page 1's ``next_page``, re-rooted, with ``page=k`` in its place."""
    link = (
        "https://store-1.americommerce.com/api/v1/orders?count=2&page=2&created_at=gte:2024-01-01"
    )
    assert numbered_pages(link, BASE, 4) == [
        f"{BASE}/orders?count=2&page={k}&created_at=gte:2024-01-01" for k in (2, 3, 4)
    ]
    assert numbered_pages(link, BASE, 1) == []


def test_numbered_pages_stop_at_the_page_numbers_the_url_cap_made_room_for():
    """Up to page 99,999 (``NEXT_PAGE_ROOM``) each URL fits the cap; page 100,000 would not.

    A read of 100,000 pages or more follows ``next_page`` instead (None).
    """
    link = "/api/v1/orders?count=2&page=2"
    pages = numbered_pages(link, BASE, 99_999)
    assert pages is not None
    assert len(pages) == 99_998
    assert pages[-1] == f"{BASE}/orders?count=2&page=99999"
    assert numbered_pages(link, BASE, 100_000) is None


@pytest.mark.parametrize(
    "link",
    [
        "/api/v1/orders?count=2",  # no page number: follow the link instead
        "/api/v1/orders?page=3",  # not page 2: the numbering is not Cart.com's
        "/api/v1/orders?page=2&page=2",
        "/api/v1/orders?cursor=abc",
    ],
)
def test_numbered_pages_refuse_a_link_that_is_not_page_two(link):
    """None: the read follows ``next_page`` from page to page."""
    assert numbered_pages(link, BASE, 5) is None


def test_numbered_pages_refuse_hostile_links():
    """The same strict re-rooting as ``next_page_url``."""
    with pytest.raises(UnsafeURLError, match="`next_page`"):
        numbered_pages("//evil.example/api/v1/orders?page=2", BASE, 3)


def test_origin_of_compares_scheme_host_and_port():
    """Default ports are made explicit; an unparseable URL matches no store."""
    assert origin_of("https://Shop.example.com/api/v1/x?y=1") == "https://shop.example.com:443"
    assert origin_of("http://127.0.0.1:8600/api/v1") == "http://127.0.0.1:8600"
    assert origin_of("http://localhost:8600\\@127.0.0.1:8700/x") == "invalid://"
    assert origin_of("https://a@shop.example.com/") == "invalid://"


def test_parse_url_keeps_port_and_query():
    """The parsed parts are what is sent."""
    parsed = parse_url("https://shop.example.com:8443/api/v1/orders?page=2", "next_page")
    assert (parsed.scheme, parsed.host, parsed.port) == ("https", "shop.example.com", 8443)
    assert (parsed.path, parsed.query) == ("/api/v1/orders", "page=2")
    assert str(parsed) == "https://shop.example.com:8443/api/v1/orders?page=2"


# -- the URL cap -----------------------------------------------------------------------------
def test_chunks_fit_the_cap_and_keep_every_value_in_order():
    """Joined with the separator and the fixed part, every chunk stays within the cap."""
    values = [str(100000 + i * 7919) for i in range(900)]
    chunks = list(chunks_for_url(values, 120, 1, max_chars=2048))
    assert [v for chunk in chunks for v in chunk] == values
    assert all(120 + len(",".join(chunk)) <= 2048 for chunk in chunks)
    # Packed tight: adding the next value to any chunk but the last would break the cap.
    for chunk, following in itertools.pairwise(chunks):
        assert 120 + len(",".join([*chunk, following[0]])) > 2048


def test_chunks_honour_max_items_and_refuse_a_value_too_long_alone():
    """``max_items`` caps each chunk; a value longer than the room left raises."""
    values = [str(i) for i in range(250)]
    assert [len(c) for c in chunks_for_url(values, 10, 1, max_items=100)] == [100, 100, 50]
    assert len(list(chunks_for_url(values, 10, 1))) == 1
    with pytest.raises(ValueError, match="too long"):
        list(chunks_for_url(["x" * 2040], 10, 1))


# -- the edges of each rule (issue 26's mutation survivors) ------------------------------------
from cartcom_client.urls import (  # noqa: E402
    MAX_URL_LENGTH,
    check_secret,
    url_base,
)


@pytest.mark.parametrize("char", ["!", "~"])
def test_the_first_and_last_printable_ascii_characters_are_accepted(char):
    """``!`` (0x21) and ``~`` (0x7E) are plain ASCII a URL may hold."""
    assert parse_url(f"https://shop.example.com/api/v1/{char}").path == f"/api/v1/{char}"


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        (" ", "a space or control character"),
        ("\x7f", "a space or control character"),
        ("\x80", "a non-ASCII character"),
        ("é", "a non-ASCII character"),
    ],
)
def test_a_character_outside_printable_ascii_is_named_for_what_it_is(char, kind):
    """The refusal says which kind of character, and where."""
    with pytest.raises(UnsafeURLError, match=f"holds {kind} at position 9"):
        parse_url(f"https://a{char}b.com/api/v1")


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://shop.example.com./api/v1", "shop.example.com"),
        ("https://" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61 + "/x", True),
        ("https://" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 62 + "/x", False),
        ("https://[::1/api/v1", "invalid IPv6 host"),
        ("https://[zz::1]/api/v1", "invalid IPv6 host"),
        ("https://[::1]x/api/v1", "invalid IPv6 host"),
        ("https://shop]/api/v1", "invalid host name"),
        ("https://a.1./api/v1", "neither a name nor a dotted IPv4 address"),
        ("https://ab.c-./api/v1", "invalid host name"),
        ("https://shop.example.com:1/api/v1", True),
        ("https://shop.example.com:65535/api/v1", True),
        ("https://shop.example.com:65536/api/v1", False),
    ],
)
def test_host_and_port_limits(url, accepted):
    """A host of up to 253 characters (a final dot allowed), a bracketed IPv6, ports 1-65535.

    A refusal says which rule the host broke.
    """
    if accepted is False or (isinstance(accepted, str) and " " in accepted):
        with pytest.raises(UnsafeURLError, match=accepted or None):
            parse_url(url)
        return
    parsed = parse_url(url)
    if isinstance(accepted, str):
        assert parsed.host == accepted


def test_plain_http_to_a_router_names_the_router_credentials():
    """The refusal says what would travel in clear: the router's user and signatures."""
    with pytest.raises(UnsafeURLError, match="the router user and its signatures must not"):
        parse_url("http://router.example.com/", "router_url")
    with pytest.raises(UnsafeURLError, match="the access token must not"):
        parse_url("http://shop.example.com/api/v1", "api_url")


def test_default_ports_are_one_origin_and_blanks_around_a_setting_are_dropped():
    """``:80`` on http and ``:443`` on https are the defaults: same origin, not kept."""
    assert origin_of("http://127.0.0.1/api/v1") == origin_of("http://127.0.0.1:80/api/v1")
    assert origin_of("http://127.0.0.1:80/x") == "http://127.0.0.1:80"
    assert origin_of("https://a.com/x") == "https://a.com:443"
    assert origin_of("https://a.com/x/../y") == "https://a.com:443"  # the path is not checked
    assert str(parse_url("http://127.0.0.1:80/api/v1")) == "http://127.0.0.1/api/v1"
    assert url_base("  https://a.com/api/v1/  ", "api_url") == "https://a.com/api/v1"


def test_a_next_page_path_with_an_empty_fragment_is_refused():
    """``/api/v1/orders?page=2#``: a fragment, even empty, is refused."""
    with pytest.raises(UnsafeURLError, match="fragment"):
        next_page_url("/api/v1/orders?page=2#", "https://a.com/api/v1")


@pytest.mark.parametrize(
    ("value", "accepted"), [(" x", True), ("a~b", True), ("a\x7fb", False), ("a\x1fb", False)]
)
def test_a_secret_may_hold_spaces_and_tildes_not_del(value, accepted):
    """Printable ASCII from space (0x20) to ``~`` (0x7E); DEL is not printable."""
    if accepted:
        assert check_secret(f"k{value}", "access_token") == f"k{value}"
        return
    with pytest.raises(ConfigurationError, match="not printable ASCII"):
        check_secret(value, "access_token")


def test_chunks_fill_a_url_to_exactly_its_cap():
    """Values fill a URL to 2,048 characters exactly, separators counted; one more splits."""
    assert MAX_URL_LENGTH == 2048
    values = ["x" * 99] * 20  # 20 x 99 + 19 separators = 1,999
    assert [len(c) for c in chunks_for_url(values, 49, 1)] == [20]
    assert [len(c) for c in chunks_for_url(values, 50, 1)] == [19, 1]
    assert [len(c) for c in chunks_for_url(["x" * 1998], 50, 1)] == [1]
    with pytest.raises(ValueError, match=r"too long for one request: 'x{40}'\.\.\."):
        list(chunks_for_url(["x" * 1999], 50, 1))


# -- lookups by value: urls.lookup_chunks --------------------------------------------------------
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import requests  # noqa: E402
from cartcom_client.urls import NEXT_PAGE_ROOM, lookup_chunks  # noqa: E402

LOOKUP_URL = "https://shop.example.com/api/v1/variant_inventory"
LOOKUP_PARAMS = {"fields": "id,item_number,gtin", "count": "200"}


def _as_sent(params: dict[str, str]) -> tuple[int, dict[str, list[str]]]:
    """What the cap counts of the GET ``requests`` sends (path, ``?``, query), and its query."""
    parts = urlsplit(requests.Request("GET", LOOKUP_URL, params=params).prepare().url)
    return len(parts.path) + 1 + len(parts.query), parse_qs(parts.query)


def _values_of(query: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The (field, value) pairs a lookup GET asks for, in the order it asks them."""
    pairs = []
    for name in ("item_number", "gtin", "manufacturer_item_number"):
        if name in query:
            (text,) = query[name]
            text = text if not pairs else text.removeprefix("OR ")
            pairs += [(name, value) for value in text.split(" OR ")]
    return pairs


@pytest.mark.parametrize("skus", range(150, 200, 3))
def test_lookups_fill_each_get_to_the_cap_and_leave_room_for_a_next_page(skus):
    """Each lookup GET fits 2,048 characters with ``&page=99999`` to spare, and no fewer.

    Every value is asked once, in the feed's order, and each GET holds as many as fit: one more
    would pass the cap.

    Values of uneven lengths, some growing when encoded (spaces, ``&``, ``+``), over three
    fields, so the edges fall on every kind of term: a GET's first, one more of the same field,
    and a field's first after another's.
    """
    fields = {
        "item_number": [f"SKU-{i}{' &+'[i % 3] * (i % 4)}" for i in range(skus)],
        "gtin": [f"{i:0{8 + i % 7}d}" for i in range(97)],
        "manufacturer_item_number": [f"M-{i * 7}" for i in range(61)],
    }
    asked = [(name, value) for name, values in fields.items() for value in values]
    room = MAX_URL_LENGTH - NEXT_PAGE_ROOM
    gets = list(lookup_chunks(LOOKUP_URL, LOOKUP_PARAMS, fields))
    assert len(gets) > 2
    sent = []
    for get in gets:
        length, query = _as_sent(get)
        assert length <= room
        assert query["fields"] == [LOOKUP_PARAMS["fields"]]
        assert query["count"] == [LOOKUP_PARAMS["count"]]
        sent.append(_values_of(query))
    assert [pair for values in sent for pair in values] == asked
    for values, following in itertools.pairwise(sent):
        grouped: dict[str, list[str]] = {}
        for name, value in [*values, following[0]]:
            grouped.setdefault(name, []).append(value)
        (one_more,) = lookup_chunks(LOOKUP_URL, LOOKUP_PARAMS, grouped, max_chars=10**6)
        assert _as_sent(one_more)[0] > room


def test_a_lookup_honours_max_items():
    """``max_items`` caps the values a GET asks for, whatever room is left."""
    gets = lookup_chunks(
        LOOKUP_URL, LOOKUP_PARAMS, {"gtin": [str(i) for i in range(25)]}, max_items=10
    )
    assert [len(_values_of(_as_sent(get)[1])) for get in gets] == [10, 10, 5]

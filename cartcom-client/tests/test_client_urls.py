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

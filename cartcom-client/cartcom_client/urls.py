r"""The one strict parser for every URL the connectors send the token to.

``api_url``, ``domain`` and each ``next_page`` link go through here, so one set of rules decides
where the access token may travel:

- only ``https``, or plain ``http`` to ``localhost`` or a literal loopback IP (the sandbox);
- printable ASCII only: no control characters, no spaces, no backslashes (which browsers and some
  parsers read as ``/``, so ``http://localhost:1\\@evil:2/`` would reach ``evil``);
- no user info (``user@host``), no empty, signed or out-of-range port, no fragment;
- host names made of letters, digits and hyphens (non-ASCII names in their ``xn--`` form).

A ``next_page`` link is re-rooted on the configured base URL: only its path and query are kept,
and the path must stay under the base URL's API path. A relative link such as ``@host/x`` or
``//host/x`` is refused rather than resolved.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote_plus, urlsplit

import requests

from . import query
from .errors import ConfigurationError

_Item = TypeVar("_Item")

API_PATH = "/api/v1"
#: Cart.com runs on IIS/ASP.NET: a URL's path plus query must stay within 2,048 characters
#: (docs/api.md §14), which bounds every batched read (select_many ids, OR-ed filters).
MAX_URL_LENGTH = 2048
#: A ``next_page`` link is the request's URL with ``page=N`` added (docs/api.md §1.3), so a read
#: that may run to a second page (more matches than the store's largest ``count``) keeps this
#: much of the cap free: up to page 99,999.
NEXT_PAGE_ROOM = len("&page=99999")

_PORT = re.compile(r"^[0-9]{1,5}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: Characters a path or query may hold (RFC 3986 unreserved, sub-delims, ``:@/?%``).
_PATH_QUERY = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class UnsafeURLError(ConfigurationError):
    """A URL the token must not be sent to; the message names the setting and the rule."""


@dataclass(frozen=True)
class ApiURL:
    """A checked URL: lower-case scheme and host, explicit port or None, path and query."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str = ""

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` as it is sent (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port is not None else "")

    def __str__(self) -> str:
        """The URL as sent."""
        return self.origin + self.path + (f"?{self.query}" if self.query else "")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a literal loopback IP (127.0.0.0/8, ::1); resolved names do not count."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_text(text: object, setting: str) -> str:
    if not isinstance(text, str):
        msg = f"`{setting}` must be text."
        raise UnsafeURLError(msg)
    for position, char in enumerate(text):
        if not (0x21 <= ord(char) <= 0x7E):
            kind = "a non-ASCII character" if ord(char) > 0x7F else "a space or control character"
            msg = f"`{setting}` holds {kind} at position {position}; use plain ASCII."
            raise UnsafeURLError(msg)
        if char == "\\":
            msg = f"`{setting}` holds a backslash at position {position}."
            raise UnsafeURLError(msg)
    return text


def _check_host(host: str, setting: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            msg = f"`{setting}` has an invalid IPv6 host."
            raise UnsafeURLError(msg) from None
    host = host.lower()
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        msg = f"`{setting}` has an invalid host name {host!r}."
        raise UnsafeURLError(msg)
    if labels[-1].isdigit():
        # ``127.1`` or ``0x7f.1`` are IPs to some resolvers and names to others: refuse both.
        msg = f"`{setting}` has a host that is neither a name nor a dotted IPv4 address."
        raise UnsafeURLError(msg)
    return host.rstrip(".")


def _check_path_query(path: str, query: str, setting: str) -> None:
    for part in (path, query):
        if not _PATH_QUERY.match(part) or _PERCENT.search(part):
            msg = f"`{setting}` has a malformed path or query."
            raise UnsafeURLError(msg)
    if any(segment in (".", "..") for segment in path.split("/")):
        msg = f"`{setting}` has a `.` or `..` path segment."
        raise UnsafeURLError(msg)
    if path.startswith("//"):
        msg = f"`{setting}` path starts with `//`."
        raise UnsafeURLError(msg)


def parse_url(
    text: object, setting: str = "api_url", *, check_path: bool = True, any_http: bool = False
) -> ApiURL:
    """Parse an absolute URL under the rules above; ``UnsafeURLError`` names the broken rule.

    ``check_path=False`` checks only scheme and authority (for a prepared request's URL, whose
    query ``requests`` has already encoded). ``any_http=True`` lifts the plain-http rule, for a
    ``next_page`` link whose scheme and host are replaced by ours anyway.
    """
    text = _check_text(text, setting)
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        msg = f"`{setting}` must start with https:// (or http:// for a loopback sandbox)."
        raise UnsafeURLError(msg)
    authority_end = len(rest)
    for mark in "/?#":
        index = rest.find(mark)
        if index >= 0:
            authority_end = min(authority_end, index)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        msg = f"`{setting}` must not carry user info (`user@host`)."
        raise UnsafeURLError(msg)
    if "#" in tail:
        msg = f"`{setting}` must not carry a fragment (`#...`)."
        raise UnsafeURLError(msg)
    if authority.startswith("["):
        end = authority.find("]")
        host_text, port_text = authority[: end + 1], authority[end + 1 :]
        if end < 0 or (port_text and not port_text.startswith(":")):
            msg = f"`{setting}` has an invalid IPv6 host."
            raise UnsafeURLError(msg)
        has_port, port_text = bool(port_text), port_text[1:]
    else:
        host_text, has_port, port_text = authority.partition(":")
        has_port = bool(has_port)
    port: int | None = None
    if has_port:
        if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
            msg = f"`{setting}` has an invalid port; give a number from 1 to 65535."
            raise UnsafeURLError(msg)
        port = int(port_text)
    if not host_text:
        msg = f"`{setting}` has no host."
        raise UnsafeURLError(msg)
    host = _check_host(host_text, setting)
    if scheme == "http" and not any_http and not is_loopback_host(host):
        full_url = "router_url" if setting == "router_url" else "api_url"
        what = (
            "the router user and its signatures" if setting == "router_url" else "the access token"
        )
        msg = (
            f"`{setting}` uses plain http on a host that is not `localhost` or a loopback IP; "
            f"Cart.com is HTTPS only and {what} must not travel in clear. Plain http "
            f"is only for a sandbox, through `{full_url}` on localhost or a loopback IP."
        )
        raise UnsafeURLError(msg)
    parts = urlsplit(tail)
    if check_path:
        _check_path_query(parts.path, parts.query, setting)
    default = 443 if scheme == "https" else 80
    return ApiURL(scheme, host, None if port == default else port, parts.path, parts.query)


def base_url(domain: object = None, api_url: object = None) -> str:
    """The API base URL from ``api_url`` (preferred) or ``domain``; no query, no trailing ``/``."""
    if api_url not in (None, ""):
        return url_base(api_url, "api_url")
    if domain in (None, ""):
        msg = "Set `domain` (e.g. storename.americommerce.com), or `api_url` for the sandbox."
        raise ConfigurationError(msg)
    text = _check_text(domain.strip() if isinstance(domain, str) else domain, "domain")
    text = text.rstrip("/")
    if "://" in text:
        parsed = parse_url(text, "domain")
        if parsed.query or parsed.path not in ("", API_PATH):
            msg = "`domain` must be a host name such as storename.americommerce.com."
            raise UnsafeURLError(msg)
        return parsed.origin + API_PATH
    if any(mark in text for mark in "/?#@"):
        msg = "`domain` must be a host name such as storename.americommerce.com."
        raise UnsafeURLError(msg)
    return parse_url(f"https://{text}", "domain").origin + API_PATH


def url_base(url: object, setting: str) -> str:
    """An API base URL given in full (``api_url``, ``router_url``); no query, no trailing ``/``."""
    parsed = parse_url(url.strip() if isinstance(url, str) else url, setting)
    if parsed.query:
        msg = f"`{setting}` must not carry a query string."
        raise UnsafeURLError(msg)
    path = parsed.path.rstrip("/") or API_PATH
    return parsed.origin + path


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the default port made explicit.

    Used to compare a request's destination with the store's; an unparseable URL gets an origin
    no store has, so the token is withheld from it.
    """
    try:
        parsed = parse_url(url, "url", check_path=False)
    except UnsafeURLError:
        return "invalid://"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}:{port}"


def next_page_url(link: object, base: str) -> str:
    """A ``next_page`` link re-rooted on ``base``: our scheme and host, its path and query.

    The link's host is Cart.com's view of itself (a proxy or the sandbox may name itself
    differently); keeping ours keeps the token on our origin. The link must be an absolute
    http(s) URL or an absolute path, and its path must stay under ``base``'s API path.
    """
    text = _check_text(link, "next_page")
    root = parse_url(base, "api_url")
    if text.startswith("/") and not text.startswith("//"):
        parts = urlsplit(text)
        if parts.fragment or "#" in text:
            msg = "`next_page` must not carry a fragment (`#...`)."
            raise UnsafeURLError(msg)
        _check_path_query(parts.path, parts.query, "next_page")
        path, query = parts.path, parts.query
    elif "://" in text:
        parsed = (
            parse_url(text, "next_page", any_http=True) if text.lower().startswith("http") else None
        )
        if parsed is None:
            msg = "`next_page` must be an http(s) URL or an absolute path."
            raise UnsafeURLError(msg)
        path, query = parsed.path, parsed.query
    else:
        msg = "`next_page` must be an absolute URL or a path starting with `/`."
        raise UnsafeURLError(msg)
    api_root = root.path.rstrip("/")
    if not (path == api_root or path.startswith(api_root + "/")):
        msg = f"`next_page` leaves the API path {api_root!r}."
        raise UnsafeURLError(msg)
    return root.origin + path + (f"?{query}" if query else "")


def numbered_pages(link: object, base: str, last_page: int) -> list[str] | None:
    """The URLs of pages 2 to ``last_page`` of a read, from page 1's ``next_page`` link.

    Cart.com's ``next_page`` is the request's URL with ``page=N`` (docs/api.md §1.3), so page
    ``k`` is the same link with ``page=k``: the pages can be requested in any order. Each URL is
    the link re-rooted by ``next_page_url`` with only its page number changed, so it keeps the
    length the URL cap allowed for (``NEXT_PAGE_ROOM``). None when the link is not of that kind
    (no single ``page=2``): the caller follows ``next_page`` from page to page instead.
    """
    url = next_page_url(link, base)
    head, _, query = url.partition("?")
    pairs = query.split("&") if query else []
    at = [i for i, pair in enumerate(pairs) if pair.partition("=")[0] == "page"]
    if len(at) != 1 or pairs[at[0]] != "page=2" or len(str(last_page)) > len("99999"):
        return None
    urls = []
    for page in range(2, last_page + 1):
        pairs[at[0]] = f"page={page}"
        urls.append(f"{head}?{'&'.join(pairs)}")
    return urls


def ends_list_read(url: str) -> bool:
    """Whether a 404 answering this list read means "no more records" rather than an error.

    Cart.com answers a page out of range with 404 (docs/api.md §1.3), and some stores treat
    page 1 of an empty list (or of a filter with no match) as out of range too (INF). So a 404 ends
    a read past the first page, or a first page with any query (a filter or just ``count``, which
    every list read of the connectors sends); only a bare, query-less GET keeps its 404 as an error.
    """
    query = urlsplit(url).query
    return bool(query)


def check_secret(value: object, setting: str, what: str = "a Cart.com API token") -> str:
    """``value`` stripped when it is non-empty printable ASCII; the error never shows the value.

    A token is sent as a header: a newline in it would be refused by ``requests`` with the whole
    value in the message (and so in logs and tracebacks), or split the header on a lax stack.
    """
    if not isinstance(value, str):
        msg = f"`{setting}` must be text."
        raise ConfigurationError(msg)
    text = value.strip()
    if not text:
        msg = f"Set `{setting}` to {what}."
        raise ConfigurationError(msg)
    for position, char in enumerate(text):
        if not (0x20 <= ord(char) <= 0x7E):
            msg = (
                f"`{setting}` holds a character that is not printable ASCII at position "
                f"{position} (a newline, control or non-ASCII character); the value is not "
                "shown. Copy it again from where it was issued (a token: the admin console)."
            )
            raise ConfigurationError(msg)
    return text


def url_length(url: str, params: Mapping[str, str]) -> int:
    """Path, ``?`` and query of a GET of ``url`` with ``params``: what the URL cap counts.

    Measured on the request as ``requests`` prepares it, so every encoding rule is the one sent.
    """
    prepared = requests.Request("GET", url, params=params).prepare()
    parts = urlsplit(prepared.url or "")
    return len(parts.path) + 1 + len(parts.query)


def pack_for_url(
    items: Iterable[_Item],
    fixed_chars: int,
    cost: Callable[[_Item, _Item | None], int],
    *,
    max_items: int | None = None,
    max_chars: int = MAX_URL_LENGTH,
) -> Iterator[list[_Item]]:
    """The one URL-cap packing: ``items`` in order, as many per URL as fit ``max_chars``.

    ``fixed_chars`` is the length of everything else in path plus query; ``cost(item, previous)``
    the characters ``item`` adds after ``previous``, the item before it in the same URL (None
    when it opens one). Cart.com (IIS) caps path plus query at ``MAX_URL_LENGTH`` (docs/api.md
    §14). Lengths are added up item by item, so packing is linear. An item that cannot fit even
    alone raises ``ValueError``.
    """
    chunk: list[_Item] = []
    used = fixed_chars
    for item in items:
        extra = cost(item, chunk[-1] if chunk else None)
        full = max_items is not None and len(chunk) >= max_items
        if chunk and (full or used + extra > max_chars):
            yield chunk
            chunk, used = [], fixed_chars
            extra = cost(item, None)
        if not chunk and fixed_chars + extra > max_chars:
            msg = f"a single value is too long for one request: {str(item)[:40]!r}..."
            raise ValueError(msg)
        chunk.append(item)
        used += extra
    if chunk:
        yield chunk


def chunks_for_url(
    values: Iterable[str],
    fixed_chars: int,
    separator_chars: int,
    *,
    max_items: int | None = None,
    max_chars: int = MAX_URL_LENGTH,
) -> Iterator[list[str]]:
    """Split encoded ``values`` into lists whose joined length fits one URL (``pack_for_url``).

    ``fixed_chars`` is the length of everything else in path plus query (the API path, the
    parameter names, ``fields``/``expand``); ``separator_chars`` the length of what joins two
    values (1 for ``,`` in ``ids=``, 4 for ``+OR+``). A value that cannot fit even alone raises
    ``ValueError``.
    """

    def cost(value: str, previous: str | None) -> int:
        return len(value) if previous is None else len(value) + separator_chars

    return pack_for_url(values, fixed_chars, cost, max_items=max_items, max_chars=max_chars)


#: ``+OR+``: two conditions OR-ed within one field, once form-encoded.
_OR_LENGTH = len(quote_plus(" OR "))
#: ``OR+``: the start of a field's value that ORs it with the fields before it.
_OR_PREVIOUS_LENGTH = len(quote_plus("OR "))


def lookup_chunks(
    url: str,
    params: Mapping[str, str],
    fields: Mapping[str, Iterable[object]],
    *,
    max_items: int | None = None,
    max_chars: int = MAX_URL_LENGTH,
) -> Iterator[dict[str, str]]:
    """The parameters of each GET that looks up ``fields``' values, every URL within the cap.

    Each is ``params`` and ``query.fields_any`` of as many exact-match terms (``query.term``)
    as fit one URL of ``url`` (``pack_for_url``), with ``NEXT_PAGE_ROOM`` kept free: a lookup
    that matches more rows than a page holds runs on to a next page, whose link adds ``page=N``.
    ``max_items`` caps the terms per GET. Terms are made as packing reaches them, so a caller
    that stops early (it only needs to know whether there is more than one GET) pays for no more.
    """

    def terms() -> Iterator[tuple[str, str, int]]:
        for name, values in fields.items():
            for value in values:
                text = query.term(value)
                yield name, text, query.encoded_length(text)

    def cost(item: tuple[str, str, int], previous: tuple[str, str, int] | None) -> int:
        name, _, length = item
        if previous is None:  # &name=term
            return 2 + len(name) + length
        if previous[0] == name:  # +OR+term
            return _OR_LENGTH + length
        return 2 + len(name) + _OR_PREVIOUS_LENGTH + length  # &name=OR+term

    fixed = url_length(url, params) + NEXT_PAGE_ROOM
    for chunk in pack_for_url(terms(), fixed, cost, max_items=max_items, max_chars=max_chars):
        grouped: dict[str, list[str]] = {}
        for name, text, _ in chunk:
            grouped.setdefault(name, []).append(text)
        yield {**params, **query.fields_any(grouped)}

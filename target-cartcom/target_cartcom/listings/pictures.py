"""Which store picture stands for which listing image URL.

We add pictures by URL (``image_file`` = the absolute URL, ``download_external_image: true``).
Whether Cart.com keeps that URL or rewrites ``image_file`` to the local copy it downloaded
(``/shared/images/<file name>``) is unverified (docs/api.md §4, §12 q7), so a picture matches a URL

1. when its ``image_file`` is the URL itself, else
2. when its ``image_file`` is a site-relative path (a downloaded copy) with the URL's file name;
   several URLs sharing a file name pair with such pictures in store order.

No field a shopper may see (``alt``, ``description``) is written to remember the source URL:
``alt`` is the image's alt text, and whether a theme shows ``description`` is undocumented.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit


def file_name(path_or_url: str | None) -> str:
    """The file name of a URL or path, decoded and case-folded ("" when there is none)."""
    path = urlsplit((path_or_url or "").strip()).path
    return posixpath.basename(unquote(path)).casefold()


def is_local(image_file: str | None) -> bool:
    """Whether ``image_file`` is a site-relative path (not an absolute URL)."""
    parts = urlsplit((image_file or "").strip())
    return not parts.scheme and not parts.netloc and bool(parts.path)


def match_pictures(
    pictures: Sequence[dict[str, Any]], urls: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """Position in ``urls`` -> the store picture that stands for it (each used at most once)."""
    matched: dict[int, dict[str, Any]] = {}
    used: set[int] = set()
    for position, url in enumerate(urls):
        for i, picture in enumerate(pictures):
            if i not in used and (picture.get("image_file") or "").strip() == url.strip():
                matched[position] = picture
                used.add(i)
                break
    for position, url in enumerate(urls):
        name = file_name(url)
        if position in matched or not name:
            continue
        for i, picture in enumerate(pictures):
            image = picture.get("image_file")
            if i not in used and is_local(image) and file_name(image) == name:
                matched[position] = picture
                used.add(i)
                break
    return matched


def find_picture(
    pictures: Sequence[dict[str, Any]], url: str, claimed: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The store picture a lost ``POST`` of ``url`` made: one no other URL has claimed."""
    taken = {p.get("id") for p in claimed}
    free = [p for p in pictures if p.get("id") not in taken]
    free.sort(key=lambda p: p.get("id") or 0, reverse=True)  # the newest first
    return match_pictures(free, [url]).get(0)

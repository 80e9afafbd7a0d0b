"""Which store picture stands for which listing image URL, and making a product's pictures those.

We add pictures by URL (``image_file`` = the absolute URL, ``download_external_image: true``).
Whether Cart.com keeps that URL or rewrites ``image_file`` to the local copy it downloaded
(``/shared/images/<file name>``) is unverified (docs/api.md §4, §12 q7), so a picture matches a URL

1. when its ``image_file`` is the URL itself, else
2. when its ``image_file`` is a site-relative path (a downloaded copy) with the URL's file name;
   several URLs sharing a file name pair with such pictures in store order.

No field a shopper may see (``alt``, ``description``) is written to remember the source URL:
``alt`` is the image's alt text, and whether a theme shows ``description`` is undocumented.

Writes: ``add_picture`` (one ``POST /product_pictures`` by URL, found again after a lost answer)
and ``set_pictures`` (missing URLs added, unlisted pictures deleted, order and primary fixed),
which overwrite and the completion of an unfinished publish share.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from target_cartcom.listings.context import Context, Outcome

PICTURE_FIELDS = "id,product_id,image_file,is_primary,sort_order"


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


def add_picture(ctx: Context, pid: int, url: str, position: int, *, field: str) -> dict[str, Any]:
    """Add one picture by URL (the external-URL route).

    A POST whose answer was lost is found again among the product's pictures by URL, or by file
    name when the store rewrote ``image_file`` to its downloaded copy.
    """
    body = {
        "product_id": pid,
        "image_file": url,
        "is_primary": position == 0,
        "sort_order": position + 1,
        "download_external_image": True,
    }
    claimed = list(ctx.index.pictures.get(pid, []))

    def find() -> dict[str, Any] | None:
        return find_picture(read_pictures(ctx, pid), url, claimed)

    ctx.field = field
    created = ctx.creator.create(
        "/product_pictures", body, find, purpose=f"picture {url}", field=field
    )
    picture = {**body, "id": created["id"]}
    if isinstance(created.get("image_file"), str):
        picture["image_file"] = created["image_file"]  # what the store kept
    ctx.index.pictures.setdefault(pid, []).append(picture)
    return picture


def read_pictures(ctx: Context, pid: int) -> list[dict[str, Any]]:
    """The product's pictures as the store has them now (one paged read)."""
    return list(
        ctx.session.iter_records(
            "/product_pictures",
            {"product_id": str(pid), "count": str(ctx.options.page_size), "fields": PICTURE_FIELDS},
        )
    )


def set_pictures(ctx: Context, pid: int, urls: list[str], out: Outcome, *, operation: str) -> None:
    """Add missing pictures, delete unlisted ones, fix order and the primary picture."""
    if pid not in ctx.index.pictures:
        ctx.index.pictures[pid] = read_pictures(ctx, pid)
    existing = ctx.index.pictures[pid]
    old = [p.get("image_file") for p in existing]
    matched = match_pictures(existing, urls)
    taken = {id(p) for p in matched.values()}
    extra = [p for p in existing if id(p) not in taken]
    wrote = False
    for picture in extra:
        ctx.write(
            "DELETE",
            f"/product_pictures/{picture['id']}",
            None,
            field="images",
            purpose=f"remove picture {picture.get('image_file')}",
        )
        wrote = True
    kept: list[dict[str, Any]] = []
    for position, url in enumerate(urls):
        picture = matched.get(position)
        if picture is None:
            picture = add_picture(ctx, pid, url, position, field=f"images[{position}]")
            ctx.index.pictures[pid].remove(picture)
            wrote = True
        else:
            fix: dict[str, Any] = {}
            if bool(picture.get("is_primary")) != (position == 0):
                fix["is_primary"] = position == 0
            if (picture.get("sort_order") or 0) != position + 1:
                fix["sort_order"] = position + 1
            if fix:
                ctx.write(
                    "PUT",
                    f"/product_pictures/{picture['id']}",
                    fix,
                    field=f"images[{position}]",
                    purpose=f"reorder picture {url}",
                )
                picture.update(fix)
                wrote = True
        kept.append(picture)
    ctx.index.pictures[pid] = kept
    if wrote:
        out.change("images", old, list(urls))
        out.did(operation)

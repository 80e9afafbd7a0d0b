"""Picture idempotency whether the store keeps external image URLs or rewrites them (§4, §12 q7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from cartcom_testing.runs import run_listings as run
from cartcom_testing.runs import write_routes
from target_cartcom.listings.pictures import find_picture, match_pictures

ALL_OPS = ["link", "sync", "publish", "overwrite"]
HAS_OPTION = "external_images" in {f.name for f in dataclasses.fields(SandboxConfig)}
MODES = [
    "keep",
    pytest.param(
        "rewrite",
        marks=pytest.mark.skipif(not HAS_OPTION, reason="sandbox lacks external_images"),
    ),
]
TEE = {
    "sku": "PIC-TEE",
    "title": "Picture Tee",
    "categories": ["Apparel > Shirts"],
    "price": 10.0,
    "images": ["https://cdn.example.com/a/tee-front.jpg", "https://cdn.example.com/tee-back.jpg"],
    "variants": [
        {"sku": f"PIC-TEE-{s}", "options": {"Size": s}, "quantity": 1} for s in ("S", "M", "L")
    ],
}


@pytest.fixture(params=MODES)
def store(request) -> Iterator[SandboxServer]:
    """A sandbox whose external-image behaviour is the parameter, with reference data."""
    options = {"external_images": request.param} if HAS_OPTION else {}
    config = SandboxConfig(plan="unlimited", **options)
    with SandboxServer(":memory:", tokens=["test-token"], config=config) as sb:
        sb.store.insert("product_statuses", {"id": 1, "name": "In Stock"})
        sb.store.insert("categories", {"id": 1, "name": "Apparel", "parent_category_id": 0})
        sb.store.insert("categories", {"id": 2, "name": "Shirts", "parent_category_id": 1})
        sb.store.insert("variant_groups", {"id": 1, "name": "Size", "display_type": "DropDown"})
        sb.mode = request.param  # type: ignore[attr-defined]
        yield sb


def pictures(sb: Any, product_id: int) -> list[dict[str, Any]]:
    """The product's pictures in display order."""
    rows = sb.store.query("product_pictures", {"product_id": product_id})
    return sorted(rows, key=lambda p: (p["sort_order"], p["id"]))


def stored_as(sb: Any, url: str) -> str:
    """What the store keeps in image_file for a picture added from ``url``."""
    return "/shared/images/" + url.rsplit("/", 1)[1] if sb.mode == "rewrite" else url


def test_second_run_makes_no_picture_write(store):
    first, _ = run(store, [TEE], operations=ALL_OPS)
    pid = first.by_sku()["PIC-TEE"]["ids"]["product_id"]
    assert [p["image_file"] for p in pictures(store, pid)] == [
        stored_as(store, u) for u in TEE["images"]
    ]
    again, calls = run(store, [TEE], operations=ALL_OPS)
    assert write_routes(calls) == []
    assert again.by_sku()["PIC-TEE"]["outcome"] == "unchanged"
    assert len(pictures(store, pid)) == 2


def test_overwrite_reorders_adds_and_removes_by_source_url(store):
    first, _ = run(store, [TEE], operations=ALL_OPS)
    pid = first.by_sku()["PIC-TEE"]["ids"]["product_id"]
    front, back = pictures(store, pid)
    # Reversed order: two PUTs (order and primary), nothing added or removed.
    swapped = dict(TEE, images=TEE["images"][::-1])
    _, calls = run(store, [swapped], operations=["link", "overwrite"])
    assert sorted(write_routes(calls)) == [
        ("PUT", f"/product_pictures/{front['id']}"),
        ("PUT", f"/product_pictures/{back['id']}"),
    ]
    now = pictures(store, pid)
    assert [p["id"] for p in now] == [back["id"], front["id"]]
    assert [p["is_primary"] for p in now] == [True, False]
    # One image replaced by a new one: one DELETE, one POST; then a rerun writes nothing.
    new_url = "https://cdn.example.com/tee-side.jpg"
    changed = dict(TEE, images=[TEE["images"][1], new_url])
    _, calls = run(store, [changed], operations=["link", "overwrite"])
    assert sorted(write_routes(calls)) == [
        ("DELETE", f"/product_pictures/{front['id']}"),
        ("POST", "/product_pictures"),
    ]
    assert [p["image_file"] for p in pictures(store, pid)] == [
        stored_as(store, TEE["images"][1]),
        stored_as(store, new_url),
    ]
    _, calls = run(store, [changed], operations=ALL_OPS)
    assert write_routes(calls) == []


def test_lost_picture_answer_is_found_again_not_reposted(store):
    store.faults.script(
        [{"kind": "drop", "method": "POST", "path": "/product_pictures", "process": True}]
    )
    first, calls = run(store, [TEE], operations=ALL_OPS)
    assert first.by_sku()["PIC-TEE"]["outcome"] == "created"
    pid = first.by_sku()["PIC-TEE"]["ids"]["product_id"]
    assert len(store.faults.state()["fired"]) == 1
    # The first picture's answer was lost: one look-up finds it (by file name after a
    # rewrite), so two POSTs in all and two pictures.
    assert write_routes(calls).count(("POST", "/product_pictures")) == 2
    assert [(c.method, c.path) for c in calls].count(("GET", "/api/v1/product_pictures")) == 1
    assert [p["image_file"] for p in pictures(store, pid)] == [
        stored_as(store, u) for u in TEE["images"]
    ]
    _, calls = run(store, [TEE], operations=ALL_OPS)
    assert write_routes(calls) == []


# -- matching rules (no store) ---------------------------------------------------------------
def test_match_by_exact_url_then_by_file_name_of_a_local_copy():
    urls = [
        "https://a.example.com/x/front.jpg",
        "https://b.example.com/y/front.jpg",
        "https://a.example.com/x/Back%20View.JPG",
        "https://a.example.com/new.jpg",
    ]
    store = [
        {"id": 1, "image_file": "/shared/images/front.jpg"},
        {"id": 2, "image_file": "https://a.example.com/x/front.jpg"},
        {"id": 3, "image_file": "/shared/images/back view.jpg"},
        {"id": 4, "image_file": "https://elsewhere.example.com/new.jpg"},  # another source
        {"id": 5, "image_file": "/shared/images/front.jpg"},
    ]
    matched = match_pictures(store, urls)
    assert {k: v["id"] for k, v in matched.items()} == {0: 2, 1: 1, 2: 3}
    # After a lost POST: the newest unclaimed copy, never one another URL already holds.
    assert find_picture(store, urls[1], claimed=[store[0], store[1]])["id"] == 5
    assert find_picture(store, urls[3], claimed=[]) is None

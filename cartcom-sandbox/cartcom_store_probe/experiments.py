"""The probe's experiments: each one a few harmless GETs that settle one INF point.

The empty page status, the largest ``count`` honoured, the URL cap, and the call-limit header's
format. Each records its evidence (the path probed and the status) in the report's point.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from cartcom_store_probe._client.urls import MAX_URL_LENGTH
from cartcom_store_probe.calls import Caller, Reply
from cartcom_store_probe.rows import list_key_of

MAX_COUNT_ASK = 2000  # twice what §13 saw work live; then bisect only if refused
URL_CAP_GUESS = MAX_URL_LENGTH  # IIS / ASP.NET default (§14), the cap the client keeps to
#: The header's exact ``used/limit`` form. The client reads it leniently to pace
#: (``pacing.parse_call_limit``); the report says which form the store sends.
_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def note_call_limit(report: dict[str, Any], reply: Reply) -> None:
    """The ``call_limit_header`` point, from the first answer."""
    point = report["call_limit_header"]
    if point["evidence"]:
        return
    point["evidence"].append(reply.evidence)
    if reply.call_limit is None:
        point["value"] = {"format": "absent"}
        return
    m = _CALL_LIMIT.match(reply.call_limit)
    if m:
        point["value"] = {"format": "used/limit", "limit": int(m.group(2))}
    else:
        point["value"] = {"format": "other", "shape": header_shape(reply.call_limit)}


def header_shape(value: str) -> str:
    """A header's shape, never its text.

    Digit runs become 9, letter runs a, any other character but a few separators ``?``
    (``jane.doe@example.com`` is ``a.a?a.a``).
    """
    shape = re.sub(r"[^\W\d_]+", "a", re.sub(r"\d+", "9", value))
    return re.sub(r"[^a9 /:;,.=-]", "?", shape)[:40]


def probe_empty_page(caller: Caller, report: dict[str, Any]) -> None:
    """Page 1 of a filter nothing matches (no record has an id below 1)."""
    reply = caller.get("/orders", [("id", "lt:1"), ("count", "1")])
    point = report["empty_page_status"]
    point["evidence"].append(reply.evidence)
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status == 404 or (reply.status == 200 and body.get("total_count") == 0):
        point["value"] = reply.status
    else:
        point["note"] = "the empty filter was not honoured as expected"


def _rows(reply: Reply) -> int | None:
    key = list_key_of(reply.body)
    return len(reply.body[key]) if reply.status == 200 and key else None


def probe_max_count(caller: Caller, report: dict[str, Any], totals: dict[str, int]) -> None:
    """Largest ``count`` honoured, in at most 3 calls on the biggest resource seen.

    A store that caps silently shows the cap as the row count of one big page (when it has
    more rows than the cap). A store that refuses a big ``count`` (400) is bisected twice.
    """
    point = report["max_count"]
    if not totals or max(totals.values()) == 0:
        point["note"] = "no rows to page through"
        return
    name = max(totals, key=lambda n: (totals[n], n))
    total = totals[name]
    lo, hi = 0, None  # lo: a count known honoured; hi: a count known refused (400)
    hint = None  # a number the refusal's message names, tried (and so checked) next
    ask = MAX_COUNT_ASK
    for _ in range(3):
        reply = caller.get(f"/{name}", [("count", str(ask)), ("fields", "id")])
        point["evidence"].append(reply.evidence)
        rows = _rows(reply)
        if reply.status == 400:
            point["over_max"] = "error"
            hi = ask
            hint = _number_in_message(reply.body)
        elif rows is None:
            point["note"] = "the page answer had no list"
            break
        elif rows < min(ask, total):
            point["value"] = rows
            point.setdefault("over_max", "cap")
            return
        else:  # accepted: the whole ask, or every row there is
            lo = max(lo, ask if hi is not None or rows == ask else rows)
        if hi is None:
            break  # nothing refused and nothing capped: only a lower bound can be known
        if hint is not None and lo < hint < hi:
            ask = hint  # the store named its limit: check it
        elif hint is not None and lo == hint and hint + 1 < hi:
            ask = hint + 1  # ... and that one more is refused
        else:
            ask = (lo + hi) // 2 if lo else hi // 2
        if ask <= lo or ask >= hi:
            break
    if hi is not None and lo and hi - lo <= 1:
        point["value"] = lo
        return
    if lo:
        point["at_least"] = lo
    if hi is not None:
        point["below"] = hi


def _number_in_message(body: Any) -> int | None:
    """The one number in an error envelope's details (e.g. "cannot exceed 1000"), if any."""
    if not isinstance(body, dict):
        return None
    numbers = re.findall(r"\d+", str(body.get("details") or body.get("message") or ""))
    return int(numbers[0]) if len(numbers) == 1 and 0 < int(numbers[0]) < 100_000 else None


def probe_url_cap(caller: Caller, report: dict[str, Any]) -> None:
    """One harmless over-long GET (cap + 1), and one at the cap if that was refused."""
    point = report["url_cap"]
    point["measured_as"] = "path and query string"
    prefix_path = urlsplit(caller.base_url).path + "/orders"
    base_q = "count=1&fields=id&probe_padding="

    def padded(length: int) -> Reply:
        pad = "x" * (length - len(prefix_path) - 1 - len(base_q))
        shown = f"/orders?{base_q}<{len(pad)} x> ({length} characters)"
        return caller.get(
            "/orders", [("count", "1"), ("fields", "id"), ("probe_padding", pad)], shown=shown
        )

    over = padded(URL_CAP_GUESS + 1)
    point["evidence"].append(over.evidence)
    if over.status == 200:
        point["accepted_length"] = URL_CAP_GUESS + 1
        return
    at = padded(URL_CAP_GUESS)
    point["evidence"].append(at.evidence)
    if at.status == 200:
        point["value"] = URL_CAP_GUESS
        point["refusal_status"] = over.status
    else:
        point["note"] = "both lengths were refused; the padding itself may be refused"

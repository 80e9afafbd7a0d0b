"""A Get Orders state that is corrupt or hostile is refused, at once and in one line (issue 20.4).

``get_orders_emitted`` comes from outside the tap (Meltano's database, a state file). A zlib
bomb, a day after the run's day, an id of 0, a run of 0, digits that are not ASCII: each stops
the run before its first call with one message that names the key and how to clear it, and the
state is never trusted, nor written back. The bombs run in a real ``tap-cartcom`` under a
memory cap. Only names that existed before the checks are imported, so each test fails on the
unchecked code by its behaviour (silent acceptance, a traceback, a spin), not by an import.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tap_cartcom.emitted import STATE_KEY, DayRanges, EmittedOrders, pack, unpack
from tap_test_support import base_config, run_tap

TAP = str(Path(sys.executable).with_name("tap-cartcom"))
#: The fake's orders: ids 100001-100120, created hourly from 2024-03-01 12:00 UTC.
NOW = datetime(2024, 3, 6, 12, tzinfo=UTC)
#: The documented ceiling of one day (docs/tap.md, "A state the tap refuses").
DAY_ORDERS = 100_000


def _get_orders(fake: Any) -> dict[str, Any]:
    for order in fake.orders:
        order["order_status_id"] = 2  # Processing
    return base_config(order_status_ids=[2])


def _state(days: Any) -> dict[str, Any]:
    return {"bookmarks": {"orders": {STATE_KEY: days}}}


# -- in process: what the run does with a bad state -------------------------------------------
def test_a_day_after_the_runs_day_stops_the_run_before_any_output_or_call(fake):
    """Ids listed under a day that has not come yet: refused, nothing read, nothing written."""
    state = _state({"2024-03-01": "100001:3", "2024-03-08": "100004:117"})
    run = run_tap(_get_orders(fake), state=state, streams=("orders",), now=NOW, expect_error=True)
    message = str(run["error"])
    assert "`get_orders_emitted`" in message
    assert "day 2024-03-08 is after the run's day (2024-03-06, UTC)" in message
    assert "meltano state clear" in message
    assert fake.calls == []
    assert run["messages"] == []  # not even the state echoed back


def test_a_day_just_past_midnight_is_accepted_within_the_clock_slack(fake):
    """A run at 23:30 UTC takes "tomorrow" (its host's clock may lag the store's by minutes)."""
    late = datetime(2024, 3, 6, 23, 30, tzinfo=UTC)
    state = _state({"2024-03-07": "900001:2"})
    run = run_tap(_get_orders(fake), state=state, streams=("orders",), now=late)
    assert len(run["records"]["orders"]) == len(fake.orders)
    assert run["state"]["bookmarks"]["orders"][STATE_KEY]["2024-03-07"] == "900001:2"
    early = datetime(2024, 3, 6, 22, 30, tzinfo=UTC)  # more than an hour before midnight
    run = run_tap(_get_orders(fake), state=state, streams=("orders",), now=early, expect_error=True)
    assert "day 2024-03-07 is after the run's day" in str(run["error"])


def test_a_corrupt_day_of_the_window_stops_the_run(fake):
    """A day of the window whose ranges are not what the tap writes: refused, no call."""
    state = _state({"2024-03-01": "100001:0"})
    run = run_tap(_get_orders(fake), state=state, streams=("orders",), now=NOW, expect_error=True)
    assert "`get_orders_emitted` in the tap's state is unusable: day 2024-03-01" in str(
        run["error"]
    )
    assert fake.calls == []


def test_days_before_the_window_are_dropped_unread(fake):
    """A day the window has left is never decoded (not even a corrupt one) and not kept."""
    state = _state({"2024-01-02": "z:not base64 at all", "2024-03-01": "100001:12"})
    run = run_tap(_get_orders(fake), state=state, streams=("orders",), now=NOW)
    got = sorted(r["id"] for r in run["records"]["orders"])
    assert got == [o["id"] for o in fake.orders if o["id"] > 100012]
    assert sorted(run["state"]["bookmarks"]["orders"][STATE_KEY]) == [
        f"2024-03-{d:02d}" for d in range(1, 7)
    ]


# -- the checks, one by one ------------------------------------------------------------------
def _zlib(text: bytes) -> str:
    return "z:" + base64.b64encode(zlib.compress(text)).decode()


@pytest.mark.parametrize(
    ("days", "says"),
    [
        (["2024-03-01", "1:5"], "not a map of days"),
        ({"2024-3-1": "1:5"}, "a key is not a day"),
        ({"20240301": "1:5"}, "a key is not a day"),  # fromisoformat alone takes it
        ({"2024-02-30": "1:5"}, "a key is not a day"),
        ({"2024-03-01\n": "1:5"}, "a key is not a day"),
        ({"2024-03-01": 5}, "not a text of id ranges"),
        ({"2024-03-01": None}, "not a text of id ranges"),
        ({"2024-03-01": "0:5"}, "is 0"),  # id 0
        ({"2024-03-01": "5:0"}, "is 0"),  # a run of 0
        ({"2024-03-01": "5:1,0,1"}, "is 0"),  # a gap of 0: runs that touch
        ({"2024-03-01": "-5:1"}, "in digits"),
        ({"2024-03-01": "5:+1"}, "in digits"),
        ({"2024-03-01": "5: 1"}, "in digits"),
        ({"2024-03-01": "5:1_0"}, "in digits"),
        ({"2024-03-01": "5:\u0661"}, "in digits"),  # an Arabic-Indic one: int() takes it
        ({"2024-03-01": "5:1,1"}, "end with a gap"),
        ({"2024-03-01": f"1:{DAY_ORDERS + 1}"}, "more than 100,000 orders"),
        ({"2024-03-01": "1:60000,1,40001"}, "more than 100,000 orders"),
        ({"2024-03-01": f"{2**63 - 1}:2"}, "an id past"),
        ({"2024-03-01": "z:!!!!"}, "not base64 of zlib"),
        ({"2024-03-01": "z:" + base64.b64encode(b"not zlib").decode()}, "not base64 of zlib"),
        ({"2024-03-01": _zlib(b"1:5")[:-4]}, "cut short"),
        ({"2024-03-01": "z:" + base64.b64encode(zlib.compress(b"1:5") + b"x").decode()}, "after"),
        ({"2024-03-01": _zlib("1:5\u00e9".encode())}, "not text"),
    ],
)
def test_each_check_refuses_with_a_message_naming_the_key(days: Any, says: str) -> None:
    """Types, days, ids, runs and the compressed form: each refused, the text never quoted."""
    with pytest.raises(ValueError, match="`get_orders_emitted` in the tap's state") as caught:
        EmittedOrders.from_state(days)
    assert says in str(caught.value)
    assert "meltano state clear" in str(caught.value)
    text = next(iter(days.values())) if isinstance(days, dict) else None
    if isinstance(text, str) and len(text) > 4:
        assert text not in str(caught.value)


def test_a_run_of_zero_in_a_stored_range_is_refused() -> None:
    """``encode`` never writes a run or a gap of 0; reading one would invent or merge ids."""
    assert (DayRanges.decode("5:1").starts, DayRanges.decode("5:1").ends) == ([5], [5])
    for text in ("5:0", "5:2,1,0", "5:0,1,2"):
        with pytest.raises(ValueError, match="bad id ranges"):
            DayRanges.decode(text)


def test_a_day_text_at_the_threshold_is_stored_plain_and_one_more_compressed() -> None:
    """200 characters stay as they are; 201 are stored ``z:`` + base64(zlib)."""
    at = "1:1" + ",1,1" * 48 + ",12,1"
    over = "1:1" + ",1,1" * 48 + ",123,1"
    assert (len(at), len(over)) == (200, 201)
    assert pack(at) == at
    assert pack(over).startswith("z:")
    assert unpack(pack(over)) == over
    assert DayRanges.decode(over).encode() == over


def test_the_fullest_day_the_tap_can_write_is_read_back() -> None:
    """100,000 orders in one day, each its own run with a random 14-digit gap: accepted.

    The worst text ``encode`` can write for a legitimate day must pass every bound (the text,
    the compressed text, the id ceiling); one more order is refused.
    """
    rng = random.Random(20)
    day = DayRanges()
    order_id = 1
    for _ in range(DAY_ORDERS):
        day.add(order_id)
        order_id += 1 + rng.randrange(10**13, 9 * 10**13)
    stored = pack(day.encode())
    assert stored.startswith("z:")
    back = EmittedOrders.from_state({"2024-03-01": stored})
    assert len(back) == DAY_ORDERS
    assert back.to_state() == {"2024-03-01": stored}
    day.add(order_id)
    with pytest.raises(ValueError, match="more than 100,000 orders"):
        EmittedOrders.from_state({"2024-03-01": pack(day.encode())})


# -- zlib bombs, in a real tap-cartcom under a memory cap --------------------------------------
def zlib_bomb(size: int) -> bytes:
    """A valid zlib stream of ``1:1,1,1,...`` that expands to about ``size`` bytes.

    Built in well under a second for 4 GB: after a full flush the compressor's history is
    empty, so each 1 MB chunk compresses to the same bytes, which are repeated; the Adler-32
    trailer is the chunk's checksum combined ``count`` times (zlib's ``adler32_combine``).
    """
    head, chunk = b"1:1", b",1,1" * (1 << 18)
    count = (size - len(head)) // len(chunk)
    packer = zlib.compressobj(9)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH) == block
    end = packer.flush(zlib.Z_FINISH)[:-4]  # the empty last block, without its checksum
    adler, of_chunk = zlib.adler32(head), zlib.adler32(chunk)
    for _ in range(count):
        adler = _adler32_combine(adler, of_chunk, len(chunk))
    return start + block * count + end + adler.to_bytes(4, "big")


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two texts from theirs (zlib's ``adler32_combine``, not exposed by Python)."""
    base = 65521
    rem = second_length % base
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    return (a1 + a2 - 1) % base | ((rem * a1 + b1 + b2 - rem) % base) << 16


def test_the_bomb_helper_makes_what_it_says() -> None:
    """A small bomb expands, checksum and all, to ``1:1,1,1,...`` of about the asked size."""
    text = zlib.decompress(zlib_bomb(8 << 20))
    assert (7 << 20) < len(text) <= (8 << 20)
    assert text == b"1:1" + b",1,1" * ((len(text) - 3) // 4)


#: The cap on the tap's address space: far below what either bomb expands to.
MEMORY_CAP = 1 << 30
#: Sets the cap, then becomes ``tap-cartcom`` (no ``preexec_fn``: the test process has threads).
CAPPED = (
    "import os, resource, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP})); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


@pytest.mark.parametrize("size", [80 << 20, 4 << 30], ids=["80MB", "4GB"])
def test_a_zlib_bomb_stops_a_real_tap_at_once_and_cleanly(sandbox, tmp_path, size):
    """The bomb under today's date: exit 1, one error line, no traceback, no output, no call.

    Without the bounds, under this cap, the 80 MB one ran at 100 % CPU for tens of seconds
    (20 million runs) and both ended in a MemoryError traceback. The timeout only guards
    against a hang.
    """
    config = {
        "access_token": sandbox.token,
        "api_url": sandbox.base_url,
        "calls_per_window": 1000,
        "window_seconds": 1,
        "order_status_ids": [2],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    today = datetime.now(UTC).date().isoformat()
    stored = "z:" + base64.b64encode(zlib_bomb(size)).decode("ascii")
    (tmp_path / "state.json").write_text(json.dumps(_state({today: stored})))
    args = [sys.executable, "-c", CAPPED, TAP, "--config", str(tmp_path / "config.json")]
    args += ["--state", str(tmp_path / "state.json")]
    tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = tap.communicate(timeout=120)
    finally:
        tap.kill()
    errors = [line for line in err.splitlines() if "| ERROR" in line]
    assert tap.returncode == 1, err[-3000:]
    assert len(errors) == 1, err[-3000:]
    assert f"`get_orders_emitted` in the tap's state is unusable: day {today}" in errors[0]
    assert "meltano state clear" in errors[0]
    assert "Traceback" not in err
    assert out == ""
    assert len(sandbox.calls) == 0


# -- the id ranges against a plain set (issue 26's mutation survivors) -------------------------
def test_id_ranges_hold_exactly_what_a_set_holds_in_any_order_of_arrival():
    """Ids added in a shuffled order, many adjacent (runs merge left, right and both ways).

    After every add the ranges answer membership, count and "already there" as a set does, and
    survive their own encoding; a seeded shuffle, so the same sequence every run.
    """
    rng = random.Random(26)
    ids = [n for n in range(1, 400) if rng.random() < 0.6]
    arrivals = ids + rng.sample(ids, 40)  # 40 repeats
    rng.shuffle(arrivals)
    ranges, seen = DayRanges(), set()
    for order_id in arrivals:
        assert ranges.add(order_id) is (order_id not in seen)
        seen.add(order_id)
        assert len(ranges) == len(seen)
    assert [n for n in range(0, 401) if n in ranges] == sorted(seen)
    again = DayRanges.decode(ranges.encode())
    assert (again.starts, again.ends) == (ranges.starts, ranges.ends)


def test_a_range_past_the_largest_order_id_is_refused_wherever_it_is():
    """The last range, not only the first, must stay within a 64-bit order id.

    The largest id itself (2**63 - 1) is an order id a day may hold.
    """
    with pytest.raises(ValueError, match="an id past"):
        DayRanges.decode(f"1:1,{2**63 - 1},1")
    assert 2**63 - 1 in DayRanges.decode(f"1:1,{2**63 - 3},1")
    assert 2**63 - 1 in DayRanges.decode(f"{2**63 - 1}:1")


def test_an_order_without_a_usable_creation_time_or_id_was_never_emitted():
    """``has`` answers no for a missing day or an id that is not a number (never "skip it")."""
    emitted = EmittedOrders()
    emitted.add("2024-05-01T10:00:00Z", 5)
    assert emitted.has("2024-05-01T23:59:59Z", 5)
    assert EmittedOrders.day_of("2024-05-01") == "2024-05-01"
    assert not emitted.has(None, 5)
    assert not emitted.has("2024-05", 5)
    assert not emitted.has("2024-05-01T10:00:00Z", "5")


# -- the bounds of a stored day, at their edges (issue 26's mutation survivors) ----------------
from tap_cartcom.emitted import MAX_DAY_TEXT  # noqa: E402


def _zlib_worst_case(length: int) -> int:
    """zlib's ``compressBound``: the most ``length`` bytes can take once compressed (zlib.h)."""
    return length + (length >> 12) + (length >> 14) + (length >> 25) + 13


def test_a_stored_day_longer_than_any_day_compresses_to_is_refused_unread() -> None:
    """The bound is zlib's worst case for the longest day text, in base64 after ``z:``.

    A stored day of that length is decoded (here it is no zlib data); one character more is
    refused before decoding, and the refusal says how long a compressed day may be.
    """
    longest = 2 + 4 * -(-_zlib_worst_case(MAX_DAY_TEXT) // 3)
    with pytest.raises(ValueError, match="not base64 of zlib data"):
        unpack("z:" + "A" * (longest - 2))
    with pytest.raises(ValueError, match=f"a compressed day is longer than {longest:,} characters"):
        unpack("z:" + "A" * (longest - 1))


def test_a_compressed_day_expanding_past_the_longest_day_text_is_refused_saying_so() -> None:
    """Decompression stops one character past the longest text a day can have, and says so.

    (MAX_DAY_TEXT is a loose bound, 2,200,020 characters: the figure is not what is tested.)

    A day of exactly that length is read whole (its ranges are checked next, by ``decode``).
    """
    at = "1:1" + ",1,1" * ((MAX_DAY_TEXT - 3) // 4)
    at += "1" * (MAX_DAY_TEXT - len(at))
    assert len(at) == MAX_DAY_TEXT
    assert unpack("z:" + base64.b64encode(zlib.compress(at.encode())).decode()) == at
    past = "z:" + base64.b64encode(zlib.compress((at + "1").encode())).decode()
    with pytest.raises(
        ValueError, match=f"a compressed day expands past {MAX_DAY_TEXT:,} characters"
    ):
        unpack(past)


def test_an_order_without_a_creation_day_or_a_numeric_id_is_not_remembered() -> None:
    """Such an order cannot be placed in a day: the state stays as it was, with no odd day."""
    emitted = EmittedOrders()
    emitted.add(None, 5)
    emitted.add("2024-05-0", 6)  # 9 characters: no day
    emitted.add("2024-05-01T10:00:00Z", "7")
    assert len(emitted) == 0
    assert emitted.to_state() == {}

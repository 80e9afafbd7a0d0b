"""Pacing: the call budget (fake clock), X-AC-Call-Limit and Retry-After parsing."""

from __future__ import annotations

import threading
from email.utils import formatdate

import pytest
import requests
from cartcom_client import CartcomSession, ConnectionSettings
from cartcom_client.pacing import CallBudget, call_kind, parse_call_limit, parse_retry_after


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or a call takes time)."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        """Current time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock."""
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7/20", (7, 20)),
        (" 7 / 20 ", (7, 20)),
        ("3,5", (3, 5)),
        ("0:50", (0, 50)),
        ("20/20", (20, 20)),
        ("5/0", None),
        ("abc", None),
        ("", None),
        (None, None),
        ("7/20/30", None),
        ("-1/5", None),
    ],
)
def test_parse_call_limit(header, expected):
    """``used/limit`` is read leniently; anything else is ignored, never guessed."""
    assert parse_call_limit(header) == expected


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("put", "/api/v1/product_variants/7", "PUT /api/v1/product_variants/{id}"),
        ("POST", "/api/v1/products/55/pictures", "POST /api/v1/products/{id}/pictures"),
        ("GET", "/api/v1/orders", "GET /api/v1/orders"),
        ("GET", "/api/v1/order_addresses/select_many", "GET /api/v1/order_addresses/select_many"),
        ("GET", "/api/v1/v2/orders12/12ab", "GET /api/v1/v2/orders12/12ab"),
    ],
)
def test_call_kind_sets_ids_aside(method, path, kind):
    """Writes to two variants are one kind of call; a name with digits in it is not an id."""
    assert call_kind(method, path) == kind


def test_parse_retry_after_forms():
    """Seconds (int or decimal), HTTP-date, ISO 8601; negative and past give 0; garbage None."""
    now = 1_700_000_000.0
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after(" 2.5 ", now=now) == 2.5
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after(formatdate(now + 7, usegmt=True), now=now) == pytest.approx(7.0)
    assert parse_retry_after(formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert parse_retry_after("2023-11-14T22:13:27Z", now=now) == pytest.approx(7.0)
    assert parse_retry_after("2023-11-14T16:13:27-06:00", now=now) == pytest.approx(7.0)
    assert parse_retry_after("2023-11-14T22:13:27", now=now) == pytest.approx(7.0)  # naive = UTC
    for garbage in ("soon", "", "   ", None, "Mon, 99 Foo 2023"):
        assert parse_retry_after(garbage, now=now) is None


def test_budget_allows_limit_then_waits_a_full_window():
    """Five calls start at once; the sixth waits until the first completion leaves the window."""
    clock = FakeClock()
    budget = CallBudget(5, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert budget.acquire() == 0.0
        budget.release()
    start = clock.now
    waited = budget.acquire()
    assert waited == pytest.approx(10.0)
    assert clock.now - start == pytest.approx(10.0)
    assert budget.waited == pytest.approx(10.0)  # the run's total: only that one wait


def test_budget_counts_completions_so_no_server_window_exceeds_limit():
    """With latency, starts never exceed ``calls`` in any window (sliding check on starts)."""
    clock = FakeClock()
    budget = CallBudget(3, 1.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(20):
        budget.acquire()
        starts.append(clock.now)
        clock.now += 0.13  # the call takes 130 ms
        budget.release()
    for i, first in enumerate(starts):
        assert sum(1 for s in starts[i:] if s < first + 1.0) <= 3
    # Close to the ceiling: 20 calls at 3/s need about 6 windows, not many more.
    assert starts[-1] - starts[0] < 7.5


def test_budget_in_flight_calls_count():
    """Calls still in flight take budget: a third concurrent call waits for one to complete."""
    clock = FakeClock()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            budget.release()  # one of the in-flight calls completes meanwhile
        clock.now += seconds

    budget = CallBudget(2, 1.0, margin=0.0, clock=clock, sleep=sleep)
    budget.acquire()
    budget.acquire()
    budget.acquire()
    assert len(sleeps) >= 3
    assert clock.now - 1000.0 >= 1.0  # then it still waits out the completed call's window


def test_budget_counts_a_slow_answer_from_when_the_call_left():
    """Calls answered in 0.6 s, once one has been: the next may leave a window after they left.

    The store counted them when they arrived, and no answer came quicker than 0.6 s: they
    arrived no later than their answer's time less 0.6 s, which is when they left. The run's
    first answer counts when it came back (nothing bounded the store's work on it yet).
    """
    clock = FakeClock()
    budget = CallBudget(5, 1.0, margin=0.0, clock=clock, sleep=clock.sleep)
    budget.acquire()
    clock.now += 0.6
    budget.release()  # counted at 1000.6
    assert budget.acquire() == 0.0
    for _ in range(3):
        budget.acquire()
    start = clock.now
    clock.now += 0.6
    for _ in range(4):
        budget.release()  # each counted at 1000.6: when it left
    budget.acquire()  # the sixth: the first four still count until 1001.6, the fifth too
    assert clock.now - start == pytest.approx(1.0)


def test_budget_keeps_the_slot_of_a_call_held_up_on_its_way():
    """A call answered 0.3 s slower than the quickest keeps its slot 0.3 s longer.

    It may have arrived 0.3 s late (held up on its way, or in the store's queue): its slot is
    kept until one window after that, not after it left.
    """
    clock = FakeClock()
    budget = CallBudget(1, 1.0, margin=0.0, clock=clock, sleep=clock.sleep)
    budget.acquire()
    clock.now += 0.6  # the run's first answer: counted when it came back
    budget.release()
    budget.acquire()
    second = clock.now
    assert second == pytest.approx(1000.6 + 1.0)
    clock.now += 0.6  # as quick as the quickest: counted when it left
    budget.release()
    budget.acquire()
    third = clock.now
    assert third - second == pytest.approx(1.0)
    clock.now += 0.9
    budget.release()
    budget.acquire()
    assert clock.now - third == pytest.approx(0.3 + 1.0)


def test_budget_caps_the_calls_in_flight():
    """``in_flight=2``: a third call waits for an answer, though the window has room for 50."""
    clock = FakeClock()
    released = []

    def sleep(seconds):
        if not released:
            budget.release()  # one of the two calls in flight is answered meanwhile
            released.append(clock.now)
        clock.now += seconds

    budget = CallBudget(50, 10.0, in_flight=2, clock=clock, sleep=sleep)
    budget.acquire()
    budget.acquire()
    budget.acquire()
    assert released  # the third call waited, and went once an answer freed a place
    assert clock.now - 1000.0 < 0.1  # not for the window: the window had room


def test_budget_adopts_lower_server_limit_and_counts_other_clients():
    """``X-AC-Call-Limit: 4/5`` under a budget of 50: limit drops to 5, four slots are used."""
    clock = FakeClock()
    budget = CallBudget(50, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.release({"X-AC-Call-Limit": "4/5"})
    assert budget.calls == 5
    assert budget.server_limit == 5
    budget.acquire()
    budget.release({"X-AC-Call-Limit": "5/5"})
    start = clock.now
    budget.acquire()
    assert clock.now - start == pytest.approx(10.0)


class CallOnThread:
    """One call made the adapter's way: acquired and released on its own thread, when told."""

    def __init__(self, budget: CallBudget) -> None:
        """Let the call go (``acquire``) on a new thread; return once it has."""
        self.budget = budget
        self.headers: dict[str, str] | None = None
        self._sent = threading.Event()
        self._answer = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        assert self._sent.wait(5)

    def _run(self) -> None:
        self.budget.acquire()
        self._sent.set()
        self._answer.wait(5)
        self.budget.release(self.headers)

    def answer(self, headers: dict[str, str] | None = None) -> None:
        """The store answers the call with ``headers``; return once the budget has read them."""
        self.headers = headers
        self._answer.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


def test_calls_in_flight_are_not_counted_twice_against_the_server_count():
    """``3/5`` on the third of our calls out at once: the 3 are ours, two more start now.

    The store counts a call when it arrives, so the third call saw our three; counting the
    other two again as other clients' calls would hold back calls the window still has room for.
    """
    clock = FakeClock()
    budget = CallBudget(5, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    calls = [CallOnThread(budget) for _ in range(3)]
    calls[2].answer({"X-AC-Call-Limit": "3/5"})  # two are still in flight
    assert budget.acquire() == 0.0
    assert budget.acquire() == 0.0
    assert clock.slept == []
    for call in calls[:2]:
        call.answer()


def calls_that_start_at_once(budget: CallBudget) -> int:
    """How many calls start without waiting (the first that waits is not counted)."""
    started = 0
    while budget.acquire() == 0.0:
        started += 1
        assert started <= budget.calls
    return started


def test_other_clients_calls_are_counted_once_across_answers():
    """``3/10``: two calls of other clients; a later call's ``6/10``: two more, not four.

    The later answer's count holds the two seen before: only what is new takes slots.
    """
    clock = FakeClock()
    budget = CallBudget(10, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.release({"X-AC-Call-Limit": "3/10"})
    budget.acquire()
    budget.release({"X-AC-Call-Limit": "6/10"})
    assert calls_that_start_at_once(budget) == 4  # 10 less our 2 and their 4


def test_two_answers_in_flight_together_count_other_clients_calls_once():
    """Two calls out at once: the first answer ``3/5`` shows two calls of other clients.

    The second answer's ``4/5`` holds those two and our two: no more; one more call starts.
    """
    clock = FakeClock()
    budget = CallBudget(5, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    first, second = CallOnThread(budget), CallOnThread(budget)
    first.answer({"X-AC-Call-Limit": "3/5"})
    second.answer({"X-AC-Call-Limit": "4/5"})
    assert calls_that_start_at_once(budget) == 1


@pytest.mark.parametrize(
    ("first", "second", "start"),
    [
        ("1/5", "3/5", 2),  # none before the first; one other client's call before the second
        ("0/5", "2/5", 3),  # the store's window began anew: its 0 holds no one's calls
    ],
)
def test_an_answer_showing_no_other_clients_calls_takes_no_slot(first, second, start):
    """Two calls out at once; the first answer shows no call of other clients (or fewer).

    Only the second answer's excess over our two calls is other clients' calls.
    """
    clock = FakeClock()
    budget = CallBudget(5, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    calls = CallOnThread(budget), CallOnThread(budget)
    calls[0].answer({"X-AC-Call-Limit": first})
    calls[1].answer({"X-AC-Call-Limit": second})
    assert calls_that_start_at_once(budget) == start


def test_a_shorter_retry_after_does_not_shorten_an_earlier_one():
    """A 429 saying 5 s, then another saying 1 s: nothing is sent for the full 5 s."""
    clock = FakeClock()
    budget = CallBudget(50, 10.0, clock=clock, sleep=clock.sleep)
    budget.block_for(5.0)
    budget.block_for(1.0)
    start = clock.now
    budget.acquire()
    assert clock.now - start == pytest.approx(5.0)


def test_the_default_margin_pads_each_window_by_1_percent_and_5_ms():
    """Clock skew between us and Cart.com: the sixth call of 5 per 10 s waits 10.105 s."""
    clock = FakeClock()
    budget = CallBudget(5, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        budget.acquire()
        budget.release()
    assert budget.acquire() == pytest.approx(10.105)


def test_a_call_in_the_margin_after_the_window_waits_the_margin_out():
    """5 per 10 s, the sixth asked 10.05 s after the five: it still waits 55 ms (skew margin).

    By our clock the five have left the window; by the store's, 105 ms behind at worst, they
    may not have: sent now, the sixth could meet a 429.
    """
    clock = FakeClock()
    budget = CallBudget(5, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        budget.acquire()
        budget.release()
    clock.now += 10.05
    assert budget.acquire() == pytest.approx(0.055)


def test_a_call_starts_within_1_ms_of_the_window_freeing():
    """Whatever is left of the wait, however small, the call never waits more than 1 ms over."""
    clock = FakeClock()
    budget = CallBudget(1, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.release()
    clock.now += 10.0 - 0.0004  # 0.4 ms before the completion leaves the window
    waited = budget.acquire()
    assert 0.0004 <= waited <= 0.001


def test_a_call_waiting_on_calls_in_flight_looks_again_within_5_ms():
    """Only calls in flight fill the budget: the waiter notices a completion within 5 ms.

    (The completion then holds its place in the window: the call waits for it to leave.)
    """
    clock = FakeClock()

    def sleep(seconds):
        clock.slept.append(seconds)
        clock.now += seconds
        if len(clock.slept) == 1:
            budget.release()  # the call in flight completes while the waiter sleeps

    budget = CallBudget(2, 10.0, margin=0.0, clock=clock, sleep=sleep)
    budget.acquire()
    budget.acquire()
    budget.acquire()
    # It looked again within 5 ms, then waited for that completion to leave the window.
    assert 0 < clock.slept[0] <= 0.005
    assert clock.slept[1:] == [pytest.approx(10.0)]


def test_a_call_limit_of_one_is_a_limit():
    """``0/1``: a store allowing one call per window is read as such, not ignored."""
    assert parse_call_limit("0/1") == (0, 1)


def test_the_server_count_is_read_against_the_calls_still_in_the_window():
    """A slow call: our 5 earlier calls left the window while it ran.

    So its ``5/5`` means 5 calls of other clients, and the next call waits a full window.
    """
    clock = FakeClock()
    budget = CallBudget(10, 10.0, margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        budget.acquire()
        budget.release()
    clock.now += 9.0
    budget.acquire()
    clock.now += 2.0  # the call takes 2 s: the 5 earlier ones are now out of the window
    budget.release({"X-AC-Call-Limit": "5/5"})
    assert budget.acquire() == pytest.approx(10.0)


def test_a_retry_after_of_0_holds_nothing():
    """``Retry-After: 0``: the next call goes at once."""
    clock = FakeClock()
    budget = CallBudget(5, 10.0, clock=clock, sleep=clock.sleep)
    budget.block_for(0.0)
    assert budget.acquire() == 0.0


def test_budget_never_raises_limit_from_header():
    """A higher server limit does not loosen the configured budget."""
    budget = CallBudget(5, 10.0)
    budget.acquire()
    budget.release({"X-AC-Call-Limit": "1/50"})
    assert budget.calls == 5


def test_block_for_holds_every_call():
    """After a 429, no call starts before Retry-After has passed."""
    clock = FakeClock()
    budget = CallBudget(50, 10.0, clock=clock, sleep=clock.sleep)
    budget.block_for(3.5)
    start = clock.now
    budget.acquire()
    assert clock.now - start >= 3.5
    assert budget.waited >= 3.5


def test_budget_rejects_nonsense():
    """At least one call per positive window."""
    with pytest.raises(ValueError, match="at least 1 call"):
        CallBudget(0, 10)
    with pytest.raises(ValueError, match="at least 1 call"):
        CallBudget(5, 0)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("fmt", ["seconds", "http-date"])
def test_paced_retry_after_a_429_waits_until_retry_after_and_no_longer(sandbox, fmt):
    """The pacing adapter's 429 block ends when Retry-After says, in either form, real clocks.

    Another client has used the store's window up; our call meets a 429, and the retry must come
    no sooner than Retry-After and at most a scheduling slack later (an HTTP-date read against
    the monotonic clock would hold every call for the 300-s cap instead).
    """
    window = 2.0
    sandbox.ratelimit.configure(calls=1, window=window, retry_after_format=fmt)
    other = requests.get(
        f"{sandbox.base_url}/stores", headers={"X-AC-Auth-Token": sandbox.token}, timeout=5
    )
    assert other.status_code == 200
    settings = ConnectionSettings.from_config(
        {
            "access_token": sandbox.token,
            "api_url": sandbox.base_url,
            "calls_per_window": 50,
            "window_seconds": window,
        }
    )
    session = CartcomSession(settings, max_tries=3)
    session.get("/stores")
    calls = [c for c in sandbox.calls if c.path == "/api/v1/stores"]
    assert [c.status for c in calls] == [200, 429, 200]
    first, hit, retry = calls
    # The sandbox's window opened with the other client's call; Retry-After points at its end,
    # rounded up to a whole second (both forms carry whole seconds).
    reopens = first.ts + window
    assert retry.ts >= reopens - 0.01
    assert retry.ts - hit.ts <= (reopens - hit.ts) + 1.0 + 1.0  # rounding + scheduling slack
    assert session.adapter.rate_limited == 1

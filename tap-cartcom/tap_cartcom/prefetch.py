"""Pages read ahead in background threads, so that calls overlap each other and the records.

Calls are the scarce resource: while a page's records are being conformed and written, the next
pages (and their batched address reads) are already waiting for their slot in the call budget or
in flight, so the tap runs at the rate limit's ceiling instead of at (rate limit + CPU time), and
a store that takes a second per answer still gets as many calls as its plan allows.

``read_ahead`` follows a chain (each page names the next); ``read_in_order`` reads numbered pages
(or a page's batched address reads) with several workers, in any order, and hands them over
strictly in order. The call budget (calls per window, and ``max_in_flight`` calls waiting at
once) bounds the calls, whatever the number of workers.
"""

from __future__ import annotations

import queue
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

T = t.TypeVar("T")
_DONE = object()


def read_ahead(pages: Iterator[T], depth: int, name: str) -> Iterator[T]:
    """Each item of ``pages``, produced by a thread ``name`` up to ``depth`` items ahead.

    An exception in the thread is raised here, in its place; closing this generator (the run
    stopped, or failed on a record) stops the thread before its next item.
    """
    items: queue.Queue[t.Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: t.Any) -> None:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return

    def produce() -> None:
        try:
            while not stop.is_set():
                item = next(pages, _DONE)
                if item is _DONE:
                    break
                put(item)
        except BaseException as exc:
            put(exc)
        finally:
            put(_DONE)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


#: How long closing a reader waits for its workers' calls in flight before leaving them behind.
STOP_WAIT_SECONDS = 2.0


def read_in_order(
    fetch: Callable[[t.Any], T], pages: Sequence[t.Any], workers: int, name: str
) -> Iterator[T]:
    """``fetch(page)`` for each of ``pages``, run by up to ``workers`` threads, yielded in order.

    A worker starts a page only while it is fewer than ``workers`` pages ahead of the one
    yielded last, so at most ``workers`` pages are read and not yet handed over: what a killed
    run re-reads. An exception raised by ``fetch`` is raised here in that page's place (pages
    before it are yielded first), and no page after it is started. Closing this generator (the
    run stopped, or failed on a record) stops the workers before their next page. With one
    worker (or one page) the pages are read here, in this thread.
    """
    workers = max(1, min(int(workers), len(pages)))
    if workers == 1:
        for page in pages:
            yield fetch(page)
        return
    done: dict[int, tuple[bool, t.Any]] = {}
    turn = threading.Condition()
    state = {"next": 0, "handed": 0, "stop": False}

    def work() -> None:
        while True:
            with turn:
                while (
                    not state["stop"]
                    and state["next"] < len(pages)
                    and state["next"] >= state["handed"] + workers
                ):
                    turn.wait()
                if state["stop"] or state["next"] >= len(pages):
                    return
                index = state["next"]
                state["next"] += 1
            try:
                result: tuple[bool, t.Any] = (True, fetch(pages[index]))
            except BaseException as exc:  # handed over in the page's place
                result = (False, exc)
            with turn:
                done[index] = result
                if not result[0]:
                    state["stop"] = True  # no page after a failed one
                turn.notify_all()

    threads = [
        threading.Thread(target=work, name=f"{name}-{n + 1}", daemon=True) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(pages)):
            with turn:
                while index not in done:
                    turn.wait()
                ok, value = done.pop(index)
                state["handed"] = index + 1
                turn.notify_all()
            if not ok:
                raise value
            yield value
    finally:
        with turn:
            state["stop"] = True
            turn.notify_all()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

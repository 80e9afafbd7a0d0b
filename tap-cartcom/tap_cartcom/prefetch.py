"""Pages read ahead in a background thread, so that calls overlap with the work on records.

Calls are the scarce resource: while a page's records are being conformed and written, the next
page (and its batched address read) is already waiting for its slot in the call budget or in
flight, so the tap runs at the rate limit's ceiling instead of at (rate limit + CPU time).
"""

from __future__ import annotations

import queue
import threading
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator

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

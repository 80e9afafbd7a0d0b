"""Several listings written at once, one turn at a time: only the waits for the store overlap.

A real store answers a call in about a second, so one call after the other uses a fraction of
the plan's calls. ``Turns.run`` gives each independent unit of work (one listing) to one of up
to ``max_in_flight`` workers. A worker runs the target's code only while it holds the run's one
turn, and gives the turn up only while its call is with the store (``TurnTakingSession``). So
the code between two calls is never interleaved: the store index, the references and the plan
change exactly as in a run that handles one listing after the other, the writes of one listing
keep their order, and at most ``max_in_flight`` calls are in flight (one per worker). The call
budget still paces every call, and a 429 still pauses them all.

What several listings share and may create (a brand, a category, a variant group) is found or
created while the turn is ``pinned``: its calls keep the turn, so no other listing creates the
same one meanwhile.

The first error that escapes a unit (a fatal one: per-record errors never escape) stops the
run: the other workers stop when their call in flight comes back, and ``run`` raises it once
every worker has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from target_cartcom._client import CartcomSession

T = TypeVar("T")


class Stopped(BaseException):
    """Raised in a worker whose call came back after another worker's error stopped the run.

    A ``BaseException``, so the per-record ``except Exception`` lets it through.
    """


class Turns:
    """The run's one turn: which worker runs target code now."""

    def __init__(self) -> None:
        """No worker holds the turn yet."""
        self._lock = threading.Lock()
        self._local = threading.local()
        self._stopping = False

    # -- for the session -----------------------------------------------------------------------
    @contextmanager
    def while_waiting(self) -> Iterator[None]:
        """Around one call to the store: other workers take their turn until it comes back."""
        if not getattr(self._local, "holding", False) or getattr(self._local, "pinned", 0):
            yield
            return
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            if self._stopping:
                raise Stopped

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep the turn through the calls inside (find-or-create of what listings share)."""
        self._local.pinned = getattr(self._local, "pinned", 0) + 1
        try:
            yield
        finally:
            self._local.pinned -= 1

    # -- for the batch -------------------------------------------------------------------------
    def run(self, units: Sequence[T], work: Callable[[T], Any], *, max_in_flight: int) -> None:
        """Call ``work`` on every unit, up to ``max_in_flight`` at once; raise the first error."""
        if max_in_flight <= 1 or len(units) <= 1:
            for unit in units:
                work(unit)
            return
        pending = iter(units)
        errors: list[BaseException] = []

        def worker() -> None:
            with self._lock:
                self._local.holding = True
                try:
                    while not self._stopping:
                        unit = next(pending, None)
                        if unit is None:
                            return
                        work(unit)
                except Stopped:
                    return
                except BaseException as exc:  # the run stops on it, raised by ``run``
                    errors.append(exc)
                    self._stopping = True
                finally:
                    self._local.holding = False

        workers = [
            threading.Thread(target=worker, name=f"target-cartcom-writer-{n}", daemon=True)
            for n in range(min(max_in_flight, len(units)))
        ]
        try:
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
        except BaseException:
            self._stopping = True  # Ctrl-C: every worker stops when its call comes back
            for thread in workers:
                if thread.ident is not None:
                    thread.join()
            raise
        finally:
            self._stopping = False
        if errors:
            raise errors[0]


class TurnTakingSession(CartcomSession):
    """The target's session: a worker gives up its turn while its call is with the store."""

    def __init__(self, *args: Any, turns: Turns, **kwargs: Any) -> None:
        """A ``CartcomSession`` whose calls let other workers take their turn."""
        super().__init__(*args, **kwargs)
        self.turns = turns

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one call (with its retries and their waits) without holding the turn."""
        with self.turns.while_waiting():
            return super().request(method, path, **kwargs)

"""Planned writes, and the one place where they are applied (or only planned, in a dry run).

Planning and applying are separate so that a dry run is the plan without the apply, "only write
what changed" is a property of the plan, and a replay plans nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from target_cartcom._client import CartcomSession


@dataclass
class PlannedCall:
    """One write to Cart.com and why it is needed."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    purpose: str = ""
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description, for results and dry runs."""
        described: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.body is not None:
            described["body"] = self.body
        if self.purpose:
            described["purpose"] = self.purpose
        return described


class Writer:
    """Applies planned writes through the session, or records them when ``dry_run``.

    In a dry run a create returns a placeholder record whose ``id`` is negative, so later steps
    (a variant needs its product's id) can still be planned.
    """

    def __init__(self, session: CartcomSession, *, dry_run: bool = False) -> None:
        """Write through ``session``; in a dry run, write nothing."""
        self.session = session
        self.dry_run = dry_run
        self.planned: list[PlannedCall] = []
        self._placeholder_ids = itertools.count(-1, -1)

    def apply(self, call: PlannedCall) -> Any:
        """Send ``call`` (or plan it in a dry run) and return the API's answer."""
        self.planned.append(call)
        if self.dry_run:
            if call.method == "POST" and call.body is not None and "id" not in call.body:
                return {**call.body, "id": next(self._placeholder_ids)}
            return dict(call.body or {})
        # Opt-in by the planner: a POST that is an upsert by a natural key may be re-sent.
        unsafe = bool(call.extra.get("retry_unsafe"))
        return self.session.request(call.method, call.path, json=call.body, retry_unsafe=unsafe)

    @property
    def planned_writes(self) -> int:
        """How many writes were planned (applied or not)."""
        return len(self.planned)

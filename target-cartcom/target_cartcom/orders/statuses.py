"""Order statuses: resolved by name, id or flag, never by hard-coded ids.

Statuses are per store and configurable (docs/api.md §5), so the target reads ``/order_statuses``
once per run and resolves everything through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from target_cartcom._client import ConfigurationError


class UnknownStatusError(LookupError):
    """A status name or id the store does not have."""


def _norm(name: Any) -> str:
    return " ".join(str(name or "").split()).casefold()


class StatusBook:
    """The store's order statuses, with lookups by id, name and flag."""

    def __init__(self, statuses: Iterable[dict[str, Any]]) -> None:
        """Index ``statuses`` (records of ``/order_statuses``)."""
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_name: dict[str, dict[str, Any]] = {}
        for status in statuses:
            if status.get("id") is None:
                continue
            self.by_id[int(status["id"])] = status
            self.by_name.setdefault(_norm(status.get("name")), status)

    def name(self, status_id: int | None) -> str | None:
        """The name of ``status_id`` (None when unknown)."""
        status = self.by_id.get(int(status_id)) if status_id is not None else None
        return status.get("name") if status else None

    def resolve(self, value: Any) -> dict[str, Any]:
        """A status by name (case-insensitive) or id; ``UnknownStatusError`` when absent."""
        if isinstance(value, bool) or value is None or str(value).strip() == "":
            msg = "no status given"
            raise UnknownStatusError(msg)
        text = str(value).strip()
        by_name = self.by_name.get(_norm(text))
        if by_name is not None:
            return by_name
        if text.lstrip("-").isdigit() and int(text) in self.by_id:
            return self.by_id[int(text)]
        known = ", ".join(sorted(str(s.get("name")) for s in self.by_id.values()))
        msg = f"the store has no order status {text!r} (it has: {known})"
        raise UnknownStatusError(msg)

    def flagged(self, flag: str) -> list[dict[str, Any]]:
        """Statuses whose ``flag`` is true, lowest id first."""
        return [s for _, s in sorted(self.by_id.items()) if _truthy(s.get(flag))]

    def by_flag_or_name(self, configured: str | None, flag: str, setting: str) -> dict[str, Any]:
        """The configured status, else the one status flagged ``flag``.

        Several flagged statuses are ambiguous only if they have different names; the lowest id
        wins and the setting lets the merchant choose. None at all is a configuration error.
        """
        if configured:
            try:
                return self.resolve(configured)
            except UnknownStatusError as exc:
                msg = f"`{setting}`: {exc}"
                raise ConfigurationError(msg) from None
        flagged = self.flagged(flag)
        if not flagged:
            msg = (
                f"The store has no order status flagged {flag}; set `{setting}` to the name of the "
                "status to use."
            )
            raise ConfigurationError(msg)
        return flagged[0]

    def ids(self, values: Iterable[str]) -> set[int]:
        """Ids of the statuses named (or numbered) in ``values``; unknown ones raise."""
        return {int(self.resolve(v)["id"]) for v in values}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)

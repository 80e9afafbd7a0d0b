"""What happens to one record: its error type, its outcome, and which errors stop the run.

One rule for every stream: any exception while handling one record fails that record (naming
its field when known) and the run goes on. Only what no later record could survive stops the run
(``is_fatal``): a refused token (401), an invalid setting, or a store that stays unreachable
after every retry. A 5xx that outlasts the retries fails the record it was for.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from target_cartcom._client import (
    CartcomAPIError,
    ConfigurationError,
    query,
)
from target_cartcom._client.errors import Disposition
from target_cartcom.results import RecordResult
from target_cartcom.writer import PlannedCall


class RecordError(Exception):
    """A problem with one record: it fails, the others go through.

    ``field`` names the record's field (``variants[1].quantity``, ``items[0].sku``) when known.
    """

    def __init__(self, field: str | None, message: str) -> None:
        """Keep the field and the message."""
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class SettingError(RecordError):
    """A record failed because of a setting (a status name the store lacks), not its own data.

    Fixing the setting or the store lets a later run through, so it is worth retrying.
    """


def worth_retrying(error: BaseException) -> bool:
    """True when a later run may succeed where this record failed: the run confirms no state.

    So a record whose source reads by position (the Get Orders import log) is read and tried
    again by the next run. Worth it: a 5xx that outlasted the retries, a setting the store does
    not match (``SettingError``), an unexpected error. Not worth it: the record's own data is
    wrong (``RecordError``) or the store refused this record (another 4xx); those are reported
    and left behind.
    """
    if isinstance(error, SettingError):
        return True
    if isinstance(error, RecordError):
        return False
    if isinstance(error, CartcomAPIError):
        return error.disposition is Disposition.RETRY
    return not isinstance(error, query.QueryValueError | RecursionError)


def is_fatal(error: BaseException) -> bool:
    """True when no later record could succeed either, so the run must stop.

    Read from the client's one classification (``CartcomAPIError.disposition``), once the
    session's retries are spent: a fatal answer (401, a redirect) or a wait that outlasted
    every retry (429: the store's budget is gone) stops the run, and so does no answer at all
    (status 0: connection refused, timeouts). A 5xx that outlasts the retries, or a per-record
    refusal, fails only the record it was for.
    """
    if isinstance(error, ConfigurationError):
        return True
    if not isinstance(error, CartcomAPIError):
        return False
    disposition = error.disposition
    if disposition in (Disposition.FATAL, Disposition.WAIT):
        return True
    return disposition is Disposition.RETRY and error.status_code == 0


def describe(error: BaseException) -> str:
    """A one-line reason for a failed record (no traceback; a token never reaches it)."""
    if isinstance(error, RecordError):
        return error.message
    if isinstance(error, CartcomAPIError):
        return str(error)
    if isinstance(error, RecursionError):
        return "the record is nested too deeply to process"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"unexpected {type(error).__name__}" + (f": {text}" if text else "")


def as_record_error(error: BaseException, field: str | None = None) -> RecordError:
    """Any per-record exception as a ``RecordError``, keeping ``field`` when the error has none."""
    if isinstance(error, RecordError):
        return error if error.field or not field else RecordError(field, error.message)
    if isinstance(error, query.QueryValueError):
        return RecordError(field, f"a value to look up {error}")
    return RecordError(field, describe(error))


def lookup_value(field: str, value: Any) -> str:
    """``value`` when a lookup can carry it exactly; else a ``RecordError`` naming ``field``."""
    try:
        return query.check_value(value)
    except query.QueryValueError as err:
        raise RecordError(field, f"{shorten(value)} {err}") from None


#: Digits an id or a quantity may have (Cart.com's id columns are 64-bit integers).
_MAX_DIGITS = 18
_LARGEST = 10**_MAX_DIGITS
#: Whole numbers below this (and not below the minimum) ``whole_number`` takes as they are.
WHOLE_NUMBER_LIMIT = _LARGEST


def whole_number(value: Any, field: str, *, minimum: int = 0) -> int:
    """``value`` as an ``int`` when it is a whole number of at least ``minimum``.

    Sources write whole numbers many ways: ``2`` (JSON), ``2.0`` (Cart.com's decimal
    quantities, as the tap emits them), ``Decimal("2.0")`` (the SDK's JSON reader) and ``"2"``
    (CSV-born feeds). All mean 2. ``2.5``, ``"abc"``, ``true`` and anything below ``minimum``
    fail the record with a ``RecordError`` naming ``field``.
    """
    # A plain JSON integer needs none of the Decimal work.
    plain = type(value) is int and -_LARGEST < value < _LARGEST
    whole = value if plain else _whole(value, field)
    if whole < minimum:
        floor = "not be negative" if minimum == 0 else f"be at least {minimum}"
        raise RecordError(field, f"must {floor}, got {shorten(value)}")
    return whole


def _whole(value: Any, field: str) -> int:
    """``whole_number`` for every spelling (the fast path above takes a plain small int)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise RecordError(field, f"expected a whole number, got {shorten(value)}")
    if isinstance(value, int):
        number = Decimal(value)
    else:
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise RecordError(field, f"expected a whole number, got {shorten(value)}") from None
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise RecordError(field, f"expected a whole number, got {shorten(value)}")
    if number != number.to_integral_value():
        raise RecordError(field, f"expected a whole number, got {shorten(value)}")
    if number.adjusted() >= _MAX_DIGITS:
        raise RecordError(field, f"{shorten(value)} is too large")
    return int(number)


def shorten(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about huge values."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


@dataclass
class Outcome:
    """What happened to one input record so far; ``result`` turns it into its results line."""

    stream: str = ""
    key: str | None = None
    #: Position of the record in its batch.
    index: int = 0
    outcome: str = "unchanged"
    ids: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    error: str | None = None
    field: str | None = None
    warning: str | None = None
    #: Writes planned for this record (described in dry runs).
    calls: list[PlannedCall] = dataclasses.field(default_factory=list)
    #: Operations that wrote something (``sync``, ``overwrite``...).
    wrote: list[str] = dataclasses.field(default_factory=list)
    created: bool = False
    #: Failed for a cause a later run may not meet (``worth_retrying``).
    retry: bool = False

    @property
    def failed(self) -> bool:
        """Whether the record failed."""
        return self.outcome == "failed"

    def change(self, name: str, old: Any, new: Any) -> None:
        """Record a changed field with its old and new values."""
        self.changes[name] = {"old": old, "new": new}

    def did(self, operation: str) -> None:
        """Note that ``operation`` wrote something."""
        if operation not in self.wrote:
            self.wrote.append(operation)

    def fail(self, error: BaseException, field: str | None = None) -> None:
        """Mark the record failed by ``error`` (its field, else ``field``)."""
        err = as_record_error(error, field)
        self.retry = worth_retrying(error)
        self.outcome = "failed"
        self.error = err.message
        self.field = err.field

    def result(
        self,
        operation: str,
        *,
        planned_calls: list[dict[str, Any]] | None = None,
    ) -> RecordResult:
        """The results line."""
        return RecordResult(
            stream=self.stream,
            key=self.key,
            operation=operation,
            outcome=self.outcome,
            ids=self.ids,
            changes=self.changes,
            error=self.error,
            field=self.field,
            warning=self.warning,
            retry=True if self.failed and self.retry else None,
            planned_calls=(
                [c.describe() for c in self.calls] if planned_calls is None else planned_calls
            ),
        )

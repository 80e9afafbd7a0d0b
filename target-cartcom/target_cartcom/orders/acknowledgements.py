"""The ``order_acknowledgements`` stream: set an order's status after it was imported.

Statuses are resolved by name (or id) through ``/order_statuses``, read once per run. The orders
a batch touches are read in batches (``select_many``, only the status fields); an order that
already has the status costs no write. The change goes through ``PUT /orders/{id}/status``, the
call that moves ``previous_order_status_id`` and ``order_status_last_changed_at`` and fires the
store's status e-mails and webhooks (docs/api.md §5).

A record may carry ``order_status_last_changed_at``, the order's status stamp as its source read
it. Cart.com moves that stamp on every status change, so a store stamp later than the record's
means the status was changed after the source read the order (a merchant moved it back, say):
the record is stale and is ``skipped``, never written. Replays of old records are therefore
harmless whatever pipeline sends them. The stamp comes with the status read the batch makes
anyway, so the check costs no call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from target_cartcom.orders.common import order_ref, parse_when
from target_cartcom.orders.reads import OrderReader
from target_cartcom.orders.reference import OrderReference
from target_cartcom.orders.statuses import UnknownStatusError
from target_cartcom.outcomes import Outcome, RecordError, SettingError, is_fatal, shorten
from target_cartcom.writer import PlannedCall

if TYPE_CHECKING:
    from target_cartcom.run_context import RunContext

STREAM = "order_acknowledgements"
OPERATION = "acknowledge"
STAMP = "order_status_last_changed_at"
STATUS_FIELDS = f"id,order_number,order_status_id,previous_order_status_id,{STAMP}"
# The time of day, with its seconds and fraction when given: a stamp's precision.
_TIME_OF_DAY = re.compile(r"[T ]\d{2}:\d{2}(:\d{2}(?:[.,](\d+))?)?")


@dataclass
class _Ack:
    """One parsed record: which order, which status, and the guards."""

    outcome: Outcome
    order_id: int | None
    number: str | None
    status_id: int
    from_ids: set[int] | None
    #: The order's status stamp as the source read it, and its precision (fractional digits;
    #: -1 for whole minutes); None when the record has none.
    read_stamp: tuple[datetime, int] | None


class AcknowledgementBatch:
    """Applies one batch of ``order_acknowledgements`` records."""

    def __init__(self, run: RunContext, records: list[dict[str, Any]]) -> None:
        """Prepare; nothing is read until ``apply``."""
        self.run = run
        self.records = records
        self.ref = run.state(OrderReference)
        self.reader = OrderReader(run.session, expand=None, fields=STATUS_FIELDS)

    def apply(self) -> None:
        """Apply the batch; every record gets exactly one result, in input order."""
        outcomes = [Outcome(STREAM, _key(r), index=i) for i, r in enumerate(self.records)]
        try:
            self._apply_all(outcomes)
        except Exception as exc:
            # A read the whole batch needed failed (a 5xx that outlasted the retries).
            if is_fatal(exc):
                raise
            for outcome in outcomes:
                if outcome.outcome == "unchanged" and not outcome.calls:
                    outcome.fail(exc)
        for outcome in outcomes:
            self.run.report(outcome.result(OPERATION))

    def _apply_all(self, outcomes: list[Outcome]) -> None:
        parsed: list[_Ack] = []
        for outcome, record in zip(outcomes, self.records, strict=True):
            try:
                order_id, number = order_ref(record)
                parsed.append(
                    _Ack(
                        outcome,
                        order_id,
                        number,
                        self._status(record.get("status"), "status"),
                        self._from_statuses(record.get("from_status")),
                        _read_stamp(record.get(STAMP)),
                    )
                )
            except Exception as exc:
                if is_fatal(exc):
                    raise
                outcome.fail(exc)
        found = self.reader.find((a.order_id, a.number) for a in parsed)
        for ack in parsed:
            try:
                order = found.order(ack.order_id, ack.number)
                ack.outcome.ids["order_id"] = int(order["id"])
                self._apply(order, ack)
            except Exception as exc:
                if is_fatal(exc):
                    raise
                ack.outcome.fail(exc)

    def _status(self, value: Any, field_name: str) -> int:
        if value is None or str(value).strip() == "":
            msg = f"the record needs `{field_name}` (a status name or id)"
            raise RecordError(field_name, msg)
        try:
            return int(self.ref.statuses.resolve(value)["id"])
        except UnknownStatusError as exc:
            raise SettingError(field_name, str(exc)) from None

    def _from_statuses(self, value: Any) -> set[int] | None:
        if value is None or value == []:
            return None
        values = value if isinstance(value, list) else [value]
        return {self._status(v, "from_status") for v in values}

    def _apply(self, order: dict[str, Any], ack: _Ack) -> None:
        book = self.ref.statuses
        outcome, status_id, from_ids = ack.outcome, ack.status_id, ack.from_ids
        current = order.get("order_status_id")
        current = int(current) if current is not None else None
        if current == status_id:
            outcome.outcome = "unchanged"
            return
        stale = _stale(order, ack.read_stamp)
        if stale is not None:
            outcome.outcome = "skipped"
            outcome.field = STAMP
            outcome.error = (
                f"stale record: the order's status was changed at {_utc(stale[0])} "
                f"(now {book.name(current)!r}), after this record's {STAMP} "
                f"{_utc(stale[1])}; nothing was written"
            )
            self.run.logger.info(
                "Order %s: status changed after the record was read: left as it is", order["id"]
            )
            return
        if from_ids is not None and current not in from_ids:
            outcome.outcome = "skipped"
            outcome.field = "from_status"
            outcome.error = (
                f"the order is {book.name(current)!r}, not one of the record's from_status "
                f"({', '.join(repr(book.name(i)) for i in sorted(from_ids))}); "
                "nothing was written"
            )
            self.run.logger.info(
                "Order %s is %r, not one of the record's from_status: left as it is",
                order["id"],
                book.name(current),
            )
            return
        call = PlannedCall(
            "PUT",
            f"orders/{order['id']}/status",
            {"order_status_id": status_id},
            purpose="acknowledge (fires status e-mails and webhooks)",
        )
        outcome.calls.append(call)
        answer = self.run.writer.apply(call)
        if (
            isinstance(answer, dict)
            and answer.get("order_status_id") is not None
            and not self.run.writer.dry_run
        ):
            order.update({k: answer[k] for k in answer if k in STATUS_FIELDS.split(",")})
        else:
            # A dry run (or an answer without the order): what Cart.com would hold now, so a
            # later record of this batch for the same order is judged as in a real run.
            order["previous_order_status_id"] = current
            order["order_status_id"] = status_id
            order[STAMP] = datetime.now(UTC)
        outcome.outcome = "updated"
        outcome.changes["order_status"] = {"old": book.name(current), "new": book.name(status_id)}


def _read_stamp(value: Any) -> tuple[datetime, int] | None:
    """The record's status stamp and its precision; None without one; malformed ones fail."""
    parsed = parse_when(value, STAMP)
    if parsed is None:
        return None
    if isinstance(value, datetime):
        return parsed, 6
    time = _TIME_OF_DAY.search(str(value))
    if time is None:
        msg = f"`{STAMP}` needs a date and a time of day (ISO 8601), got {shorten(value)}"
        raise RecordError(STAMP, msg)
    if time.group(1) is None:
        return parsed, -1  # hours and minutes only
    return parsed, min(len(time.group(2) or ""), 6)


def _stale(
    order: dict[str, Any], read: tuple[datetime, int] | None
) -> tuple[datetime, datetime] | None:
    """(the store's stamp, the record's) when the store's is later, else None.

    The store's stamp is cut to the record's precision first, so a source that keeps whole
    seconds does not make every order look changed. No stamp on either side: no verdict.
    """
    if read is None:
        return None
    read_at, digits = read
    try:
        changed = parse_when(order.get(STAMP), STAMP)
    except RecordError:
        return None  # the store's own value is unreadable: no verdict, as without a stamp
    if changed is None:
        return None
    if digits < 0:
        cut = changed.replace(second=0, microsecond=0)
    else:
        unit = 10 ** (6 - digits)
        cut = changed.replace(microsecond=changed.microsecond // unit * unit)
    return (changed, read_at) if cut > read_at else None


def _utc(value: datetime) -> str:
    """A stamp in UTC with its fraction, as the tap writes it (``...T05:00:00.123000Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(record: dict[str, Any]) -> str | None:
    for name in ("order_id", "order_number"):
        if record.get(name) not in (None, ""):
            return str(record[name])
    return None

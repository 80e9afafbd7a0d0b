"""The ``order_acknowledgements`` stream: set an order's status after it was imported.

Statuses are resolved by name (or id) through ``/order_statuses``, read once per run. The orders
a batch touches are read in batches (``select_many``, only the status fields); an order that
already has the status costs no write. The change goes through ``PUT /orders/{id}/status``, the
call that moves ``previous_order_status_id`` and ``order_status_last_changed_at`` and fires the
store's status e-mails and webhooks (API-NOTES §5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from target_cartcom.orders.common import order_ref
from target_cartcom.orders.reads import OrderReader
from target_cartcom.orders.statuses import UnknownStatusError
from target_cartcom.outcomes import Outcome, RecordError, is_fatal
from target_cartcom.plan import PlannedCall

if TYPE_CHECKING:
    from target_cartcom.run import RunContext

STREAM = "order_acknowledgements"
OPERATION = "acknowledge"
STATUS_FIELDS = (
    "id,order_number,order_status_id,previous_order_status_id,order_status_last_changed_at"
)


class AcknowledgementBatch:
    """Applies one batch of ``order_acknowledgements`` records."""

    def __init__(self, run: RunContext, records: list[dict[str, Any]]) -> None:
        """Prepare; nothing is read until ``apply``."""
        self.run = run
        self.records = records
        self.ref = run.orders
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
        parsed: list[tuple[Outcome, int | None, str | None, int, set[int] | None]] = []
        for outcome, record in zip(outcomes, self.records, strict=True):
            try:
                order_id, number = order_ref(record)
                status_id = self._status(record.get("status"), "status")
                from_ids = self._from_statuses(record.get("from_status"))
            except Exception as exc:
                if is_fatal(exc):
                    raise
                outcome.fail(exc)
                continue
            parsed.append((outcome, order_id, number, status_id, from_ids))
        numbers = {n for _, oid, n, _, _ in parsed if oid is None and n}
        by_number = self.reader.by_numbers(numbers) if numbers else {}
        loaded = {int(r["id"]): r for rows in by_number.values() for r in rows}
        ids = {oid for _, oid, _, _, _ in parsed if oid is not None} - set(loaded)
        loaded.update(self.reader.by_ids(ids) if ids else {})
        for outcome, order_id, number, status_id, from_ids in parsed:
            try:
                order = self._order(order_id, number, loaded, by_number)
                outcome.ids["order_id"] = int(order["id"])
                self._apply(order, status_id, from_ids, outcome)
            except Exception as exc:
                if is_fatal(exc):
                    raise
                outcome.fail(exc)

    def _status(self, value: Any, field_name: str) -> int:
        if value is None or str(value).strip() == "":
            msg = f"the record needs `{field_name}` (a status name or id)"
            raise RecordError(field_name, msg)
        try:
            return int(self.ref.statuses.resolve(value)["id"])
        except UnknownStatusError as exc:
            raise RecordError(field_name, str(exc)) from None

    def _from_statuses(self, value: Any) -> set[int] | None:
        if value is None or value == []:
            return None
        values = value if isinstance(value, list) else [value]
        return {self._status(v, "from_status") for v in values}

    @staticmethod
    def _order(
        order_id: int | None,
        number: str | None,
        loaded: dict[int, dict[str, Any]],
        by_number: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        if order_id is not None:
            if order_id not in loaded:
                msg = f"unknown order: the store has no order {order_id}"
                raise RecordError("order_id", msg)
            return loaded[order_id]
        matches = by_number.get(str(number), [])
        if len(matches) != 1:
            msg = (
                f"unknown order: no order has order_number {number!r}"
                if not matches
                else f"order_number {number!r} matches several orders; send order_id"
            )
            raise RecordError("order_number", msg)
        return loaded[int(matches[0]["id"])]

    def _apply(
        self, order: dict[str, Any], status_id: int, from_ids: set[int] | None, outcome: Outcome
    ) -> None:
        book = self.ref.statuses
        current = order.get("order_status_id")
        current = int(current) if current is not None else None
        if current == status_id:
            outcome.outcome = "unchanged"
            return
        if from_ids is not None and current not in from_ids:
            outcome.outcome = "skipped"
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
            order["previous_order_status_id"] = current
            order["order_status_id"] = status_id
        outcome.outcome = "updated"
        outcome.changes["order_status"] = {"old": book.name(current), "new": book.name(status_id)}


def _key(record: dict[str, Any]) -> str | None:
    for name in ("order_id", "order_number"):
        if record.get(name) not in (None, ""):
            return str(record[name])
    return None

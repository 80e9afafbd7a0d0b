"""Incremental reads over a bounded window (``WindowedStream``) and the STATE they write.

The window, the memory of what it emitted, the STATE after every page that makes a read
resumable, and the rows without a key value, which no window matches, read apart after it (their
memory is ``keyless.py``).
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from typing_extensions import override

from tap_cartcom import sdk_private
from tap_cartcom._client.quirks import format_filter_datetime, parse_datetime
from tap_cartcom.keyless import STATE_KEY as KEYLESS_KEY
from tap_cartcom.keyless import KeylessIds
from tap_cartcom.normalise import to_utc_fast
from tap_cartcom.streams.base import SMALL_ROWS_PAGE, PageEnd
from tap_cartcom.streams.embedded import ParentWithEmbeddedChildren

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime

#: State key of the position a windowed read reached (``resume``: see ``WindowedStream``).
RESUME_KEY = "resume"


class WindowedStream(ParentWithEmbeddedChildren):
    """Incremental by ``created_at`` (or ``updated_at``) over a bounded window.

    Each run reads ``[bookmark - lookback_days, sync start)`` sorted by the key then id, skips
    the ids it already emitted in that window (kept in state as ``emitted``: id to key value,
    bounded by the window), and after a complete read bookmarks the window's end.

    No window filter matches a row whose key is null or ``""``: after the window, every run
    reads those rows apart (``read_keyless``), usually in one call, and emits the ones not
    emitted before (their ids kept in state as ``keyless``).

    Resumable: after every page a STATE holds ``resume``, the ``(key value, id)`` of the last
    record written. Every record at or before it in the read's order was written, so a run
    killed mid-window resumes its read there (``gte:<key value>``, skipping ids at or below
    the position on that one timestamp) and re-emits at most the page it was writing. The
    position is two values, whatever the size of the store; a complete read removes it.
    """

    is_sorted = False
    marks_page_ends = True

    def extra_filters(self, context: dict | None) -> list[tuple[str, str]]:
        """Filters besides the replication window."""
        return []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Take the replication key from the ``replication_key`` setting."""
        super().__init__(*args, **kwargs)
        self.replication_key = str(self.config.get("replication_key") or "created_at")
        self._emitted: dict[str, str] = {}
        self._window: tuple[datetime | None, datetime] | None = None
        self._max_emitted: str | None = None
        self._marks = 0
        #: ``(key value, id)`` this run's read starts after (from ``resume`` in the state).
        self._after: tuple[str, int] | None = None
        #: Ids of the rows without a key value emitted before (``keyless`` in the state).
        self._keyless = KeylessIds()

    @property
    def sort(self) -> str:  # type: ignore[override]
        """Key order, then id: stable pages inside a bounded window."""
        return f"{self.replication_key},id"

    @override
    def get_replication_key_signpost(self, context: dict | None = None) -> str:  # type: ignore[override]
        """The window's upper bound, in the records' own UTC format (compared as strings)."""
        return format_filter_datetime(self.run.sync_started_at)

    def window(self, context: dict | None) -> tuple[datetime | None, datetime]:
        """``(start, end)`` of this run's read, computed once per run."""
        if self._window is None:
            end = self.run.sync_started_at
            state = self.get_context_state(context)
            has_bookmark = (
                state.get("replication_key") == self.replication_key
                and state.get("replication_key_value") is not None
            )
            start = self.get_starting_timestamp(context)
            start_date = parse_datetime(self.config.get("start_date"))
            if has_bookmark and start is not None:
                start -= timedelta(days=float(self.config.get("lookback_days", 3) or 0))
                if start_date is not None:
                    start = max(start, start_date)
            self._window = (start, end)
        return self._window

    def window_filter(self, context: dict | None) -> str:
        """``gte:<start>+AND+lt:<end>`` in UTC with ``Z`` (no ``+`` offset to escape)."""
        start, end = self.window(context)
        upper = f"lt:{format_filter_datetime(end)}"
        if self._after is not None:
            after = parse_datetime(self._after[0])
            if after is not None and (start is None or after > start):
                start = after  # resuming: what came before the position was written
        if start is None:
            return upper
        return f"gte:{format_filter_datetime(start)}+AND+{upper}"

    def query_params(self, context: dict | None) -> list[tuple[str, t.Any]]:
        """Paging, sort and expand, the replication window and the stream's own filters."""
        params = super().query_params(context)
        params.append((self.replication_key, self.window_filter(context)))
        params.extend(self.extra_filters(context))
        return params

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, t.Any]]:
        """Load the emitted-id memory, read the window, then trim the memory to the next window."""
        state = self.get_context_state(context)
        start, _ = self.window(context)
        floor = _fmt(start)
        same_key = state.get("replication_key") in (None, self.replication_key)
        kept = state.get("emitted") if same_key else None
        self._emitted = {
            key: value for key, value in (kept or {}).items() if floor is None or value >= floor
        }
        state["emitted"] = self._emitted
        bookmark = state.get("replication_key_value")
        if bookmark is not None and state.get("replication_key") == self.replication_key:
            # Rescanned orders are older than the bookmark: never let it move back.
            state.setdefault(
                "progress_markers",
                {
                    "Note": "Progress is not resumable if interrupted.",
                    "replication_key": self.replication_key,
                    "replication_key_value": bookmark,
                },
            )
        saved = state.get(RESUME_KEY)
        if isinstance(saved, dict) and "status_id" in saved:
            # A status-filtered read skipped other statuses before its position: start over.
            state.pop(RESUME_KEY, None)
        self._after = self._resume_position(state)
        if self._after is not None:
            self.logger.info(
                "%s: resuming the interrupted read after %s %s, id %s",
                self.name,
                self.replication_key,
                *self._after,
            )
        self.start_children()
        for record in super().get_records(context):
            if isinstance(record, PageEnd):
                self._checkpoint_page(state, record)
            else:
                yield record
        yield from self.read_keyless(state)
        state.pop(RESUME_KEY, None)
        self._after = None
        self._advance_to_window_end(state)
        self._trim_emitted(state)

    def _resume_position(self, state: dict[str, t.Any]) -> tuple[str, int] | None:
        """The position an interrupted read of the same key reached, if the state has one."""
        saved = state.get(RESUME_KEY)
        if not isinstance(saved, dict) or saved.get("replication_key") != self.replication_key:
            state.pop(RESUME_KEY, None)
            return None
        after = saved.get("after")
        try:
            value, record_id = str(after[0]), int(after[1])  # type: ignore[index]
            if parse_datetime(value) is None:
                return None
        except (TypeError, ValueError, IndexError):
            state.pop(RESUME_KEY, None)
            return None
        return value, record_id

    def _checkpoint_page(self, state: dict[str, t.Any], page: PageEnd) -> None:
        """After a page is written: record the position reached and write a STATE."""
        position = self._after
        if page.position is not None and (position is None or page.position > position):
            position = page.position
        for record in page.records:
            value, record_id = record.get(self.replication_key), record.get("id")
            if value is None or not isinstance(record_id, int):
                continue
            if position is None or (str(value), record_id) > position:
                position = (str(value), record_id)
        if position is None:
            return
        self._after = position
        state[RESUME_KEY] = {"replication_key": self.replication_key, "after": list(position)}
        # Written after every page: keep only the ids a later window can see again.
        self._trim_emitted(state)
        self.state_manager.is_flushed = False
        sdk_private.write_state(self)

    def _advance_to_window_end(self, state: dict[str, t.Any]) -> None:
        """After a complete read, bookmark the window's end even if nothing new was emitted.

        Every record created before the end was scanned, so the next run may start there (less
        ``lookback_days``). An interrupted read never gets here: its bookmark stays put.
        """
        _, end = self.window(None)
        end_value = format_filter_datetime(end)
        markers = state.setdefault(
            "progress_markers", {"Note": "Progress is not resumable if interrupted."}
        )
        markers["replication_key"] = self.replication_key
        current = markers.get("replication_key_value")
        if current is None or str(current) < end_value:
            markers["replication_key_value"] = end_value

    def already_emitted(self, record: dict[str, t.Any]) -> bool:
        """True when this id was emitted before with the same key value, or came before.

        An interrupted read restarts at ``gte:<value>`` of its position: that timestamp's ids
        at or below the position's were written already. A row without a key value (null,
        ``""`` or unparseable, all null once normalised) is looked up in the keyless memory.
        """
        value = record.get(self.replication_key)
        if value is None:
            return record.get("id") in self._keyless
        after = self._after
        record_id = record.get("id")
        if after is not None and value == after[0] and isinstance(record_id, int):
            return record_id <= after[1] or self._emitted.get(str(record_id)) == value
        return self._emitted.get(str(record.get("id"))) == value

    def mark_emitted(self, record: dict[str, t.Any]) -> None:
        """Remember the id (bounded by the window) and the largest key value emitted."""
        value = record.get(self.replication_key)
        if value is None:
            self._keyless.add(record.get("id"))
            return
        self._emitted[str(record.get("id"))] = value
        if self._max_emitted is None or value > self._max_emitted:
            self._max_emitted = value
        self._marks += 1
        if self._marks % 5000 == 0:
            # Pages come sorted by the key: ids older than (newest - lookback) cannot come back
            # in this run nor in the next one's window. Keeps memory flat on big backfills.
            self._trim_emitted(self.get_context_state(None))

    def _trim_emitted(self, state: dict[str, t.Any]) -> None:
        """Keep only ids the next run's window can see again."""
        bookmark = self._max_emitted
        markers = state.get("progress_markers") or {}
        # The saved bookmark, and this run's (the window end once the read is complete).
        for old in (state.get("replication_key_value"), markers.get("replication_key_value")):
            if old is not None and (bookmark is None or str(old) > bookmark):
                bookmark = str(old)
        if bookmark is None:
            return
        lookback = timedelta(days=float(self.config.get("lookback_days", 3) or 0))
        floor = _fmt(parse_datetime(bookmark) - lookback)  # type: ignore[operator]
        for key in [k for k, v in self._emitted.items() if v < floor]:
            del self._emitted[key]

    # -- rows without a key value: read apart, after the window ------------------------------
    def keyless_fields(self) -> list[str]:
        """Fields the keyless read asks for besides ``id`` and the key."""
        return []

    def keyless_wanted(self, row: dict[str, t.Any]) -> bool:
        """Whether a keyless row is for this run (Get Orders: in a selected status)."""
        return True

    def key_of(self, row: dict[str, t.Any]) -> str | None:
        """The row's key value as the tap writes it, or None (null, ``""``, unparseable)."""
        try:
            return to_utc_fast(row.get(self.replication_key))
        except (TypeError, ValueError):
            return None

    def keyless_query(self) -> list[tuple[str, t.Any]]:
        """``sort=<key>,id`` over the whole resource, light rows only, the stream's filters.

        The ``sort`` puts the rows without a key value first: SQL Server orders NULL below
        every value (docs/api.md §1.4, INF), so the first page holding a keyed row ends them.
        """
        key = self.replication_key
        fields = ",".join(dict.fromkeys(["id", key, *self.keyless_fields()]))
        return [
            ("count", max(self.page_size, SMALL_ROWS_PAGE)),
            ("sort", f"{key},id"),
            ("fields", fields),
            *self.extra_filters(None),
        ]

    def read_keyless(self, state: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        """Emit the rows no window can match (key null or ``""``) not emitted before.

        One list read sorted by the key (those rows come first, 1000 ids a page) is followed
        only while its pages hold nothing else: one call while the store has fewer such rows.
        The new ones are then read in full by ``select_many`` (URL-sized chunks, the stream's
        ``expand``) and go through the same per-record path as the window's rows. The memory
        keeps only the ids still without a key, and a STATE follows each chunk's records.
        """
        key = self.replication_key
        same_key = state.get("replication_key") in (None, key)
        self._keyless = KeylessIds.from_state(
            state.get(KEYLESS_KEY) if same_key else None, self.name
        )
        calls = self.calls_made
        found: dict[int, dict[str, t.Any]] = {}
        for row in self.iter_list(self.path, self.keyless_query()):
            if not isinstance(row, dict):
                continue
            if self.key_of(row) is not None:
                break  # sorted: every row without a key value came before this one
            if isinstance(row.get("id"), int):
                found[row["id"]] = row
        self._keyless.keep_only(found)
        new = sorted(
            i for i, row in found.items() if i not in self._keyless and self.keyless_wanted(row)
        )
        params = (("expand", self.expand),) if self.expand else ()
        emitted = 0
        for chunk in self.select_many_chunks_for(self.path, new, params):
            response = self.fetch_response(
                f"{self.path}/select_many",
                [("count", len(new)), *params, ("ids", ",".join(str(i) for i in chunk))],
            )
            wanted = set(chunk)
            for record in self.parse_response(response):
                if record.get("id") in wanted and self.keyless_wanted(record):
                    wanted.discard(record.get("id"))
                    emitted += 1
                    yield record
            self.remember(state)
            self.state_manager.is_flushed = False
            sdk_private.write_state(self)
        self.remember(state)
        calls = self.calls_made - calls
        self.logger.info(
            "%s: %d rows without a %s read apart, %d emitted (%d call%s)",
            self.name,
            len(found),
            key,
            emitted,
            calls,
            "" if calls == 1 else "s",
        )

    def remember(self, state: dict[str, t.Any]) -> None:
        """Put the keyless memory in the state (no key when it is empty)."""
        if len(self._keyless):
            state[KEYLESS_KEY] = self._keyless.to_state()
        else:
            state.pop(KEYLESS_KEY, None)

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: dict | None = None
    ) -> None:
        """A row read apart for its missing key value moves no bookmark (and warns nothing).

        The SDK would log "New replication value is null" once per such row.
        """
        if latest_record.get(self.replication_key) is None:
            return
        super()._increment_stream_state(latest_record, context=context)

    @override
    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        """Normalise, skip what was emitted before, emit the children, remember the id."""
        row = super().post_process(row, context)  # type: ignore[assignment]
        if row is None or self.already_emitted(row):
            return None
        self.emit_children(row)
        self.mark_emitted(row)
        return row


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_filter_datetime(value)

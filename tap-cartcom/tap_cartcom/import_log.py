"""tap-cartcom-import-log: the orders Get Orders appended to its import log since the last run.

Get Orders writes each imported order as one line of the import log (``orders.jsonl``, through
target-jsonl), which the merchant's OMS reads and which grows for ever. The acknowledgement step
must see each of those lines once, whatever the log's length, so this tap reads the file from
the position its state keeps: the byte offset just past the last line it emitted, with the
length and SHA-256 of that line. It moves the position after each line it emits, and reads only
whole lines (a line still being written is left for the next run). An idle run reads nothing;
a run stopped before the target confirmed the state leaves the position where it was, so the
next run emits those lines again.

When the bytes before the position are not that line any more (the log was rotated, rewritten
or replaced), the file is read from its start: a replay costs the acknowledgement step one
status read per 100 orders and changes nothing (it skips orders acknowledged or changed since).
"""

from __future__ import annotations

import hashlib
import json
import typing as t
from decimal import Decimal
from pathlib import Path

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.singerlib.catalog import REPLICATION_LOG_BASED
from typing_extensions import override

from tap_cartcom import schemas

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: State keys: the offset just past the last line emitted, and that line's length and digest.
POSITION = "position"
LINE_LENGTH = "last_line_length"
LINE_SHA256 = "last_line_sha256"


class ImportLogOrders(Stream):
    """The ``orders`` lines appended to the import log since the position in the state."""

    name = "orders"
    primary_keys = ("id",)
    #: The lines are the tap-cartcom ``orders`` records target-jsonl wrote.
    schema = StreamSchema(SchemaDirectory(schemas))

    def __init__(self, tap: Tap) -> None:
        """A log read by position: neither a full table nor a replication key."""
        super().__init__(tap)
        self.forced_replication_method = REPLICATION_LOG_BASED

    @override
    def get_records(self, context: dict | None) -> Iterator[dict[str, t.Any]]:
        """Each whole line after the position; the position moves past it before it is sent."""
        path = Path(self.config["path"]).expanduser()
        state = self.get_context_state(context)
        if not path.is_file():
            self.logger.info("No import log at %s yet: nothing to read", path)
            return
        with path.open("rb") as log:
            position = self._start(log, state, path)
            log.seek(position)
            for raw in log:
                if not raw.endswith(b"\n"):
                    self.logger.info(
                        "The import log ends with a line still being written (byte %s): "
                        "left for the next run",
                        position,
                    )
                    return
                record = self._parse(raw, position, path)
                position += len(raw)
                state[POSITION] = position
                state[LINE_LENGTH] = len(raw)
                state[LINE_SHA256] = hashlib.sha256(raw).hexdigest()
                self.state_manager.is_flushed = False
                if record is not None:
                    yield record

    def _start(self, log: t.BinaryIO, state: dict[str, t.Any], path: Path) -> int:
        """The position to read from: the state's, when the line before it is still there."""
        position, length, digest = (
            state.get(POSITION),
            state.get(LINE_LENGTH),
            state.get(LINE_SHA256),
        )
        if not position:
            return 0
        if isinstance(position, int) and isinstance(length, int) and 0 < length <= position:
            log.seek(position - length)
            line = log.read(length)
            before = b"\n"
            if position > length:
                log.seek(position - length - 1)
                before = log.read(1)
            if before == b"\n" and hashlib.sha256(line).hexdigest() == digest:
                return position
        self.logger.warning(
            "The import log %s is not the file the last run read up to byte %s (rotated, "
            "rewritten or replaced): reading it from its start",
            path,
            position,
        )
        return 0

    def _parse(self, raw: bytes, position: int, path: Path) -> dict[str, t.Any] | None:
        """The line's record; a line that is not a JSON object is skipped with a warning."""
        if not raw.strip():
            return None
        try:
            record = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            reason = f"not JSON ({exc})"
        else:
            if isinstance(record, dict):
                return record
            reason = f"a JSON {type(record).__name__}, not an object"
        self.logger.warning("Skipped the line at byte %s of %s: %s", position, path, reason)
        return None


class TapImportLog(Tap):
    """Reads the Get Orders import log from where the last run stopped."""

    name = "tap-cartcom-import-log"
    package_name = "tap-cartcom"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "path",
            th.StringType,
            required=True,
            title="Import log",
            description=(
                "The JSON Lines file Get Orders appends each imported order to (target-jsonl's "
                "`orders.jsonl`). Each run emits the lines appended since the last run."
            ),
        ),
    ).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        """The one stream, ``orders``."""
        return [ImportLogOrders(self)]


if __name__ == "__main__":
    TapImportLog.cli()

r"""The target's Singer message reader: a line that cannot be read fails one record, not the run.

The SDK's reader raises on a line that is not JSON, and a JSON decoder raises ``RecursionError``
on a line nested many thousands of levels deep, before any sink sees it. Both would stop the run
and lose the good records of the batch. This reader (the SDK's ``message_reader_class`` hook)
turns such a line into one failed record instead, with what can be known of it: its stream, its
key (``sku``, ``shipment_id``, ``order_id`` or ``order_number``) and the field at fault. The same
happens to a record nested deeper than ``MAX_DEPTH`` or holding text that is not valid Unicode (a
lone surrogate such as ``"\ud800"``, which no UTF-8 request body can carry).
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import msgspec
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.json import deserialize_json
from typing_extensions import override

#: Nesting a record may have; listings are 4 levels deep, order records 3.
MAX_DEPTH = 32
#: The record fields that say which record a line was, in order of preference.
KEY_FIELDS = ("sku", "shipment_id", "order_id", "order_number")
UNREADABLE = "UNREADABLE_RECORD"
#: Brackets a line may hold to be read by msgspec: far below the nesting at which either decoder
#: runs out of stack, so msgspec and ``json`` read such a line alike (floats as ``Decimal``, as
#: the SDK's reader does). Every other line, and every line msgspec refuses, goes to ``json``.
FAST_BRACKETS = 256
#: Allocations between young-generation collections while reading and applying (Python's
#: default is 700): a sync builds a few hundred thousand long-lived dicts (records, the store
#: index) and holds no garbage cycles worth collecting that often.
YOUNG_COLLECTION_EVERY = 50_000

_fast_decode = msgspec.json.Decoder(float_hook=Decimal).decode

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass
class UnreadableRecord:
    """What is known of a line that could not be read as a record."""

    stream: str | None
    key: str | None
    field: str | None
    reason: str


class RecordReader(SingerReader):
    """Reads Singer lines; hands each unreadable record to ``on_unreadable`` and reads on."""

    def __init__(self) -> None:
        """Read standard input; ``on_unreadable`` is set by the target."""
        super().__init__()
        self.on_unreadable: Callable[[UnreadableRecord], None] | None = None

    @override
    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        """Read every line (and apply the batches that fill up) with fewer collections."""
        with fewer_collections():
            return super().process_lines(file_input, callbacks)

    @override
    def deserialize_json(self, line: str) -> dict:
        """A message, or an ``UNREADABLE_RECORD`` message for a line that cannot be a record."""
        message: Any = None
        if line.count("{") + line.count("[") <= FAST_BRACKETS:
            try:
                message = _fast_decode(line)
            except msgspec.DecodeError:
                message = None  # ``json`` reads it (NaN, a lone surrogate) or says why not
        if message is None:
            try:
                message = deserialize_json(line)
            except RecursionError:
                return _unreadable(line, "the line is nested too deeply to read")
            except ValueError as exc:  # json.JSONDecodeError
                return _unreadable(line, f"the line is not valid JSON ({_first_line(exc)})")
        if not isinstance(message, dict) or "type" not in message:
            return _unreadable(line, "the line is not a Singer message (no `type`)")
        if message["type"] == "RECORD":
            problem = _record_problem(line, message.get("record"))
            if problem is not None:
                field, reason = problem
                record = message.get("record")
                record = record if isinstance(record, dict) else {}
                key = next((record[k] for k in KEY_FIELDS if record.get(k) not in (None, "")), None)
                return _as_message(
                    UnreadableRecord(_text(message.get("stream")), _text(key), field, reason)
                )
        return message

    @override
    def _process_unknown_message(self, message_dict: dict) -> None:
        """An unreadable record goes to ``on_unreadable``; other unknown types stop as usual."""
        if message_dict.get("type") == UNREADABLE and self.on_unreadable is not None:
            self.on_unreadable(message_dict["unreadable"])
            return
        super()._process_unknown_message(message_dict)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect the young generation every ``YOUNG_COLLECTION_EVERY`` allocations, then restore.

    With the default threshold a 10,000-listing sync spent about a quarter of its CPU in the
    garbage collector, walking the records and the store index again and again.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(YOUNG_COLLECTION_EVERY, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _as_message(unreadable: UnreadableRecord) -> dict[str, Any]:
    return {"type": UNREADABLE, "unreadable": unreadable}


def _unreadable(line: str, reason: str) -> dict[str, Any]:
    return _as_message(_salvage(line, reason))


def _record_problem(line: str, record: Any) -> tuple[str | None, str] | None:
    """(field, reason) when the record is nested too deeply or holds invalid text, else None.

    Cheap tests on the raw line first, so ordinary records are not walked at all.
    """
    deep = line.count("{") + line.count("[") > MAX_DEPTH
    surrogate = _SURROGATE_ESCAPE.search(line) is not None
    if not (deep or surrogate):
        return None
    stack: list[tuple[str, Any, int]] = [("", record, 1)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            top = path.split(".")[0].split("[")[0] or None
            return top, f"the record is nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, dict):
            for k, v in value.items():
                name = str(k)
                if not _valid_text(name):
                    return path or None, "a field name is not valid Unicode text"
                stack.append((f"{path}.{name}" if path else name, v, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value))
        elif isinstance(value, str) and not _valid_text(value):
            return path or None, (
                "the value is not valid Unicode text (it holds a lone surrogate such as \\ud800, "
                "which no UTF-8 request can carry)"
            )
    return None


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _salvage(line: str, reason: str, field: str | None = None) -> UnreadableRecord:
    """Stream, key and the field nested too deeply, read from the raw line by a flat scan."""
    stack: list[list[Any]] = []  # [kind, current key, expecting a key]
    top: dict[str, Any] = {}
    record: dict[str, Any] = {}
    deep_field: str | None = None
    for match in _TOKEN.finditer(line):
        token = match.group()
        head = token[0]
        if head in "{[":
            in_record = len(stack) >= 2 and stack[0][1] == "record" and stack[1][0] == "{"
            if deep_field is None and in_record and len(stack) > MAX_DEPTH:
                deep_field = stack[1][1]
            stack.append([head, None, head == "{"])
        elif head in "}]":
            if stack:
                stack.pop()
        elif head == ":":
            if stack:
                stack[-1][2] = False
        elif head == ",":
            if stack and stack[-1][0] == "{":
                stack[-1][2] = True
        else:
            value = _scalar(token)
            if stack and stack[-1][0] == "{" and stack[-1][2]:
                stack[-1][1] = value if isinstance(value, str) else str(value)
            elif len(stack) == 1 and stack[0][1] is not None:
                top.setdefault(stack[0][1], value)
            elif len(stack) == 2 and stack[0][1] == "record" and stack[1][0] == "{":
                record.setdefault(stack[1][1], value)
    key = next((record[k] for k in KEY_FIELDS if record.get(k) not in (None, "")), None)
    return UnreadableRecord(_text(top.get("stream")), _text(key), field or deep_field, reason)


def _text(value: Any) -> str | None:
    r"""``value`` as printable text: invalid Unicode is shown as its escapes (``\ud800``)."""
    if value is None:
        return None
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        try:
            return json.loads(token)
        except ValueError:
            return token.strip('"')
    return token

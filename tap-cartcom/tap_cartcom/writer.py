"""Singer output through the SDK's msgspec writer, flushed when it matters.

``singer_sdk.contrib.msgspec.MsgSpecWriter`` encodes about five times faster than the default
simplejson writer; on top of it, RECORD lines are left in stdout's buffer (written in 8 KB
blocks) and every other message (SCHEMA, STATE, ...) flushes, so a STATE never waits in a
buffer and never overtakes the records it follows.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class CartcomWriter(MsgSpecWriter):
    """msgspec lines; a flush per non-RECORD message instead of one per message."""

    @override
    def write_message(self, message: Message) -> None:
        """Write one line to stdout (as bytes when stdout has a binary buffer)."""
        line = self.format_message(message)
        out = sys.stdout
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(line)
        else:  # a text-only stdout (tests capturing output in a StringIO)
            out.write(line.decode())
        if not isinstance(message, RecordMessage):
            out.flush()

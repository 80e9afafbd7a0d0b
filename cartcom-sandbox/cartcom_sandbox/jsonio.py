"""Fast JSON in and out (orjson when installed, else the standard library)."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None

_std_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    if orjson is not None:
        return orjson.dumps(value)
    return _std_dumps(value).encode()


def dumps_text(value: Any) -> str:
    """Compact JSON text."""
    if orjson is not None:
        return orjson.dumps(value).decode()
    return _std_dumps(value)


def loads(data: str | bytes) -> Any:
    """Parse JSON text or bytes."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)

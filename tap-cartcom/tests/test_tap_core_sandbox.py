"""The SDK's standard tap and stream tests, and one real check per attribute, on the sandbox.

The SDK's generated attribute tests (``is_integer``, ``is_boolean``, ...) are left out: the SDK
binds every parametrised case of one kind to a single test object whose
``non_null_attribute_values`` is a ``cached_property``, so all cases after the first re-check
the first attribute's values and cannot fail on their own (singer-sdk 0.54.9, the newest).
``test_attribute`` replaces them: one case per attribute of every stream, computed from that
stream's own records and the store the sandbox serves.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_cartcom.tap import TapCartcom

# Filled in by the module fixture once the sandbox listens (the runner reads this dict).
SANDBOX_CONFIG: dict = {
    "access_token": "test-token",
    "api_url": "http://127.0.0.1:9/api/v1",
    "calls_per_window": 1000,
    "window_seconds": 1,
    "start_date": "2020-01-01T00:00:00Z",
    "page_size": 100,
}
#: The one datetime form the tap writes: UTC, six fraction digits, ``Z`` (sortable text).
UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
#: The store-local twin (``created_at_local``): six fraction digits and the store's offset
#: (none when the store sent none).
LOCAL_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}([+-]\d\d:\d\d)?")
OFFSET = re.compile(r"[+-]\d\d:\d\d$")
PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@pytest.fixture(scope="module", autouse=True)
def sandbox_server(seeded_sandbox_db, tmp_path_factory):
    """A sandbox over a private copy of the seeded store, for the class-scoped runner."""
    source, _ = seeded_sandbox_db
    target = tmp_path_factory.mktemp("tap-core") / "store.db"
    shutil.copyfile(source, target)
    server = SandboxServer(str(target), tokens=["test-token"], config=SandboxConfig())
    server.start()
    SANDBOX_CONFIG["api_url"] = server.base_url
    try:
        yield server
    finally:
        server.stop()


def _schemas() -> dict[str, dict[str, Any]]:
    """Each stream's schema, from discovery (no network, as the SDK's own collection does)."""
    tap = TapCartcom(config=SANDBOX_CONFIG, parse_env_config=False)
    return {name: stream.schema for name, stream in tap.streams.items()}


SCHEMAS = _schemas()
ATTRIBUTES = [
    pytest.param(stream, attribute, id=f"{stream}.{attribute}")
    for stream, schema in SCHEMAS.items()
    for attribute in schema["properties"]
]


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type") or []
    return {declared} if isinstance(declared, str) else set(declared)


def _is_type(value: Any, types: set[str]) -> bool:
    """Whether ``value`` is one of the JSON types (a bool is never an integer or a number)."""
    if isinstance(value, bool):
        return "boolean" in types
    return any(isinstance(value, PY_TYPES[t]) for t in types if t in PY_TYPES)


def _instant(text: str) -> datetime:
    """An aware datetime from ISO text with any offset and up to 7 fraction digits."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_Standard = get_tap_test_class(
    TapCartcom,
    config=SANDBOX_CONFIG,
    suite_config=SuiteConfig(max_records_limit=150),
    include_stream_attribute_tests=False,
    parse_env_config=False,
)


class TestTapCartcomSandbox(_Standard):
    """The SDK's tap and stream tests, plus ``test_attribute`` for every attribute."""

    @pytest.mark.parametrize(("stream", "attribute"), ATTRIBUTES)
    def test_attribute(self, runner, sandbox_server, stream, attribute):
        """Every value of the attribute has a declared type and is what the store holds.

        Scalars equal the stored value (a datetime as the same instant, in the tap's UTC form;
        its ``_local`` twin as the store's own wall-clock time and offset; an empty date as
        null; a number the store keeps as text as that number); objects and arrays validate
        against the attribute's schema.
        """
        properties = SCHEMAS[stream]["properties"]
        schema = properties[attribute]
        types = _types(schema)
        base = attribute.removesuffix("_local")
        local_of = (
            base if base != attribute and properties[base].get("format") == "date-time" else None
        )
        records = runner.records[stream]
        assert records, f"the seeded store should serve {stream}"
        nested = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
        for record in records:
            value = record.get(attribute)
            stored = sandbox_server.store.get(stream, record["id"]).get(local_of or attribute)
            where = f"{stream} {record['id']} {attribute}={value!r} (store: {stored!r})"
            if value is None:
                assert "null" in types, f"null in a non-nullable attribute: {where}"
                assert stored is None or stored == "" or isinstance(stored, list | dict), where
                continue
            assert _is_type(value, types), f"not one of {sorted(types)}: {where}"
            if isinstance(value, dict | list):
                error = next(iter(nested.iter_errors(value)), None)
                assert error is None, f"{where}: {error.message if error else ''}"
            elif schema.get("format") == "date-time":
                assert UTC_STAMP.fullmatch(value), f"not the tap's UTC form: {where}"
                assert _instant(value) == _instant(stored), where
            elif local_of is not None:
                assert LOCAL_STAMP.fullmatch(value), f"not the store's local form: {where}"
                assert _instant(value) == _instant(stored), where
                sent, kept = OFFSET.search(stored), OFFSET.search(value)
                assert value[:19] == stored.replace(" ", "T")[:19], (
                    f"not the store's clock: {where}"
                )
                assert (kept and kept[0]) == (sent and sent[0]), f"not the store's offset: {where}"
            elif isinstance(stored, str) and "number" in types:
                assert value == float(stored), where
            elif isinstance(value, float) or isinstance(stored, float):
                assert value == pytest.approx(stored), where
            else:
                assert value == stored, where

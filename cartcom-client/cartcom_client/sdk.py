"""The one private Singer SDK method both plugins override, kept here with its reason.

``PluginBase._validate_config`` (SDK 0.54) reports a JSON-schema type error with the value
itself (``987654321 is not of type 'string' in config['access_token']``), and the SDK's CLI logs
that line. For a setting marked ``secret`` the value is the secret. There is no public hook for
the message, so the override scrubs every secret value out of the errors before they are raised
or logged. Revisit when the SDK stops echoing values.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

REDACTED = "<redacted>"


def secret_values(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Any]:
    """The values of ``config`` whose schema property is marked secret (``secret``/writeOnly)."""
    properties = schema.get("properties") or {}
    return [
        config[name]
        for name, prop in properties.items()
        if isinstance(prop, Mapping)
        and (prop.get("secret") or prop.get("writeOnly"))
        and config.get(name) not in (None, "")
    ]


def redact(messages: Iterable[str], secrets: Iterable[Any]) -> list[str]:
    """``messages`` with every spelling of every secret (repr, JSON, text) replaced."""
    spellings: set[str] = set()
    for value in secrets:
        for form in (repr(value), str(value)):
            spellings.add(form)
        with contextlib.suppress(TypeError, ValueError):
            spellings.add(json.dumps(value))
    ordered = sorted((s for s in spellings if s), key=len, reverse=True)
    out = []
    for message in messages:
        text = message
        for spelling in ordered:
            text = text.replace(spelling, REDACTED)
        out.append(text)
    return out


class SecretSafeConfigValidation:
    """Mixin for ``Tap``/``Target``: config errors never carry a secret's value."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        secrets = secret_values(self._config, self.config_jsonschema)  # type: ignore[attr-defined]
        try:
            errors = super()._validate_config(raise_errors=raise_errors)  # type: ignore[misc]
        except ConfigValidationError as exc:
            raise ConfigValidationError(
                str(exc), errors=redact(exc.errors, secrets), schema=exc.schema
            ) from None
        return redact(errors, secrets)

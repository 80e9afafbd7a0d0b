"""A token is printable ASCII and never echoed, even when invalid (issue 14, Secrets and URLs)."""

from __future__ import annotations

import pytest
import requests
from cartcom_client import CartcomSession, ConfigurationError, ConnectionSettings
from cartcom_client.sdk import REDACTED, redact, secret_values
from cartcom_client.settings import connection_properties
from singer_sdk import typing as th

SECRET = "SECRET-abc"


@pytest.mark.parametrize(
    "token",
    [
        f"{SECRET}\nINJECTED",
        f"{SECRET}\r\nX-Other: 1",
        f"{SECRET}\x00nul",
        f"{SECRET}\x7fdel",
        f"{SECRET}\u00e9",
        f"{SECRET}\u2028sep",
        f"{SECRET}\tTAB",
    ],
)
def test_token_must_be_printable_ascii_and_is_never_echoed(token):
    """The error names the setting and the position, never the value or a part of it."""
    with pytest.raises(ConfigurationError) as caught:
        ConnectionSettings.from_config({"access_token": token, "domain": "s.example.com"})
    text = f"{caught.value}|{caught.value!r}|{caught.value.args}"
    assert "`access_token`" in text
    assert "position 10" in text
    assert SECRET not in text
    assert "INJECTED" not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@pytest.mark.parametrize("token", [12345678, ["SECRET-list"], {"t": "SECRET-map"}])
def test_token_of_the_wrong_type_is_refused_without_its_value(token):
    """A number or a list is refused by name, not shown."""
    with pytest.raises(ConfigurationError, match="`access_token` must be text") as caught:
        ConnectionSettings.from_config({"access_token": token, "domain": "s.example.com"})
    assert "SECRET" not in str(caught.value)
    assert "12345678" not in str(caught.value)


def test_surrounding_whitespace_is_trimmed_and_inner_spaces_kept():
    """A token pasted with a trailing newline works; the header carries the trimmed token."""
    settings = ConnectionSettings.from_config(
        {"access_token": "  tok en-1\n", "domain": "s.example.com"}
    )
    assert settings.access_token == "tok en-1"
    session = CartcomSession(settings)
    prepared = requests.Request("GET", settings.base_url + "/orders").prepare()
    # the transport sets this as the call leaves
    assert session.adapter.auth.headers_for(prepared) == {"X-AC-Auth-Token": "tok en-1"}
    assert "tok en-1" not in repr(settings)
    assert "tok en-1" not in repr(session.adapter.auth)


def test_sdk_config_errors_are_redacted():
    """The SDK's own config validation line (`<value> is not of type ...`) loses the value."""
    schema = th.PropertiesList(*connection_properties()).to_dict()
    config = {"access_token": 987654321, "domain": "s.example.com", "plan": "steel"}
    assert secret_values(config, schema) == [987654321]
    errors = [
        "987654321 is not of type 'string' in config['access_token']",
        "'steel' is fine",
    ]
    assert redact(errors, secret_values(config, schema)) == [
        f"{REDACTED} is not of type 'string' in config['access_token']",
        "'steel' is fine",
    ]
    assert redact(["['SECRET-x'] is not of type 'string'"], [["SECRET-x"]]) == [
        f"{REDACTED} is not of type 'string'"
    ]

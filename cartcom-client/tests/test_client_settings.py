"""Connection settings: base URL rules, plans, and errors that name the setting."""

from __future__ import annotations

import pytest
from cartcom_client import ConfigurationError, ConnectionSettings, connection_properties
from cartcom_client.settings import resolve_base_url
from singer_sdk import typing as th

TOKEN = "tok-very-secret-123"


@pytest.mark.parametrize(
    ("domain", "api_url", "expected"),
    [
        ("storename.americommerce.com", None, "https://storename.americommerce.com/api/v1"),
        ("shop.example.com/", None, "https://shop.example.com/api/v1"),
        ("https://shop.example.com", None, "https://shop.example.com/api/v1"),
        (None, "http://127.0.0.1:8600/api/v1", "http://127.0.0.1:8600/api/v1"),
        (None, "http://localhost:8600/api/v1/", "http://localhost:8600/api/v1"),
        (None, "http://[::1]:8600/api/v1", "http://[::1]:8600/api/v1"),
        (None, "https://proxy.example.com", "https://proxy.example.com/api/v1"),
        (
            "ignored.example.com",
            "https://other.example.com/api/v1",
            "https://other.example.com/api/v1",
        ),
    ],
)
def test_base_url(domain, api_url, expected):
    """``https://{domain}/api/v1``; ``api_url`` overrides; http only on loopback."""
    assert resolve_base_url(domain, api_url) == expected


@pytest.mark.parametrize(
    ("domain", "api_url", "names"),
    [
        (None, "http://shop.example.com/api/v1", "api_url"),
        (None, "http://10.0.0.5:8600/api/v1", "api_url"),
        ("http://shop.example.com", None, "api_url"),
        (None, "ftp://shop.example.com", "api_url"),
        ("shop.example.com/api", None, "domain"),
        (None, None, "domain"),
    ],
)
def test_base_url_refusals_name_the_setting(domain, api_url, names):
    """Plain http off loopback, odd schemes, missing hosts: refused, naming the setting."""
    with pytest.raises(ConfigurationError, match=f"`{names}`"):
        resolve_base_url(domain, api_url)


def test_from_config_plans_and_overrides():
    """Plans map to calls per 10 s; ``calls_per_window`` wins; steel is the default."""
    base = {"access_token": TOKEN, "domain": "s.example.com"}
    assert ConnectionSettings.from_config(base).calls_per_window == 5
    assert ConnectionSettings.from_config({**base, "plan": "Gold"}).calls_per_window == 50
    assert ConnectionSettings.from_config({**base, "plan": "silver"}).calls_per_window == 20
    over = ConnectionSettings.from_config(
        {**base, "plan": "gold", "calls_per_window": 7, "window_seconds": 2}
    )
    assert (over.calls_per_window, over.window_seconds) == (7, 2.0)
    assert ConnectionSettings.from_config(base).window_seconds == 10.0


@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        ({"access_token": ""}, "access_token"),
        ({"access_token": "  "}, "access_token"),
        ({"plan": "platinum"}, "plan"),
        ({"calls_per_window": 0}, "calls_per_window"),
        ({"window_seconds": 0}, "window_seconds"),
    ],
)
def test_from_config_errors_name_setting(extra, setting):
    """Each invalid value is reported by its setting name."""
    config = {"access_token": TOKEN, "domain": "s.example.com", **extra}
    with pytest.raises(ConfigurationError, match=f"`{setting}`"):
        ConnectionSettings.from_config(config)


def test_token_kept_out_of_repr():
    """The dataclass repr never shows the token."""
    settings = ConnectionSettings.from_config({"access_token": TOKEN, "domain": "s.example.com"})
    assert TOKEN not in repr(settings)
    assert settings.access_token == TOKEN


def test_connection_properties_mark_token_and_router_secret():
    """The SDK config schema flags the token and the router secret as secret.

    The token is no longer required by the schema: it is needed only with `auth_type:
    access_token`, which ``ConnectionSettings.from_config`` checks (naming the setting).
    """
    props = {p.name: p.to_dict()[p.name] for p in connection_properties()}
    assert set(props) == {
        "auth_type",
        "access_token",
        "domain",
        "api_url",
        "site_id",
        "user_name",
        "user_secret",
        "router_url",
        "plan",
        "calls_per_window",
        "window_seconds",
    }
    for name in ("access_token", "user_secret"):
        assert props[name].get("secret") is True
        assert props[name].get("writeOnly") is True
    assert props["user_name"].get("secret") is not True
    schema = th.PropertiesList(*connection_properties()).to_dict()
    assert "access_token" not in schema.get("required", [])

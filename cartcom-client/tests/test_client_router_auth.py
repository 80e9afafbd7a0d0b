"""Central API Router auth (issue 11): signed PUB headers on every call, and only at home."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import pytest
import requests
from cartcom_client import (
    CartcomSession,
    ConfigurationError,
    ConnectionSettings,
    RouterAuthenticationError,
)
from cartcom_client.auth import AUTH_HEADERS, DEFAULT_ROUTER_URL, RouterAuth, apply_auth
from cartcom_client.sdk import secret_values
from cartcom_client.settings import connection_properties
from cartcom_testing.wire import mock_transport
from singer_sdk import typing as th

SECRET = "pub-SECRET-9f8e7d"
USER = "agency-user"
SITE = "1234"
ROUTER = "https://public.americommerce.com/api/v1"
TOKEN = "tok-SECRET-123"
PUB = ("X-AC-PUB-Site-ID", "X-AC-PUB-User", "X-AC-PUB-Auth-Signature")


def expected(message: str) -> str:
    """The signature, computed here from the stdlib over a literal message."""
    digest = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def router_config(**extra: object) -> dict[str, object]:
    return {
        "auth_type": "central_api_router",
        "site_id": SITE,
        "user_name": USER,
        "user_secret": SECRET,
        "calls_per_window": 50,
        **extra,
    }


def router_session() -> CartcomSession:
    session = CartcomSession(ConnectionSettings.from_config(router_config()), max_tries=3)
    session.logger = logging.getLogger("test-router")
    return session


def test_signature_known_answer_over_the_encoded_query() -> None:
    """METHOD&path?query&user, with the query exactly as encoded on the wire."""
    auth = RouterAuth(SITE, USER, SECRET)
    prepared = requests.Request(
        "get", f"{ROUTER}/orders", params={"q": "a b:c", "count": 2}
    ).prepare()
    assert prepared.url.endswith("/orders?q=a+b%3Ac&count=2")
    headers = auth.headers_for(prepared)
    assert headers == {
        "X-AC-PUB-Site-ID": SITE,
        "X-AC-PUB-User": USER,
        "X-AC-PUB-Auth-Signature": expected("GET&/api/v1/orders?q=a+b%3Ac&count=2&agency-user"),
    }
    put = requests.Request("PUT", f"{ROUTER}/orders/7", json={"a": 1}).prepare()
    # No query: the path alone, without `?` (INF, docs/api.md §13).
    assert auth.headers_for(put)["X-AC-PUB-Auth-Signature"] == expected(
        "PUT&/api/v1/orders/7&agency-user"
    )
    assert SECRET not in repr(auth)


def test_router_mode_sends_pub_headers_and_no_token(monkeypatch) -> None:
    transport = mock_transport(monkeypatch)
    transport.register_uri("GET", f"{ROUTER}/orders/5", json={"id": 5})
    session = CartcomSession(
        ConnectionSettings.from_config(router_config(access_token=TOKEN)), max_tries=1
    )
    session.get("/orders/5")
    sent = transport.request_history[0]
    assert "X-AC-Auth-Token" not in sent.headers
    assert sent.headers["X-AC-PUB-Site-ID"] == SITE
    assert sent.headers["X-AC-PUB-User"] == USER
    assert sent.headers["X-AC-PUB-Auth-Signature"] == expected("GET&/api/v1/orders/5&agency-user")
    assert all(SECRET not in value for value in sent.headers.values())


def test_token_mode_sends_the_token_and_no_pub_headers(monkeypatch) -> None:
    transport = mock_transport(monkeypatch)
    transport.register_uri("GET", "https://s.example.com/api/v1/orders/5", json={"id": 5})
    settings = ConnectionSettings.from_config(
        {"access_token": TOKEN, "domain": "s.example.com", "site_id": SITE, "user_name": USER}
    )
    CartcomSession(settings, max_tries=1).get("/orders/5")
    sent = transport.request_history[0]
    assert sent.headers["X-AC-Auth-Token"] == TOKEN
    assert not any(name in sent.headers for name in PUB)


def test_each_page_is_signed_for_its_own_query(monkeypatch) -> None:
    """Page 2's signature is computed over page 2's query, not reused from page 1."""
    transport = mock_transport(monkeypatch)
    transport.register_uri(
        "GET",
        f"{ROUTER}/orders?count=1",
        complete_qs=True,
        json={"orders": [{"id": 1}], "next_page": f"{ROUTER}/orders?count=1&page=2"},
    )
    transport.register_uri(
        "GET",
        f"{ROUTER}/orders?count=1&page=2",
        complete_qs=True,
        json={"orders": [{"id": 2}], "next_page": None},
    )
    records = list(router_session().iter_records("/orders", {"count": 1}))
    assert [r["id"] for r in records] == [1, 2]
    first, second = (r.headers["X-AC-PUB-Auth-Signature"] for r in transport.request_history)
    assert first == expected("GET&/api/v1/orders?count=1&agency-user")
    assert second == expected("GET&/api/v1/orders?count=1&page=2&agency-user")


def test_a_retry_carries_the_headers_recomputed_for_its_request(monkeypatch) -> None:
    """A retried call carries the three headers too, set at send time on every attempt.

    The signature is deterministic (no nonce, no time in the message): the retry's is the same
    valid value, computed again for the same method, path and query.
    """
    transport = mock_transport(monkeypatch)
    monkeypatch.setattr("cartcom_client.session.time.sleep", lambda s: None)
    transport.register_uri(
        "PUT",
        f"{ROUTER}/orders/9",
        [{"status_code": 503, "json": {}}, {"status_code": 200, "json": {"id": 9}}],
    )
    assert router_session().put("/orders/9", {"order_status_id": 2}) == {"id": 9}
    assert len(transport.request_history) == 2
    for sent in transport.request_history:
        assert sent.headers["X-AC-PUB-Auth-Signature"] == expected(
            "PUT&/api/v1/orders/9&agency-user"
        )


def test_a_same_origin_redirect_is_signed_for_its_new_path(monkeypatch) -> None:
    transport = mock_transport(monkeypatch)
    transport.register_uri(
        "GET", f"{ROUTER}/orders/1", status_code=301, headers={"Location": f"{ROUTER}/orders/2"}
    )
    transport.register_uri("GET", f"{ROUTER}/orders/2", json={"id": 2})
    assert router_session().get("/orders/1") == {"id": 2}
    second = transport.request_history[1]
    assert second.headers["X-AC-PUB-Auth-Signature"] == expected("GET&/api/v1/orders/2&agency-user")


@pytest.mark.parametrize("other", ["https://evil.example.com", "http://public.americommerce.com"])
def test_pub_headers_never_reach_another_origin(monkeypatch, other) -> None:
    """A redirect to another host, or down to http, leaves without any identity header."""
    transport = mock_transport(monkeypatch)
    transport.register_uri(
        "GET", f"{ROUTER}/orders/1", status_code=302, headers={"Location": f"{other}/api/v1/x"}
    )
    transport.register_uri("GET", f"{other}/api/v1/x", json={"id": 1})
    router_session().get("/orders/1")
    home, away = transport.request_history
    assert home.headers["X-AC-PUB-User"] == USER
    for name in (*PUB, "X-AC-Auth-Token"):
        assert name not in away.headers
    assert all(USER not in v and SECRET not in v for v in away.headers.values())


def test_a_401_names_the_router_settings_never_their_values(monkeypatch, caplog) -> None:
    transport = mock_transport(monkeypatch)
    transport.register_uri(
        "GET",
        f"{ROUTER}/orders/1",
        status_code=401,
        json={"status_code": 401, "message": "Unauthorized", "details": ""},
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RouterAuthenticationError) as caught:
        router_session().get("/orders/1")
    text = f"{caught.value}|{caught.value!r}"
    for name in ("`user_name`", "`user_secret`", "`site_id`"):
        assert name in text
    assert "`access_token`" not in text
    signature = transport.request_history[0].headers["X-AC-PUB-Auth-Signature"]
    for value in (SECRET, signature):
        assert value not in text
        assert value not in caplog.text


@pytest.mark.parametrize(
    ("missing", "named"),
    [("site_id", "`site_id`"), ("user_name", "`user_name`"), ("user_secret", "`user_secret`")],
)
def test_router_settings_are_required_by_name(missing, named) -> None:
    config = router_config()
    del config[missing]
    with pytest.raises(ConfigurationError, match=named):
        ConnectionSettings.from_config(config)


def test_router_secret_is_checked_and_never_echoed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ConnectionSettings.from_config(router_config(user_secret=f"{SECRET}\nX-Injected: 1"))
    assert "`user_secret`" in str(caught.value)
    assert SECRET not in f"{caught.value}|{caught.value!r}"
    settings = ConnectionSettings.from_config(router_config())
    assert SECRET not in repr(settings)
    assert SECRET not in repr(settings.auth)


def test_router_url_goes_through_the_strict_url_rules() -> None:
    settings = ConnectionSettings.from_config(router_config())
    assert settings.base_url == ROUTER
    local = ConnectionSettings.from_config(router_config(router_url="http://127.0.0.1:9/api/v1/"))
    assert local.base_url == "http://127.0.0.1:9/api/v1"
    for bad in ("http://public.americommerce.com/api/v1", "https://u@h.example.com/api/v1"):
        with pytest.raises(ConfigurationError, match="`router_url`"):
            ConnectionSettings.from_config(router_config(router_url=bad))
    with pytest.raises(ConfigurationError) as caught:
        ConnectionSettings.from_config(router_config(router_url="http://h.example.com/api/v1"))
    assert "access token" not in str(caught.value)
    assert "router user" in str(caught.value)


def test_domain_and_api_url_are_not_used_in_router_mode_and_say_so() -> None:
    """A router store's calls go to `router_url`; a given domain/api_url becomes a warning."""
    settings = ConnectionSettings.from_config(
        router_config(domain="shop.example.com", api_url="https://x.example.com/api/v1")
    )
    assert settings.base_url == ROUTER
    assert len(settings.notes) == 1
    assert "`domain` and `api_url` are not used" in settings.notes[0]
    assert ConnectionSettings.from_config(router_config()).notes == ()


def test_router_settings_without_auth_type_are_not_used_and_say_so() -> None:
    """``auth_type`` left unset is token mode: given router settings become a warning."""
    config = {**router_config(), "access_token": TOKEN, "domain": "shop.example.com"}
    del config["auth_type"]
    settings = ConnectionSettings.from_config(config)
    assert settings.auth_type == "access_token"
    assert len(settings.notes) == 1
    note = settings.notes[0]
    assert "`site_id` and `user_name` and `user_secret` are not used" in note
    assert "`auth_type: central_api_router`" in note
    assert SECRET not in note
    plain = {"access_token": TOKEN, "domain": "shop.example.com"}
    assert ConnectionSettings.from_config(plain).notes == ()
    # The SDK fills in router_url's default: that alone is no warning; a chosen URL is.
    defaulted = {**plain, "auth_type": "access_token", "router_url": DEFAULT_ROUTER_URL}
    assert ConnectionSettings.from_config(defaulted).notes == ()
    chosen = {**plain, "router_url": "https://router.example.com/api/v1"}
    assert "`router_url` is not used" in ConnectionSettings.from_config(chosen).notes[0]


def test_a_401_after_a_redirect_away_still_names_the_router_settings(monkeypatch) -> None:
    """The advice follows the configured mode, not the headers the final request still had."""
    transport = mock_transport(monkeypatch)
    away = "https://elsewhere.example.com/api/v1/orders/1"
    transport.register_uri("GET", f"{ROUTER}/orders/1", status_code=302, headers={"Location": away})
    transport.register_uri(
        "GET", away, status_code=401, json={"status_code": 401, "message": "Unauthorized"}
    )
    with pytest.raises(RouterAuthenticationError) as caught:
        router_session().get("/orders/1")
    assert "X-AC-PUB-Site-ID" not in transport.request_history[-1].headers
    assert "`user_secret`" in str(caught.value)
    assert "`access_token`" not in str(caught.value)


def test_a_user_not_provisioned_for_the_site_gets_the_router_advice() -> None:
    """A real refusal: the sandbox's router knows the user, but not for this site."""
    from cartcom_sandbox.server import RouterServer

    with RouterServer({SITE: ":memory:", "999": ":memory:"}, [f"{USER}:{SECRET}@999"]) as router:
        config = router_config(router_url=router.base_url)
        session = CartcomSession(ConnectionSettings.from_config(config), max_tries=1)
        with pytest.raises(RouterAuthenticationError) as caught:
            session.get("/orders/1")
        text = str(caught.value)
        assert "provisioned" in text
        assert "`site_id`" in text
        assert SECRET not in text
        ok = router_config(router_url=router.base_url, site_id="999")
        assert (
            CartcomSession(ConnectionSettings.from_config(ok)).get("/manufacturers")["total_count"]
            == 0
        )
        assert [c.status for c in router.calls] == [401, 200]


def test_token_required_only_in_token_mode_and_auth_type_checked() -> None:
    with pytest.raises(ConfigurationError, match="`access_token`"):
        ConnectionSettings.from_config({"domain": "s.example.com"})
    with pytest.raises(ConfigurationError, match="`auth_type`"):
        ConnectionSettings.from_config(router_config(auth_type="oauth"))
    assert ConnectionSettings.from_config(router_config(site_id=1234)).site_id == "1234"


def test_sdk_redaction_covers_the_router_secret() -> None:
    schema = th.PropertiesList(*connection_properties()).to_dict()
    assert secret_values(router_config(), schema) == [SECRET]


def test_without_credentials_identity_headers_never_leave_for_another_origin():
    """No auth mode set (a header from elsewhere on the request): stripped off-store, kept home."""
    for at_home in (False, True):
        request = requests.Request(
            "GET",
            "https://elsewhere.example.com/x",
            headers=dict.fromkeys(AUTH_HEADERS, "left-over"),
        ).prepare()
        apply_auth(request, None, at_home=at_home)
        kept = [name for name in AUTH_HEADERS if name in request.headers]
        assert kept == ([] if not at_home else list(AUTH_HEADERS))

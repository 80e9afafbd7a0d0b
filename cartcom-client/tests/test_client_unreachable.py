"""No answer at all: what the session retries, and the one line it ends with (issue 21).

Through the real ``requests``/``urllib3`` stack: only the resolver (``socket.getaddrinfo``) is
replaced, to answer as DNS does, and each of its calls is one try. The plugins' CLIs are run
against refused, unknown and TLS-refusing addresses in tests/test_unreachable_store.py.
"""

from __future__ import annotations

import socket

import pytest
from cartcom_client import CartcomSession, ConnectionSettings, StoreUnreachableError
from cartcom_client import session as session_module
from cartcom_client.errors import Disposition
from cartcom_testing.badports import refused_port

TOKEN = "tok-unreachable-secret-77"


@pytest.fixture
def resolver(monkeypatch):
    """``getaddrinfo`` answers ``errno`` for names under ``.invalid``; the calls are counted."""
    real = socket.getaddrinfo
    seen: dict[str, int | list[str]] = {"errno": socket.EAI_NONAME, "hosts": []}

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".invalid"):
            seen["hosts"].append(host)  # type: ignore[union-attr]
            raise socket.gaierror(seen["errno"], "answer of the test's resolver")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(session_module.time, "sleep", lambda _s: None)
    return seen


def session(**config) -> CartcomSession:
    """A session with a large budget and 4 tries per call."""
    settings = ConnectionSettings.from_config(
        {"access_token": TOKEN, "calls_per_window": 1000, "window_seconds": 1, **config}
    )
    return CartcomSession(settings, max_tries=4)


def test_an_unknown_host_is_tried_once_and_names_domain(resolver):
    """NXDOMAIN: no retry can mend a typo; the line names the host and `domain`."""
    with pytest.raises(StoreUnreachableError) as info:
        session(domain="yourstore.invalid").get("/orders", {"customer_email": "ada@example.com"})
    assert resolver["hosts"] == ["yourstore.invalid"]
    error = info.value
    assert error.disposition is Disposition.FATAL
    text = str(error)
    assert text.startswith("Cannot reach the store at yourstore.invalid (from `domain`)")
    assert "unknown host" in text
    assert "set `api_url`" in text  # the sandbox's setting, for whoever set only the env var
    assert "\n" not in text
    assert TOKEN not in text
    assert "ada@example.com" not in text


def test_a_resolver_that_may_recover_is_retried(resolver):
    """``EAI_AGAIN`` (the resolver itself failed) is retried like a dropped connection."""
    resolver["errno"] = socket.EAI_AGAIN
    with pytest.raises(StoreUnreachableError) as info:
        session(api_url="https://shop.invalid:8443/api/v1").get("/orders")
    assert resolver["hosts"] == ["shop.invalid"] * 4
    text = str(info.value)
    assert "at shop.invalid:8443 (from `api_url`): DNS lookup failed" in text
    assert "after 4 tries" in text
    assert info.value.disposition is Disposition.RETRY


def test_a_refused_post_is_retried_since_it_was_never_sent(monkeypatch):
    """A refused connection cannot have applied a POST: it is retried, then named."""
    monkeypatch.setattr(session_module.time, "sleep", lambda _s: None)
    with refused_port() as port:
        client = session(api_url=f"http://127.0.0.1:{port}/api/v1")
        with pytest.raises(StoreUnreachableError) as info:
            client.post("/products", json={"item_name": "Tee"})
    assert client.writes == 4
    assert f"at 127.0.0.1:{port} (from `api_url`): connection refused, after 4 tries" in str(
        info.value
    )


def test_the_router_is_named_with_router_url(resolver):
    """Through the Central API Router, the line names the router and `router_url`."""
    client = session(
        auth_type="central_api_router",
        site_id="12",
        user_name="agency",
        user_secret="router-secret-99",
        router_url="https://router.invalid/api/v1",
    )
    with pytest.raises(StoreUnreachableError) as info:
        client.get("/orders")
    text = str(info.value)
    assert text.startswith("Cannot reach the Central API Router at router.invalid")
    assert "(from `router_url`)" in text
    assert "router-secret-99" not in text

"""Router mode (issue 11): Cart.com's Central API Router, two sites behind one server.

Signatures are computed here with the stdlib, over literal strings, independently of both the
sandbox and the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cartcom_sandbox.cli import main
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import RouterServer

USER, SECRET = "agency", "pub-SECRET-42"
OTHER_USER, OTHER_SECRET = "second", "other-SECRET-7"
#: A user provisioned for site 202 only.
LIMITED_USER, LIMITED_SECRET = "limited", "limited-SECRET-3"
NOT_VALID = (
    "The X-AC-PUB-* credentials are not valid for this site and request "
    "(site, user, provisioning or signature)."
)
NEEDS_HEADERS = (
    "The Central API Router needs the X-AC-PUB-Site-ID, X-AC-PUB-User and "
    "X-AC-PUB-Auth-Signature headers."
)


def sign(message: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def router() -> Iterator[RouterServer]:
    """Sites 101 and 202, each on its own in-memory store, 5 calls per minute each."""
    server = RouterServer(
        {"101": ":memory:", "202": ":memory:"},
        [
            f"{USER}:{SECRET}",
            f"{OTHER_USER}:{OTHER_SECRET}",
            f"{LIMITED_USER}:{LIMITED_SECRET}@202",
        ],
        config=SandboxConfig(plan="unlimited", rate_calls=5, rate_window=60),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def call(
    server: RouterServer,
    method: str,
    path_and_query: str,
    *,
    site: str = "101",
    user: str = USER,
    signature: str | None = None,
    json: Any = None,
    extra: dict[str, str] | None = None,
) -> requests.Response:
    """Send a call signed over ``path_and_query`` (unless ``signature`` is given)."""
    if signature is None:
        signature = sign(f"{method}&{path_and_query}&{user}")
    headers = {
        "X-AC-PUB-Site-ID": site,
        "X-AC-PUB-User": user,
        "X-AC-PUB-Auth-Signature": signature,
    }
    headers.update(extra or {})
    return requests.request(
        method, server.root_url + path_and_query, headers=headers, json=json, timeout=10
    )


def assert_401(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 401
    body = resp.json()
    assert body["status_code"] == 401
    assert body["message"] == "Unauthorized"
    assert SECRET not in resp.text
    return body


def test_a_signed_call_reaches_its_own_site_only(router) -> None:
    made = call(router, "POST", "/api/v1/manufacturers", json={"name": "Site-101 brand"})
    assert made.status_code in (200, 201), made.text
    assert call(router, "GET", "/api/v1/manufacturers?count=10").json()["total_count"] == 1
    other = call(router, "GET", "/api/v1/manufacturers?count=10", site="202")
    assert other.status_code == 200
    assert other.json()["total_count"] == 0
    assert [c.site for c in router.calls] == ["101", "101", "202"]
    assert router.site(101).store is not router.site(202).store


def test_wrong_secret_is_refused_with_the_envelope(router) -> None:
    query = "/api/v1/manufacturers?count=10"
    resp = call(router, "GET", query, signature=sign(f"GET&{query}&{USER}", "not-the-secret"))
    assert assert_401(resp)["details"] == NOT_VALID
    # The other user's secret does not sign for this user either.
    resp = call(router, "GET", query, signature=sign(f"GET&{query}&{USER}", OTHER_SECRET))
    assert_401(resp)


def test_a_signature_over_another_query_or_method_is_refused(router) -> None:
    good = sign(f"GET&/api/v1/manufacturers?count=10&{USER}")
    assert call(router, "GET", "/api/v1/manufacturers?count=10", signature=good).status_code == 200
    assert_401(call(router, "GET", "/api/v1/manufacturers?count=11", signature=good))
    assert_401(call(router, "DELETE", "/api/v1/manufacturers?count=10", signature=good))


def test_the_raw_query_is_signed_not_the_decoded_one(router) -> None:
    """The signature covers the query as sent (``%20``), never its decoded form."""
    sent = "/api/v1/manufacturers?name=eq:A%20B"
    decoded = "/api/v1/manufacturers?name=eq:A B"
    assert_401(call(router, "GET", sent, signature=sign(f"GET&{decoded}&{USER}")))
    assert call(router, "GET", sent).status_code == 200


def test_the_raw_path_is_signed_not_the_decoded_one(router) -> None:
    """The path is signed as sent (``%20``), not as werkzeug decodes it into ``PATH_INFO``."""
    sent = "/api/v1/manufacturers/A%20B"
    decoded = "/api/v1/manufacturers/A B"
    assert_401(call(router, "GET", sent, signature=sign(f"GET&{decoded}&{USER}")))
    assert router.calls[-1].status == 401
    assert call(router, "GET", sent).status_code != 401


def test_a_non_ascii_signature_is_a_logged_401_envelope(router) -> None:
    """WSGI hands headers over latin-1 decoded: any character is a refusal, never a 500."""
    path = "/api/v1/manufacturers?count=10"
    for bad in ("é" + sign(f"GET&{path}&{USER}"), "\xff", "ü"):
        assert assert_401(call(router, "GET", path, signature=bad))["details"] == NOT_VALID
        assert (router.calls[-1].status, router.calls[-1].site) == (401, "101")


def test_an_authenticator_that_fails_is_a_logged_401(router) -> None:
    """Whatever goes wrong while checking a caller, the answer is the 401 envelope."""

    def broken(environ: dict[str, Any]) -> tuple[str | None, str | None]:
        raise TypeError("boom")

    router.site(101).app.authenticate = broken
    resp = call(router, "GET", "/api/v1/manufacturers?count=10")
    assert_401(resp)
    assert "boom" not in resp.text
    assert router.calls[-1].status == 401


def test_a_call_without_query_is_signed_over_the_path_alone(router) -> None:
    """INF, documented: no query, no ``?`` in the signed message."""
    assert_401(
        call(
            router,
            "GET",
            "/api/v1/manufacturers/1",
            signature=sign(f"GET&/api/v1/manufacturers/1?&{USER}"),
        )
    )
    assert (
        call(router, "GET", "/api/v1/manufacturers/1").status_code == 404
    )  # signed, and no such brand


def test_page_ones_signature_reused_for_page_two_is_refused(router) -> None:
    for name in ("A", "B"):
        assert call(router, "POST", "/api/v1/manufacturers", json={"name": name}).status_code < 300
    first = "/api/v1/manufacturers?count=1"
    page1 = call(router, "GET", first)
    link = page1.json()["next_page"]
    second = link[link.index("/api/v1") :]
    assert second != first
    reused = sign(f"GET&{first}&{USER}")
    assert_401(call(router, "GET", second, signature=reused))
    assert call(router, "GET", second).json()["manufacturers"][0]["name"] == "B"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"X-AC-PUB-Site-ID": "999"}, NOT_VALID),
        ({"X-AC-PUB-User": "nobody"}, NOT_VALID),
        ({"X-AC-PUB-Auth-Signature": sign("GET&/api/v1/other&agency")}, NOT_VALID),
        ({"X-AC-PUB-Site-ID": "999", "X-AC-PUB-Auth-Signature": "x"}, NOT_VALID),
        ({"X-AC-PUB-Auth-Signature": ""}, NEEDS_HEADERS),
        ({"X-AC-PUB-User": ""}, NEEDS_HEADERS),
    ],
)
def test_unknown_site_unknown_user_and_missing_headers_are_refused(router, headers, detail):
    """An unknown site, an unknown user and a wrong signature read the same (no enumeration)."""
    path = "/api/v1/manufacturers?count=10"
    base = {
        "X-AC-PUB-Site-ID": "101",
        "X-AC-PUB-User": USER,
        "X-AC-PUB-Auth-Signature": sign(f"GET&{path}&{USER}"),
    }
    base.update(headers)
    resp = requests.get(router.root_url + path, headers=base, timeout=10)
    assert assert_401(resp)["details"] == detail
    assert router.calls[-1].status == 401
    assert router.calls[-1].site == base["X-AC-PUB-Site-ID"]


def test_a_user_reaches_only_the_sites_it_is_provisioned_for(router) -> None:
    """``limited`` is provisioned for 202: a valid signature on 101 reads like a wrong one."""
    path = "/api/v1/manufacturers?count=10"
    signed = sign(f"GET&{path}&{LIMITED_USER}", LIMITED_SECRET)
    ok = call(router, "GET", path, site="202", user=LIMITED_USER, signature=signed)
    assert ok.status_code == 200
    refused = call(router, "GET", path, site="101", user=LIMITED_USER, signature=signed)
    assert assert_401(refused)["details"] == NOT_VALID
    assert (router.calls[-1].site, router.calls[-1].status) == ("101", 401)


def test_provisioning_in_python_and_its_errors() -> None:
    """``{name: (secret, sites)}`` provisions too; a repeated user or an unknown site fails."""
    with RouterServer({"1": ":memory:", "2": ":memory:"}, {"u": ("s", ["2"])}) as server:
        path = "/api/v1/manufacturers?count=1"
        headers = {"X-AC-PUB-User": "u", "X-AC-PUB-Auth-Signature": sign(f"GET&{path}&u", "s")}
        for site, status in (("1", 401), ("2", 200)):
            resp = requests.get(
                server.root_url + path, headers={**headers, "X-AC-PUB-Site-ID": site}, timeout=10
            )
            assert resp.status_code == status
    with pytest.raises(ValueError, match="router user u is given twice") as caught:
        RouterServer({"1": ":memory:"}, ["u:secret-A", "u:secret-B"])
    assert "secret" not in str(caught.value).replace("router user", "")
    with pytest.raises(ValueError, match="provisioned for a site not served") as caught:
        RouterServer({"1": ":memory:"}, ["u:secret-A@1,3"])
    assert "3" not in str(caught.value)


def test_an_access_token_alone_is_refused_in_router_mode(router) -> None:
    """The admin token is a real token of the sandbox, and still no way into the API.

    The text is the one of any missing header: no hint of what this server accepts.
    """
    for site in ({}, {"X-AC-PUB-Site-ID": "101"}):
        resp = requests.get(
            router.root_url + "/api/v1/manufacturers",
            headers={"X-AC-Auth-Token": router.token, **site},
            timeout=10,
        )
        assert assert_401(resp)["details"] == NEEDS_HEADERS


def test_router_server_has_no_single_store() -> None:
    """``store``/``faults``/``ratelimit`` belong to a site; asking the server says so."""
    server = RouterServer({"1": ":memory:"}, ["u:s"])
    for name in ("store", "faults", "ratelimit"):
        with pytest.raises(AttributeError, match=r"\.site\(SITE_ID\)"):
            getattr(server, name)
    server.stop()


def test_nothing_of_a_refused_body_is_read_or_logged(router) -> None:
    resp = call(
        router,
        "POST",
        "/api/v1/manufacturers",
        signature=sign("POST&/api/v1/x&agency"),
        json={"n": 1},
    )
    assert_401(resp)
    assert router.calls[-1].request_json is None
    assert router.site(101).store.count("manufacturers") == 0


def test_each_site_has_its_own_call_budget(router) -> None:
    """Five calls per window per site: site 101's sixth is refused, site 202 still answers."""
    limits = [
        call(router, "GET", "/api/v1/manufacturers?count=10").headers["X-AC-Call-Limit"]
        for _ in range(5)
    ]
    assert limits == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    # Another user on the same site shares the site's budget.
    other = call(
        router,
        "GET",
        "/api/v1/manufacturers?count=10",
        user=OTHER_USER,
        signature=sign(f"GET&/api/v1/manufacturers?count=10&{OTHER_USER}", OTHER_SECRET),
    )
    assert other.status_code == 429
    assert "call limit for this site" in other.json()["details"]
    assert int(other.headers["Retry-After"]) >= 1
    elsewhere = call(router, "GET", "/api/v1/manufacturers?count=10", site="202")
    assert elsewhere.status_code == 200
    assert elsewhere.headers["X-AC-Call-Limit"] == "1/5"
    assert [(c.site, c.status) for c in router.calls][-2:] == [("101", 429), ("202", 200)]


def test_admin_routes_take_the_site_header_and_the_admin_token(router) -> None:
    """Each site's faults are its own: a fault scripted on 202 does not touch 101."""
    resp = requests.post(
        router.root_url + "/_sandbox/faults",
        json=[{"kind": "status", "status": 503}],
        headers={"X-AC-Auth-Token": router.token, "X-AC-PUB-Site-ID": "202"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert call(router, "GET", "/api/v1/manufacturers?count=10").status_code == 200
    assert call(router, "GET", "/api/v1/manufacturers?count=10", site="202").status_code == 503
    no_site = requests.get(
        router.root_url + "/_sandbox/calls", headers={"X-AC-Auth-Token": router.token}, timeout=10
    )
    assert no_site.status_code == 401


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--router", "--pub-user", "u:s"], "--site"),
        (["--router", "--site", "1=:memory:"], "--pub-user"),
        (["--router", "--site", "1", "--pub-user", "u:s"], "SITE_ID=DB_PATH"),
        (["--router", "--site", "1=:memory:", "--pub-user", "no-secret"], "NAME:SECRET"),
        (["--router", "--site", "1=a.db", "--site", "1=b.db", "--pub-user", "u:s"], "site 1"),
        (["--router", "--site", "1=:memory:", "--pub-user", "u:s", "--pub-user", "u:t"], "u is"),
        (["--router", "--db", ":memory:", "--site", "1=:memory:", "--pub-user", "u:s"], "--db"),
        (["--site", "1=:memory:"], "--db"),
    ],
)
def test_serve_router_options_are_checked(argv, says) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", "0", *argv])
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["--pub-users", "agency:TOPSECRET"],
        ["--pub-users=agency:TOPSECRET"],
        ["--pub-user", "agency:TOPSECRET", "stray-TOPSECRET"],
        ["--pub-user-environ", "agency=TOPSECRET"],
    ],
)
def test_an_argument_error_never_echoes_a_router_secret(argv, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--router", "--site", "1=:memory:", *argv])
    err = capsys.readouterr().err
    assert "error:" in err
    assert "TOPSECRET" not in err


def test_pub_user_env_reads_the_secret_from_the_environment(monkeypatch) -> None:
    """``--pub-user-env NAME=VAR[@SITES]``: the secret never is on the command line."""
    from cartcom_sandbox.cli import _router_server, build_parser

    monkeypatch.setenv("ROUTER_SECRET_A", "env-SECRET-1")
    argv = ["serve", "--router", "--site", "1=:memory:", "--site", "2=:memory:"]
    argv += ["--pub-user-env", "a=ROUTER_SECRET_A@2"]
    server = _router_server(build_parser(argv).parse_args(argv), SandboxConfig())
    with server:
        path = "/api/v1/manufacturers?count=1"
        headers = {
            "X-AC-PUB-User": "a",
            "X-AC-PUB-Auth-Signature": sign(f"GET&{path}&a", "env-SECRET-1"),
        }
        for site, status in (("1", 401), ("2", 200)):
            resp = requests.get(
                server.root_url + path, headers={**headers, "X-AC-PUB-Site-ID": site}, timeout=10
            )
            assert resp.status_code == status
    monkeypatch.delenv("ROUTER_SECRET_A")
    with pytest.raises(SystemExit, match="#1: the environment variable it names is unset"):
        main([*argv, "--port", "0"])


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("agency=TOPSECRET/x+y=", "after `=` comes the name of an environment variable"),
        ("agency=TOPSECRET", "the environment variable it names is unset or empty"),
        ("TOPSECRET", "needs NAME=VAR[@SITE,SITE]"),
        ("agency=TOPSECRET@1", "the environment variable it names is unset or empty"),
    ],
)
def test_pub_user_env_never_echoes_a_secret_pasted_for_the_variable(item, says, capsys) -> None:
    """The secret where the variable's name goes: refused, saying what is wrong, not what."""
    argv = ["serve", "--router", "--site", "1=:memory:", "--port", "0"]
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--pub-user", "other:s", "--pub-user-env", item])
    message = str(caught.value)
    assert "--pub-user-env #1" in message
    assert says in message
    assert "TOPSECRET" not in message + capsys.readouterr().err

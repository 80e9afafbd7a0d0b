"""Secrets and URLs end to end: both plugins' CLIs against the sandbox (issue 14).

A token that is not printable ASCII, or not text at all, or an `api_url` that would send it to
another host, stops the run with an error naming the setting. Nothing of the token appears on
stdout, stderr or in a traceback, and the sandbox sees no call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LISTING_SCHEMA = {
    "type": "SCHEMA",
    "stream": "listings",
    "schema": {"properties": {"sku": {"type": "string"}}},
    "key_properties": ["sku"],
}
LISTING = {"type": "RECORD", "stream": "listings", "record": {"sku": "E2E-1"}}


def _run(plugin: str, config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{plugin}.json"
    path.write_text(json.dumps(config))
    stdin = (
        "" if plugin == "tap-cartcom" else f"{json.dumps(LISTING_SCHEMA)}\n{json.dumps(LISTING)}\n"
    )
    return subprocess.run(
        [str(BIN / plugin), "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("plugin", ["tap-cartcom", "target-cartcom"])
@pytest.mark.parametrize(
    ("token", "marker"),
    [
        ("SECRET-abc\nINJECTED", "SECRET"),  # the reproduction
        ("SECRET-abc\r\nX-Evil: 1", "SECRET"),
        ("SECRET-ab\u00e7", "SECRET"),
        (987654321, "987654321"),
        (["SECRET-in-a-list"], "SECRET"),
    ],
)
def test_bad_token_is_refused_and_never_echoed(sandbox, tmp_path, plugin, token, marker):
    """Non-zero exit, the setting named, the token nowhere in the output, no call made."""
    result = _run(plugin, {"api_url": sandbox.base_url, "access_token": token}, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "access_token" in output
    assert marker not in output
    assert "INJECTED" not in output
    assert len(sandbox.calls) == 0


@pytest.mark.parametrize("plugin", ["tap-cartcom", "target-cartcom"])
def test_api_url_pointing_elsewhere_is_refused(sandbox, tmp_path, plugin):
    """The issue's localhost-backslash-at-another-port `api_url`: refused, no call made."""
    api_url = f"http://localhost:{sandbox.port}\\@127.0.0.1:1/api/v1"
    result = _run(plugin, {"api_url": api_url, "access_token": sandbox.token}, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "`api_url` holds a backslash" in output
    assert sandbox.token not in output
    assert len(sandbox.calls) == 0


@pytest.mark.parametrize("plugin", ["tap-cartcom", "target-cartcom"])
@pytest.mark.parametrize(
    ("secret", "marker"),
    [("SECRET-pub\nINJECTED", "SECRET"), (987654321, "987654321"), (["SECRET-x"], "SECRET")],
)
def test_bad_router_secret_is_refused_and_never_echoed(sandbox, tmp_path, plugin, secret, marker):
    """The router's `user_secret` gets the token's treatment, SDK schema errors included."""
    config = {
        "auth_type": "central_api_router",
        "router_url": sandbox.base_url,
        "site_id": "1",
        "user_name": "agency",
        "user_secret": secret,
    }
    result = _run(plugin, config, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "user_secret" in output
    assert marker not in output
    assert "INJECTED" not in output
    assert len(sandbox.calls) == 0

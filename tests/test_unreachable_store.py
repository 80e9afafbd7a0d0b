"""A store that cannot be reached ends both plugins' runs in one line (issue 21).

A refused connection, an unknown host and a refused TLS handshake (a self-signed certificate,
or https:// to a port that speaks plain HTTP) each end the tap and the target with exit status 1
and ONE error line, with no traceback, that names the host and the setting the address came
from (`domain` or `api_url`). The token is nowhere in the output. A refused connection is
retried as before (a store restarting comes back); an unknown host or a refused certificate is
not retried, so the run stops at once.

The plugins run as subprocesses through ``RUNNER``, which changes two things only: the retry
waits are 0 s (so 8 tries take no minute), and the resolver answers a name under ``.invalid``
the way DNS answers a name that does not exist (``EAI_NONAME``), whatever this machine's DNS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cartcom_testing.badports import BadTLSPort, refused_port

TOKEN = "tok-UNREACHABLE-secret-4242"
#: Tries per call before giving up: the tap's ``backoff_max_tries``, the target's session.
TRIES = {"tap": 8, "target": 6}
RUNNER = """
import socket, sys

_resolve = socket.getaddrinfo

def getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _resolve(host, *args, **kwargs)

socket.getaddrinfo = getaddrinfo
import tap_cartcom.http
import target_cartcom._client.session

tap_cartcom.http.retry_wait_seconds = lambda *_: 0.0
target_cartcom._client.session.retry_wait_seconds = lambda *_: 0.0
if sys.argv[1] == "tap":
    from tap_cartcom.tap import TapCartcom as plugin
else:
    from target_cartcom.target import TargetCartcom as plugin
sys.argv = [sys.argv[0], *sys.argv[2:]]
plugin.cli()
"""
LISTINGS = [
    {
        "type": "SCHEMA",
        "stream": "listings",
        "schema": {"properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}}},
        "key_properties": ["sku"],
    },
    {"type": "RECORD", "stream": "listings", "record": {"sku": "UNREACH-1", "quantity": 3}},
]


@dataclass
class Failure:
    """Where the plugin is pointed, what its line must name, and whether it retries."""

    setting: str
    address: str
    host: str
    reason: str
    retried: bool
    port: BadTLSPort | None = None


@contextmanager
def failure(kind: str, tmp_path: Path) -> Iterator[Failure]:
    """The address of a store that fails in the way ``kind`` says, for the test's duration."""
    if kind == "refused":
        with refused_port() as port:
            yield Failure(
                "api_url",
                f"http://127.0.0.1:{port}/api/v1",
                f"127.0.0.1:{port}",
                "connection refused",
                retried=True,
            )
    elif kind == "unknown-host":
        yield Failure(
            "domain", "shop-of-nobody.invalid", "shop-of-nobody.invalid", "unknown host", False
        )
    else:
        mode = "self-signed" if kind == "tls-self-signed" else "plain-http"
        bad = BadTLSPort(mode, tmp_path).start()
        try:
            reason = "TLS certificate refused" if mode == "self-signed" else "TLS handshake failed"
            yield Failure(
                "api_url",
                f"https://127.0.0.1:{bad.port}/api/v1",
                f"127.0.0.1:{bad.port}",
                reason,
                retried=False,
                port=bad,
            )
        finally:
            bad.stop()


def run(plugin: str, config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The plugin's CLI, the target with one listing on stdin."""
    path = tmp_path / f"{plugin}.json"
    path.write_text(json.dumps(config))
    stdin = "".join(json.dumps(m) + "\n" for m in LISTINGS) if plugin == "target" else ""
    return subprocess.run(
        [sys.executable, "-c", RUNNER, plugin, "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("plugin", ["tap", "target"])
@pytest.mark.parametrize("kind", ["refused", "unknown-host", "tls-self-signed", "tls-plain-http"])
def test_an_unreachable_store_ends_the_run_in_one_line(plugin, kind, tmp_path):
    """Exit 1, one error line naming the host and the setting, no traceback, never the token."""
    with failure(kind, tmp_path) as bad:
        config = {"access_token": TOKEN, "plan": "gold", bad.setting: bad.address}
        proc = run(plugin, config, tmp_path)
        connections = bad.port.connections if bad.port else None
    err = proc.stderr
    errors = [line for line in err.splitlines() if "| ERROR" in line]
    assert proc.returncode == 1, err[-3000:]
    assert len(errors) == 1, err[-3000:]
    assert "Traceback" not in err
    assert f"Cannot reach the store at {bad.host} (from `{bad.setting}`): {bad.reason}" in errors[0]
    assert f"check `{bad.setting}`" in errors[0]
    assert TOKEN not in proc.stdout + err
    retries = [line for line in err.splitlines() if "Retrying" in line]
    if bad.retried:
        # Retried as any dropped connection is, then named once the tries are spent.
        assert len(retries) == TRIES[plugin] - 1, err[-3000:]
        assert f"after {TRIES[plugin]} tries" in errors[0]
    else:
        # No retry can mend a wrong host or a refused certificate: one try, then the line.
        assert retries == [], err[-3000:]
    if connections is not None:
        assert connections == 1

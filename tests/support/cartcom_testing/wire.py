"""A requests-mock transport *under* the pacing adapter, for tests that script raw answers.

Mounting requests-mock over a session (``requests_mock.Mocker``) replaces the adapter the
clients mount, so pacing, ``X-AC-Call-Limit`` and ``Retry-After`` handling would never run.
Patching ``HTTPAdapter.send`` instead keeps ``PacedAdapter.send`` in the path: it waits for the
budget, then its ``super().send`` reaches the mock.
"""

from __future__ import annotations

from typing import Any

import requests_mock
from requests.adapters import HTTPAdapter


def mock_transport(monkeypatch: Any) -> requests_mock.Adapter:
    """Route every HTTP send to a fresh requests-mock adapter for the rest of the test."""
    transport = requests_mock.Adapter()
    monkeypatch.setattr(
        HTTPAdapter, "send", lambda self, request, **kw: transport.send(request, **kw)
    )
    return transport

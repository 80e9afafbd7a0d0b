"""pytest fixtures (entry point pytest11): an in-process sandbox on an ephemeral port.

Override ``sandbox_config`` in a conftest or test module to change behaviour, e.g.::

    @pytest.fixture
    def sandbox_config():
        return SandboxConfig(plan="steel", rate_window=1.0)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer

SANDBOX_TOKEN = "test-token"  # noqa: S105 - a test fixture token


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Settings of the ``sandbox`` fixture (unlimited plan); override to customise."""
    return SandboxConfig(plan="unlimited")


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    """A running sandbox over an empty in-memory store; token ``test-token``.

    Yields the server: ``.base_url``, ``.token``, ``.store``, ``.calls``, ``.faults``,
    ``.ratelimit``.
    """
    server = SandboxServer(":memory:", tokens=[SANDBOX_TOKEN], config=sandbox_config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------
# seeded_sandbox: added by the seed module's owner below this line (uses cartcom_sandbox.seed).
# ---------------------------------------------------------------------------------------
from cartcom_sandbox.seeding.fixtures import (  # noqa: E402, F401 - fixtures registered here
    SeededSandbox,
    seeded_sandbox,
    seeded_sandbox_db,
)

"""pytest fixtures (entry point pytest11): an in-process sandbox on an ephemeral port.

Override ``sandbox_config`` in a conftest or test module to change behaviour, e.g.::

    @pytest.fixture
    def sandbox_config():
        return SandboxConfig(plan="steel", rate_window=1.0)

``pytest --sandbox-profile report.json`` (or ``CARTCOM_SANDBOX_PROFILE=report.json``) serves
the dialect a ``cartcom-sandbox probe`` report determines, so a whole suite can be rerun against
a store that differs from the defaults: for the session, every ``SandboxConfig`` starts from the
profile's knobs (the ``sandbox_config`` fixture and configs that tests build themselves), and a
knob a test passes explicitly keeps the test's value. The call limit and the answer latency are
left to the tests.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import pytest

from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.server import SandboxServer

SANDBOX_TOKEN = "test-token"  # noqa: S105 - a test fixture token
PROFILE_ENV = "CARTCOM_SANDBOX_PROFILE"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--sandbox-profile``: serve the fixtures with a probe report's dialect."""
    parser.addoption(
        "--sandbox-profile",
        default=os.environ.get(PROFILE_ENV) or None,
        metavar="REPORT",
        help="serve the cartcom-sandbox fixtures with the knobs this probe report determines "
        f"(default: ${PROFILE_ENV})",
    )


def _profile_path(config: pytest.Config) -> str | None:
    return config.getoption("--sandbox-profile", default=None)


_PLAIN_INIT = SandboxConfig.__init__


def pytest_configure(config: pytest.Config) -> None:
    """With a profile: every SandboxConfig of the session starts from the profile's knobs."""
    path = _profile_path(config)
    if not path:
        return
    from cartcom_sandbox.profile import load_report, profile_from  # noqa: PLC0415

    settings = profile_from(load_report(path), rate=False, latency=False).settings
    names = [f.name for f in dataclasses.fields(SandboxConfig)]

    def init(self: SandboxConfig, *args: Any, **kwargs: Any) -> None:
        _PLAIN_INIT(self, *args, **kwargs)
        given = set(names[: len(args)]) | set(kwargs)
        for key, value in settings.items():
            if key not in given:
                setattr(self, key, copy.deepcopy(value))

    SandboxConfig.__init__ = init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the plain SandboxConfig."""
    SandboxConfig.__init__ = _PLAIN_INIT  # type: ignore[method-assign]


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which profile the fixtures serve, and what it applies."""
    path = _profile_path(config)
    if not path:
        return None
    from cartcom_sandbox.profile import load_report, profile_from  # noqa: PLC0415

    prof = profile_from(load_report(path), rate=False, latency=False)
    return f"cartcom-sandbox profile {path}: " + "; ".join(prof.applied)


@pytest.fixture(scope="session")
def sandbox_profile(pytestconfig: pytest.Config) -> dict[str, Any] | None:
    """The probe report given with ``--sandbox-profile`` (None without one)."""
    path = _profile_path(pytestconfig)
    if not path:
        return None
    from cartcom_sandbox.profile import load_report  # noqa: PLC0415

    return load_report(path)


@pytest.fixture
def sandbox_config(sandbox_profile: dict[str, Any] | None) -> SandboxConfig:
    """Settings of the ``sandbox`` fixture (unlimited plan, plus any --sandbox-profile)."""
    config = SandboxConfig(plan="unlimited")
    if sandbox_profile is not None:
        from cartcom_sandbox.profile import apply_profile  # noqa: PLC0415

        apply_profile(config, sandbox_profile, rate=False, latency=False)
    return config


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

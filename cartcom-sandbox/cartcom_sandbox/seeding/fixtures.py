"""The ``seeded_sandbox`` pytest fixture: a private copy of a small pre-seeded store per test.

The store is seeded once per session (60 products, 300 orders, seed 7, a fixed window that
crosses the March DST change) and the file is copied into each test's ``tmp_path``, so a test
may mutate it freely; a SandboxServer serves the copy. Registered by
``cartcom_sandbox.pytest_plugin``.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer

TOKEN = "test-token"  # noqa: S105 - same as the ``sandbox`` fixture
SEED_ARGS: dict[str, Any] = {
    "products": 60,
    "orders": 300,
    "seed": 7,
    "start": date(2024, 2, 1),
    "days": 90,
}


class SeededSandbox:
    """A running SandboxServer over a per-test copy of the seeded file, plus the seed facts.

    Server attributes (``base_url``, ``token``, ``store``, ``calls``, ``faults``,
    ``ratelimit``, ``config``) are delegated, so it is used like the ``sandbox`` fixture.
    """

    def __init__(self, path: Path, summary: dict[str, Any], server: Any) -> None:
        """Wrap a started server over ``path`` and the summary ``seed_store`` returned."""
        self.path = path
        self.summary = summary
        self.server = server

    def __getattr__(self, name: str) -> Any:
        """Delegate to the server."""
        if name == "server":
            raise AttributeError(name)
        return getattr(self.server, name)

    @property
    def headers(self) -> dict[str, str]:
        """The auth header for this sandbox."""
        return {"X-AC-Auth-Token": self.server.token}

    @property
    def counts(self) -> dict[str, int]:
        """Rows per resource right after seeding."""
        return self.summary["counts"]

    @property
    def order_status_ids(self) -> dict[str, int]:
        """Order status id by name ("Processing", "Shipped", ...)."""
        return self.summary["order_status_ids"]

    @property
    def processing_order_ids(self) -> list[int]:
        """Ids of the orders seeded in "Processing" (all of them at this size)."""
        return self.summary["processing_order_ids"]

    def order_ids(self, status: str) -> list[int]:
        """Ids of the orders seeded with the status called ``status``."""
        return self.summary["order_ids_by_status"][status]


@pytest.fixture(scope="session")
def seeded_sandbox_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Session-wide pristine seeded file and its summary (do not modify; copy it)."""
    path = tmp_path_factory.mktemp("seeded-sandbox") / "store.db"
    summary = seed_store(str(path), **SEED_ARGS)
    return path, summary


@pytest.fixture
def seeded_sandbox(
    seeded_sandbox_db: tuple[Path, dict[str, Any]], tmp_path: Path, sandbox_config: Any
) -> Iterator[SeededSandbox]:
    """A running sandbox over a private copy of the seeded store (token ``test-token``).

    Honours the ``sandbox_config`` fixture like ``sandbox`` does.
    """
    source, summary = seeded_sandbox_db
    target = tmp_path / "seeded.db"
    shutil.copyfile(source, target)
    server = SandboxServer(str(target), tokens=[TOKEN], config=sandbox_config)
    server.start()
    try:
        yield SeededSandbox(target, copy.deepcopy(summary), server)
    finally:
        server.stop()

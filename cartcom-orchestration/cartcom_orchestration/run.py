"""One Meltano job for one store: its environment, the ``meltano run`` process, what it did.

A store's run gets only its own credentials (every other store's variables and every plugin
variable of the parent process are dropped), its own state ids (``--state-id-suffix <store>``),
its own output folder and its own Meltano system folder (Meltano writes each run's plugin config
and catalog there, so two stores running at once must not share it). A store's runs take turns:
one ``meltano run`` per store at a time on this machine (``store_turn``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartcom_orchestration.project import MeltanoProject
from cartcom_orchestration.stores import Store, StoresConfig

MELTANO_BIN_VAR = "CARTCOM_MELTANO_BIN"
#: The project's own plugins, which take the store's connection settings.
CARTCOM_PLUGINS = ("TAP_CARTCOM", "TARGET_CARTCOM")
#: Variables of the parent process never passed to a store's run: they would reach every store.
_DROPPED_PREFIXES = ("CARTCOM_",)
_DROPPED = ("MELTANO_ENVIRONMENT", "MELTANO_SYS_DIR_ROOT", "MELTANO_STATE_ID_SUFFIX")
#: An error that another try cannot fix (credentials, settings, a refused call).
_PERMANENT = re.compile(
    r"answered 40[0134] |check the `\w+` setting|ConfigurationError|Set `\w+`|"
    r"is not set|ConfigValidationError|not installed"
)


#: Meltano's own summary lines, less telling than the plugin's message that caused them.
_GENERIC = ("Extractor failed", "Loader failed", "Mappers failed", "Run completed")


class RunSetupError(RuntimeError):
    """The run cannot start (a missing variable, no meltano); naming what to fix."""


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


def output_dir(config: StoresConfig, project: MeltanoProject, store: Store) -> Path:
    """Where this store's runs write (results, JSONL, DuckDB): ``output/stores/<store>/``."""
    base = config.output_dir or project.root / "output" / "stores"
    return base / store.name


def _sys_dir(
    config: StoresConfig, project: MeltanoProject, store: Store, base_env: Mapping[str, str]
) -> Path:
    """A Meltano system folder of the store's own, sharing the project's plugin venvs."""
    shared = Path(base_env.get("MELTANO_SYS_DIR_ROOT") or project.root / ".meltano")
    work = config.work_dir or project.root / ".meltano" / "cartcom-stores"
    path = work / store.name
    path.mkdir(parents=True, exist_ok=True)
    for kind in ("extractors", "loaders", "mappers", "utilities"):
        (shared / kind).mkdir(parents=True, exist_ok=True)
        link = path / kind
        if not link.is_symlink():
            link.symlink_to((shared / kind).resolve(), target_is_directory=True)
    return path


def _secret(environ: Mapping[str, str], var: str, store: Store, what: str) -> str:
    value = environ.get(var, "").strip()
    if not value:
        msg = (
            f"store {store.name}: the environment variable {var} ({what} in the stores file) is "
            f"not set; export it where Dagster runs the store's jobs."
        )
        raise RunSetupError(msg)
    return value


def store_env(
    config: StoresConfig,
    project: MeltanoProject,
    store: Store,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of ``meltano run`` for ``store``."""
    parent = dict(os.environ if environ is None else environ)
    others = {v for s in config.stores for v in s.secret_vars}
    env = {
        k: v
        for k, v in parent.items()
        if k not in others
        and k not in _DROPPED
        and not k.startswith(_DROPPED_PREFIXES)
        and not k.startswith(project.plugin_prefixes)
    }
    env["MELTANO_SYS_DIR_ROOT"] = str(_sys_dir(config, project, store, parent))
    env["MELTANO_ENVIRONMENT"] = config.environment or project.default_environment or "dev"
    if not parent.get("MELTANO_DATABASE_URI") and not project.database_uri:
        env["MELTANO_DATABASE_URI"] = f"sqlite:///{project.root / '.meltano' / 'meltano.db'}"
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("MELTANO_CLI_DISABLE_VERSION_CHECK", "1")
    out = output_dir(config, project, store)
    for o in project.outputs:
        path = out / o.relative
        (path if not path.suffix else path.parent).mkdir(parents=True, exist_ok=True)
        env[o.env_var] = str(path)
    env.update(store.env)
    if store.router is not None:
        conn = {
            "AUTH_TYPE": "central_api_router",
            "SITE_ID": store.router.site_id,
            "USER_NAME": _secret(parent, store.router.user_name_env, store, "router.user_name_env"),
            "USER_SECRET": _secret(
                parent, store.router.user_secret_env, store, "router.user_secret_env"
            ),
            "ROUTER_URL": store.api_url or "",
            # Not used through the router (the plugins would warn): `site_id` picks the store.
            "DOMAIN": "",
            "API_URL": "",
        }
    else:
        assert store.token_env is not None
        conn = {
            "AUTH_TYPE": "access_token",
            "ACCESS_TOKEN": _secret(parent, store.token_env, store, "token_env"),
            "DOMAIN": store.domain or "",
            "API_URL": store.api_url or "",
        }
    conn["PLAN"] = store.plan
    for plugin in CARTCOM_PLUGINS:
        for key, value in conn.items():
            env[f"{plugin}_{key}"] = value
    return env


@dataclass
class RunReport:
    """What one ``meltano run`` did, from its JSON log and the target's results files."""

    returncode: int
    records: dict[str, int] = field(default_factory=dict)  # "plugin/stream" -> records
    calls: dict[str, int] = field(default_factory=dict)  # "plugin/status" -> calls
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    target_calls: dict[str, int] = field(default_factory=dict)
    failed_records: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The most telling error: a plugin's own message before Meltano's "Extractor failed"."""
        from_plugins = [e for e in self.errors if not e.startswith(_GENERIC)]
        if from_plugins:
            return from_plugins[-1]
        return self.errors[-1] if self.errors else f"meltano exited {self.returncode}"

    @property
    def permanent(self) -> bool:
        """The failure needs a fix, not another try (bad token, bad setting, refused call)."""
        return any(_PERMANENT.search(e) for e in self.errors)

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: records per stream, calls, outcomes, failures."""
        return {
            "records per stream": dict(sorted(self.records.items())),
            "API calls (tap)": dict(sorted(self.calls.items())),
            "API calls (target)": dict(sorted(self.target_calls.items())),
            "outcomes": self.outcomes,
            "failed records": self.failed_records,
            "errors": "\n".join(self.errors[-10:]) or "none",
        }


def _metric(event: str) -> dict[str, Any] | None:
    if not event.startswith("METRIC: "):
        return None
    try:
        return json.loads(event[len("METRIC: ") :])
    except ValueError:
        return None


def parse_log(lines: Iterable[str], report: RunReport) -> None:
    """Fold ``meltano --log-format=json run`` lines into ``report``."""
    records: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        event = str(entry.get("event", ""))
        plugin = str(entry.get("name") or "meltano")
        metric = _metric(event)
        if metric is not None:
            tags = metric.get("tags") or {}
            if metric.get("metric") == "record_count" and entry.get("producer"):
                records[f"{plugin}/{tags.get('stream')}"] += int(metric.get("value") or 0)
            elif metric.get("metric") == "http_request_duration":
                calls[f"{plugin}/{tags.get('http_status_code', 'no answer')}"] += 1
            continue
        is_error = entry.get("level") in ("error", "critical") or re.search(
            r"answered \d{3} |Error: |Error\b.*: ", event
        )
        if is_error and not event.startswith(("Traceback", "  ", "Block run completed")):
            report.errors.append(
                f"{plugin}: {event.strip()}" if plugin != "meltano" else event.strip()
            )
    report.records = dict(records)
    report.calls = dict(calls)


def read_summaries(paths: Iterable[Path], report: RunReport, since: float) -> None:
    """Add the last summary of each results file written by this run."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    target_calls: Counter[str] = Counter()
    for path in paths:
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        summary = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if '"type": "summary"' in line:
                summary = json.loads(line)
        if summary is None:
            continue
        for stream, counts in (summary.get("outcomes") or {}).items():
            outcomes[stream].update(counts)
        target_calls.update({k: int(v) for k, v in (summary.get("calls") or {}).items()})
        report.failed_records += int(summary.get("failed") or 0)
    report.outcomes = {s: dict(c) for s, c in sorted(outcomes.items())}
    report.target_calls = dict(target_calls)


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
    config: StoresConfig,
    project: MeltanoProject,
    store: Store,
    job: str,
    log_path: Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[], None] | None = None,
) -> RunReport:
    """``meltano run --state-id-suffix <store> <job>`` in the store's turn; log in ``log_path``.

    ``on_wait`` is called if another run of the store holds the turn (see ``store_turn``).
    """
    env = store_env(config, project, store)
    ensure_system_db(project, env)
    cmd = [
        meltano_bin(project),
        "--log-format=json",
        "run",
        "--no-install",
        "--state-id-suffix",
        store.name,
        job,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    plugins = set(project.plugins_of(job))
    results = [
        Path(env[o.env_var])
        for o in project.outputs
        if o.setting == "results_path" and o.plugin in plugins
    ]
    # The results files are read in the turn too: the store's next run appends to them.
    with store_turn(Path(env["MELTANO_SYS_DIR_ROOT"]), on_wait):
        started = time.time()  # after any wait: this run's summaries, not the previous run's
        with log_path.open("w", encoding="utf-8") as fh:
            proc = subprocess.run(
                cmd,
                cwd=project.root,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=timeout,
            )
        report = RunReport(returncode=proc.returncode)
        with log_path.open(encoding="utf-8", errors="replace") as fh:
            parse_log(fh, report)
        read_summaries(results, report, since=started - 1)
    return report

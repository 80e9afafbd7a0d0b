"""A store's run of a Meltano job, built once per try: where it writes and its environment.

A store's run gets only its own credentials (every other store's variables and every plugin
variable of the parent process are dropped), its own output folder and its own Meltano system
folder (Meltano writes each run's plugin config and catalog there, so two stores running at once
must not share it). Building the run checks that the store's secret variables are set, before
``meltano`` starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cartcom_orchestration.project import MeltanoProject
from cartcom_orchestration.stores import Store, StoresConfig

#: The project's own plugins, which take the store's connection settings.
CARTCOM_PLUGINS = ("TAP_CARTCOM", "TARGET_CARTCOM")
#: Variables of the parent process never passed to a store's run: they would reach every store.
_DROPPED_PREFIXES = ("CARTCOM_",)
_DROPPED = ("MELTANO_ENVIRONMENT", "MELTANO_SYS_DIR_ROOT", "MELTANO_STATE_ID_SUFFIX")


class RunSetupError(RuntimeError):
    """The run cannot start (a missing variable, no meltano); naming what to fix."""


@dataclass(frozen=True)
class StoreRun:
    """One try of Meltano job ``job`` for ``store``: its folders, files and environment."""

    project: MeltanoProject
    store: Store
    job: str
    #: ``output/stores/<store>/``: results, JSONL, DuckDB and the run logs.
    output_dir: Path
    #: The store's own Meltano system folder (``MELTANO_SYS_DIR_ROOT``), sharing plugin venvs.
    sys_dir: Path
    #: This try's Meltano log, ``<output_dir>/logs/<job>-<attempt>.log``.
    log_path: Path
    #: The results files of the job's targets, whose summaries the report reads.
    results: tuple[Path, ...]
    #: Holds the store's secrets: never in the run's repr.
    env: Mapping[str, str] = field(repr=False)

    @classmethod
    def build(
        cls,
        config: StoresConfig,
        project: MeltanoProject,
        store: Store,
        job: str,
        *,
        attempt: str,
        environ: Mapping[str, str] | None = None,
    ) -> StoreRun:
        """The run of ``job`` for ``store``; ``environ`` is the parent's (``os.environ``)."""
        parent = dict(os.environ if environ is None else environ)
        out = (config.output_dir or project.root / "output" / "stores") / store.name
        sys_dir = _sys_dir(
            (config.work_dir or project.root / ".meltano" / "cartcom-stores") / store.name,
            shared=Path(parent.get("MELTANO_SYS_DIR_ROOT") or project.root / ".meltano"),
        )
        outputs = {o.env_var: out / o.relative for o in project.outputs}
        env = _environment(config, project, store, parent, sys_dir=sys_dir, outputs=outputs)
        plugins = set(project.plugins_of(job))
        # A store's `env` may point a results file elsewhere: the report reads it there.
        results = tuple(
            Path(store.env.get(o.env_var, outputs[o.env_var]))
            for o in project.outputs
            if o.setting == "results_path" and o.plugin in plugins
        )
        return cls(
            project=project,
            store=store,
            job=job,
            output_dir=out,
            sys_dir=sys_dir,
            log_path=out / "logs" / f"{job}-{attempt}.log",
            results=results,
            env=env,
        )


def _sys_dir(path: Path, shared: Path) -> Path:
    """``path``, a Meltano system folder of the store's own sharing ``shared``'s plugin venvs."""
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


def _environment(
    config: StoresConfig,
    project: MeltanoProject,
    store: Store,
    parent: Mapping[str, str],
    *,
    sys_dir: Path,
    outputs: Mapping[str, Path],
) -> dict[str, str]:
    """The environment of ``meltano run`` for ``store``; ``outputs`` maps variables to paths."""
    others = {v for s in config.stores for v in s.secret_vars}
    env = {
        k: v
        for k, v in parent.items()
        if k not in others
        and k not in _DROPPED
        and not k.startswith(_DROPPED_PREFIXES)
        and not k.startswith(project.plugin_prefixes)
    }
    env["MELTANO_SYS_DIR_ROOT"] = str(sys_dir)
    env["MELTANO_ENVIRONMENT"] = config.environment or project.default_environment or "dev"
    if not parent.get("MELTANO_DATABASE_URI") and not project.database_uri:
        env["MELTANO_DATABASE_URI"] = f"sqlite:///{project.root / '.meltano' / 'meltano.db'}"
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("MELTANO_CLI_DISABLE_VERSION_CHECK", "1")
    for var, path in outputs.items():
        (path if not path.suffix else path.parent).mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env.update(store.env)
    conn = _connection(store, parent)
    for plugin in CARTCOM_PLUGINS:
        for key, value in conn.items():
            env[f"{plugin}_{key}"] = value
    return env


def _connection(store: Store, parent: Mapping[str, str]) -> dict[str, str]:
    """The plugins' connection settings from the store's entry and its secrets' variables."""
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
    return conn

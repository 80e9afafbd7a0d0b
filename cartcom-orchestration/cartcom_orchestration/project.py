"""What the orchestration reads from meltano.yml: jobs, schedules, plugins and their output paths.

The Dagster definitions never import Meltano (it may live in another virtualenv): they read
meltano.yml as YAML and run ``meltano`` as a program.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_VAR = "MELTANO_PROJECT_ROOT"
#: meltano.yml writes the project's outputs as ``${MELTANO_PROJECT_ROOT}/output/...``.
_OUTPUT_PREFIX = re.compile(r"^\$\{?MELTANO_PROJECT_ROOT\}?/output/(?P<rest>.+)$")
#: Meltano's cron shortcuts, for Dagster's cron parser.
CRON_SHORTCUTS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}


class ProjectError(ValueError):
    """meltano.yml is missing or is not what the orchestration needs."""


@dataclass(frozen=True)
class Schedule:
    """A Meltano schedule of a job."""

    name: str
    job: str
    cron: str


@dataclass(frozen=True)
class OutputPath:
    """A plugin setting that points under ``output/``: each store gets its own copy."""

    plugin: str
    setting: str
    relative: str  # below output/

    @property
    def env_var(self) -> str:
        """Meltano's variable for this plugin's setting (``TARGET_JSONL_DESTINATION_PATH``)."""
        return env_name(self.plugin, self.setting)


@dataclass(frozen=True)
class MeltanoProject:
    """The parts of meltano.yml that the Dagster definitions are built from."""

    root: Path
    default_environment: str | None
    jobs: dict[str, list[str]]
    schedules: list[Schedule]
    #: Variable prefixes of every plugin (name and namespace): never inherited by a store's run.
    plugin_prefixes: tuple[str, ...]
    outputs: list[OutputPath] = field(default_factory=list)
    database_uri: str | None = None

    def plugins_of(self, job: str) -> list[str]:
        """Plugin names that the job's tasks run, in order."""
        return [name for task in self.jobs[job] for name in task.split()]


def env_name(plugin: str, setting: str) -> str:
    """``target-cartcom-ack`` + ``results_path`` -> ``TARGET_CARTCOM_ACK_RESULTS_PATH``."""
    return re.sub(r"[^A-Z0-9]", "_", f"{plugin}_{setting}".upper())


def find_root(start: Path | None = None) -> Path:
    """``$MELTANO_PROJECT_ROOT``, else the nearest folder holding meltano.yml from ``start`` up."""
    if os.environ.get(PROJECT_VAR):
        root = Path(os.environ[PROJECT_VAR]).expanduser().resolve()
        if not (root / "meltano.yml").is_file():
            msg = f"{PROJECT_VAR}={root} has no meltano.yml."
            raise ProjectError(msg)
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "meltano.yml").is_file():
            return folder
    msg = (
        f"No meltano.yml in {here} or its parents: run from the Meltano project, or set "
        f"{PROJECT_VAR} to its folder."
    )
    raise ProjectError(msg)


def _plugins(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    plugins = doc.get("plugins") or {}
    return [p for kind in ("extractors", "loaders", "mappers") for p in plugins.get(kind) or []]


def load_project(root: Path) -> MeltanoProject:
    """Read ``root/meltano.yml``."""
    path = root / "meltano.yml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        msg = f"Cannot read {path}: {err}"
        raise ProjectError(msg) from err
    jobs = {str(j["name"]): [str(t) for t in j.get("tasks") or []] for j in doc.get("jobs") or []}
    if not jobs:
        msg = f"{path} declares no jobs: the orchestration runs Meltano jobs."
        raise ProjectError(msg)
    schedules = []
    for s in doc.get("schedules") or []:
        if s.get("job") not in jobs:
            continue  # an extractor/loader schedule: not a job, nothing to orchestrate
        interval = str(s.get("interval", "")).strip()
        schedules.append(
            Schedule(str(s["name"]), str(s["job"]), CRON_SHORTCUTS.get(interval, interval))
        )
    prefixes: set[str] = set()
    outputs: list[OutputPath] = []
    for plugin in _plugins(doc):
        name = str(plugin["name"])
        prefixes.add(env_name(name, ""))
        if plugin.get("namespace"):
            prefixes.add(env_name(str(plugin["namespace"]), ""))
        for setting, value in (plugin.get("config") or {}).items():
            m = _OUTPUT_PREFIX.match(value) if isinstance(value, str) else None
            if m:
                outputs.append(OutputPath(name, str(setting), m.group("rest")))
    return MeltanoProject(
        root=root,
        default_environment=doc.get("default_environment"),
        jobs=jobs,
        schedules=schedules,
        plugin_prefixes=tuple(sorted(prefixes)),
        outputs=outputs,
        database_uri=doc.get("database_uri"),
    )

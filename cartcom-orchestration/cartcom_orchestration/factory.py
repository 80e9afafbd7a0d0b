"""Builds the Dagster definitions from meltano.yml and the stores file (see definitions.py)."""

import time
from pathlib import Path
from typing import Any

from dagster import (
    Backoff,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    Jitter,
    JobDefinition,
    OpExecutionContext,
    Output,
    RetryPolicy,
    ScheduleDefinition,
    job,
    op,
)

from cartcom_orchestration.hints import Hints, Read, hints_path
from cartcom_orchestration.meltano_run import run_meltano_job
from cartcom_orchestration.project import MeltanoProject, find_root, load_project
from cartcom_orchestration.sensors import (
    HINTED_JOB,
    Watched,
    health_sensor,
    interval_seconds,
    trigger_sensor,
)
from cartcom_orchestration.store_run import RunSetupError, StoreRun
from cartcom_orchestration.stores import Store, StoresConfig, default_path, load_stores

STORE_TAG = "cartcom/store"
JOB_TAG = "cartcom/meltano_job"


def dagster_name(store: str, job: str) -> str:
    """``acme`` + ``get-orders`` -> ``acme__get_orders``."""
    return f"{store}__{job}".replace("-", "_")


def pool_name(store: str) -> str:
    """The Dagster pool of a store's runs."""
    return f"cartcom/{store}"


def _check_pool(context: OpExecutionContext, pool: str) -> None:
    """Fail when the store's pool lets two runs share the store's budget."""
    storage = context.instance.event_log_storage
    limit = None
    if storage.supports_global_concurrency_limits:
        limit = storage.get_concurrency_info(pool).slot_count
    if limit != 1:
        msg = (
            f"Dagster pool {pool} has no limit of 1 (found {limit}), so two runs of this store "
            "could share its call budget. Set `concurrency: pools: default_limit: 1` in the "
            "instance's dagster.yaml (the project's dagster.yaml does), or run "
            f"`dagster instance concurrency set {pool} 1`."
        )
        raise Failure(msg, allow_retries=False)


#: The import log (the ``imported-orders`` plugin's ``path``): where an order's line lands.
IMPORT_LOG_VAR = "IMPORTED_ORDERS_PATH"
LATENCY = "webhook latency: hint to orders landed (s)"


def _latency(reads: list[Read], run: StoreRun) -> dict[str, Any]:
    """Run metadata: from the oldest hint this run took to its orders' lines landing."""
    if not reads:
        return {}
    since = min((r.since for r in reads if r.since is not None), default=None)
    if since is None:
        return {LATENCY: "no hint since the last read"}
    log = Path(run.env.get(IMPORT_LOG_VAR, ""))
    landed = log.stat().st_mtime if log.is_file() else 0.0
    if landed < reads[-1].at:
        return {LATENCY: "hinted, no new order landed"}
    return {LATENCY: round(landed - since, 1)}


def store_job(
    config: StoresConfig,
    project: MeltanoProject,
    store: Store,
    job_name: str,
    hints: Hints | None = None,
) -> JobDefinition:
    """The Dagster job that runs Meltano job ``job_name`` for ``store``.

    With ``hints``, each try marks the store's webhook hints as read when its turn comes.
    """
    name = dagster_name(store.name, job_name)
    pool = pool_name(store.name)
    retry = RetryPolicy(
        max_retries=config.retries.max_retries,
        delay=config.retries.delay_seconds,
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )

    @op(
        name=f"{name}__meltano_run",
        pool=pool,
        retry_policy=retry,
        description=f"meltano run {job_name} for store {store.name} (state ids :{store.name}).",
        tags={STORE_TAG: store.name, JOB_TAG: job_name},
    )
    def meltano_run(context: OpExecutionContext) -> Output[None]:
        _check_pool(context, pool)

        def waiting() -> None:
            context.log.info(
                f"store {store.name}: another run of this store is at work; {job_name} waits "
                "for it to finish (one run per store at a time)"
            )

        reads: list[Read] = []

        def reading() -> None:
            if hints is not None:
                reads.append(hints.begin_read(store.name, context.run_id, time.time()))

        attempt = f"{context.run_id[:8]}-try{context.retry_number}"
        try:
            run = StoreRun.build(config, project, store, job_name, attempt=attempt)
            report = run_meltano_job(run, on_wait=waiting, on_turn=reading)
        except RunSetupError as err:
            raise Failure(str(err), allow_retries=False) from err
        meta = {
            **report.metadata(),
            **_latency(reads, run),
            "store": store.name,
            "log": str(run.log_path),
        }
        if report.returncode != 0:
            reason = report.reason
            hint = ""
            if store.token_env and "access_token" in reason:
                hint = f" (store {store.name}'s token comes from ${store.token_env}, `token_env`)"
            msg = f"store {store.name}, meltano run {job_name} failed: {reason}{hint}"
            if report.permanent:
                raise Failure(msg, metadata=meta, allow_retries=False)
            # Transient (a dropped connection, a 5xx that outlasted the client's retries): the
            # retry policy tries again with backoff; state makes the replay safe.
            raise Failure(msg, metadata=meta)
        context.log.info(
            f"store {store.name}, {job_name}: records {report.records}, "
            f"tap calls {report.calls}, outcomes {report.outcomes}"
        )
        return Output(None, metadata=meta)

    @job(
        name=name,
        description=f"Meltano job `{job_name}` for the Cart.com store `{store.name}`.",
        tags={STORE_TAG: store.name, JOB_TAG: job_name},
    )
    def the_job() -> None:
        meltano_run()

    return the_job


def build(project_root: Path | None = None, stores_file: Path | None = None) -> Definitions:
    """The Definitions for the project's meltano.yml and the stores file."""
    root = project_root or find_root()
    project = load_project(root)
    config = load_stores(stores_file or default_path(root), project.jobs)
    jobs: list[JobDefinition] = []
    schedules: list[ScheduleDefinition] = []
    status = (
        DefaultScheduleStatus.RUNNING if config.schedules_running else DefaultScheduleStatus.STOPPED
    )
    hints = Hints(hints_path(config, project)) if config.webhooks is not None else None
    hinted: list[tuple[str, JobDefinition]] = []
    watched: list[Watched] = []
    crons = {s.cron for s in project.schedules if s.job == HINTED_JOB}
    for store in config.stores:
        for job_name in store.jobs:
            hinted_store = job_name == HINTED_JOB and store.webhooks is not None
            the_job = store_job(
                config, project, store, job_name, hints=hints if hinted_store else None
            )
            jobs.append(the_job)
            if hinted_store:
                hinted.append((store.name, the_job))
            if job_name == HINTED_JOB:
                every = min((interval_seconds(c) for c in crons), default=None)
                watched.append(Watched(store.name, the_job.name, every))
            for s in project.schedules:
                if s.job == job_name:
                    schedules.append(
                        ScheduleDefinition(
                            name=dagster_name(store.name, s.name),
                            job=the_job,
                            cron_schedule=s.cron,
                            execution_timezone="UTC",
                            default_status=status,
                        )
                    )
    sensors = [health_sensor(watched, running=config.schedules_running)] if watched else []
    if hints is not None and hinted:
        sensors.append(trigger_sensor(hints, hinted))
    return Definitions(jobs=jobs, schedules=schedules, sensors=sensors)


def job_from(project_root: str, stores_file: str, name: str) -> JobDefinition:
    """One job, rebuilt from explicit paths (for ``build_reconstructable_job`` in tests)."""
    return build(Path(project_root), Path(stores_file)).resolve_job_def(name)

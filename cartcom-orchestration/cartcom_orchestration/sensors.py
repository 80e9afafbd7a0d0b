"""Two Dagster sensors: webhook hints start Get Orders sooner; sync health warns per store.

Why a sensor for the trigger: the receiver must answer Cart.com within 3 s whatever Dagster is
doing, so it only writes a hint (hints.py); a sensor is Dagster's own way to turn outside state
into runs, through the daemon's run queue, so a hinted run is the same job as a scheduled one
(pool ``cartcom/<store>`` of 1, the ``cartcom/store`` queue limit, retries, metadata) and shows
in the UI with the tick that caused it. Its ``run_key`` (the store and the newest hint) makes a
tick that is evaluated twice start one run.

Coalescing: a store gets a run when a hint is newer than the last read, and no run of its Get
Orders is waiting (queued or started but not yet reading: it will read after the hint anyway).
So a burst of 100 deliveries causes one run, and deliveries while it reads cause one follow-up
run, whatever their number.

The health sensor reads Dagster's own run history: a store whose Get Orders has not succeeded
within two schedule intervals, or whose last successful run counted failed records, is named in
a warning (the sensor's log and its tick's skip reason, shown in the UI).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._utils.schedules import cron_string_iterator

from cartcom_orchestration.hints import Hints

#: The Meltano job that webhook hints start.
HINTED_JOB = "get-orders"
TRIGGER_TAG = "cartcom/trigger"
TRIGGER_SENSOR = "cartcom_webhook_hints"
HEALTH_SENSOR = "cartcom_sync_health"
#: Runs that have not finished; one that has not begun reading is "waiting".
_IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
#: How often the trigger looks at the hints: part of the delay from an event to its import.
TRIGGER_SECONDS = 5
HEALTH_SECONDS = 60
FAILED_RECORDS = "failed records"


def hinted_runs(
    instance: DagsterInstance, hints: Hints, jobs: Sequence[tuple[str, str]]
) -> list[RunRequest]:
    """The runs to request now; ``jobs`` are (store, Dagster job name) of the webhook stores."""
    requests = []
    for store, job_name in jobs:
        seq = hints.seq(store)
        if seq <= hints.read_seq(store):
            continue  # every hint arrived before a run began reading
        running = instance.get_runs(RunsFilter(job_name=job_name, statuses=_IN_FLIGHT))
        began = hints.began(r.run_id for r in running)
        if any(r.run_id not in began for r in running):
            continue  # a run that has not begun reading will read after these hints
        requests.append(
            RunRequest(
                run_key=f"{store}:hint:{seq}",
                job_name=job_name,
                tags={TRIGGER_TAG: "webhook"},
            )
        )
    return requests


def trigger_sensor(hints: Hints, jobs: Sequence[tuple[str, JobDefinition]]) -> SensorDefinition:
    """The sensor starting each webhook store's Get Orders job when hinted."""
    pairs = [(store, job.name) for store, job in jobs]

    @sensor(
        name=TRIGGER_SENSOR,
        jobs=[job for _store, job in jobs],
        minimum_interval_seconds=TRIGGER_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Starts a store's Get Orders when its webhook deliveries are newer than its "
        "last read (one run per burst, at most one follow-up while it runs).",
    )
    def cartcom_webhook_hints(
        context: SensorEvaluationContext,
    ) -> Iterable[RunRequest | SkipReason]:
        requests = hinted_runs(context.instance, hints, pairs)
        if not requests:
            yield SkipReason("no hint newer than a run's read")
        yield from requests

    return cartcom_webhook_hints


def interval_seconds(cron: str) -> float:
    """The time between two ticks of ``cron`` (the shortest of a day's)."""
    ticks = cron_string_iterator(time.time(), cron, "UTC")
    first = next(ticks)
    gaps = []
    for _ in range(48):
        nxt = next(ticks)
        gaps.append((nxt - first).total_seconds())
        first = nxt
    return min(gaps)


@dataclass(frozen=True)
class Watched:
    """A store's Get Orders job, and its schedule's interval (None: no schedule)."""

    store: str
    job_name: str
    interval: float | None


def store_health(
    instance: DagsterInstance, watched: Watched, *, now: float, since: float
) -> list[str]:
    """What is wrong with the store's Get Orders (``since``: when watching began)."""
    problems = []
    (last,) = instance.get_run_records(
        RunsFilter(job_name=watched.job_name, statuses=[DagsterRunStatus.SUCCESS]), limit=1
    ) or (None,)
    if watched.interval is not None:
        ok_at = last.end_time if last is not None and last.end_time else None
        age = now - (ok_at or since)
        if age > 2 * watched.interval:
            when = "has not succeeded" if ok_at else "has never succeeded"
            problems.append(
                f"store {watched.store}: Get Orders {when} for {age / 60:.0f} min, more than "
                f"two schedule intervals ({2 * watched.interval / 60:.0f} min)"
            )
    if last is not None:
        failed = 0
        for rec in instance.all_logs(last.dagster_run.run_id, of_type=DagsterEventType.STEP_OUTPUT):
            value = rec.dagster_event.step_output_data.metadata.get(FAILED_RECORDS)
            failed += int(value.value) if value is not None else 0
        if failed:
            problems.append(
                f"store {watched.store}: its last Get Orders (run {last.dagster_run.run_id[:8]}) "
                f"has {failed} failed records in its results"
            )
    return problems


def health_sensor(watched: Sequence[Watched], *, running: bool) -> SensorDefinition:
    """The sensor warning about stores whose Get Orders is late or failed records."""

    @sensor(
        name=HEALTH_SENSOR,
        minimum_interval_seconds=HEALTH_SECONDS,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description="Warns when a store's Get Orders has not succeeded within two schedule "
        "intervals, or its last run's results show failed records.",
    )
    def cartcom_sync_health(context: SensorEvaluationContext) -> SkipReason:
        now = time.time()
        first_seen = json.loads(context.cursor) if context.cursor else {}
        problems = []
        for w in watched:
            since = first_seen.setdefault(w.store, now)
            problems += store_health(context.instance, w, now=now, since=since)
        context.update_cursor(json.dumps(first_seen))
        for problem in problems:
            context.log.warning(problem)
        return SkipReason(
            "; ".join(problems) if problems else "every store's Get Orders is healthy"
        )

    return cartcom_sync_health

"""Dagster definitions: one job per store and Meltano job, its schedules, one run per store at once.

``dagster dev -m cartcom_orchestration.definitions`` (from the Meltano project) loads them. The
stores come from the stores file (``$CARTCOM_STORES_FILE``, default ``stores.yml`` beside
meltano.yml); without one, loading fails with a message saying what to create.

Concurrency: every op of a store is in the Dagster pool ``cartcom/<store>``. With
``concurrency: pools: default_limit: 1`` in the instance's dagster.yaml (the one beside
meltano.yml), a store's runs take turns on its call budget while different stores run in
parallel; runs also carry the tag ``cartcom/store`` for a run-queue limit. An op refuses to run
when its pool has no limit of 1, rather than let two runs share one store's budget.
"""

from dagster import JobDefinition

from cartcom_orchestration.factory import build

defs = build()


def job_by_name(name: str) -> JobDefinition:
    """A job of ``defs`` (for ``build_reconstructable_job``)."""
    return defs.resolve_job_def(name)

"""A run's claims end with the run, however it ends: an Airflow listener on DAG runs.

Airflow calls ``on_dag_run_success`` / ``on_dag_run_failed`` in the scheduler when a run finishes on its own
(``plan`` failed after its retries, ``catalog`` failed half-way, every task done) and in the api-server when a
user marks a run failed or successful in the UI or through the REST API. Teardown tasks and the DAG's own
callbacks miss the last case. The catalog's ``release`` gives back whatever the run still holds.

The sensor and ``discover`` also treat the claims of ended runs as free (``Catalog.drop_claims_of_ended_runs``),
so a listener that could not reach the catalog (it only logs) strands nothing either.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


def release_claims(dag_id: str, run_id: str) -> int:
    """Give back an ended run's claims in the deployment's catalog; never raises (it runs in the scheduler)."""
    try:
        from ocr_pipeline.catalog import Catalog
        from ocr_pipeline.settings import PipelineSettings

        released = Catalog(PipelineSettings.build().catalog_url).release(run_id, dag_id=dag_id)
    except Exception:  # noqa: BLE001 - a listener must never take the scheduler or the API down
        log.exception("Could not give back the claims of %s %s; the next run's discovery drops them", dag_id, run_id)
        return 0
    if released:
        log.info("Run %s of %s ended: %d claims given back", run_id, dag_id, released)
    return released


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    release_claims(dag_run.dag_id, dag_run.run_id)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    release_claims(dag_run.dag_id, dag_run.run_id)

"""The Celery workers' configuration: Airflow's own, and the DAG side's modules imported once per worker.

Set with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=ocr_pipeline.celery_config.CELERY_CONFIG`` (``make stack``,
compose). Celery imports the modules named in ``imports`` when a worker starts, before it forks; see
:mod:`ocr_pipeline.worker_preload` for why. This module is read by the scheduler as well (it makes the same
Celery app to send tasks), so it imports nothing but Airflow's defaults.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), "ocr_pipeline.worker_preload"),
}

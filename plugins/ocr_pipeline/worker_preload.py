"""Imported by each Celery worker as it starts (``celery_config.CELERY_CONFIG``): the DAG file's imports, once.

Airflow's Celery worker forks a process for each task, and that process parses the DAG file before the task
runs. The DAG file's imports (this package, the amazon provider's S3 hook with boto3, OpenLineage's client,
the launcher in use) took 0.25-0.4 s of every task's start, and a run's tasks end on the scheduler's passes
(README, "A run's fixed cost"). Imported here, in the worker before it forks, every task process starts with
them, as it does with the operators Airflow's Celery provider preloads (``on_celery_import_modules``).

Best effort: a module that fails to import is logged and left to the task, which reports it as the DAG file's
import error as before; the worker starts anyway.
"""

from __future__ import annotations

import importlib
import logging
import time

log = logging.getLogger(__name__)

MODULES = (
    "airflow.providers.amazon.aws.hooks.s3",
    "ocr_pipeline.catalog.assets",
    "ocr_pipeline.events",
    "ocr_pipeline.handoffs",
    "ocr_pipeline.launchers",
    "ocr_pipeline.sensors",
    "ocr_pipeline.settings",
    "ocr_pipeline.sources",
    "ocr_pipeline.tasks",
    "ocr_task.engines",
)


def preload() -> list[str]:
    """Import :data:`MODULES` and each source's launcher; returns what failed (logged, never raised)."""
    started, failed = time.monotonic(), []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the task reports it; the worker must start
            log.warning("preloading %s failed; each task will import it itself", name, exc_info=True)
            failed.append(name)
    try:
        from ocr_pipeline.launchers import load_launcher
        from ocr_pipeline.sources import load

        for source in load():
            load_launcher(source.settings().launcher)
    except Exception:
        log.warning("preloading the sources' launchers failed; each task will import its own", exc_info=True)
        failed.append("launchers")
    log.info("DAG side preloaded for the task processes in %.2f s", time.monotonic() - started)
    return failed


preload()

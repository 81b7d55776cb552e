"""The Celery worker's preload (``ocr_pipeline.celery_config``, ``ocr_pipeline.worker_preload``): Airflow's own
Celery configuration kept, and the DAG file's imports done before a task process parses the DAG file. The
deployment's system tests run every task on a worker started with this configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.airflow_env import REPO

# What a task process must not import itself when it parses the DAG file after the worker's preload: the
# families that took its time (0.25-0.4 s). Airflow's own small modules (timetables, decorators, the providers'
# asset URI handlers, which its providers manager loads together on the first asset) may still come.
HEAVY = ("ocr_pipeline", "ocr_task", "boto3", "botocore", "openlineage", "airflow.providers.amazon.aws.hooks", "pydantic_settings")

PARSE_AFTER_PRELOAD = """
import importlib.util, json, sys
import ocr_pipeline.worker_preload as preload
failed = preload.preload()
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("parsed_dag_file", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({"failed": failed, "new": sorted(set(sys.modules) - before)}))
"""


def test_the_celery_configuration_is_airflows_with_the_preload_added():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from ocr_pipeline.celery_config import CELERY_CONFIG

    assert {k: v for k, v in CELERY_CONFIG.items() if k != "imports"} == {
        k: v for k, v in DEFAULT_CELERY_CONFIG.items() if k != "imports"
    }
    assert "ocr_pipeline.worker_preload" in CELERY_CONFIG["imports"]
    assert set(DEFAULT_CELERY_CONFIG.get("imports", ())) <= set(CELERY_CONFIG["imports"])


def test_after_the_preload_parsing_the_dag_file_imports_nothing_heavy():
    """A fresh process, as a worker is: the preload, then the DAG file as a task process parses it. Fails when
    the DAG file gains an import the preload does not cover."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", PARSE_AFTER_PRELOAD, str(REPO / "dags" / "document_ingest.py")],
        env=env, capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == []
    left = [m for m in result["new"] if m.startswith(HEAVY)]
    assert left == [], f"the DAG file imports {left} itself: add them to ocr_pipeline.worker_preload.MODULES"
    assert "DAG side preloaded" in done.stderr + done.stdout


def test_a_module_that_fails_to_preload_is_reported_and_the_rest_still_load(monkeypatch):
    import ocr_pipeline.worker_preload as preload

    monkeypatch.setattr(preload, "MODULES", ("ocr_pipeline.no_such_module", "ocr_pipeline.tasks"))
    assert preload.preload() == ["ocr_pipeline.no_such_module"]
    assert "ocr_pipeline.tasks" in sys.modules

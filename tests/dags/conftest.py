"""Airflow for the DAG tests: its configuration (``tests.airflow_env``), its metadata database, and the DAG as
the DAG processor parses it. S3 and catalog fixtures are the suite's (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.airflow_env import AIRFLOW_HOME, BUCKET, REPO  # noqa: F401 - configures Airflow before it is imported
from tests.conftest import backdate  # noqa: F401 - the DAG tests' helpers in one place


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated by Airflow's own command, and the ``gpu`` pool."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], check=True, env=env, capture_output=True)
    subprocess.run(
        [*airflow, "pools", "set", "gpu", "1", "OCR batches"], check=True, env=env, capture_output=True
    )
    return AIRFLOW_HOME


def load_dag():
    """document_ingest as the DAG processor sees it, parsed with the current environment."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "document_ingest.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["document_ingest"]

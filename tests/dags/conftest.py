"""Airflow for the DAG tests: a metadata database of its own, the project's dags/ and plugins/, and S3 on moto.

Airflow reads its configuration when it is first imported, so it is set here,
when pytest collects this folder, before any test imports Airflow.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from tests.conftest import backdate  # noqa: F401 - the DAG tests' helpers in one place
from tests.postgres import new_database

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
BUCKET = "docs"

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "file", "log_file_path": "%s", "append": true}'
        % (AIRFLOW_HOME / "openlineage.jsonl"),
        "OCR_SOURCE_URI": f"s3://{BUCKET}/incoming/",
        "OCR_OUTPUT_URI": f"s3://{BUCKET}/processed/",
        "OCR_QUARANTINE_URI": f"s3://{BUCKET}/quarantine/",
        "OCR_LAUNCHER": "local",
        "OCR_RETRY_DELAY_SECONDS": "1",
        # a run with nothing new waits this long for new objects before it is skipped
        "OCR_SENSOR_TIMEOUT": "4",
        "OCR_SENSOR_POKE_SECONDS": "1",
        "OCR_WORKERS": "1",
    }
)


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


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh S3 (moto reset) with the ``docs`` bucket, behind the ``aws_default`` connection."""
    requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=10)
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    connection = (
        '{"conn_type": "aws", "login": "testing", "password": "testing", '
        f'"extra": {{"endpoint_url": "{s3_server.endpoint}", "region_name": "us-east-1"}}}}'
    )
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection)
    return client


@pytest.fixture
def sqlite_catalog(tmp_path, monkeypatch):
    """A new SQLite catalog, migrated, that the deployment's setting (``OCR_CATALOG_URL``) names."""
    from ocr_pipeline.catalog import Catalog

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("OCR_CATALOG_URL", url)
    catalog = Catalog(url)
    catalog.migrate()
    return catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path, monkeypatch):
    """A new, empty catalog: a SQLite file, or a database of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = new_database()
    monkeypatch.setenv("OCR_CATALOG_URL", url)
    return url


def load_dag():
    """document_ingest as the DAG processor sees it, parsed with the current environment."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "document_ingest.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["document_ingest"]

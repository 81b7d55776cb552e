"""Airflow's configuration for the tests that import it (DAG tests, plugin unit tests): a home and a metadata
database of their own, the project's dags/ and plugins/, fast retries and sensors.

Airflow reads its configuration when it is first imported, so a conftest imports this module when pytest
collects its folder, before any test imports Airflow.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from tests.conftest import DOCS_BUCKET

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
BUCKET = DOCS_BUCKET  # the s3 fixture's bucket

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

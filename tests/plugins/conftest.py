"""Unit tests of the DAG-side code in plugins/ocr_pipeline that parse no DAG: the catalog, rows, settings,
sources, event messages, output names. They import Airflow (hooks, the Task SDK), so Airflow is configured
first (``tests.airflow_env``); S3 and catalog fixtures are the suite's (tests/conftest.py)."""

import tests.airflow_env  # noqa: F401 - configures Airflow before any test imports it

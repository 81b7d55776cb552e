"""Every DAG imports cleanly, has no cycle, and retries every task."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "document_ingest" in dagbag.dag_ids


def test_no_cycles(dagbag):
    from airflow.utils.dag_cycle_tester import check_cycle

    for dag in dagbag.dags.values():
        check_cycle(dag)  # raises on a cycle


def test_every_task_retries(dagbag):
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_ocr_runs_in_the_gpu_pool_with_backoff_and_a_timeout(dagbag):
    ocr = dagbag.dags["document_ingest"].get_task("ocr")
    assert ocr.pool == "gpu"
    assert ocr.retry_exponential_backoff and ocr.execution_timeout is not None


def test_schedule_has_real_data_intervals(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert isinstance(dagbag.dags["document_ingest"].timetable, CronDataIntervalTimetable)


def test_trigger_form_has_described_params(dagbag):
    params = dagbag.dags["document_ingest"].params
    assert {"source_uri", "engine", "lang", "batch_size", "reprocess", "date_from", "date_to"} <= set(params)
    for name in params:
        assert params.get_param(name).description, name

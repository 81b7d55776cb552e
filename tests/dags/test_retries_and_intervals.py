"""Retries through a storage outage, data intervals and backfills, and the sensor's timeout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ocr_pipeline import tasks
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.settings import resolve
from ocr_task.storage import S3_RETRIES
from tests.dags.conftest import BUCKET, backdate, load_dag
from tests.dags.flaky_proxy import FlakyProxy
from tests.dags.test_document_ingest import run, task_states, upload

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def sqlite_catalog(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("OCR_CATALOG_URL", url)
    catalog = Catalog(url)
    catalog.migrate()
    return catalog


def test_ocr_retried_after_storage_outage_and_nothing_catalogued_twice(
    s3, s3_server, sqlite_catalog, sample_docs, monkeypatch
):
    upload(s3, sample_docs, ["english.png", "russian.png"])
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    attempts = S3_RETRIES + 1  # every attempt the OCR step's S3 client makes at its first request
    proxy = FlakyProxy((host, int(port)), drop=attempts)
    connection = {
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": proxy.endpoint, "region_name": "us-east-1"},
    }  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    try:
        dag_run = run(load_dag())
    finally:
        proxy.close()

    assert proxy.dropped == attempts
    (ocr,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "ocr"]
    assert (str(ocr.state), ocr.try_number) == ("success", 2)
    rows = sqlite_catalog.rows()
    assert sorted(r["source_uri"] for r in rows) == [
        f"s3://{BUCKET}/incoming/2024/english.png",
        f"s3://{BUCKET}/incoming/2024/russian.png",
    ]
    assert {(r["status"], r["try_number"]) for r in rows} == {("succeeded", 2)}


def _three_days(s3, sample_docs):
    upload(s3, sample_docs, ["english.png", "russian.png", "page.bmp"])
    backdate(BUCKET, "incoming/2024/english.png", datetime(2024, 3, 1, 12, tzinfo=UTC))
    backdate(BUCKET, "incoming/2024/russian.png", datetime(2024, 3, 5, 12, tzinfo=UTC))


def test_a_manual_run_with_a_date_range_takes_only_that_range(s3, sqlite_catalog, sample_docs):
    _three_days(s3, sample_docs)
    run(load_dag(), date_from="2024-03-01", date_to="2024-03-01")
    assert [r["source_uri"].rsplit("/", 1)[1] for r in sqlite_catalog.rows()] == ["english.png"]


def test_scheduled_and_backfill_runs_take_their_data_interval_once(s3, sqlite_catalog, sample_docs):
    """The discovery task as a scheduled or backfill run calls it (dag.test() only makes manual runs)."""
    _three_days(s3, sample_docs)
    settings = resolve({})
    start, end = datetime(2024, 3, 5, 2, tzinfo=UTC), datetime(2024, 3, 6, 2, tzinfo=UTC)
    for run_type in ("scheduled", "backfill"):
        found = tasks.discover(settings, {}, run_type, start, end)
        assert [o["key"] for o in found] == ["incoming/2024/russian.png"]
    # a manual run without dates takes every object not yet catalogued
    assert len(tasks.discover(settings, {}, "manual", start, end)) == 3

    # once catalogued, the same interval holds nothing new: running the backfill again adds nothing
    batches = tasks.plan(
        settings, {}, tasks.discover(settings, {}, "backfill", start, end), "backfill__2024-03-05"
    )
    sqlite_catalog.upsert(
        [{**d, "last_modified": datetime.fromisoformat(d["last_modified"]), "status": "succeeded",
          "processed_at": datetime.now(UTC)} for b in batches for d in b["documents"]]
    )  # fmt: skip
    assert tasks.discover(settings, {}, "backfill", start, end) == []
    assert len(tasks.discover(settings, {"reprocess": True}, "backfill", start, end)) == 1


def test_sensor_times_out_into_a_skipped_run(s3, sqlite_catalog, monkeypatch):
    monkeypatch.setenv("OCR_SENSOR_DEFERRABLE", "false")
    monkeypatch.setenv("OCR_SENSOR_TIMEOUT", "2")
    monkeypatch.setenv("OCR_SENSOR_POKE_SECONDS", "1")
    dag_run = run(load_dag())  # nothing under incoming/: not a failure
    states = task_states(dag_run)
    assert states["wait_for_documents"] == ["skipped"]
    assert set(sum(states.values(), [])) == {"skipped"}, states
    assert sqlite_catalog.rows() == []

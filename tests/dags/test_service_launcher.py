"""The ``service`` launcher end to end: dag.test() sends the batches to a running OCR service."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from ocr_pipeline.launchers.service import ServiceOcrOperator
from ocr_pipeline.launchers.service_job import OcrJobTrigger
from tests.dags.conftest import BUCKET, load_dag
from tests.dags.test_document_ingest import run, upload
from tests.service_process import TOKEN, Service

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_batches_go_to_the_ocr_service(s3, s3_server, sample_docs, sqlite_catalog, monkeypatch):
    service = Service(
        {**s3_server.env, "OCR_WORKERS": "1", "OCR_SERVICE_READ_PREFIXES": f"s3://{BUCKET}/incoming/",
         "OCR_SERVICE_WRITE_PREFIXES": f"s3://{BUCKET}/processed/"}
    )
    try:
        service.wait_for("/ready", 200)
        monkeypatch.setenv("OCR_LAUNCHER", "service")
        monkeypatch.setenv("OCR_SERVICE_POLL_SECONDS", "0.5")
        monkeypatch.setenv(
            "AIRFLOW_CONN_OCR_SERVICE",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": service.port, "password": TOKEN}),
        )
        upload(s3, sample_docs, ["english.png", "born_digital.pdf"])
        s3.put_object(Bucket=BUCKET, Key="incoming/2024/notes.docx", Body=b"PK\x03\x04")
        dag = load_dag()
        assert type(dag.task_dict["ocr"]).__name__ == "MappedOperator"
        run(dag, batch_size=2)
    finally:
        service.stop()
    rows = {
        r["source_uri"].rsplit("/", 1)[1]: r for r in sqlite_catalog.rows()
    }
    assert {n: r["status"] for n, r in rows.items()} == {
        "english.png": "succeeded",
        "born_digital.pdf": "succeeded",
        "notes.docx": "failed",
    }
    assert rows["notes.docx"]["error"].startswith("unsupported document type '.docx'")
    assert s3.head_object(Bucket=BUCKET, Key=rows["english.png"]["json_uri"].removeprefix(f"s3://{BUCKET}/"))


def first_event(trigger) -> dict:
    async def first():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first())


@pytest.fixture
def job_service(s3_server, monkeypatch):
    service = Service(
        {**s3_server.env, "OCR_WORKERS": "1", "OCR_SERVICE_READ_PREFIXES": f"s3://{BUCKET}/incoming/",
         "OCR_SERVICE_WRITE_PREFIXES": f"s3://{BUCKET}/processed/"}
    )
    connection = {"conn_type": "http", "host": "127.0.0.1", "port": service.port, "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_OCR_SERVICE", json.dumps(connection))
    monkeypatch.setenv(
        "AIRFLOW_CONN_OCR_SERVICE_WRONG_TOKEN", json.dumps({**connection, "password": "wrong"})
    )
    service.wait_for("/ready", 200)
    yield service
    service.stop()


def test_the_trigger_says_how_a_job_ended(job_service, s3, sample_docs):
    upload(s3, sample_docs, ["english.png"])
    manifest = {"documents": [f"s3://{BUCKET}/incoming/2024/english.png"], "output": f"s3://{BUCKET}/processed/t/"}
    job = job_service.client.post("/v1/jobs", json=manifest).json()

    def outcome(job_id: str, conn_id: str = "ocr_service") -> tuple[str, str]:
        event = first_event(OcrJobTrigger(conn_id, job_id, poll_seconds=0.2, unreachable_seconds=1))
        return event["status"], event["message"]

    assert outcome(job["id"]) == ("succeeded", "")
    assert outcome(job["id"], "ocr_service_wrong_token")[0] == "refused"
    assert outcome("f" * 32) == ("lost", "the OCR service no longer knows the job (it restarted?)")
    job_service.kill()
    gone, detail = outcome(job["id"])
    assert gone == "unreachable" and detail.startswith("no answer for 1 s")


@pytest.mark.parametrize(
    ("status", "retried"),
    [("lost", True), ("unreachable", True), ("failed", True), ("refused", False), ("cancelled", False)],
)
def test_which_job_endings_the_task_retries(status, retried):
    operator = ServiceOcrOperator(
        task_id="ocr",
        batch={"batch_id": "b", "folder": "s3://b/f/", "documents": 1},
    )
    with pytest.raises(AirflowException) as raised:
        operator.execute_complete({}, {"job_id": "j", "status": status, "message": "why"})
    assert isinstance(raised.value, AirflowFailException) is not retried
    assert str(raised.value) == f"OCR job j {status}: why"


def test_a_task_marked_failed_while_deferred_cancels_its_job(job_service, s3, sample_docs):
    """Airflow calls the trigger's ``on_kill`` when a user marks the deferred task failed or clears it."""
    names = [f"page{i}.png" for i in range(6)]
    for name in names:
        s3.upload_file(str(sample_docs["two_column.png"].path), BUCKET, f"incoming/kill/{name}")
    manifest = {"documents": [f"s3://{BUCKET}/incoming/kill/{n}" for n in names], "output": f"s3://{BUCKET}/processed/kill/"}
    job = job_service.client.post("/v1/jobs", json=manifest).json()

    asyncio.run(OcrJobTrigger("ocr_service", job["id"], poll_seconds=0.2).on_kill())

    ended = job_service.wait_for_job(job["id"])
    assert ended["status"] == "cancelled" and ended["progress"]["documents_done"] < len(names)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/kill/report.json")

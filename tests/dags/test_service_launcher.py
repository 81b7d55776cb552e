"""The ``service`` launcher end to end: dag.test() sends the batches to a running OCR service."""

from __future__ import annotations

import json

import pytest

from ocr_pipeline.catalog import Catalog
from tests.dags.conftest import BUCKET, load_dag
from tests.dags.test_document_ingest import run, upload
from tests.service_process import Service

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_batches_go_to_the_ocr_service(s3, s3_server, sample_docs, tmp_path, monkeypatch):
    service = Service({**s3_server.env, "OCR_WORKERS": "1"})
    try:
        service.wait_for("/ready", 200)
        monkeypatch.setenv("OCR_LAUNCHER", "service")
        monkeypatch.setenv("OCR_CATALOG_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
        monkeypatch.setenv(
            "AIRFLOW_CONN_OCR_SERVICE",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": service.port}),
        )
        upload(s3, sample_docs, ["english.png", "born_digital.pdf"])
        s3.put_object(Bucket=BUCKET, Key="incoming/2024/notes.docx", Body=b"PK\x03\x04")
        dag = load_dag()
        assert type(dag.task_dict["ocr"]).__name__ == "MappedOperator"
        run(dag, batch_size=2)
    finally:
        service.stop()
    rows = {
        r["source_uri"].rsplit("/", 1)[1]: r for r in Catalog(f"sqlite:///{tmp_path / 'catalog.db'}").rows()
    }
    assert {n: r["status"] for n, r in rows.items()} == {
        "english.png": "succeeded",
        "born_digital.pdf": "succeeded",
        "notes.docx": "failed",
    }
    assert rows["notes.docx"]["error"].startswith("unsupported document type '.docx'")
    assert s3.head_object(Bucket=BUCKET, Key=rows["english.png"]["json_uri"].removeprefix(f"s3://{BUCKET}/"))

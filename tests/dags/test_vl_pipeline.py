"""document_ingest end to end with PaddleOCR-VL on a (STAND-IN) vLLM server: the local launcher runs the OCR
step in ``.venv-vl`` with the real ``paddleocr`` client, as the OCR image would."""

from __future__ import annotations

import pytest

from tests.dags.conftest import BUCKET, load_dag
from tests.dags.test_document_ingest import read, run
from tests.ocr_task.test_vl_server import VL_PYTHON, gray_page, vl_env
from tests.vl_standin_server import StandInVlmServer, answer_for

pytestmark = pytest.mark.usefixtures("airflow_db")


def _run_with(server: StandInVlmServer, s3, tmp_path, monkeypatch):
    """Two scans (levels 6 and 14) through document_ingest, the OCR step in ``.venv-vl`` sending them to ``server``."""
    try:
        for name, value in {**vl_env(server), "OCR_TASK_PYTHON": str(VL_PYTHON)}.items():
            monkeypatch.setenv(name, value)
        for level in (6, 14):
            gray_page(level, f"page {level}").save(tmp_path / f"scan{level}.png")
            s3.upload_file(str(tmp_path / f"scan{level}.png"), BUCKET, f"incoming/vl/scan{level}.png")
        return run(load_dag())
    finally:
        server.close()


def test_document_ingest_with_the_vl_engine(s3, sqlite_catalog, tmp_path, monkeypatch):
    server = StandInVlmServer()
    _run_with(server, s3, tmp_path, monkeypatch)
    rows = {r["source_uri"].rsplit("/", 1)[1]: r for r in sqlite_catalog.rows()}
    assert {n: (r["status"], r["engine"].split()[0]) for n, r in rows.items()} == {
        "scan6.png": ("succeeded", "paddleocr-vl"), "scan14.png": ("succeeded", "paddleocr-vl"),
    }  # fmt: skip
    assert read(s3, rows["scan6.png"]["text_uri"]).decode().strip() == answer_for(6)
    assert read(s3, rows["scan14.png"]["text_uri"]).decode().strip() == answer_for(14)
    assert sorted(r.level for r in server.requests) == [6, 14]


def test_a_vlm_server_answering_503_for_a_while_retries_the_batch_and_fails_no_document(
    s3, sqlite_catalog, tmp_path, monkeypatch
):
    # openai's client tries each page 3 times: the first attempt's requests all meet the overload
    dag_run = _run_with(StandInVlmServer(overloaded=2 * 3), s3, tmp_path, monkeypatch)
    (ocr,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "ocr"]
    assert str(ocr.state) == "success" and ocr.try_number >= 2
    rows = sqlite_catalog.rows()
    assert sorted((r["status"], r["retryable"], r["quarantine_uri"]) for r in rows) == [("succeeded", False, None)] * 2
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="quarantine/")

"""The OCR service for real: uvicorn on loopback, the CPU engine, real HTTP calls."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ocr_task.samples import cer
from tests.ocr_task.bad_inputs import png_bomb
from tests.service_process import Service


@pytest.fixture(scope="module")
def service(s3_server):
    running = Service(
        {
            **s3_server.env,
            "OCR_WORKERS": "1",
            "OCR_SERVICE_CONCURRENCY": "1",
            "OCR_SERVICE_QUEUE_DEPTH": "1",
            "OCR_SERVICE_MAX_UPLOAD_MB": "2",
        }
    )
    running.wait_for("/ready", 200)
    yield running
    log = running.stop()
    assert "Traceback" not in log, log


def upload(service, path, name=None):
    with open(path, "rb") as f:
        return httpx.post(f"{service.url}/v1/ocr", files={"file": (name or path.name, f)}, timeout=120)


def test_health_and_readiness(service):
    assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{service.url}/ready").json() == {"ready": True, "engine": "auto", "detail": None}


def test_an_upload_comes_back_as_text_markdown_and_json(service, sample_docs):
    response = upload(service, sample_docs["russian.png"].path, "Акт сверки.png")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["entry"]["status"] == "succeeded" and result["entry"]["source"] == "Акт сверки.png"
    assert cer(sample_docs["russian.png"].text, result["text"]) <= 0.03
    assert result["markdown"].startswith("<!-- page 1 -->")
    assert result["document"]["pages"][0]["script"] == "Cyrillic"


def test_an_s3_batch_writes_outputs_and_returns_the_report(service, s3_server, sample_docs):
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    client.upload_file(str(sample_docs["english.png"].path), bucket, "in/english.png")
    body = {
        "sources": [f"s3://{bucket}/in/english.png", f"s3://{bucket}/in/missing.pdf"],
        "output": f"s3://{bucket}/out/",
    }
    response = httpx.post(
        f"{service.url}/v1/ocr", json={"documents": body["sources"], "output": body["output"]}, timeout=120
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert [d["status"] for d in report["documents"]] == ["succeeded", "failed"]
    assert report["documents"][1]["error"] == f"object not found: s3://{bucket}/in/missing.pdf"
    text = client.get_object(Bucket=bucket, Key="out/in/english.png.txt")["Body"].read().decode()
    assert cer(sample_docs["english.png"].text, text) <= 0.02
    assert (
        json.loads(client.get_object(Bucket=bucket, Key="out/report.json")["Body"].read())["summary"][
            "failed"
        ]
        == 1
    )


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("scan.pdf", b"%PDF-1.7\n1 0 obj <<", 422, "corrupt or truncated PDF"),
        ("photo.jpg", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 422, "content does not match the extension"),
        ("notes.docx", b"PK\x03\x04 word", 415, "unsupported document type '.docx'"),
        ("bomb.png", png_bomb(), 422, "refused before decoding"),
    ],
)
def test_bad_documents_get_a_specific_4xx(service, tmp_path, name, content, status, message):
    path = tmp_path / name
    path.write_bytes(content)
    response = upload(service, path)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert "Traceback" not in response.text


def test_bad_requests(service):
    assert (
        httpx.post(
            f"{service.url}/v1/ocr", json={"documents": ["/etc/passwd"], "output": "s3://b/o/"}
        ).status_code
        == 422
    )
    assert httpx.post(f"{service.url}/v1/ocr", json={"documents": []}).status_code == 422
    assert (
        httpx.post(
            f"{service.url}/v1/ocr", content=b"hello", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )
    missing_field = httpx.post(f"{service.url}/v1/ocr", files={"other": ("a.png", b"x")})
    assert (missing_field.status_code, missing_field.json()["detail"]) == (
        422,
        "multipart field 'file' is missing",
    )


def test_an_oversized_upload_is_refused_with_413(service, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (3 * 1024 * 1024))
    response = upload(service, big)
    assert response.status_code == 413 and "over 2 MB" in response.json()["detail"]


def test_beyond_the_queue_requests_get_429_and_the_service_stays_healthy(service, sample_docs):
    path = sample_docs["two_column.png"].path
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = []
        for _ in range(5):
            futures.append(pool.submit(upload, service, path))
            time.sleep(0.1)
        statuses = sorted(f.result().status_code for f in futures)
    # one recognised at a time, one waiting: the rest are turned away at once
    assert statuses == [200, 200, 429, 429, 429]
    assert httpx.get(f"{service.url}/health").status_code == 200
    assert httpx.get(f"{service.url}/ready").status_code == 200
    assert upload(service, sample_docs["english.png"].path).status_code == 200


def test_openapi_describes_what_the_service_does(service):
    schema = httpx.get(f"{service.url}/openapi.json").json()
    assert set(schema["paths"]) == {"/health", "/ready", "/v1/ocr"}
    ocr = schema["paths"]["/v1/ocr"]["post"]
    assert set(ocr["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"200", "413", "415", "422", "429", "503"} <= set(ocr["responses"])
    components = schema["components"]["schemas"]
    assert {"Manifest", "UploadResult", "Report", "ReportEntry"} <= set(components)
    assert "503" in schema["paths"]["/ready"]["get"]["responses"]


def test_readiness_says_why_the_engine_cannot_run(tmp_path):
    broken = Service({"OCR_ENGINE": "paddleocr-vl", "OCR_VL_MODELS_HOME": str(tmp_path / "none")})
    try:
        response = broken.wait_for("/ready", 503)
        while response.json()["detail"] == "the engine is loading":
            response = broken.wait_for("/ready", 503)
        assert response.json()["ready"] is False
        assert "PaddleOCR-VL cannot load" in response.json()["detail"]
        assert httpx.get(f"{broken.url}/health").status_code == 200  # alive, not ready
        refused = httpx.post(f"{broken.url}/v1/ocr", files={"file": ("a.png", b"\x89PNG")})
        assert refused.status_code == 503 and "engine not ready" in refused.json()["detail"]
    finally:
        broken.stop()

"""The OCR service for real: uvicorn on loopback, the CPU engine, the local S3 server, real HTTP calls."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.ocr_task.bad_inputs import png_bomb
from tests.samples import cer
from tests.service_process import Service, serving

ALLOWED = "s3://allowed-docs/"


@pytest.fixture(scope="module")
def documents_bucket(s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket="allowed-docs")
    client.create_bucket(Bucket="elsewhere")
    return client


@pytest.fixture(scope="module")
def service(s3_server, documents_bucket):
    yield from serving(
        {
            **s3_server.env,
            "OCR_SERVICE_CONCURRENCY": "1",
            "OCR_SERVICE_QUEUE_DEPTH": "1",
            "OCR_SERVICE_MAX_UPLOAD_MB": "2",
            "OCR_SERVICE_READ_PREFIXES": f"{ALLOWED}in/",
            "OCR_SERVICE_WRITE_PREFIXES": f"{ALLOWED}out/",
        }
    )


def upload(service, path, name=None):
    with open(path, "rb") as f:
        return service.client.post("/v1/ocr", files={"file": (name or path.name, f)})


def put(client, path, key: str) -> str:
    client.upload_file(str(path), "allowed-docs", key)
    return f"{ALLOWED}{key}"


def objects(client, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_health_and_readiness_need_no_token(service):
    assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{service.url}/ready").json() == {"ready": True, "engine": "auto", "detail": None}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic eDp4", "Bearer x"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/ocr", {"files": {"file": ("a.png", b"\x89PNG")}}),
        ("POST", "/v1/jobs", {"json": {"documents": [f"{ALLOWED}in/a.png"], "output": f"{ALLOWED}out/"}}),
        ("POST", "/v1/jobs/by-reference", {"json": {"manifest_uri": f"{ALLOWED}in/manifest.json"}}),
        ("GET", "/v1/jobs/0123", {}),
        ("DELETE", "/v1/jobs/0123", {}),
    ],
)
def test_every_v1_route_needs_the_token(service, documents_bucket, authorization, method, path, body):
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, service.url + path, headers=headers, **body)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert objects(documents_bucket, "allowed-docs") == []


def test_an_upload_comes_back_as_text_markdown_and_json(service, sample_docs):
    response = upload(service, sample_docs["russian.png"].path, "Акт сверки.png")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["entry"]["status"] == "succeeded" and result["entry"]["source"] == "Акт сверки.png"
    assert result["entry"]["outputs"] is None  # nothing written: the renderings are in the answer
    assert cer(sample_docs["russian.png"].text, result["text"]) <= 0.03
    assert result["markdown"].startswith("<!-- page 1 -->")
    assert result["document"]["pages"][0]["script"] == "Cyrillic"


def test_an_upload_asked_for_as_pdf_comes_back_as_the_searchable_pdf(service, sample_docs):
    import pypdfium2 as pdfium

    with sample_docs["russian.png"].path.open("rb") as f:
        response = service.client.post("/v1/ocr", files={"file": ("Акт сверки.png", f)},
                                       headers={"Accept": "application/pdf"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    with pdfium.PdfDocument(response.content) as pdf:
        assert cer(sample_docs["russian.png"].text, pdf[0].get_textpage().get_text_range()) <= 0.03


def test_a_job_runs_in_the_background_and_reports(service, documents_bucket, sample_docs):
    source = put(documents_bucket, sample_docs["english.png"].path, "in/english.png")
    manifest = {
        "documents": [source, f"{ALLOWED}in/missing.pdf"],
        "output": f"{ALLOWED}out/job1/",
        "report": f"{ALLOWED}out/job1/_report.json",
    }
    submitted = service.client.post("/v1/jobs", json=manifest)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["status"] in ("queued", "running") and submitted.json()["report"] is None

    job = service.wait_for_job(submitted.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"documents": 2, "documents_done": 2, "documents_failed": 1, "pages_done": 1}
    report = job["report"]
    assert [d["status"] for d in report["documents"]] == ["succeeded", "failed"]
    assert report["documents"][1]["error"] == f"object not found: {ALLOWED}in/missing.pdf"
    text = documents_bucket.get_object(Bucket="allowed-docs", Key="out/job1/in/english.png.txt")["Body"].read()
    assert cer(sample_docs["english.png"].text, text.decode()) <= 0.02
    written = documents_bucket.get_object(Bucket="allowed-docs", Key="out/job1/_report.json")["Body"].read()
    assert json.loads(written)["summary"]["failed"] == 1


def test_a_job_by_reference_reads_its_manifest_from_the_allowed_storage(service, documents_bucket, sample_docs):
    source = put(documents_bucket, sample_docs["english.png"].path, "in/ref/english.png")
    manifest = {"documents": [source], "output": f"{ALLOWED}out/ref/"}
    documents_bucket.put_object(Bucket="allowed-docs", Key="in/ref/manifest.json", Body=json.dumps(manifest))

    submitted = service.client.post("/v1/jobs/by-reference", json={"manifest_uri": f"{ALLOWED}in/ref/manifest.json"})
    assert submitted.status_code == 202, submitted.text
    job = service.wait_for_job(submitted.json()["id"])
    assert (job["status"], job["progress"]["documents_done"]) == ("succeeded", 1), job

    documents_bucket.put_object(Bucket="elsewhere", Key="manifest.json", Body=json.dumps(manifest))
    outside = service.client.post("/v1/jobs/by-reference", json={"manifest_uri": "s3://elsewhere/manifest.json"})
    assert outside.status_code == 403 and "the manifest s3://elsewhere/manifest.json is outside" in outside.text
    missing = service.client.post("/v1/jobs/by-reference", json={"manifest_uri": f"{ALLOWED}in/ref/none.json"})
    assert missing.status_code == 422 and "object not found" in missing.text
    # a manifest inside the allowed storage that points outside it is refused like a posted one
    documents_bucket.put_object(
        Bucket="allowed-docs", Key="in/ref/sly.json",
        Body=json.dumps({"documents": ["s3://elsewhere/manifest.json"], "output": f"{ALLOWED}out/ref/"}),
    )  # fmt: skip
    sly = service.client.post("/v1/jobs/by-reference", json={"manifest_uri": f"{ALLOWED}in/ref/sly.json"})
    assert sly.status_code == 403 and "the source s3://elsewhere/manifest.json is outside" in sly.text


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ({"report": "{tmp}/report.json"}, "the report must be an s3:// URI"),
        ({"report": "s3://elsewhere/report.json"}, "the report s3://elsewhere/report.json is outside"),
        ({"output": "s3://elsewhere/out/"}, "the output s3://elsewhere/out/ is outside"),
        ({"output": "{tmp}/out"}, "the output must be an s3:// URI"),
        ({"output": f"{ALLOWED}outside/"}, "is outside the prefixes allowed for it"),
        ({"output": f"{ALLOWED}out/../in/"}, "is outside the prefixes allowed for it"),
        ({"documents": ["s3://elsewhere/secret.png"]}, "the source s3://elsewhere/secret.png is outside"),
        ({"documents": ["/etc/passwd"]}, "the source must be an s3:// URI, not '/etc/passwd'"),
        ({"documents": [f"{ALLOWED}input/a.png"]}, "is outside the prefixes allowed for it"),  # not in/
        # the sources are readable, never writable: no job may overwrite a document
        ({"output": f"{ALLOWED}in/"}, f"the output {ALLOWED}in/ is outside"),
        ({"report": f"{ALLOWED}in/a.png"}, f"the report {ALLOWED}in/a.png is outside"),
        ({"documents": [f"{ALLOWED}out/job1/in/english.png.txt"]}, "the source"),  # outputs are not sources
    ],
)
def test_storage_outside_the_allowed_prefixes_is_refused_untouched(
    service, documents_bucket, s3_server, tmp_path, manifest, reason
):
    s3 = s3_server.client()
    s3.put_object(Bucket="elsewhere", Key="secret.png", Body=b"\x89PNG")
    body = {"documents": [f"{ALLOWED}in/a.png"], "output": f"{ALLOWED}out/refused/", **manifest}
    body = json.loads(json.dumps(body).replace("{tmp}", str(tmp_path)))
    before = objects(s3, "allowed-docs"), objects(s3, "elsewhere")

    response = service.client.post("/v1/jobs", json=body)

    assert response.status_code == 403, response.text
    assert reason in response.json()["detail"]
    time.sleep(0.5)  # had anything started, it would have written by now
    assert (objects(s3, "allowed-docs"), objects(s3, "elsewhere")) == before
    assert list(tmp_path.iterdir()) == []


def test_a_job_can_be_cancelled(service, documents_bucket, sample_docs):
    sources = [put(documents_bucket, sample_docs["two_column.png"].path, f"in/many/{i}.png") for i in range(6)]
    job = service.client.post("/v1/jobs", json={"documents": sources, "output": f"{ALLOWED}out/cancel/"}).json()
    while service.client.get(f"/v1/jobs/{job['id']}").json()["progress"]["pages_done"] < 1:
        time.sleep(0.2)
    assert service.client.delete(f"/v1/jobs/{job['id']}").status_code == 202
    ended = service.wait_for_job(job["id"])
    assert ended["status"] == "cancelled" and ended["report"] is None
    assert ended["progress"]["documents_done"] < 6
    assert "out/cancel/report.json" not in objects(documents_bucket, "allowed-docs")
    assert service.client.get("/v1/jobs/no-such-job").status_code == 404


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


def test_bad_requests_get_one_clear_sentence(service):
    missing_field = service.client.post("/v1/ocr", files={"other": ("a.png", b"x")})
    assert missing_field.status_code == 422
    assert missing_field.json()["detail"] == "invalid request: body.file: Field required"
    not_json = service.client.post("/v1/jobs", content=b"hello", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["detail"].startswith("invalid request: body")
    engine = service.client.post("/v1/jobs", json={"documents": [], "output": f"{ALLOWED}out/", "engine": "x"})
    assert engine.status_code == 422 and "runs the auto engine" in engine.json()["detail"]


def test_an_oversized_upload_is_refused_with_413(service, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (3 * 1024 * 1024))
    response = upload(service, big)
    assert response.status_code == 413 and "over 2 MB" in response.json()["detail"]


def test_beyond_the_queue_uploads_and_jobs_get_429_and_the_service_stays_healthy(
    service, documents_bucket, sample_docs
):
    path = sample_docs["two_column.png"].path
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = []
        for _ in range(4):
            futures.append(pool.submit(upload, service, path))
            time.sleep(0.1)
        job = service.client.post("/v1/jobs", json={"documents": [], "output": f"{ALLOWED}out/full/"})
        statuses = sorted(f.result().status_code for f in futures)
    # one recognised at a time, one waiting: the rest, uploads or jobs, are turned away at once
    assert statuses == [200, 200, 429, 429]
    assert job.status_code == 429 and job.json()["detail"] == "busy: the queue is full, retry later"
    assert httpx.get(f"{service.url}/ready").status_code == 200
    assert upload(service, sample_docs["english.png"].path).status_code == 200


def test_openapi_is_generated_from_the_routes(service):
    schema = httpx.get(f"{service.url}/openapi.json").json()
    assert set(schema["paths"]) == {
        "/health", "/ready", "/v1/ocr", "/v1/jobs", "/v1/jobs/by-reference", "/v1/jobs/{job_id}",
    }  # fmt: skip
    upload_body = schema["paths"]["/v1/ocr"]["post"]["requestBody"]["content"]
    assert set(upload_body) == {"multipart/form-data"}
    jobs = schema["paths"]["/v1/jobs"]["post"]
    assert jobs["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Manifest"}
    assert {"202", "401", "403", "422", "429", "503"} <= set(jobs["responses"])
    assert set(schema["paths"]["/v1/jobs/{job_id}"]) == {"get", "delete"}
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/ready"]["get"]


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_without_a_token_the_service_listens_on_loopback_only_and_says_so(s3_server):
    open_service = Service({**s3_server.env, "OCR_WORKERS": "1"}, token=None, host="0.0.0.0")
    try:
        assert open_service.client.post("/v1/jobs", json={"documents": []}).status_code != 401
        if (address := _non_loopback_address()) is not None:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{address}:{open_service.port}/health", timeout=5)
    finally:
        log = open_service.stop()
    assert "OCR_SERVICE_TOKEN is not set: listening on 127.0.0.1 only, not on 0.0.0.0" in log
    assert "Uvicorn running on http://127.0.0.1:" in log


def test_readiness_says_why_the_engine_cannot_run(tmp_path):
    broken = Service({"OCR_ENGINE": "paddleocr-vl", "OCR_VL_MODELS_HOME": str(tmp_path / "none")})
    try:
        response = broken.wait_for("/ready", 503)
        while response.json()["detail"] == "the engine is loading":
            response = broken.wait_for("/ready", 503)
        assert response.json()["ready"] is False
        assert "PaddleOCR-VL cannot load" in response.json()["detail"]
        assert httpx.get(f"{broken.url}/health").status_code == 200  # alive, not ready
        refused = broken.client.post("/v1/ocr", files={"file": ("a.png", b"\x89PNG")})
        assert refused.status_code == 503 and "engine not ready" in refused.json()["detail"]
    finally:
        broken.stop()


def test_a_source_read_as_a_manifest_is_refused_without_echoing_its_content(service, documents_bucket):
    """pydantic's errors carry the input: a 422 that quoted it would hand any readable object to the caller."""
    secret = "CONFIDENTIAL salary list: Ivanov 250000; Petrova 310000; end of the list"
    documents_bucket.put_object(Bucket="allowed-docs", Key="in/secret.json", Body=json.dumps({"note": secret}))
    documents_bucket.put_object(Bucket="allowed-docs", Key="in/secret.txt", Body=secret.encode())
    for key in ("in/secret.json", "in/secret.txt"):
        response = service.client.post("/v1/jobs/by-reference", json={"manifest_uri": f"{ALLOWED}{key}"})
        assert response.status_code == 422, response.text
        assert "cannot use manifest" in response.json()["detail"]
        for word in ("CONFIDENTIAL", "Ivanov", "310000", "end of the list"):
            assert word not in response.text
    posted = service.client.post("/v1/jobs", json={"documents": [{"source": 7, "etag": secret}], "output": 5})
    assert posted.status_code == 422 and "CONFIDENTIAL" not in posted.text


def test_a_retry_with_the_same_idempotency_key_gets_the_job_at_work(service, documents_bucket, sample_docs):
    sources = [put(documents_bucket, sample_docs["two_column.png"].path, f"in/again/{i}.png") for i in range(3)]
    manifest = {"documents": sources, "output": f"{ALLOWED}out/again/"}
    documents_bucket.put_object(Bucket="allowed-docs", Key="out/again/manifest.json", Body=json.dumps(manifest))
    reference = {"manifest_uri": f"{ALLOWED}out/again/manifest.json", "idempotency_key": "batch-0001"}

    first = service.client.post("/v1/jobs/by-reference", json=reference).json()
    again = service.client.post("/v1/jobs/by-reference", json=reference).json()
    assert again["id"] == first["id"]  # one job for one batch
    assert service.wait_for_job(first["id"])["status"] == "succeeded"
    after = service.client.post("/v1/jobs/by-reference", json=reference).json()
    assert after["id"] != first["id"]  # once it ended, a submission runs the batch again
    service.wait_for_job(after["id"])


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"OCR_SERVICE_READ_PREFIXES": "s3://docs/incoming/", "OCR_SERVICE_WRITE_PREFIXES": "s3://docs/"}, "holds read prefix"),
        ({"OCR_SERVICE_ALLOWED_PREFIXES": "s3://docs/"}, "was split in two"),
    ],
)
def test_storage_settings_that_would_let_a_job_overwrite_its_sources_are_refused(monkeypatch, environment, reason):
    from pydantic import ValidationError

    from ocr_task.service.settings import ServiceSettings

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=reason):
        ServiceSettings()

"""Outages are the batch's, never a document's: the CLI against the local S3 server behind a proxy that answers
as S3 does when it throttles, denies or rejects our credentials (its own XML errors)."""

from __future__ import annotations

import json

import pytest

from ocr_task.contract import EXIT_BATCH_FAILED, EXIT_SOME_FAILED
from tests.conftest import run_cli
from tests.s3_proxy import FlakyProxy

NAMES = ("english.png", "russian.png", "page.bmp")


@pytest.fixture
def proxied(s3_server, sample_docs):
    """A bucket with three documents; the CLI reaches S3 through the proxy."""
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    for name in NAMES:
        client.upload_file(str(sample_docs[name].path), bucket, f"in/{name}")
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    proxy = FlakyProxy((host, int(port)))
    yield bucket, proxy, client
    proxy.close()


def _run(bucket: str, proxy: FlakyProxy):
    return run_cli(
        "run", "--input", f"s3://{bucket}/in/", "--output", f"s3://{bucket}/out/", "--workers", "1",
        env={"AWS_ENDPOINT_URL": proxy.endpoint, "OCR_ENGINE": "tesseract"},
    )  # fmt: skip


def _report(client, bucket: str) -> dict | None:
    try:
        return json.loads(client.get_object(Bucket=bucket, Key="out/report.json")["Body"].read())
    except client.exceptions.NoSuchKey:
        return None


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "SlowDown"), (403, "AccessDenied"), (500, "InternalError"), (403, "InvalidAccessKeyId"), (403, "ExpiredToken")],
)
def test_an_outage_on_every_object_fails_the_batch_and_writes_no_report(proxied, status, code):
    bucket, proxy, client = proxied
    proxy.inject(status, code, path=f"/{bucket}/in/")  # every read of a document; listing the prefix passes

    result = _run(bucket, proxy)

    assert result.returncode == EXIT_BATCH_FAILED, result.stderr
    assert code in result.stderr or str(status) in result.stderr
    assert _report(client, bucket) is None  # nothing recorded: the launcher retries the batch
    assert not [k for k in _keys(client, bucket, "out/")]


def test_one_object_the_role_may_not_read_fails_alone_retryably_and_the_rest_lands(proxied, sample_docs):
    bucket, proxy, client = proxied
    proxy.inject(403, "AccessDenied", path=f"/{bucket}/in/russian.png")  # a key-level deny

    result = _run(bucket, proxy)

    assert result.returncode == EXIT_SOME_FAILED, result.stderr
    entries = {e["name"]: e for e in _report(client, bucket)["documents"]}
    denied = entries.pop("in/russian.png")
    assert (denied["status"], denied["retryable"], denied["cause"]) == ("failed", True, "S3 403")
    assert "403" in denied["error"] and "in/russian.png" in denied["error"]
    assert {(e["status"], e["retryable"]) for e in entries.values()} == {("succeeded", False)}


def test_throttling_that_passes_within_the_clients_retries_is_no_failure_at_all(proxied):
    bucket, proxy, client = proxied
    fault = proxy.inject(503, "SlowDown", path=f"/{bucket}/in/", times=2)

    result = _run(bucket, proxy)

    assert result.returncode == 0, result.stderr
    assert fault.answered == 2
    assert {e["status"] for e in _report(client, bucket)["documents"]} == {"succeeded"}


def test_a_missing_object_is_the_documents_own_fault(proxied):
    bucket, proxy, client = proxied
    proxy.inject(404, "NoSuchKey", path=f"/{bucket}/in/page.bmp")

    result = _run(bucket, proxy)

    assert result.returncode == EXIT_SOME_FAILED, result.stderr
    entry = {e["name"]: e for e in _report(client, bucket)["documents"]}["in/page.bmp"]
    assert (entry["status"], entry["retryable"]) == ("failed", False)
    assert "object not found" in entry["error"]


def _keys(client, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_an_outage_that_changes_its_face_within_a_batch_still_fails_the_batch(proxied):
    """Two of three documents refused for reasons not theirs, one throttled and one denied: counted together."""
    bucket, proxy, client = proxied
    proxy.inject(503, "SlowDown", path=f"/{bucket}/in/english.png")
    proxy.inject(403, "AccessDenied", path=f"/{bucket}/in/russian.png")

    result = _run(bucket, proxy)

    assert result.returncode == EXIT_BATCH_FAILED, result.stderr
    assert "S3 503 (1)" in result.stderr and "S3 403 (1)" in result.stderr
    assert _report(client, bucket) is None

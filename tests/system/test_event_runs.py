"""Event mode on the Celery deployment: the bucket notifies a queue on the local S3 server of each new object,
the triggerer's AssetWatcher receives the notifications, and runs start without any trigger or schedule (the
schedule is the default daily one, 02:00 UTC)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime

import boto3
import pytest

from tests.system.conftest import BUCKET, deploy

pytestmark = pytest.mark.system
SOURCE = f"s3://{BUCKET}/events/"
QUEUE = "system-created"


@pytest.fixture(scope="module")
def deployment(s3_server, tmp_path_factory):
    settings = {"OCR_SCHEDULE": "0 2 * * *", "OCR_SOURCE_URI": SOURCE}
    home = tmp_path_factory.mktemp("event-stack")
    yield from deploy(s3_server, home, "ocr_systest_events", settings, event_queue=QUEUE)


def _catalogued(deployment, uri: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in deployment.catalog_rows(uri) if r["source_uri"] == uri]
        if rows:
            return rows[0]
        time.sleep(0.5)
    raise TimeoutError(f"{uri} was not catalogued within {timeout:.0f} s")


def test_uploads_are_catalogued_by_event_runs_within_a_minute(deployment, api, sample_docs):
    latencies, uris = [], []
    for n in range(6):
        uploaded = datetime.now(UTC)
        uri = deployment.upload(SOURCE, sample_docs["english.png"].path, f"single-{n}.png")
        row = _catalogued(deployment, uri)
        latencies.append((row["processed_at"] - uploaded).total_seconds())
        uris.append(uri)
        assert row["status"] == "succeeded" and row["run_id"].startswith("asset_triggered__"), row
    runs = {r.dag_run_id: r for r in api.list_runs()}
    assert {runs[r["run_id"]].run_type.value for r in deployment.catalog_rows(SOURCE)} == {"asset_triggered"}
    print(f"upload to catalogued: median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s")
    assert max(latencies) < 60, latencies
    assert sorted(r["source_uri"] for r in deployment.catalog_rows(SOURCE)) == sorted(uris)  # each once


def test_duplicate_and_malformed_messages_process_nothing_and_fail_nothing(deployment, api, sample_docs):
    uri = deployment.upload(SOURCE, sample_docs["russian.png"].path, "once.png")
    _catalogued(deployment, uri)
    deployment.wait_until_idle()
    before = {r.dag_run_id for r in api.list_runs()}
    sqs = boto3.client("sqs", endpoint_url=deployment.stack.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    url = deployment.stack.settings["OCR_EVENT_QUEUE_URL"]
    deployment.upload(SOURCE, sample_docs["russian.png"].path, "once.png")  # the same bytes: the same ETag
    for body in ("{not json", json.dumps({"Event": "s3:TestEvent", "Bucket": BUCKET}),
                 json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "else"},
                                          "object": {"key": "events/x.png", "eTag": "e", "size": 1}}}]})):  # fmt: skip
        sqs.send_message(QueueUrl=url, MessageBody=body)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the messages make runs, which find nothing new
        new = [r for r in api.list_runs() if r.dag_run_id not in before]
        if new and all(r.state.value in ("success", "failed") for r in new):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
                break
        time.sleep(1)
    new = [r for r in api.list_runs() if r.dag_run_id not in before]
    assert new and {r.state.value for r in new} == {"success"}, [(r.dag_run_id, r.state) for r in new]
    assert [r["source_uri"] for r in deployment.catalog_rows(SOURCE)].count(uri) == 1
    assert deployment.sent_to_ocr(uri)[uri] == 1  # processed once

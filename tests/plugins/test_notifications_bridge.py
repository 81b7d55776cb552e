"""The compose deployment's bridge from MinIO's webhook notifications to SQS (``ocr_pipeline.notifications_bridge``),
run as compose runs it (``python -m``), against the test session's S3 server (moto also speaks SQS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import httpx
import pytest

from ocr_pipeline import events
from tests.conftest import REPO
from tests.network import free_port

TOKEN = "bridge-token-" + "y" * 20


def minio_event(bucket: str, key: str, etag: str) -> dict:
    """A notification as MinIO's webhook posts it (its documented shape: EventName, Key and S3's Records)."""
    record = {
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2026-12-02T10:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put", "userIdentity": {"principalId": "minioadmin"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key.replace(" ", "+"), "size": 2048, "eTag": etag, "contentType": "image/png", "sequencer": "1"}},
    }  # fmt: skip
    return {"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}", "Records": [record]}


@pytest.fixture(scope="module")
def bridge(s3_server):
    sqs = boto3.client("sqs", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    queue = sqs.create_queue(QueueName="bridge-test")["QueueUrl"]
    port = free_port()
    env = {**os.environ, "OCR_BRIDGE_TOKEN": TOKEN, "OCR_BRIDGE_QUEUE_URL": queue,
           "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "ocr_pipeline.notifications_bridge", "--port", str(port)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.head(url).status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the bridge never answered"
            time.sleep(0.2)
    yield url, sqs, queue
    process.terminate()
    process.wait(10)


def received(sqs, queue: str) -> list[dict]:
    return sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])


def test_a_minio_notification_becomes_the_message_s3_would_send(bridge):
    url, sqs, queue = bridge
    answer = httpx.post(url, json=minio_event("docs", "incoming/Счёт 117.png", "abc123"),
                        headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    (message,) = received(sqs, queue)
    assert message["MessageId"] == answer.json()["message_id"]
    # read as an event run reads it: the object, its key decoded
    notified = events.notified_objects([message], "s3://docs/incoming/")
    assert [(o.source_uri, o.etag, o.size) for o in notified.objects] == [("s3://docs/incoming/Счёт 117.png", "abc123", 2048)]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-" + "y" * 20}, {"Authorization": TOKEN}],
    ids=["no token", "wrong token", "no Bearer"],
)
def test_a_caller_without_the_token_is_refused_and_nothing_is_sent(bridge, headers):
    url, sqs, queue = bridge
    answer = httpx.post(url, json=minio_event("docs", "incoming/x.png", "e"), headers=headers)
    assert answer.status_code == 401
    assert received(sqs, queue) == []


@pytest.mark.parametrize(
    "body, status",
    [("{not json", 400), (json.dumps({"EventName": "s3:ObjectCreated:Put"}), 400), ("x" * 300_000, 413)],
    ids=["not JSON", "no Records", "too large"],
)
def test_what_is_not_a_notification_is_refused_and_nothing_is_sent(bridge, body, status):
    url, sqs, queue = bridge
    answer = httpx.post(url, content=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == status, answer.text
    assert received(sqs, queue) == []


def test_a_queue_that_does_not_answer_makes_minio_send_again(s3_server):
    """503 when the queue refuses (here: no such queue), so that MinIO keeps the event and retries."""
    from fastapi.testclient import TestClient

    from ocr_pipeline.notifications_bridge import create_app

    sqs = boto3.client("sqs", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    app = create_app(TOKEN, f"{s3_server.endpoint}/123456789012/no-such-queue", sqs)
    answer = TestClient(app).post("/", json=minio_event("docs", "incoming/x.png", "e"),
                                  headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert answer.status_code == 503


def test_the_bridge_refuses_to_start_without_a_token():
    from ocr_pipeline.notifications_bridge import create_app

    with pytest.raises(ValueError, match="OCR_BRIDGE_TOKEN"):
        create_app("", "http://localhost/q", sqs=object())

"""Event mode's messages: S3 notifications sent by the local S3 server to its SQS queue, received by the
amazon provider's SQS trigger as the AssetWatcher runs it, and read into the objects a run takes."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest

from ocr_pipeline import events
from ocr_pipeline.settings import PipelineSettings
from tests.conftest import DOCS_BUCKET as BUCKET

SOURCE = f"s3://{BUCKET}/incoming/"


@pytest.fixture
def notified_queue(s3, s3_server):
    """A queue that the ``docs`` bucket notifies of every new object, as README's event mode wires it."""
    sqs = boto3.client("sqs", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    url = sqs.create_queue(QueueName="docs-created")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return sqs, url


def receive_all(sqs, url) -> list[dict]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        messages += batch
    return messages


def test_new_objects_under_the_source_prefix_are_named_and_everything_else_dropped(notified_queue, s3):
    sqs, url = notified_queue
    keys = ["incoming/счёт 7.pdf", "incoming/a+b scan.png", "incoming/notes.docx", "elsewhere/x.pdf",
            "processed/incoming.pdf.txt"]  # fmt: skip
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"%PDF-1.4 test")
    s3.put_object(Bucket=BUCKET, Key="incoming/счёт 7.pdf", Body=b"%PDF-1.4 test")  # same content: same ETag
    messages = receive_all(sqs, url)
    messages += [
        {"MessageId": "bad", "Body": "{not json"},
        {"MessageId": "test", "Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})},
        {"MessageId": "other", "Body": json.dumps({"Records": [{"eventName": "ObjectRemoved:Delete"}]})},
    ]
    notified = events.notified_objects(messages, SOURCE, (f"s3://{BUCKET}/processed/",))

    assert sorted(o.source_uri for o in notified.objects) == [
        f"s3://{BUCKET}/incoming/a+b scan.png", f"s3://{BUCKET}/incoming/счёт 7.pdf"
    ]  # keys decoded ("+" is a plus sign only when S3 encoded it as %2B); the re-upload is one version
    etag = s3.head_object(Bucket=BUCKET, Key="incoming/счёт 7.pdf")["ETag"].strip('"')
    assert {o.etag for o in notified.objects if "счёт" in o.source_uri} == {etag}
    reasons = " | ".join(notified.dropped)
    for why in ("notes.docx is not a supported document type", "elsewhere/x.pdf is not under the source prefix",
                "processed/incoming.pdf.txt is not under", "bad: its body is not JSON", "s3:TestEvent",
                "other: a record without"):  # fmt: skip
        assert why in reasons, reasons


def test_the_sqs_trigger_delivers_the_notifications_and_the_run_deletes_them(notified_queue, s3, monkeypatch):
    sqs, url = notified_queue
    for n in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"incoming/{n}.png", Body=b"\x89PNG")
    monkeypatch.setenv("OCR_EVENT_QUEUE_URL", url)
    monkeypatch.setenv("OCR_EVENT_VISIBILITY_TIMEOUT", "60")
    settings = PipelineSettings.build()
    asset = events.notifications_asset(settings, "document_ingest_notifications")
    trigger = asset.watchers[0].trigger  # what the triggerer runs: MessageQueueTrigger → SqsSensorTrigger

    async def first_event():
        runner = trigger.trigger if hasattr(trigger, "trigger") else trigger
        async for event in runner.run():
            return event.payload

    payload = asyncio.run(asyncio.wait_for(first_event(), 60))
    messages = payload["message_batch"]

    class AssetEvent:  # as the run's context gives it: the triggerer stores the payload in the event's extra
        extra = {"from_trigger": True, "payload": payload}

    found = events.messages_of([AssetEvent()])
    assert found == messages
    assert sorted(o.source_uri for o in events.notified_objects(found, SOURCE).objects) == [
        f"{SOURCE}{n}.png" for n in range(3)
    ]
    # not deleted on reception: invisible for the visibility timeout, and deleted by the run that takes them
    assert receive_all(sqs, url) == []
    assert events.consume(messages, settings) == len(messages)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0", "0"
    )

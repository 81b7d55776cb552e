"""S3 event notifications, received from SQS by the triggerer, as the objects an event run processes.

In event mode (a source's ``event_queue_url``, ``OCR_EVENT_QUEUE_URL``) its DAG is scheduled on an asset
watched by ``MessageQueueTrigger(scheme="sqs")``. The trigger receives up to
``max_messages`` × ``num_batches`` messages at a time and yields them as one
trigger event; the triggerer records it as an asset event whose ``extra`` is
``{"from_trigger": True, "payload": {"status": "success", "message_batch":
[...SQS messages...]}}``. The scheduler starts one run for all the asset
events queued since the last one: uploads that arrive close together share a
run (see the README's event mode for what that costs in latency).

A message's body is an S3 event notification (``{"Records": [...]}``). This
module keeps the ``ObjectCreated`` records for objects under the source prefix
(not the pipeline's own outputs) with a supported extension, and says why
anything else was dropped: a malformed body, ``s3:TestEvent`` (sent when a
bucket's notification is configured), another event, bucket or prefix. None of
those fails a run. Whether an object is new work is the catalog's decision, as
for every run (a duplicate notification, or a re-upload with the same ETag,
processes nothing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import unquote_plus

from ocr_pipeline.discovery import SourceObject
from ocr_task.contract import EXTENSIONS

log = logging.getLogger(__name__)


@dataclass
class Notified:
    """What a run's notifications name: the objects to consider, and what was dropped (and why)."""

    objects: list[SourceObject] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    messages: int = 0


def messages_of(asset_events: Iterable) -> list[dict]:
    """The SQS messages carried by a run's triggering asset events (each event's ``extra``)."""
    messages = []
    for event in asset_events:
        extra = getattr(event, "extra", None) or {}
        payload = extra.get("payload") or {}
        batch = payload.get("message_batch") if isinstance(payload, dict) else None
        messages.extend(m for m in batch or [] if isinstance(m, dict))
    return messages


def notified_objects(messages: Iterable[dict], source_uri: str, exclude: tuple[str, ...] = ()) -> Notified:
    """The new objects the S3 notifications in ``messages`` name under ``source_uri`` (each version once)."""
    notified = Notified()
    seen: set[tuple[str, str]] = set()
    for message in messages:
        notified.messages += 1
        name = message.get("MessageId", "?")
        try:
            body = json.loads(message.get("Body") or "")
        except (TypeError, ValueError):
            notified.dropped.append(f"message {name}: its body is not JSON")
            continue
        if not isinstance(body, dict):
            notified.dropped.append(f"message {name}: its body is not an S3 notification")
            continue
        if body.get("Event") == "s3:TestEvent":
            notified.dropped.append(f"message {name}: s3:TestEvent for bucket {body.get('Bucket')}")
            continue
        records = body.get("Records")
        if not isinstance(records, list):
            notified.dropped.append(f"message {name}: no Records (not an S3 notification)")
            continue
        for record in records:
            obj, reason = _created_object(record, source_uri, exclude)
            if obj is None:
                notified.dropped.append(f"message {name}: {reason}")
            elif obj.version not in seen:
                seen.add(obj.version)
                notified.objects.append(obj)
    return notified


def _created_object(record, source_uri: str, exclude: tuple[str, ...]) -> tuple[SourceObject | None, str]:
    """The object an ``ObjectCreated`` record names, or None and why it is not work."""
    try:
        event = str(record["eventName"]).removeprefix("s3:")  # MinIO writes "s3:ObjectCreated:Put"
        bucket = record["s3"]["bucket"]["name"]
        entry = record["s3"]["object"]
        key = unquote_plus(entry["key"])  # S3 sends keys URL-encoded, spaces as "+"
        etag = str(entry.get("eTag") or "").strip('"')
        size = int(entry.get("size") or 0)
        when = _event_time(record.get("eventTime"))
    except (KeyError, TypeError, ValueError) as error:
        return None, f"a record without {error}: not an S3 event record"
    uri = f"s3://{bucket}/{key}"
    if not event.startswith("ObjectCreated:"):
        return None, f"{event} for {uri}: not a new object"
    if not uri.startswith(source_uri) or uri.startswith(exclude) or key.endswith("/"):
        return None, f"{uri} is not under the source prefix {source_uri}"
    if PurePosixPath(key).suffix.lower() not in EXTENSIONS:
        return None, f"{uri} is not a supported document type"
    if not etag:
        return None, f"{uri}: the record has no eTag"
    return SourceObject(uri, etag, size, when), ""


def _event_time(value) -> datetime:
    """The record's ``eventTime`` (ISO 8601, ``Z``) as UTC; now when it has none."""
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# How the triggerer reads the queue: 2 receives in a row of up to 10 messages each (SQS's most), each waiting
# at most 1 s for messages, then one asset event with all they got (up to 20), and a pause of 1 s when the
# queue was empty. A lone upload's message waits for the one empty receive after it: about 1 s (with 10
# receives, it waited for 9: 9 s). A burst's messages come 20 to an event, and the scheduler puts the events
# that queue up while a run is being created in one run. (Long polls of 10 s, as SQS advises for cost, would
# hold a message for 10 s.) Idle, it is about one receive a second.
RECEIVE = {"max_messages": 10, "num_batches": 2, "wait_time_seconds": 1, "waiter_delay": 1}


def notifications_asset(settings, name: str):
    """The asset (named ``name``) a source's event runs are scheduled on: watched by a ``MessageQueueTrigger`` on
    its source's queue.

    Messages are not deleted when received: the run that takes their objects deletes them (``consume``), so
    a message whose asset event was never recorded (the triggerer died in between) comes back to the queue
    after ``event_visibility_timeout`` and is received again.
    """
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import Asset, AssetWatcher

    trigger = MessageQueueTrigger(
        scheme="sqs",
        sqs_queue=settings.event_queue_url,
        aws_conn_id=settings.aws_conn_id,
        delete_message_on_reception=False,
        visibility_timeout=settings.event_visibility_timeout,
        **RECEIVE,
    )
    return Asset(
        name=name,
        uri=settings.event_queue_url,
        watchers=[AssetWatcher(name="s3_object_created", trigger=trigger)],
    )


def run_messages(context) -> list[dict] | None:
    """The SQS messages behind an event run (None: the run was not started by notifications)."""
    from ocr_pipeline.discovery import run_kind

    if run_kind(context["dag_run"].run_type) != "asset_triggered":
        return None
    triggering = context.get("triggering_asset_events") or {}
    return messages_of(event for events in triggering.values() for event in events)


def run_objects(context, settings) -> tuple[list[SourceObject] | None, list[dict]]:
    """An event run's objects and the messages that named them; (None, []) for any other run. What was
    dropped is logged, one line each: a warning, never a failure."""
    messages = run_messages(context)
    if messages is None:
        return None, []
    notified = notified_objects(messages, settings.source_uri, (settings.output_uri, settings.quarantine_uri))
    for reason in notified.dropped:
        log.warning("S3 notification dropped: %s", reason)
    log.info("%d S3 notification messages name %d objects", notified.messages, len(notified.objects))
    return notified.objects, messages


def consume(messages: list[dict], settings) -> int:
    """Delete the run's messages from the queue: its objects are this run's, or nothing was new in them.

    A message received again since (its visibility ran out) has a new receipt handle, and the old one may no
    longer delete it: it then makes another run, which finds nothing new. Returns how many were deleted.
    """
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    handles = [m for m in messages if m.get("ReceiptHandle")]
    if not handles or not settings.event_queue_url:
        return 0
    client = SqsHook(aws_conn_id=settings.aws_conn_id).get_conn()
    deleted = 0
    for start in range(0, len(handles), 10):  # DeleteMessageBatch takes 10 at most
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(handles[start : start + 10])]
        answer = client.delete_message_batch(QueueUrl=settings.event_queue_url, Entries=entries)
        deleted += len(answer.get("Successful", []))
    return deleted

"""Rejected documents copied (not moved) under the quarantine prefix, for a person to look at.

Only a document that failed for its own fault is rejected: a retryable failure (access to its key, an
outage, lost outputs) is the infrastructure's, and its document is work for the next run, not a reject.
"""

from __future__ import annotations

from ocr_pipeline import layout
from ocr_pipeline.catalog.schema import DocumentRow
from ocr_task.contract import DocumentStatus

GONE = ("NoSuchKey", "404", "NotFound")


class QuarantineFailed(RuntimeError):
    """A reject could not be copied: the catalog task fails before writing any row, and is retried."""


def copy_rejected(rows: list[DocumentRow], hook, source_prefix: str, quarantine_prefix: str, log) -> None:
    """Copy (not move) each document rejected for its own fault under the quarantine prefix, keeping its
    path; note where. An object that is gone has nothing to copy (its row says so); any other failure to copy
    raises :class:`QuarantineFailed`, so that the task is retried rather than a reject left uncopied."""
    from botocore.exceptions import ClientError

    for row in rows:
        if row.status != DocumentStatus.failed or row.retryable:
            continue
        bucket, key = layout.split(row.source_uri)
        target = layout.quarantine_uri(row.source_uri, source_prefix, quarantine_prefix)
        target_bucket, target_key = layout.split(target)
        try:
            hook.copy_object(key, target_key, source_bucket_name=bucket, dest_bucket_name=target_bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in GONE:
                log.warning("Not quarantined, the object is gone: %s", row.source_uri)
                continue
            raise QuarantineFailed(f"could not copy {row.source_uri} to {target}: {error}") from error
        row.quarantine_uri = target

"""What one task hands the next through XCom: small typed values, validated where a task receives them.

    discover ──[Batch] (and its counts, Discovered, as XCom "found")──▶ ocr (one per Batch) ──Launched──▶ catalog

Counts and references only: the documents themselves are in the catalog (a
run's claims) and in S3 (manifests, reports), so no value grows with a
batch or a bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from ocr_pipeline import layout
from ocr_task.contract import Report


class Discovered(BaseModel):
    """What ``discover`` saw and claimed."""

    listed: int
    admitted: int
    new: int
    claimed: int


class Batch(BaseModel):
    """One batch; its documents are in its manifest.

    ``batch_id`` holds the id of the plan attempt that made it, so a result
    left by an earlier attempt of the same run is never taken for this one.
    """

    batch_id: str
    folder: str
    documents: int

    @property
    def manifest_uri(self) -> str:
        return layout.batch_manifest_uri(self.folder)

    @property
    def report_uri(self) -> str:
        return layout.report_uri(self.folder)

    @property
    def failure_uri(self) -> str:
        return layout.failure_uri(self.folder)


class Launched(BaseModel):
    """An OCR task's outcome: the batch ran (its report exists) in this try, with these figures."""

    batch_id: str
    try_number: int
    documents: int
    succeeded: int
    failed: int
    pages: int
    report_uri: str


def launched_of(values: Sequence[dict | None] | None) -> list[Launched | None]:
    """The mapped OCR tasks' values as ``catalog`` receives them (None where a task handed nothing on).

    Read by index up to their count: iterating Airflow's lazy sequence of a mapped task's values asks for one
    past the end, and the worker logs that miss as an error ("XCom not found") in every run."""
    fetched = [values[i] for i in range(len(values))] if values is not None else []
    return [Launched.model_validate(value) if value else None for value in fetched]


class CatalogSummary(BaseModel):
    """What ``catalog`` recorded for the run."""

    documents: int
    succeeded: int
    failed: int
    retryable: int = 0  # of the failed: not for their own fault, work for the next run
    low_text: int
    pages: int
    unfinished_batches: int
    manifest: str | None = None


def read_report(hook, report_uri: str) -> Report:
    """A batch's report (the OCR step's hand-off through S3), read and validated: the OCR task reads it for the
    batch's figures and lineage, the catalog task for the rows (two processes; XCom carries only the figures)."""
    return Report.model_validate_json(read_text(hook, report_uri))


def read_text(hook, uri: str) -> str:
    """An S3 object's text through the hook's client (one GET; safe from several threads). ``hook.read_key``
    asks twice (HEAD, then GET) through a boto3 resource, which threads must not share."""
    bucket, key = layout.split(uri)
    return hook.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def write_text(hook, uri: str, text: str) -> None:
    """Write a small text object (a manifest, a note) through the hook's client: one PUT, with the hook's
    ``extra_args`` (encryption, ACL). ``hook.load_string`` goes through boto3's managed transfer, whose set-up
    cost a task process 0.2 s on its first write (measured), for objects that never need a multipart upload."""
    bucket, key = layout.split(uri)
    hook.get_conn().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), **hook.extra_args)

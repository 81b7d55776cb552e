"""Every S3 key the pipeline writes, in one place.

Under the output prefix (``s3://docs/processed/``)::

    2024/scan.pdf@3f2a9c1b4d5e.txt|.md|.json|.pdf     the outputs, mirroring the source layout, per version
    _batches/<run>/<attempt>/<nnnn>/manifest.json     a batch's plan (the OCR step's input)
    _batches/<run>/<attempt>/<nnnn>/report.json       the OCR step's report of that batch
    _catalog/dt=2026-11-21/<run>.jsonl                the day's catalog manifest, one file per run

and under the quarantine prefix, a copy of each rejected document at its source path.
"""

from __future__ import annotations

import re

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from ocr_task import naming

ETAG_CHARS = 12  # of an ETag in output names: enough to tell the versions of one key apart


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``, as the amazon provider parses it."""
    return S3Hook.parse_s3_url(uri)


def run_key(run_id: str) -> str:
    """A run id as a safe S3 key segment (run ids hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


def relative_name(source_uri: str, source_prefix_uri: str) -> str:
    """An object's path below the source prefix: outputs and quarantine copies mirror the source layout."""
    _, key = split(source_uri)
    _, prefix = split(source_prefix_uri)
    return key[len(prefix) :] if key.startswith(prefix) else key


def versioned_output_name(source_uri: str, etag: str, source_prefix_uri: str) -> str:
    """The output name of one version of an object: ``2024/scan.pdf@3f2a9c1b4d5e``.

    Two versions of one key, processed by overlapping runs, never overwrite
    each other's outputs, and each catalog row points at its own text. Made
    safe by the OCR step's own rule (``ocr_task.naming``), so the step writes
    under the name planned here (a key with a space, ``..`` or a very long
    name included).
    """
    version = re.sub(r"[^A-Za-z0-9]", "", etag)[:ETAG_CHARS] or "noetag"
    return naming.output_name(f"{relative_name(source_uri, source_prefix_uri)}@{version}")


def batch_folder(output_uri: str, run_id: str, attempt: str, number: int) -> str:
    return f"{output_uri}_batches/{run_key(run_id)}/{attempt}/{number:04d}/"


def batch_manifest_uri(batch_folder_uri: str) -> str:
    return f"{batch_folder_uri}manifest.json"


def report_uri(batch_folder_uri: str) -> str:
    return f"{batch_folder_uri}report.json"


def failure_uri(batch_folder_uri: str) -> str:
    """Why the batch's last OCR attempt failed (no report): the catalog step names it."""
    return f"{batch_folder_uri}failure.txt"


def quarantine_uri(source_uri: str, source_prefix_uri: str, quarantine_prefix_uri: str) -> str:
    return quarantine_prefix_uri + relative_name(source_uri, source_prefix_uri)


def catalog_manifest_uri(output_uri: str, day, run_id: str) -> str:
    """Hive-style partition by day, one file per run: ``s3://…/_catalog/dt=2026-11-21/<run>.jsonl``."""
    return f"{output_uri}_catalog/dt={day.isoformat()}/{run_key(run_id)}.jsonl"

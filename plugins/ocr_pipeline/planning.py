"""From new objects to claimed batches, each with its manifest written beside the outputs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from pydantic import BaseModel

from ocr_pipeline.catalog import Catalog
from ocr_pipeline.discovery import SourceObject, split_uri
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Manifest, ManifestDocument

ETAG_CHARS = 12  # of an ETag in output names: enough to tell the versions of one key apart


def run_key(run_id: str) -> str:
    """A run id as a safe S3 key segment (run ids hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


def relative_name(key: str, source_prefix_uri: str) -> str:
    """A key below the source prefix: outputs and quarantine copies mirror the source layout."""
    _, prefix = split_uri(source_prefix_uri)
    return key[len(prefix) :] if key.startswith(prefix) else key


def versioned_name(key: str, etag: str, source_prefix_uri: str) -> str:
    """The output name of one version of an object: ``2024/scan.pdf@3f2a9c1b4d5e``.

    Two versions of one key, processed by overlapping runs, never overwrite
    each other's outputs, and each catalog row points at its own text.
    """
    version = re.sub(r"[^A-Za-z0-9]", "", etag)[:ETAG_CHARS] or "noetag"
    return f"{relative_name(key, source_prefix_uri)}@{version}"


class BatchDocument(BaseModel):
    source_uri: str
    etag: str
    size: int
    last_modified: str


class Batch(BaseModel):
    """One batch as it crosses task boundaries (XCom): validated where a task receives it.

    ``batch_id`` holds the id of the plan attempt that made it, so a result
    left by an earlier attempt of the same run is never taken for this one.
    """

    batch_id: str
    manifest_uri: str
    report_uri: str
    output_uri: str
    documents: list[BatchDocument]


def plan(
    objects: list[SourceObject],
    settings: PipelineSettings,
    catalog: Catalog,
    dag_id: str,
    run_id: str,
    reprocess: bool,
    is_active: Callable[[str, str], bool],
    write_text: Callable[[str, str], None],
) -> list[Batch]:
    """Claim up to the run's capacity of ``objects`` (in their order) and split them into batches.

    Objects another active run holds are left to it and the next ones taken
    instead; objects catalogued since discovery (by a run that overlapped this
    one) are given back. What does not fit waits for the next run.
    ``write_text(uri, text)`` stores a manifest.
    """
    by_version = {o.version: o for o in objects}
    held = catalog.claim([o.version for o in objects], dag_id, run_id, settings.capacity, is_active)
    if not reprocess:
        finished = catalog.finished(held)
        if finished:
            catalog.release(run_id, finished)
            held = [k for k in held if k not in finished]
    mine = [by_version[k] for k in held]
    attempt = uuid.uuid4().hex[:8]
    base = f"{settings.output_uri}_batches/{run_key(run_id)}/{attempt}/"
    batches = []
    for start in range(0, len(mine), settings.batch_size):
        members = mine[start : start + settings.batch_size]
        batch_id = f"{attempt}-{start // settings.batch_size:04d}"
        folder = f"{base}{start // settings.batch_size:04d}/"
        manifest = Manifest(
            output=settings.output_uri,
            report=f"{folder}report.json",
            engine=settings.engine,
            lang=settings.lang,
            documents=[
                ManifestDocument(
                    source=o.source_uri, etag=o.etag, name=versioned_name(o.key, o.etag, settings.source_uri)
                )
                for o in members
            ],
        )
        manifest_uri = f"{folder}manifest.json"
        write_text(manifest_uri, manifest.model_dump_json(indent=1))
        batches.append(
            Batch(
                batch_id=batch_id,
                manifest_uri=manifest_uri,
                report_uri=manifest.report,
                output_uri=settings.output_uri,
                documents=[BatchDocument(**{k: getattr(o, k) for k in BatchDocument.model_fields}) for o in members],
            )
        )
    return batches

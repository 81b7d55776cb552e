"""From new objects to claimed batches, each with its manifest written beside the outputs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocr_pipeline.catalog import Catalog
from ocr_pipeline.discovery import SourceObject, split_uri
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Manifest, ManifestDocument


def run_key(run_id: str) -> str:
    """A run id as a safe S3 key segment (run ids hold ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


def relative_name(key: str, source_prefix_uri: str) -> str:
    """A key below the source prefix: outputs and quarantine copies mirror the source layout."""
    _, prefix = split_uri(source_prefix_uri)
    return key[len(prefix) :] if key.startswith(prefix) else key


@dataclass(frozen=True)
class Batch:
    batch_id: str
    manifest_uri: str
    report_uri: str
    output_uri: str
    documents: list[dict]  # SourceObject.as_dict() of each document

    def as_dict(self) -> dict:
        return {
            "batch_id": self.batch_id,
            "manifest_uri": self.manifest_uri,
            "report_uri": self.report_uri,
            "output_uri": self.output_uri,
            "documents": self.documents,
        }


def plan(
    objects: list[SourceObject],
    settings: PipelineSettings,
    catalog: Catalog,
    run_id: str,
    reprocess: bool,
    write_text,
) -> list[Batch]:
    """Claim up to ``batch_size * max_batches`` objects for this run and split them into batches.

    Objects another run holds are left to it; objects catalogued since
    discovery (by a run that overlapped this one) are given back. Whatever
    does not fit waits for the next run. ``write_text(uri, text)`` stores a manifest.
    """
    candidates = objects[: settings.batch_size * settings.max_batches]
    held = catalog.claim([(o.source_uri, o.etag) for o in candidates], run_id, settings.claim_hours)
    mine = [o for o in candidates if (o.source_uri, o.etag) in held]
    if not reprocess:
        finished = catalog.known((o.source_uri, o.etag) for o in mine)
        if finished:
            catalog.release(run_id, finished)
            mine = [o for o in mine if (o.source_uri, o.etag) not in finished]
    base = f"{settings.output_uri}_batches/{run_key(run_id)}/"
    batches = []
    for start in range(0, len(mine), settings.batch_size):
        members = mine[start : start + settings.batch_size]
        batch_id = f"{start // settings.batch_size:04d}"
        manifest = Manifest(
            output=settings.output_uri,
            report=f"{base}{batch_id}/report.json",
            engine=settings.engine,
            lang=settings.lang,
            documents=[
                ManifestDocument(
                    source=o.source_uri, etag=o.etag, name=relative_name(o.key, settings.source_uri)
                )
                for o in members
            ],
        )
        manifest_uri = f"{base}{batch_id}/manifest.json"
        write_text(manifest_uri, manifest.model_dump_json(indent=1))
        batches.append(
            Batch(
                batch_id, manifest_uri, manifest.report, settings.output_uri, [o.as_dict() for o in members]
            )
        )
    return batches

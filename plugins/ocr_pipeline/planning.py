"""From a run's discovered work to claimed objects, and from its claims to batches with their manifests.

The work of a run lives in the catalog (its claims) and in S3 (one manifest
per batch); what crosses task boundaries through XCom is counts and batch
references, never per-object lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ocr_pipeline import layout
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.discovery import SourceObject
from ocr_pipeline.handoffs import Batch
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Manifest, ManifestDocument

MANIFEST_WRITERS = 8


class MappingLimitExceeded(ValueError):
    """A run's capacity maps more OCR tasks than Airflow allows in one mapped task."""


def check_mapped_width(max_batches: int, max_map_length: int) -> None:
    """Refuse, before anything is claimed, a run that would map more batches than Airflow can."""
    if max_batches > max_map_length:
        raise MappingLimitExceeded(
            f"max_batches={max_batches} is more than Airflow maps in one task ([core] "
            f"max_map_length={max_map_length}): lower OCR_MAX_BATCHES or raise max_map_length. Nothing was claimed."
        )


def claim(objects: list[SourceObject], catalog: Catalog, dag_id: str, run_id: str, reprocess: bool) -> int:
    """Claim the discovered objects for this run; returns how many it holds.

    An object another run claimed in the meantime is left to it; one
    catalogued since discovery (by a run that overlapped this one) is given back.
    """
    held = catalog.claim(objects, dag_id, run_id)
    if not reprocess:
        finished = catalog.finished(held)
        if finished:
            catalog.release(run_id, finished)
            held = [k for k in held if k not in finished]
    return len(held)


def plan(
    settings: PipelineSettings, catalog: Catalog, run_id: str, write_text: Callable[[str, str], None]
) -> list[Batch]:
    """Split the run's claims, oldest first, into batches; write each one's manifest (``write_text(uri, text)``,
    several at a time: a run's fifty manifests one after the other would cost more than its listing)."""
    claimed = catalog.claimed(run_id)
    attempt = uuid.uuid4().hex[:8]
    batches, manifests = [], {}
    for number, start in enumerate(range(0, len(claimed), settings.batch_size)):
        members = claimed[start : start + settings.batch_size]
        folder = layout.batch_folder(settings.output_uri, run_id, attempt, number)
        manifest = Manifest(
            output=settings.output_uri,
            report=layout.report_uri(folder),
            engine=settings.engine,
            lang=settings.lang,
            documents=[
                ManifestDocument(
                    source=c["source_uri"], etag=c["etag"],
                    name=layout.versioned_output_name(c["source_uri"], c["etag"], settings.source_uri),
                )
                for c in members
            ],
        )  # fmt: skip
        manifests[layout.batch_manifest_uri(folder)] = manifest.model_dump_json(indent=1)
        batches.append(Batch(batch_id=f"{attempt}-{number:04d}", folder=folder, documents=len(members)))
    with ThreadPoolExecutor(MANIFEST_WRITERS) as pool:
        list(pool.map(write_text, manifests, manifests.values()))
    return batches

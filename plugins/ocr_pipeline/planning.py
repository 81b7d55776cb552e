"""From a run's discovered work to claimed objects, and from its claims to batches with their manifests.

The work of a run lives in the catalog (its claims) and in S3 (one manifest
per batch); what crosses task boundaries through XCom is counts and batch
references, never per-object lists.
"""

from __future__ import annotations

import logging
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
MEGABYTE = 1024 * 1024
log = logging.getLogger(__name__)


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
    several at a time: a run's fifty manifests one after the other would cost more than its listing).

    A batch closes at ``batch_size`` documents or ``batch_megabytes`` of them (``split``). A run maps at most
    ``max_batches``: claims past them are given back, for the next run.
    """
    groups = split(catalog.claimed(run_id), settings.batch_size, settings.batch_megabytes * MEGABYTE)
    if len(groups) > settings.max_batches:
        left = [(c["source_uri"], c["etag"]) for group in groups[settings.max_batches :] for c in group]
        catalog.release(run_id, left)
        log.info("%d documents past the run's %d batches are left for the next run", len(left), len(groups))
        groups = groups[: settings.max_batches]
    attempt = uuid.uuid4().hex[:8]
    batches, manifests = [], {}
    for number, members in enumerate(groups):
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


def split(claimed: list[dict], most_documents: int, most_bytes: int) -> list[list[dict]]:
    """Consecutive groups of at most ``most_documents`` claims and ``most_bytes`` of objects (as listed;
    one larger object is a group of its own).

    Bytes stand in for pages, which nobody knows before the OCR step opens a document: a batch of large scans
    closes early enough to finish within the OCR task's timeout, while one-page scans fill whole batches (each
    batch pays the step's start-up once).
    """
    groups: list[list[dict]] = []
    size = 0
    for claim in claimed:
        object_size = claim.get("size") or 0
        if not groups or len(groups[-1]) >= most_documents or size + object_size > most_bytes:
            groups.append([])
            size = 0
        groups[-1].append(claim)
        size += object_size
    return groups

"""The bodies of the DAG's tasks, one function per task and named after it: plain functions of settings,
context values and hooks, so the DAG file stays wiring."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import partial

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ocr_pipeline import discovery, layout, planning, quarantine, rows
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.catalog.assets import report_catalog_written
from ocr_pipeline.catalog.schema import DocumentRow
from ocr_pipeline.discovery import Selection
from ocr_pipeline.handoffs import (
    Batch,
    CatalogSummary,
    Discovered,
    Launched,
    read_report,
    read_text,
    write_text,
)
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import DocumentStatus, Manifest

log = logging.getLogger(__name__)
ACTIVE_RUN_STATES = {"queued", "running"}
S3_CALLS_AT_ONCE = 8  # botocore keeps 10 connections a client
LIST_PAGE_KEYS = 1000  # the most keys one LIST gives back
# Listing a batch's outputs together is cheaper than one LIST per document while it takes fewer keys than this
# a document (4 outputs each, and a few earlier versions): at most a page per 100 documents.
LISTED_TOGETHER_PER_PREFIX = 10


def _hook(settings: PipelineSettings) -> S3Hook:
    return S3Hook(aws_conn_id=settings.aws_conn_id)


def run_is_active(ti) -> Callable[[str, str], bool]:
    """Whether a DAG run is still queued or running, as Airflow says.

    Only Airflow's own "no such run" (404: it was deleted) counts as ended. Any other failure to ask (the
    API server restarting, a timeout) is *unknown*, and unknown is active: taking a live run's claims would
    let two runs process the same objects, while keeping a dead run's claims a little longer costs only a delay.
    """

    def is_active(dag_id: str, run_id: str) -> bool:
        try:
            state = ti.get_dagrun_state(dag_id, run_id)
        except Exception as error:  # noqa: BLE001 - classified below
            if _not_found(error):
                return False
            log.warning("Cannot tell whether run %s is active (%s): its claims are kept", run_id, error)
            return True
        # the Task SDK answers with a (str, Enum): its value, never its str() ("DagRunState.RUNNING")
        return getattr(state, "value", state) in ACTIVE_RUN_STATES

    return is_active


def _not_found(error: Exception) -> bool:
    """Whether the Task SDK's error says the API server answered 404: as the supervisor hands it to a task
    (``AirflowRuntimeError`` with the status in its detail), or in one process (``dag.test()``: the client's
    ``ServerResponseError`` itself)."""
    detail = getattr(getattr(error, "error", None), "detail", None)
    if isinstance(detail, dict) and detail.get("status_code") == 404:
        return True
    return getattr(getattr(error, "response", None), "status_code", None) == 404


def open_catalog(
    settings: PipelineSettings, run_id: str, is_active: Callable[[str, str], bool], max_map_length: int
) -> Catalog:
    """The catalog, ready for this run to decide afresh: a run too wide to map is refused before anything;
    the schema is migrated, an earlier attempt's claims given back, the claims of ended runs dropped (their
    objects are work again)."""
    try:
        planning.check_mapped_width(settings.max_batches, max_map_length)
    except planning.MappingLimitExceeded as error:
        raise AirflowFailException(str(error)) from error
    catalog = Catalog(settings.catalog_url)
    catalog.migrate()
    catalog.release(run_id)
    if dropped := catalog.drop_claims_of_ended_runs(run_id, is_active):
        log.info("Dropped %d claims of runs that have ended: their objects are work again", dropped)
    return catalog


def discover(
    settings: PipelineSettings,
    selection: Selection,
    dag_id: str,
    run_id: str,
    catalog: Catalog,
    notified: list[discovery.SourceObject] | None = None,
    hook: S3Hook | None = None,
) -> Discovered:
    """Find this run's work (see ``discovery`` for the rules; ``notified``: an event run's objects) and claim
    it in ``catalog`` (``open_catalog``); returns counts. ``hook``: the caller's, if it has one (each new
    hook makes a new boto3 client, a few tenths of a second)."""
    pages = discovery.source_pages(settings, hook or _hook(settings), selection.document, notified)
    found, walk = discovery.new_work(
        pages, selection, discovery.catalog_check(catalog, run_id, selection), settings.capacity,
        settings.discovery_order, discovery.last_processed(catalog, selection),
    )  # fmt: skip
    claimed = planning.claim(found, catalog, dag_id, run_id, selection.reprocess)
    counts = Discovered(listed=walk.listed, admitted=walk.admitted, new=walk.new, claimed=claimed)
    log.info(
        "Under %s (%s): %s; capacity %d", settings.source_uri, selection.describe(), counts, settings.capacity
    )
    if selection.reprocess:
        before = selection.reprocess_before.isoformat() if selection.reprocess_before else "now"
        log.info(
            "Reprocessing: this run takes %d; %d more were last processed before %s and are left for the next "
            "reprocess run (least recently processed first; conf reprocess_before=%s keeps this cutoff)",
            claimed, max(walk.new - claimed, 0), before, before,
        )  # fmt: skip
    return counts


def plan(settings: PipelineSettings, run_id: str, hook: S3Hook | None = None) -> list[Batch]:
    """Split the run's claims into batches and write their manifests; returns the batches' references."""
    hook = hook or _hook(settings)
    batches = planning.plan(settings, Catalog(settings.catalog_url), run_id, partial(write_text, hook))
    log.info("%d documents in %d batches", sum(b.documents for b in batches), len(batches))
    return batches


def catalog(
    settings: PipelineSettings,
    batches: list[Batch],
    launched: list[Launched | None],
    dag_id: str,
    run_id: str,
    day: date,
) -> CatalogSummary:
    """Catalogue what this run's batches produced: each batch's report into rows (outputs checked, the text
    for search read), upsert them, quarantine rejects, write the day's manifest, give back the claims.

    ``launched``: what the OCR tasks handed on. Only a batch this attempt
    planned whose OCR task says it ran counts: a re-run (a backfill clearing a
    finished run) must never write what an earlier attempt produced. A batch
    with no such word (its OCR task failed after its retries) fails the task
    after the others are catalogued; its documents go back to the next run.
    """
    if not batches:
        raise AirflowSkipException("No batches in this run: nothing to catalogue")
    ran = {r.batch_id: r for r in launched if r is not None}
    complete = [(b, ran[b.batch_id]) for b in batches if b.batch_id in ran]
    unfinished = [b for b in batches if b.batch_id not in ran]
    store = Catalog(settings.catalog_url)
    hook = _hook(settings)
    causes = sorted({read_text(hook, b.failure_uri) for b in unfinished if hook.check_for_key(b.failure_uri)})
    listing = {(c["source_uri"], c["etag"]): c for c in store.claimed(run_id)}  # size and time as listed
    catalogued = [row for batch, outcome in complete for row in _batch_rows(settings, hook, batch, outcome, listing)]
    now = datetime.now(UTC)
    for row in catalogued:
        row.dag_id, row.run_id, row.processed_at = dag_id, run_id, now
    texts = _texts(hook, catalogued)
    quarantine.copy_rejected(catalogued, hook, settings.source_uri, settings.quarantine_uri, log)
    store.upsert(catalogued, texts)
    if catalogued:
        report_catalog_written(settings.catalog_url, store)
    summary = CatalogSummary(
        documents=len(catalogued),
        succeeded=sum(r.status == DocumentStatus.succeeded for r in catalogued),
        failed=sum(r.status == DocumentStatus.failed for r in catalogued),
        retryable=sum(r.retryable for r in catalogued),
        low_text=sum(bool(r.low_text) for r in catalogued),
        pages=sum(r.pages or 0 for r in catalogued),
        unfinished_batches=len(unfinished),
    )
    if catalogued:
        uri = layout.catalog_manifest_uri(settings.output_uri, day, run_id)
        write_text(hook, uri, rows.json_lines(catalogued))
        summary.manifest = uri
    store.release(run_id)
    log.info("Catalogued: %s", summary)
    problems = []
    if unfinished:
        left = sum(b.documents for b in unfinished)
        problems.append(
            f"OCR batches {', '.join(b.batch_id for b in unfinished)} did not finish (their OCR failed after its "
            f"retries): {left} documents were not catalogued and their claims were given back, "
            "so the next run takes them again" + (f". Cause: {'; '.join(causes)}" if causes else "")
        )
    if retryable := [r for r in catalogued if r.retryable]:
        problems.append(
            f"{len(retryable)} documents could not be processed for reasons that are not their own (first: "
            f"{retryable[0].source_uri}: {retryable[0].error}); they are catalogued as retryable, "
            "not quarantined, and the next run tries them again"
        )
    if problems:
        raise AirflowFailException("; ".join(problems))
    return summary


def _batch_rows(
    settings: PipelineSettings, hook: S3Hook, batch: Batch, launched: Launched, listing: dict[tuple, dict]
) -> list[DocumentRow]:
    """One batch's catalog rows from its report; ``listing``: the run's claims, what the listing said of each."""
    manifest = Manifest.model_validate_json(read_text(hook, batch.manifest_uri))
    report = read_report(hook, batch.report_uri)
    written = [entry.outputs.uris() for entry in report.documents if entry.status == DocumentStatus.succeeded]
    found = existing_objects(hook, [os.path.commonprefix(uris) for uris in written if uris])
    return rows.batch_rows(
        batch.batch_id, manifest.documents, report, listing, found.__contains__, settings.low_text_chars_per_page,
        launched.try_number,
    )  # fmt: skip


def existing_objects(hook: S3Hook, prefixes: list[str]) -> set[str]:
    """The URIs of the objects under each prefix (a document's outputs share its name), and maybe others
    beside them: ask it about the URIs you expect.

    One listing of what all the prefixes share, when that takes at most one page or
    ``LISTED_TOGETHER_PER_PREFIX`` keys a prefix (a batch from one day's folder: one page for 100 documents);
    otherwise, as in a folder of a million earlier outputs, one LIST per prefix: never a listing of a whole
    crowded folder.
    """
    together = _listed_together(hook, prefixes)
    if together is not None:
        return together

    def listed(prefix_uri: str) -> list[str]:
        bucket, prefix = layout.split(prefix_uri)
        return [f"s3://{bucket}/{key}" for key in hook.list_keys(bucket, prefix=prefix)]

    return {uri for uris in _at_once(hook, listed, prefixes) for uri in uris}


def _listed_together(hook: S3Hook, prefixes: list[str]) -> set[str] | None:
    """Everything under the prefixes' common prefix, or None when that is more than the budget's keys (or the
    prefixes are one, or in several buckets)."""
    buckets = {layout.split(uri)[0] for uri in prefixes}
    if len(prefixes) < 2 or len(buckets) != 1:
        return None
    bucket, common = layout.split(os.path.commonprefix(prefixes))
    budget = max(LIST_PAGE_KEYS, LISTED_TOGETHER_PER_PREFIX * len(prefixes))
    keys = hook.list_keys(bucket, prefix=common, page_size=LIST_PAGE_KEYS, max_items=budget)
    return None if len(keys) >= budget else {f"s3://{bucket}/{key}" for key in keys}


def _texts(hook: S3Hook, catalogued: list[DocumentRow]) -> dict[tuple[str, str], str]:
    """The recognised text of each succeeded document, for the catalog's search, read from its output."""
    succeeded = [row for row in catalogued if row.status == DocumentStatus.succeeded]
    texts = _at_once(hook, lambda uri: read_text(hook, uri), [row.text_uri for row in succeeded])
    return {(row.source_uri, row.etag): text for row, text in zip(succeeded, texts, strict=True)}


def _at_once(hook: S3Hook, call: Callable[[str], object], uris: list[str]) -> list:
    """``call`` on each URI, ``S3_CALLS_AT_ONCE`` requests in flight: a batch's hundreds of LISTs and GETs one
    after the other were most of the catalog task's time."""
    hook.get_conn()  # one client, made before the threads share it (boto3 clients are thread-safe)
    with ThreadPoolExecutor(S3_CALLS_AT_ONCE) as pool:
        return list(pool.map(call, uris))


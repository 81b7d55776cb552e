"""The bodies of the DAG's tasks, one function per task and named after it: plain functions of settings,
context values and hooks, so the DAG file stays wiring."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ocr_pipeline import discovery, planning, publish
from ocr_pipeline import postprocess as rows_of
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.discovery import Selection, SourceObject, split_uri
from ocr_pipeline.planning import Batch
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Report

log = logging.getLogger(__name__)
ACTIVE_RUN_STATES = {"queued", "running"}


def _hook(settings: PipelineSettings) -> S3Hook:
    return S3Hook(aws_conn_id=settings.aws_conn_id)


def run_is_active(ti) -> Callable[[str, str], bool]:
    """Whether a DAG run is still queued or running, as Airflow says (a run it does not know is not)."""

    def is_active(dag_id: str, run_id: str) -> bool:
        try:
            state = ti.get_dagrun_state(dag_id, run_id)
        except Exception:  # noqa: BLE001 - a deleted run holds nothing
            return False
        # the Task SDK answers with a (str, Enum): its value, never its str() ("DagRunState.RUNNING")
        return getattr(state, "value", state) in ACTIVE_RUN_STATES

    return is_active


def discover(settings: PipelineSettings, selection: Selection) -> list[dict]:
    """The objects this run should process, oldest first (see ``discovery`` for the rules)."""
    catalog = Catalog(settings.catalog_url)
    catalog.migrate()
    listed = list(
        discovery.list_objects(
            _hook(settings), settings.source_uri, exclude=(settings.output_uri, settings.quarantine_uri)
        )
    )
    found = discovery.new_work(listed, catalog, selection)
    log.info("%d objects under %s, %d new, %s", len(listed), settings.source_uri, len(found), selection.describe())
    return [o.as_dict() for o in found]


def plan(
    settings: PipelineSettings,
    objects: list[dict],
    dag_id: str,
    run_id: str,
    reprocess: bool,
    is_active: Callable[[str, str], bool],
    max_map_length: int,
) -> list[dict]:
    if settings.max_batches > max_map_length:
        raise AirflowFailException(
            f"max_batches={settings.max_batches} is more than Airflow maps in one task ([core] "
            f"max_map_length={max_map_length}): lower OCR_MAX_BATCHES or raise max_map_length. Nothing was claimed."
        )
    hook = _hook(settings)

    def write_text(uri: str, text: str) -> None:
        bucket, key = split_uri(uri)
        hook.load_string(text, key, bucket_name=bucket, replace=True)

    batches = planning.plan(
        [SourceObject(**o) for o in objects], settings, Catalog(settings.catalog_url), dag_id, run_id, reprocess,
        is_active, write_text,
    )  # fmt: skip
    log.info(
        "%d documents in %d batches (%d candidates; capacity %d)",
        sum(len(b.documents) for b in batches), len(batches), len(objects), settings.capacity,
    )  # fmt: skip
    return [b.model_dump() for b in batches]


def postprocess(settings: PipelineSettings, batch: Batch, launched: dict | None) -> dict:
    """One batch's report into catalog rows.

    The OCR task hands the report on. When that task failed after its
    retries there is none (or only one left by an earlier attempt of the run,
    for another plan: ignored), and the batch's documents stay uncatalogued.
    """
    if not launched or launched.get("batch_id") != batch.batch_id or "report" not in launched:
        log.error("Batch %s has no report from this attempt: its OCR task failed", batch.batch_id)
        return {"batch_id": batch.batch_id, "complete": False, "rows": []}
    report = Report.model_validate(launched["report"])
    hook = _hook(settings)

    def exists(uri: str) -> bool:
        bucket, key = split_uri(uri)
        return hook.check_for_key(key, bucket)

    rows = rows_of.batch_rows(batch, report, exists, settings.low_text_chars_per_page, launched["try_number"])
    return {"batch_id": batch.batch_id, "complete": True, "rows": rows}


def catalog(
    settings: PipelineSettings, batches: list[Batch], results: list[dict | None], dag_id: str, run_id: str, day: date
) -> dict:
    """Catalogue what this run's batches produced: upsert rows, quarantine rejects, write the day's
    manifest, give back the claims.

    Only results of the batches this attempt planned count: a re-run (a
    backfill clearing a finished run) must never write what an earlier
    attempt produced. A batch with no result, or an incomplete one, fails the
    task after the others are catalogued; its documents go back to the next run.
    """
    if not batches:
        raise AirflowSkipException("No batches in this run: nothing to catalogue")
    planned = {b.batch_id: b for b in batches}
    fresh = {r["batch_id"]: r for r in results if r and r.get("batch_id") in planned}
    complete = [fresh[b] for b in planned if b in fresh and fresh[b]["complete"]]
    unfinished = [planned[b] for b in planned if b not in fresh or not fresh[b]["complete"]]
    store = Catalog(settings.catalog_url)
    hook = _hook(settings)
    now = datetime.now(UTC)
    rows = [
        {**row, "dag_id": dag_id, "run_id": run_id, "processed_at": now,
         "last_modified": datetime.fromisoformat(row["last_modified"])}
        for result in complete for row in result["rows"]
    ]  # fmt: skip
    publish.quarantine(rows, hook, settings.source_uri, settings.quarantine_uri, log)
    store.upsert(rows)
    summary = {
        "documents": len(rows),
        "succeeded": sum(r["status"] == "succeeded" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "low_text": sum(bool(r.get("low_text")) for r in rows),
        "pages": sum(r.get("pages") or 0 for r in rows),
        "unfinished_batches": len(unfinished),
        "manifest": None,
    }
    if rows:
        uri = publish.manifest_uri(settings.output_uri, day, run_id)
        bucket, key = split_uri(uri)
        hook.load_string(publish.manifest_lines(rows), key, bucket_name=bucket, replace=True)
        summary["manifest"] = uri
    store.release(run_id)
    log.info("Catalogued: %s", summary)
    if unfinished:
        left = sum(len(b.documents) for b in unfinished)
        raise AirflowFailException(
            f"OCR batches {', '.join(b.batch_id for b in unfinished)} did not finish (their OCR or post-processing "
            f"failed after its retries): {left} documents were not catalogued and their claims were given back, "
            "so the next run takes them again"
        )
    return summary


def failed_tasks(task_states: dict) -> list[str]:
    """Task instances (``task_id`` or ``task_id[map_index]``) that failed, from ``ti.get_task_states``."""
    return sorted(name for run in task_states.values() for name, state in run.items() if state in ("failed", "upstream_failed"))

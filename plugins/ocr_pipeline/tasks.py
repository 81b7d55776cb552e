"""The bodies of the DAG's tasks: plain functions of settings, context values and hooks, so the DAG file stays wiring."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowSkipException

from ocr_pipeline import discovery, planning, postprocess, publish
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.discovery import SourceObject, split_uri
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Report

log = logging.getLogger(__name__)


def _hook(settings: PipelineSettings) -> S3Hook:
    return S3Hook(aws_conn_id=settings.aws_conn_id)


def discover(
    settings: PipelineSettings, params: dict, run_type: str, interval_start, interval_end
) -> list[dict]:
    span = discovery.window(
        run_type, interval_start, interval_end, params.get("date_from"), params.get("date_to")
    )
    catalog = Catalog(settings.catalog_url)
    catalog.migrate()
    listed = list(
        discovery.list_objects(
            _hook(settings), settings.source_uri, exclude=(settings.output_uri, settings.quarantine_uri)
        )
    )
    found = discovery.new_work(listed, catalog, span, bool(params.get("reprocess")))
    log.info(
        "%d objects under %s, %d new%s", len(listed), settings.source_uri, len(found),
        f" in [{span[0]}, {span[1]})" if span else "",
    )  # fmt: skip
    return [o.as_dict() for o in found]


def plan(settings: PipelineSettings, params: dict, objects: list[dict], run_id: str) -> list[dict]:
    hook = _hook(settings)

    def write_text(uri: str, text: str) -> None:
        bucket, key = split_uri(uri)
        hook.load_string(text, key, bucket_name=bucket, replace=True)

    batches = planning.plan(
        [SourceObject(**o) for o in objects],
        settings,
        Catalog(settings.catalog_url),
        run_id,
        bool(params.get("reprocess")),
        write_text,
    )
    log.info("%d documents in %d batches", sum(len(b.documents) for b in batches), len(batches))
    return [b.as_dict() for b in batches]


def collect(settings: PipelineSettings, batch: dict, launched: dict | None) -> dict:
    """Post-process one batch: its report into catalog rows.

    The OCR task hands the report on; when that task failed after its
    retries there is none, and the batch's documents are left uncatalogued.
    """
    if not launched or "report" not in launched:
        log.error("Batch %s has no report: its OCR task failed", batch["batch_id"])
        return {"batch_id": batch["batch_id"], "complete": False, "documents": batch["documents"], "rows": []}
    report = Report.model_validate(launched["report"])
    hook = _hook(settings)

    def exists(uri: str) -> bool:
        bucket, key = split_uri(uri)
        return hook.check_for_key(key, bucket)

    rows = postprocess.batch_rows(
        batch, report, exists, settings.low_text_chars_per_page, launched["try_number"]
    )
    return {"batch_id": batch["batch_id"], "complete": True, "documents": batch["documents"], "rows": rows}


def record(settings: PipelineSettings, results: list[dict], dag_id: str, run_id: str, day: date) -> dict:
    """Catalog the run: upsert rows, quarantine rejects, write the day's manifest, give back claims."""
    if not results:
        raise AirflowSkipException("No batches in this run: nothing to catalogue")
    catalog = Catalog(settings.catalog_url)
    hook = _hook(settings)
    now = datetime.now(UTC)
    rows = [
        {**row, "dag_id": dag_id, "run_id": run_id, "processed_at": now,
         "last_modified": datetime.fromisoformat(row["last_modified"])}
        for result in results for row in result["rows"]
    ]  # fmt: skip
    publish.quarantine(rows, hook, settings.source_uri, settings.quarantine_uri, log)
    catalog.upsert(rows)
    summary = {
        "documents": len(rows),
        "succeeded": sum(r["status"] == "succeeded" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "low_text": sum(bool(r.get("low_text")) for r in rows),
        "pages": sum(r.get("pages") or 0 for r in rows),
        "manifest": None,
    }
    if rows:
        uri = publish.manifest_uri(settings.output_uri, day, run_id)
        bucket, key = split_uri(uri)
        hook.load_string(publish.manifest_lines(rows), key, bucket_name=bucket, replace=True)
        summary["manifest"] = uri
    catalog.release(run_id)
    unfinished = [r["batch_id"] for r in results if not r["complete"]]
    log.info("Catalogued: %s", summary)
    if unfinished:
        raise RuntimeError(
            f"OCR batches {', '.join(unfinished)} failed after their retries; their documents were not "
            "catalogued and their claims were released, so the next run takes them again"
        )
    return summary

"""What the catalog step leaves for others: quarantine copies of rejected documents, and a JSON Lines manifest."""

from __future__ import annotations

import json
from datetime import date

from ocr_pipeline.discovery import split_uri
from ocr_pipeline.planning import relative_name, run_key

MANIFEST_COLUMNS = (
    "source_uri", "etag", "size", "last_modified", "status", "error", "pages", "characters",
    "mean_confidence", "low_confidence", "low_text", "engine", "text_uri", "markdown_uri", "json_uri", "quarantine_uri",
    "dag_id", "run_id", "try_number", "batch_id", "processed_at",
)  # fmt: skip


def quarantine(rows: list[dict], hook, source_prefix: str, quarantine_prefix: str, log) -> None:
    """Copy (not move) each failed document under the quarantine prefix, keeping its path; note where."""
    for row in rows:
        if row["status"] != "failed":
            continue
        bucket, key = split_uri(row["source_uri"])
        target = quarantine_prefix + relative_name(key, source_prefix)
        target_bucket, target_key = split_uri(target)
        try:
            hook.copy_object(key, target_key, source_bucket_name=bucket, dest_bucket_name=target_bucket)
            row["quarantine_uri"] = target
        except Exception as error:  # noqa: BLE001 - a missing source must not stop the catalog
            log.warning("Could not quarantine %s: %s", row["source_uri"], error)


def manifest_uri(output_prefix: str, day: date, run_id: str) -> str:
    """Hive-style partition by day, one file per run: s3://…/_catalog/dt=2026-11-21/<run>.jsonl"""
    return f"{output_prefix}_catalog/dt={day.isoformat()}/{run_key(run_id)}.jsonl"


def manifest_lines(rows: list[dict]) -> str:
    def value(v):
        return v.isoformat() if hasattr(v, "isoformat") else v

    return "".join(
        json.dumps({c: value(row.get(c)) for c in MANIFEST_COLUMNS}, ensure_ascii=False) + "\n"
        for row in rows
    )

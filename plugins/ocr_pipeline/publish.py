"""What the catalog step leaves for others: quarantine copies of rejected documents, and catalog rows as
JSON Lines (a batch's rows for the catalog step, the day's catalog manifest for everyone)."""

from __future__ import annotations

import json
from datetime import datetime

from ocr_pipeline import layout
from ocr_pipeline.catalog.schema import documents

ROW_COLUMNS = tuple(c.name for c in documents.columns if c.name != "id")
MANIFEST_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "retryable")
_TIMES = tuple(c.name for c in documents.columns if c.type.python_type is datetime)


def quarantine(rows: list[dict], hook, source_prefix: str, quarantine_prefix: str, log) -> None:
    """Copy (not move) each failed document under the quarantine prefix, keeping its path; note where."""
    for row in rows:
        if row["status"] != "failed":
            continue
        bucket, key = layout.split(row["source_uri"])
        target = layout.quarantine_uri(row["source_uri"], source_prefix, quarantine_prefix)
        target_bucket, target_key = layout.split(target)
        try:
            hook.copy_object(key, target_key, source_bucket_name=bucket, dest_bucket_name=target_bucket)
            row["quarantine_uri"] = target
        except Exception as error:  # noqa: BLE001 - a missing source must not stop the catalog
            log.warning("Could not quarantine %s: %s", row["source_uri"], error)


def json_lines(rows: list[dict], columns: tuple[str, ...] = MANIFEST_COLUMNS) -> str:
    def value(v):
        return v.isoformat() if hasattr(v, "isoformat") else v

    return "".join(
        json.dumps({c: value(row.get(c)) for c in columns}, ensure_ascii=False) + "\n" for row in rows
    )


def rows_from_json_lines(text: str) -> list[dict]:
    """Rows written by ``json_lines(rows, ROW_COLUMNS)``, with their times as datetimes again."""
    rows = [json.loads(line) for line in text.splitlines() if line]
    for row in rows:
        for column in _TIMES:
            if row.get(column):
                row[column] = datetime.fromisoformat(row[column])
    return rows

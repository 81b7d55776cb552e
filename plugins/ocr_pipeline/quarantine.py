"""Rejected documents copied (not moved) under the quarantine prefix, for a person to look at."""

from __future__ import annotations

from ocr_pipeline import layout


def copy_rejected(rows: list[dict], hook, source_prefix: str, quarantine_prefix: str, log) -> None:
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

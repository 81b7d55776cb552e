"""The object list from an S3 Inventory report instead of ``ListObjectsV2``.

For buckets of tens of millions of objects, S3 writes the list daily (or
weekly) as CSV, ORC or Parquet files named by a ``manifest.json``. Reading it
costs a handful of GETs instead of one LIST per 1,000 keys, but it lags: an
object written after the report's snapshot is not in it until the next
report (up to a day, or a week). Use it for historical buckets, and the
listing for the daily drop (see the README).

``inventory_uri`` is either a report's ``manifest.json`` or the folder S3
writes the reports to (``…/<source-bucket>/<config-id>/``), where the newest
``YYYY-MM-DDTHH-MMZ/manifest.json`` is taken. The entries come out as
listing entries (``Key``, ``ETag``, ``Size``, ``LastModified``), a file at a
time and a row group at a time, so memory stays flat.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from ocr_pipeline import layout

REPORT_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z/$")
CSV_COLUMNS = {"Key": "Key", "Size": "Size", "LastModifiedDate": "LastModified", "ETag": "ETag"}
PARQUET_COLUMNS = {"key": "Key", "size": "Size", "last_modified_date": "LastModified", "e_tag": "ETag"}


class InventoryError(ValueError):
    """An inventory report that cannot be read (no manifest, a format this reader does not take)."""


def latest_manifest_uri(hook, inventory_uri: str) -> str:
    """The report's manifest: the URI itself, or the newest report's under a reports folder."""
    if inventory_uri.endswith("manifest.json"):
        return inventory_uri
    bucket, prefix = layout.split(inventory_uri if inventory_uri.endswith("/") else f"{inventory_uri}/")
    folders = [f for f in hook.list_prefixes(bucket, prefix, delimiter="/") if REPORT_FOLDER.search(f)]
    if not folders:
        raise InventoryError(f"no inventory report (YYYY-MM-DDTHH-MMZ/manifest.json) under {inventory_uri}")
    return f"s3://{bucket}/{max(folders)}manifest.json"


def entries(hook, inventory_uri: str, source_prefix_uri: str) -> Iterator[dict]:
    """The current objects under ``source_prefix_uri`` that the newest report lists, as listing entries."""
    manifest = json.loads(hook.read_key(*reversed(layout.split(latest_manifest_uri(hook, inventory_uri)))))
    source_bucket, prefix = layout.split(source_prefix_uri)
    if manifest.get("sourceBucket") != source_bucket:
        raise InventoryError(
            f"the inventory report is of bucket {manifest.get('sourceBucket')!r}, not of {source_bucket!r}"
        )
    data_bucket = manifest["destinationBucket"].rsplit(":", 1)[-1]  # arn:aws:s3:::bucket
    read = {"CSV": _csv_rows, "Parquet": _parquet_rows}.get(manifest.get("fileFormat"))
    if read is None:
        raise InventoryError(
            f"inventory format {manifest.get('fileFormat')!r} is not supported (CSV or Parquet)"
        )
    for file in manifest["files"]:
        for row in read(hook, data_bucket, file["key"], manifest.get("fileSchema", "")):
            if row["Key"].startswith(prefix) and _current(row):
                yield row


def _current(row: dict) -> bool:
    """Not a delete marker, and the latest version (reports that include versions list them all)."""
    return (
        str(row.get("IsDeleteMarker", "false")).lower() != "true"
        and str(row.get("IsLatest", "true")).lower() != "false"
    )


def _csv_rows(hook, bucket: str, key: str, schema: str) -> Iterator[dict]:
    """A gzipped CSV file without a header; its columns are the manifest's ``fileSchema``; keys URL-encoded."""
    names = [c.strip() for c in schema.split(",")]
    body = hook.get_key(key, bucket).get()["Body"]
    with gzip.GzipFile(fileobj=body) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        for values in csv.reader(text):
            row = dict(zip(names, values, strict=False))
            entry = {CSV_COLUMNS.get(k, k): v for k, v in row.items()}
            entry["Key"] = unquote_plus(entry["Key"])
            entry["Size"] = int(entry.get("Size") or 0)
            yield entry


def _parquet_rows(hook, bucket: str, key: str, _schema: str) -> Iterator[dict]:
    """A Parquet file, a row group's batch at a time (downloaded to a temporary file: Parquet reads its footer first)."""
    import pyarrow.parquet as pq

    with tempfile.NamedTemporaryFile(suffix=".parquet") as local:
        hook.get_key(key, bucket).download_fileobj(local)
        local.flush()
        parquet = pq.ParquetFile(local.name)
        wanted = [
            c for c in (*PARQUET_COLUMNS, "is_latest", "is_delete_marker") if c in parquet.schema_arrow.names
        ]
        for batch in parquet.iter_batches(batch_size=1000, columns=wanted):
            for row in batch.to_pylist():
                entry = {PARQUET_COLUMNS.get(k, k): v for k, v in row.items()}
                entry["IsLatest"] = row.get("is_latest", True)
                entry["IsDeleteMarker"] = row.get("is_delete_marker", False)
                modified = entry["LastModified"]
                if isinstance(modified, datetime) and modified.tzinfo is None:
                    entry["LastModified"] = modified.replace(tzinfo=UTC)
                yield entry

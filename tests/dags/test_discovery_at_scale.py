"""Discovery in bounded memory: the listing a page at a time, one catalog query a page, the run's capacity
kept and no more, and the object list from an S3 Inventory report (CSV and Parquet) instead of the listing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
from sqlalchemy import event

from ocr_pipeline import discovery, tasks
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.catalog.schema import DocumentRow
from ocr_pipeline.discovery import Selection, SourceObject
from ocr_pipeline.settings import resolve
from tests.dags.conftest import BUCKET, backdate, load_dag
from tests.dags.test_document_ingest import run, upload

pytestmark = pytest.mark.usefixtures("airflow_db")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def generated_pages(count: int, pulled: list | None = None):
    """``count`` objects in listing pages, the newest first in key order, made as they are pulled."""
    for start in range(0, count, discovery.PAGE_SIZE):
        if pulled is not None:
            pulled.append(start)
        yield [
            SourceObject(f"s3://b/k{n:09d}", f"e{n}", 1, T0 + timedelta(seconds=count - n))
            for n in range(start, min(start + discovery.PAGE_SIZE, count))
        ]


def nothing_taken(page):
    return set()


def test_the_oldest_within_capacity_are_kept_whatever_the_listing_order():
    found, walk = discovery.new_work(generated_pages(2500), Selection(), nothing_taken, capacity=3)
    assert [o.source_uri for o in found] == ["s3://b/k000002499", "s3://b/k000002498", "s3://b/k000002497"]
    assert (walk.pages, walk.listed, walk.new) == (3, 2500, 2500)


def test_in_key_order_the_walk_stops_once_the_capacity_is_filled():
    pulled: list = []
    found, walk = discovery.new_work(generated_pages(10_000, pulled), Selection(), nothing_taken, 1500, "key")
    assert [o.source_uri for o in found[:2]] == ["s3://b/k000000000", "s3://b/k000000001"] and len(
        found
    ) == 1500
    assert len(pulled) == 2  # of 10 pages


def test_memory_does_not_grow_with_the_listing():
    def peak(count: int) -> int:
        tracemalloc.start()
        discovery.new_work(generated_pages(count), Selection(), nothing_taken, capacity=100)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(10_000), peak(100_000)
    assert large < small * 1.1, (small, large)


def _put_many(s3, keys: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode()), keys))


def test_a_real_listing_is_checked_a_page_at_a_time_and_the_oldest_are_claimed(s3, catalog_url, monkeypatch):
    monkeypatch.setenv("OCR_CATALOG_URL", catalog_url)
    keys = [f"incoming/many/{n:05d}.png" for n in range(2100)]
    _put_many(s3, keys)
    for n, key in enumerate(keys[-5:]):  # the last five in key order are the oldest
        backdate(BUCKET, key, T0 + timedelta(minutes=n))
    catalog = Catalog(catalog_url)
    catalog.migrate()
    done = {"status": "succeeded", "processed_at": datetime.now(UTC)}
    oldest = keys[-1]  # … and the very oldest is catalogued already
    head = s3.head_object(Bucket=BUCKET, Key=oldest)
    catalog.upsert([DocumentRow(source_uri=f"s3://{BUCKET}/{oldest}", etag=head["ETag"].strip('"'), **done)])
    settings = resolve({}).model_copy(update={"batch_size": 2, "max_batches": 2})

    queries = []

    def count(connection, cursor, statement, *args):
        if "FROM documents" in statement and "FROM claims" in statement:
            queries.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        counts = tasks.discover(settings, Selection(), "document_ingest", "run-1", tasks.open_catalog(settings, "run-1", lambda d, r: False, 1024))
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)

    assert counts.model_dump() == {"listed": 2100, "admitted": 2100, "new": 2099, "claimed": 4}
    assert len(queries) == 3  # one per listing page of 1,000
    assert [c["source_uri"] for c in catalog.claimed("run-1")] == [f"s3://{BUCKET}/{k}" for k in keys[-5:-1]]


def _inventory(s3, fmt: str, entries: list[dict], when: str) -> str:
    """An S3 Inventory report of the ``docs`` bucket as S3 writes it, in an inventory bucket; its folder."""
    s3.create_bucket(Bucket="inventory")
    folder = f"reports/{BUCKET}/daily/"
    if fmt == "CSV":
        schema = "Bucket, Key, Size, LastModifiedDate, ETag, IsLatest, IsDeleteMarker"
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_ALL)
        for e in entries:
            writer.writerow([BUCKET, quote_plus(e["key"], safe="/"), e["size"], e["modified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                             e["etag"], "true", str(e.get("deleted", False)).lower()])  # fmt: skip
        data, name = gzip.compress(text.getvalue().encode()), "data/part-0.csv.gz"
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({
            "bucket": [BUCKET] * len(entries), "key": [e["key"] for e in entries],
            "size": pa.array([e["size"] for e in entries], pa.int64()),
            "last_modified_date": pa.array([e["modified"] for e in entries], pa.timestamp("ms", tz="UTC")),
            "e_tag": [e["etag"] for e in entries], "is_delete_marker": [e.get("deleted", False) for e in entries],
        })  # fmt: skip
        sink = io.BytesIO()
        pq.write_table(table, sink)
        data, name, schema = sink.getvalue(), "data/part-0.parquet", "message s3.inventory { ... }"
    s3.put_object(Bucket="inventory", Key=folder + name, Body=data)
    manifest = {
        "sourceBucket": BUCKET, "destinationBucket": "arn:aws:s3:::inventory", "version": "2016-11-30",
        "fileFormat": fmt, "fileSchema": schema, "files": [{"key": folder + name, "size": len(data)}],
    }  # fmt: skip
    s3.put_object(Bucket="inventory", Key=f"{folder}{when}/manifest.json", Body=json.dumps(manifest))
    return f"s3://inventory/{folder}"


@pytest.mark.parametrize("fmt", ["CSV", "Parquet"])
def test_an_inventory_report_replaces_the_listing(s3, sample_docs, fmt, monkeypatch, sqlite_catalog):
    upload(s3, sample_docs, ["english.png", "russian.png"], prefix="incoming/отчёт 2024/")
    upload(s3, sample_docs, ["page.bmp"], prefix="incoming/after the report/")  # written after the snapshot
    heads = {
        k: s3.head_object(Bucket=BUCKET, Key=f"incoming/отчёт 2024/{k}")
        for k in ("english.png", "russian.png")
    }
    entries = [
        {"key": f"incoming/отчёт 2024/{k}", "size": h["ContentLength"], "etag": h["ETag"].strip('"'),
         "modified": h["LastModified"].astimezone(UTC)}
        for k, h in heads.items()
    ]  # fmt: skip
    entries += [
        {
            "key": "incoming/gone.png",
            "size": 1,
            "etag": "x",
            "modified": T0,
            "deleted": True,
        },  # a delete marker
        {"key": "elsewhere/other.png", "size": 1, "etag": "y", "modified": T0},  # outside the source prefix
    ]
    folder = _inventory(s3, fmt, entries, "2026-11-21T01-00Z")
    s3.put_object(
        Bucket="inventory", Key=f"{folder.split('/', 3)[3]}2026-11-20T01-00Z/manifest.json", Body=b"{}"
    )
    monkeypatch.setenv("OCR_INVENTORY_URI", folder)

    dag_run = run(load_dag())

    rows = sqlite_catalog.rows()
    assert sorted(r["source_uri"].rsplit("/", 1)[1] for r in rows) == ["english.png", "russian.png"]
    assert {(r["status"], r["run_id"]) for r in rows} == {("succeeded", dag_run.run_id)}
    # the newest report, not the object written after it (the inventory's lag) nor the deleted one


def test_an_inventory_of_another_bucket_is_refused(s3, monkeypatch, tmp_path):
    from ocr_pipeline.inventory import InventoryError

    folder = _inventory(s3, "CSV", [], "2026-11-21T01-00Z")
    settings = resolve({}).model_copy(
        update={
            "inventory_uri": folder,
            "source_uri": "s3://another/incoming/",
            "catalog_url": f"sqlite:///{tmp_path}/c.db",
        }
    )
    with pytest.raises(InventoryError, match="of bucket 'docs', not of 'another'"):
        tasks.discover(settings, Selection(), "document_ingest", "run-1", tasks.open_catalog(settings, "run-1", lambda d, r: False, 1024))

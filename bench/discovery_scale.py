"""Discovery and planning of a large prefix against the bare listing of it, side by side in one run.

    .venv/bin/python bench/discovery_scale.py [--objects 100000] [--small 10000] [--explain-rows 1000000]

Against the local S3 server (moto, on loopback) and a PostgreSQL catalog on this machine:

1. ``--objects`` objects, all new: the bare listing of the prefix with boto3 (the floor), then
   ``discover`` + ``plan`` as the DAG's tasks run them (``ocr_pipeline.tasks``, the S3Hook on the
   ``aws_default`` connection, the default capacity of 20 × 50). Both times and their ratio.
2. The same objects with all but 50 already in the catalog: the same figures, and the catalog queries issued.
3. Peak memory of a fresh process that discovers and plans ``--small`` and ``--objects`` objects
   (its maximum resident set, and the Python heap's peak by tracemalloc).
4. The largest XCom value those tasks return (their return values, JSON-encoded as XCom stores them).
5. ``EXPLAIN ANALYZE`` of a listing page's catalog query (1,000 keys) with ``--explain-rows`` catalog rows.

The objects are put into the server through moto's own backend (the server runs in this process):
listing them is what is measured, not uploading them. moto sorts the whole prefix for every listing
page, so its pages are slower than S3's; the catalog's own cost is therefore printed too, per page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from tests import postgres  # noqa: E402

BUCKET = "bench"
RUN = "scheduled__2026-11-22T00:00:00+00:00"


def drop_database(url: str) -> None:
    from ocr_pipeline.catalog.sql import engine_for as _engine

    _engine(url).dispose()  # the catalog's pooled connections first
    postgres.drop_database(url)


def populate(prefix: str, count: int) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for n in range(count):
        key = f"{prefix}{n // 1000:04d}/scan-{n:07d}.pdf"
        backend.put_object(BUCKET, key, key.encode(), disable_notification=True)


def etag_of(key: str) -> str:
    return hashlib.md5(key.encode()).hexdigest()  # noqa: S324 - what S3 (and moto) use for a single PUT


def bare_listing(client, prefix: str) -> tuple[float, int]:
    start, keys = time.perf_counter(), 0
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": 1000}
    ):
        keys += len(page.get("Contents", []))
    return time.perf_counter() - start, keys


def discover_and_plan(catalog_url: str, prefix: str, run_id: str) -> dict:
    """The DAG's two tasks, as it runs them; their time, their XCom values and the catalog queries issued."""
    from sqlalchemy import event

    from ocr_pipeline import tasks
    from ocr_pipeline.catalog.sql import engine_for as _engine
    from ocr_pipeline.discovery import Selection
    from ocr_pipeline.settings import PipelineSettings

    settings = PipelineSettings(
        source_uri=f"s3://{BUCKET}/{prefix}", output_uri=f"s3://{BUCKET}/processed/",
        quarantine_uri=f"s3://{BUCKET}/quarantine/", catalog_url=catalog_url,
    )  # fmt: skip
    queries = []

    def count(*_args):
        queries.append(1)

    engine = _engine(catalog_url)
    event.listen(engine, "before_cursor_execute", count)
    start = time.perf_counter()
    found = tasks.discover(settings, Selection(), "document_ingest", run_id, tasks.open_catalog(settings, run_id, lambda dag, run: False, 1024))
    batches = tasks.plan(settings, run_id)
    seconds = time.perf_counter() - start
    event.remove(engine, "before_cursor_execute", count)
    # as the DAG's tasks return them to XCom
    xcoms = [found.model_dump_json(), json.dumps([b.model_dump() for b in batches])]
    return {
        "seconds": seconds, "found": found.model_dump(), "batches": len(batches), "queries": len(queries),
        "largest_xcom": max(len(x.encode()) for x in xcoms),
    }  # fmt: skip


def memory_probe(catalog_url: str, prefix: str) -> dict:
    """In a fresh process (``--probe``): discover and plan once, with the Python heap traced (after a run over
    an empty prefix, so that imports, connections and the catalog's migration are not counted)."""
    discover_and_plan(catalog_url, "empty/", "warm-up")
    tracemalloc.start()
    discover_and_plan(catalog_url, prefix, f"probe-{uuid.uuid4().hex[:6]}")
    _, heap_peak = tracemalloc.get_traced_memory()
    return {"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "heap_peak_mb": heap_peak / 2**20}


def explain(rows: int) -> list[str]:
    """EXPLAIN ANALYZE a listing page's catalog query with ``rows`` rows in the catalog."""
    from sqlalchemy import text

    from ocr_pipeline.catalog import Catalog

    url = postgres.new_database("ocr_bench")
    try:
        catalog = Catalog(url)
        catalog.migrate()
        with catalog.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO documents (source_uri, etag, status, retryable, processed_at) "
                    "SELECT 's3://bench/history/' || lpad(n::text, 8, '0') || '.pdf', md5(n::text), 'succeeded', "
                    "false, now() FROM generate_series(1, :rows) AS n"
                ),
                {"rows": rows},
            )
            connection.execute(text("ANALYZE documents"))
            connection.execute(text("ANALYZE claims"))
        page = [(f"s3://bench/history/{n:08d}.pdf", hashlib.md5(str(n).encode()).hexdigest()) for n in range(500_000, 501_000)]  # noqa: S324
        statement = _unavailable_statement(catalog, page)
        with catalog.engine.connect() as connection:
            plan = connection.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}")).scalars().all()
        return [re.sub(r"'\{s3://[^}]*\}'", "'{… the page's 1,000 URIs}'", line) for line in plan]
    finally:
        drop_database(url)


def _unavailable_statement(catalog, page) -> str:
    """The SQL that ``Catalog.unavailable`` sends for one page, with its values inlined."""
    from sqlalchemy import event

    captured = []

    def capture(connection, cursor, statement, parameters, context, executemany):
        captured.append(cursor.mogrify(statement, parameters).decode())

    event.listen(catalog.engine, "before_cursor_execute", capture)
    try:
        catalog.unavailable(page, "run-x")
    finally:
        event.remove(catalog.engine, "before_cursor_execute", capture)
    return captured[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--explain-rows", type=int, default=1_000_000)
    parser.add_argument("--probe", nargs=2, metavar=("CATALOG_URL", "PREFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the S3 server's request log, the catalog's migrations
    if args.probe:
        print(json.dumps(memory_probe(*args.probe)))
        return

    from tests.conftest import start_s3_server

    server, s3 = start_s3_server()
    airflow_home = tempfile.mkdtemp(prefix="bench-airflow-")
    connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                  "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}  # fmt: skip
    os.environ.update(s3.env, AIRFLOW_HOME=airflow_home, AIRFLOW_CONN_AWS_DEFAULT=json.dumps(connection))
    client = s3.client()
    client.create_bucket(Bucket=BUCKET)
    large, small = "large/", "small/"
    started = time.perf_counter()
    populate(large, args.objects)
    populate(small, args.small)
    print(f"{args.objects:,} + {args.small:,} objects in the local S3 server ({time.perf_counter() - started:.0f} s)")
    databases = []
    try:
        # 1. all new: listing and discover + plan, alternating, twice each
        floors, runs = [], []
        for round_ in range(2):
            floors.append(bare_listing(client, large)[0])
            databases.append(postgres.new_database("ocr_bench"))
            runs.append(discover_and_plan(databases[-1], large, f"{RUN}-{round_}"))
        floor, new = min(floors), min(runs, key=lambda r: r["seconds"])
        pages = -(-args.objects // 1000)
        print(f"\n1. {args.objects:,} objects, all new")
        listed = ", ".join(f"{f:.2f}" for f in floors)
        discovered = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        print(f"   bare listing (boto3)       {floor:7.2f} s   ({pages} pages; runs {listed})")
        print(f"   discover + plan            {new['seconds']:7.2f} s   (runs {discovered})")
        print(f"   ratio                      {new['seconds'] / floor:7.2f}")
        print(f"   over the listing           {(new['seconds'] - floor) / pages * 1000:7.1f} ms a page; {new['found']}, {new['batches']} batches")

        # 2. all but 50 catalogued
        from ocr_pipeline.catalog import Catalog

        catalog_url = postgres.new_database("ocr_bench")
        databases.append(catalog_url)
        catalog = Catalog(catalog_url)
        catalog.migrate()
        now = time.time()
        keys = [f"{large}{n // 1000:04d}/scan-{n:07d}.pdf" for n in range(args.objects)]
        done = [k for n, k in enumerate(keys) if n % (args.objects // 50) != 7]  # 50 spread over the prefix
        from datetime import UTC, datetime

        from ocr_pipeline.catalog.schema import DocumentRow

        for start in range(0, len(done), 5000):
            catalog.upsert([
                DocumentRow(source_uri=f"s3://{BUCKET}/{k}", etag=etag_of(k), status="succeeded",
                            processed_at=datetime.fromtimestamp(now, UTC))
                for k in done[start : start + 5000]
            ])  # fmt: skip
        floor2 = bare_listing(client, large)[0]
        seen = discover_and_plan(catalog_url, large, f"{RUN}-catalogued")
        print(f"\n2. {args.objects:,} objects, {len(done):,} of them catalogued")
        print(f"   bare listing (boto3)       {floor2:7.2f} s")
        print(f"   discover + plan            {seen['seconds']:7.2f} s")
        print(f"   ratio                      {seen['seconds'] / floor2:7.2f}")
        print(f"   catalog queries            {seen['queries']:7d}     ({seen['found']}, {seen['batches']} batches)")

        # 3. memory of a fresh discovering process
        print("\n3. peak memory of the discovering process (fresh process each)")
        probes = {}
        for prefix, count in ((small, args.small), (large, args.objects)):
            databases.append(postgres.new_database("ocr_bench"))
            out = subprocess.run(
                [sys.executable, __file__, "--probe", databases[-1], prefix],
                env=os.environ, capture_output=True, text=True, check=True,
            )  # fmt: skip
            probes[count] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"   {count:>9,} objects        max RSS {probes[count]['max_rss_mb']:6.1f} MB   "
                  f"Python heap peak {probes[count]['heap_peak_mb']:6.2f} MB")  # fmt: skip
        rss = probes[args.objects]["max_rss_mb"] / probes[args.small]["max_rss_mb"]
        heap = probes[args.objects]["heap_peak_mb"] / probes[args.small]["heap_peak_mb"]
        print(f"   {args.objects:,} against {args.small:,}: RSS ×{rss:.3f}, heap ×{heap:.3f}")

        # 4. XCom
        largest = max(new["largest_xcom"], seen["largest_xcom"])
        print(f"\n4. largest XCom value of discover and plan: {largest:,} bytes")

        # 5. EXPLAIN
        if args.explain_rows:
            print(f"\n5. a listing page's catalog query (1,000 keys) with {args.explain_rows:,} catalog rows")
            for line in explain(args.explain_rows):
                print(f"   {line}")
    finally:
        for url in databases:
            drop_database(url)
        server.stop()


if __name__ == "__main__":
    main()

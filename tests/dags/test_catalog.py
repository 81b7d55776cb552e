"""The catalog on real SQLite and PostgreSQL: migrations, claims between overlapping runs, upserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, update

from ocr_pipeline.catalog import Catalog
from ocr_pipeline.catalog.schema import claims
from ocr_pipeline.discovery import SourceObject
from ocr_pipeline.planning import plan
from ocr_pipeline.settings import PipelineSettings


def keys(*numbers: int) -> list[tuple[str, str]]:
    return [(f"s3://docs/incoming/{n}.pdf", f"etag{n}") for n in numbers]


def test_migrations_create_the_schema_and_can_run_again(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.migrate()  # every run calls it: a no-op once at head
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"documents", "claims", "ocr_catalog_version"} <= tables
    columns = {c["name"] for c in inspect(catalog.engine).get_columns("documents")}
    assert {
        "source_uri", "etag", "size", "status", "error", "pages", "engine", "text_uri", "markdown_uri",
        "json_uri", "dag_id", "run_id", "try_number", "processed_at",
    } <= columns  # fmt: skip


def test_overlapping_runs_never_hold_the_same_object(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    assert catalog.claim(keys(1, 2, 3), "run-a", hours=6) == set(keys(1, 2, 3))
    assert catalog.claim(keys(2, 3, 4), "run-b", hours=6) == set(keys(4))
    assert catalog.claim(keys(1, 2), "run-a", hours=6) == set(keys(1, 2))  # a retried plan keeps its own
    catalog.release("run-a", keys(2))
    assert catalog.claim(keys(2, 3), "run-b", hours=6) == set(keys(2))
    catalog.release("run-a")
    assert catalog.claim(keys(1, 3), "run-b", hours=6) == set(keys(1, 3))


def test_a_dead_runs_claims_expire(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.claim(keys(1), "dead-run", hours=6)
    with catalog.engine.begin() as connection:
        connection.execute(update(claims).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert catalog.claim(keys(1), "next-run", hours=6) == set(keys(1))


def test_upsert_keeps_one_row_per_object_and_etag(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    row = {
        "source_uri": "s3://docs/a.pdf",
        "etag": "e1",
        "status": "failed",
        "error": "x",
        "processed_at": datetime.now(UTC),
    }
    catalog.upsert([row])
    catalog.upsert([{**row, "status": "succeeded", "error": None, "pages": 3}])
    catalog.upsert([{**row, "etag": "e2", "status": "succeeded"}])
    rows = catalog.rows()
    assert [(r["etag"], r["status"], r["pages"]) for r in rows] == [
        ("e1", "succeeded", 3),
        ("e2", "succeeded", None),
    ]
    assert catalog.known([("s3://docs/a.pdf", "e1"), ("s3://docs/a.pdf", "e3")]) == {
        ("s3://docs/a.pdf", "e1")
    }


def test_two_plans_over_the_same_objects_split_them(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    settings = PipelineSettings(catalog_url=catalog_url, batch_size=2, max_batches=10)
    objects = [
        SourceObject(
            f"s3://docs/incoming/{n}.png",
            "docs",
            f"incoming/{n}.png",
            f"e{n}",
            10,
            "2026-01-01T00:00:00+00:00",
        )
        for n in range(5)
    ]
    written: dict[str, str] = {}
    first = plan(objects[:3], settings, catalog, "run-1", False, written.__setitem__)
    second = plan(objects, settings, catalog, "run-2", False, written.__setitem__)
    taken = [d["source_uri"] for b in [*first, *second] for d in b.documents]
    assert sorted(taken) == sorted(o.source_uri for o in objects)  # each object exactly once
    assert [len(b.documents) for b in first] == [2, 1] and [len(b.documents) for b in second] == [2]
    manifest = written[first[0].manifest_uri]
    assert '"name": "0.png"' in manifest and first[0].report_uri.endswith("/run-1/0000/report.json")

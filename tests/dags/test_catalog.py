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


def alive(*runs):
    """An ``is_active`` for claims: these runs are queued or running, every other has ended."""
    return lambda dag_id, run_id: run_id in runs


def test_overlapping_runs_never_hold_the_same_object(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    both = alive("run-a", "run-b")
    assert catalog.claim(keys(1, 2, 3), "d", "run-a", 10, both) == keys(1, 2, 3)
    assert catalog.claim(keys(2, 3, 4), "d", "run-b", 10, both) == keys(4)
    assert catalog.claim(keys(1, 2), "d", "run-a", 10, both) == keys(1, 2)  # a retried plan keeps its own
    catalog.release("run-a", keys(2))
    assert catalog.claim(keys(2, 3), "d", "run-b", 10, both) == keys(2)
    catalog.release("run-a")
    assert catalog.claim(keys(1, 3), "d", "run-b", 10, both) == keys(1, 3)


def test_capacity_is_filled_past_what_other_runs_hold(catalog_url):
    """Candidates are claimed in order until the run's capacity is full, not cut before claiming."""
    catalog = Catalog(catalog_url)
    catalog.migrate()
    both = alive("run-a", "run-b")
    catalog.claim(keys(*range(0, 5)), "d", "run-a", 5, both)
    assert catalog.claim(keys(*range(0, 12)), "d", "run-b", 5, both) == keys(5, 6, 7, 8, 9)


def test_claims_last_as_long_as_their_run_whatever_its_length(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.claim(keys(1), "d", "long-run", 10, alive("long-run"))
    with catalog.engine.begin() as connection:  # claimed days ago: the run still holds it while it is active
        connection.execute(update(claims).values(claimed_at=datetime.now(UTC) - timedelta(days=3)))
    assert catalog.claim(keys(1), "d", "next-run", 10, alive("long-run", "next-run")) == []
    # once the run has ended without giving it back (it failed, a worker died), the next run takes it
    assert catalog.claim(keys(1), "d", "next-run", 10, alive("next-run")) == keys(1)


def test_concurrent_claims_on_postgresql_split_the_objects(request):
    """Eight runs claiming the same 200 objects at once, each in its own connection: no object twice."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.dags.conftest import new_postgres_database

    catalog = Catalog(new_postgres_database())
    catalog.migrate()
    runs = [f"run-{n}" for n in range(8)]
    with ThreadPoolExecutor(len(runs)) as pool:
        held = list(pool.map(lambda r: catalog.claim(keys(*range(200)), "d", r, 40, alive(*runs)), runs))
    taken = [k for h in held for k in h]
    assert len(taken) == len(set(taken)) == 200
    assert all(len(h) <= 40 for h in held)


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
    assert catalog.finished([("s3://docs/a.pdf", "e1"), ("s3://docs/a.pdf", "e3")]) == {
        ("s3://docs/a.pdf", "e1")
    }
    # a row the infrastructure failed (outputs lost) is not final: it is work again
    catalog.upsert([{**row, "etag": "e4", "status": "failed", "retryable": True}])
    assert catalog.finished([("s3://docs/a.pdf", "e4")]) == set()


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
    both = alive("run-1", "run-2")
    first = plan(objects[:3], settings, catalog, "d", "run-1", False, both, written.__setitem__)
    second = plan(objects, settings, catalog, "d", "run-2", False, both, written.__setitem__)
    taken = [d.source_uri for b in [*first, *second] for d in b.documents]
    assert sorted(taken) == sorted(o.source_uri for o in objects)  # each object exactly once
    assert [len(b.documents) for b in first] == [2, 1] and [len(b.documents) for b in second] == [2]
    manifest = written[first[0].manifest_uri]
    assert '"name": "0.png@e0"' in manifest  # outputs named per version: two ETags never share a file
    assert first[0].report_uri.endswith("/0000/report.json") and "/run-1/" in first[0].report_uri
